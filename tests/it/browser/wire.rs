//! The wire under the WebDriver client: one HTTP/1.1 exchange per command with
//! chromedriver, and the error a failed command carries.

use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// A failed WebDriver command: the W3C error code and message, or a transport failure
/// (`error` = "transport").
#[derive(Debug, Clone)]
pub struct WdError {
    pub command: String,
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // chromedriver appends "(Session info: ...)" and a stack trace to the message.
        let msg = self.message.split("\n  (Session info").next().unwrap_or_default();
        let msg: String = msg.trim().chars().take(600).collect();
        write!(f, "WebDriver {} -> {} {}: {}", self.command, self.status, self.error, msg)
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// One HTTP/1.1 exchange with chromedriver: `(status, JSON body)`. The body is read by
/// its Content-Length: chromedriver answers `Connection: close` yet keeps the socket open.
pub(super) fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> std::io::Result<(u16, Value)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() {
        req.push_str(&format!("Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes())?;

    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what} from {addr}{path}"));
    let (mut raw, mut buf) = (Vec::new(), [0u8; 64 * 1024]);
    let mut head: Option<(usize, String)> = None;
    loop {
        if head.is_none()
            && let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n")
        {
            head = Some((split, String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase()));
        }
        if let Some((split, h)) = &head {
            let length: Option<usize> =
                h.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
            let done = match length {
                Some(n) => raw.len() >= split + 4 + n,
                None => h.contains("chunked") && raw.ends_with(b"0\r\n\r\n"),
            };
            if done {
                break;
            }
        }
        match s.read(&mut buf)? {
            0 => break,
            n => raw.extend_from_slice(&buf[..n]),
        }
    }
    let (split, h) = head.ok_or_else(|| bad("no response head"))?;
    let status = h.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let mut payload = raw[split + 4..].to_vec();
    if h.contains("transfer-encoding: chunked") || h.contains("transfer-encoding:chunked") {
        payload = dechunk(&payload);
    }
    let v = if payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&payload).map_err(|_| bad("non-JSON body"))?
    };
    Ok((status, v))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 4 + size).min(b.len())..];
    }
    out
}
