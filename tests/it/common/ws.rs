//! A blocking WebSocket client for tests (tungstenite over a plain TcpStream).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub struct Ws(pub WebSocket<MaybeTlsStream<TcpStream>>);

/// What came next on a socket.
#[derive(Debug, PartialEq)]
pub enum Next {
    Text(String),
    Closed(Option<u16>),
    Timeout,
}

impl Ws {
    pub fn connect(addr: &str, path: &str) -> Ws {
        let (ws, _) = tungstenite::connect(format!("ws://{addr}{path}")).unwrap_or_else(|e| panic!("ws {path}: {e}"));
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        }
        Ws(ws)
    }

    /// The next text frame or close, waiting at most `limit`.
    pub fn next(&mut self, limit: Duration) -> Next {
        let deadline = Instant::now() + limit;
        loop {
            match self.0.read() {
                Ok(Message::Text(t)) => return Next::Text(t.to_string()),
                Ok(Message::Close(c)) => return Next::Closed(c.map(|c| c.code.into())),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
                {
                    if Instant::now() >= deadline {
                        return Next::Timeout;
                    }
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Next::Closed(None);
                }
                Err(e) => panic!("ws read: {e}"),
            }
        }
    }

    /// Reads frames until one satisfies `pred`; returns every line seen up to it.
    pub fn until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + super::PATIENCE;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Next::Text(t) = self.next(Duration::from_millis(500)) {
                let hit = pred(&t);
                seen.push(t);
                if hit {
                    return seen;
                }
            }
        }
        panic!("no frame for {what} within {:?}; saw:\n{}", super::PATIENCE, seen.join("\n---\n"));
    }

    pub fn close(mut self) {
        let _ = self.0.close(None);
        let _ = self.0.flush();
    }
}
