//! Startup and shutdown: SIGTERM and SIGINT stop clauster promptly even with sockets
//! open, with exit code 0.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{Fixture, SIGINT, SIGTERM, http};

#[test]
fn sigterm_and_sigint_stop_promptly_with_sockets_open() {
    for signal in [SIGTERM, SIGINT] {
        let fx = Fixture::new();
        fx.project("alpha");
        let mut srv = fx.start();
        srv.get_json("/api/projects");
        // An idle keep-alive connection, and one stuck half-way through a request.
        let mut idle = TcpStream::connect(&srv.addr).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let _half = http::half_open(&srv.addr);
        std::thread::sleep(Duration::from_millis(50));
        let (status, took) = srv.stop_with(signal);
        assert_eq!(status.code(), Some(0), "signal {signal}: {}", srv.logs());
        // A generous liveness bound, not a benchmark (the README reports the real figure).
        assert!(took < Duration::from_secs(5), "signal {signal} took {took:?}");
        assert!(srv.logs().contains("bridges keep running"), "{}", srv.logs());
    }
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let fx = Fixture::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = fx.config("");
    let (status, _, stderr) = fx.run(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("CLAUSTER_PORT", port.to_string());
    });
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use") && stderr.contains(&port.to_string()), "{stderr}");
}
