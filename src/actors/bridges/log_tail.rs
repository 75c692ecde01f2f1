//! A bridge's debug log as viewers see it: one follower per bridge (the same reads feed
//! the readiness markers), a 64 KiB backlog shown first to a new viewer, and a bounded
//! broadcast of sanitized line batches for live viewers. A viewer that falls behind loses
//! batches (and is told), it never makes clauster buffer without bound.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::tail::{Follower, Ring};

/// What a new viewer gets: the backlog, then the live stream.
pub type Subscription = (Vec<String>, broadcast::Receiver<Arc<Vec<String>>>);

/// Backlog kept for new viewers.
pub const REPLAY_BYTES: usize = 64 << 10;
/// Batches a viewer may fall behind before it skips ahead (one batch ≤ 64 KiB of log).
const LIVE_BATCHES: usize = 64;

pub struct LogTail {
    follower: Option<Follower>,
    ring: Ring,
    tx: broadcast::Sender<Arc<Vec<String>>>,
    strip_ansi: bool,
}

/// One poll's result: raw lines (for markers) and sanitized ones (for viewers).
pub struct Read {
    pub follower: Follower,
    pub raw: Vec<String>,
    pub clean: Vec<String>,
    pub more: bool,
}

impl LogTail {
    pub fn new(strip_ansi: bool) -> LogTail {
        LogTail { follower: None, ring: Ring::new(REPLAY_BYTES), tx: broadcast::channel(LIVE_BATCHES).0, strip_ansi }
    }

    pub fn path(&self) -> Option<&Path> {
        self.follower.as_ref().map(Follower::path)
    }

    /// Follows a new run's log from its start.
    pub fn follow_new(&mut self, path: &Path) {
        self.follower = Some(Follower::from_start(path));
    }

    /// Follows an adopted bridge's existing log, starting with its last 64 KiB.
    pub fn follow_existing(&mut self, path: &Path) {
        self.follower = Some(Follower::from_tail(path, REPLAY_BYTES as u64));
    }

    /// Hands the follower to a blocking read; `None` if there is no log.
    pub fn take(&mut self) -> Option<(Follower, bool)> {
        self.follower.take().map(|f| (f, self.strip_ansi))
    }

    /// Puts the follower back and passes the sanitized lines on to viewers.
    pub fn put_back(&mut self, r: Read) -> Vec<String> {
        self.follower = Some(r.follower);
        if !r.clean.is_empty() {
            for l in &r.clean {
                self.ring.push(l.clone());
            }
            let _ = self.tx.send(Arc::new(r.clean));
        }
        r.raw
    }

    pub fn subscribe(&self) -> Subscription {
        (self.ring.lines().cloned().collect(), self.tx.subscribe())
    }
}

/// Reads what is new. Blocking I/O.
pub fn read(mut follower: Follower, strip_ansi: bool) -> Read {
    let polled = follower.poll().unwrap_or_else(|e| {
        tracing::debug!(path = %follower.path().display(), error = %e, "cannot read a bridge log");
        crate::tail::Polled { lines: Vec::new(), more: false }
    });
    let clean = polled.lines.iter().map(|l| crate::redact::sanitize(l, strip_ansi)).collect();
    Read { follower, raw: polled.lines, clean, more: polled.more }
}
