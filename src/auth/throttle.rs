//! Login throttling: at most `max_failures` wrong passwords per client in a rolling
//! window, counted on the monotonic clock (a clock step cannot reset it).
//!
//! The client is an IP address: the TCP peer, or the client a trusted proxy names in
//! `X-Forwarded-For` (never a header from anyone else). IPv6 clients are counted per /64,
//! the block a single host usually controls. The table is bounded, so a flood of
//! addresses costs memory only up to `max_clients`.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The count a throttle keeps per client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn new(ip: IpAddr) -> ClientKey {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                ClientKey(IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0)))
            }
            v4 => ClientKey(v4),
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(_) => write!(f, "{}/64", self.0),
            IpAddr::V4(_) => write!(f, "{}", self.0),
        }
    }
}

#[derive(Debug)]
pub struct Throttle {
    max_failures: usize,
    window: Duration,
    max_clients: usize,
    failures: Mutex<HashMap<ClientKey, VecDeque<Instant>>>,
}

impl Default for Throttle {
    /// Five failures in 300 s, as clauster 0.6.0.
    fn default() -> Throttle {
        Throttle::new(5, Duration::from_secs(300), 10_000)
    }
}

impl Throttle {
    pub fn new(max_failures: usize, window: Duration, max_clients: usize) -> Throttle {
        Throttle { max_failures, window, max_clients, failures: Mutex::default() }
    }

    /// `Err(wait)` when `client` has used up its failures: how long until one expires.
    pub fn check(&self, client: ClientKey, now: Instant) -> Result<(), Duration> {
        let mut map = self.lock();
        let Some(times) = map.get_mut(&client) else { return Ok(()) };
        self.expire(times, now);
        if times.len() < self.max_failures {
            return Ok(());
        }
        let oldest = times.front().copied().unwrap_or(now);
        Err((oldest + self.window).saturating_duration_since(now).max(Duration::from_secs(1)))
    }

    /// Records a wrong password.
    pub fn fail(&self, client: ClientKey, now: Instant) {
        let mut map = self.lock();
        if !map.contains_key(&client) && map.len() >= self.max_clients {
            map.retain(|_, times| times.back().is_some_and(|t| now.saturating_duration_since(*t) < self.window));
            if map.len() >= self.max_clients {
                // Still full of live entries: forget the client that failed longest ago.
                let stalest = map.iter().min_by_key(|(_, t)| t.back().copied()).map(|(k, _)| *k);
                if let Some(k) = stalest {
                    map.remove(&k);
                }
            }
        }
        let times = map.entry(client).or_default();
        self.expire(times, now);
        times.push_back(now);
        while times.len() > self.max_failures {
            times.pop_front();
        }
    }

    /// A correct password clears the client's record.
    pub fn succeed(&self, client: ClientKey) {
        self.lock().remove(&client);
    }

    fn expire(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window) {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::new(s.parse().unwrap())
    }

    #[test]
    fn five_failures_lock_out_until_the_window_rolls() {
        let t = Throttle::default();
        let c = key("192.0.2.1");
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(t.check(c, t0 + Duration::from_secs(i)).is_ok(), "attempt {i}");
            t.fail(c, t0 + Duration::from_secs(i));
        }
        let wait = t.check(c, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(290));
        assert!(t.check(key("192.0.2.2"), t0).is_ok(), "other clients are unaffected");
        // The first failure leaves the window at t0 + 300 s.
        assert!(t.check(c, t0 + Duration::from_secs(299)).is_err());
        assert!(t.check(c, t0 + Duration::from_secs(300)).is_ok());
    }

    #[test]
    fn success_clears_the_count() {
        let t = Throttle::default();
        let c = key("192.0.2.1");
        let now = Instant::now();
        for _ in 0..4 {
            t.fail(c, now);
        }
        t.succeed(c);
        for _ in 0..4 {
            t.fail(c, now);
        }
        assert!(t.check(c, now).is_ok());
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_v4_as_v4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Throttle::new(1, Duration::from_secs(300), 3);
        let now = Instant::now();
        for i in 0..10 {
            t.fail(key(&format!("192.0.2.{i}")), now + Duration::from_millis(i));
        }
        assert!(t.lock().len() <= 3);
        assert!(t.check(key("192.0.2.9"), now + Duration::from_secs(1)).is_err(), "the newest is kept");
    }
}
