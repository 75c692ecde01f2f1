//! The EventBus: a bounded broadcast of events plus a `watch` of the current state.
//!
//! Not an actor: publishing is a channel send with no hop, from any thread. A subscriber
//! that falls more than `capacity` events behind does not make the bus buffer without
//! bound; it is handed a fresh snapshot instead and continues from the newest event.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::messages::{Event, Snapshot};

/// Events a subscriber may fall behind before it is resynchronised from the snapshot.
pub const DEFAULT_CAPACITY: usize = 1024;

#[derive(Clone)]
pub struct EventBus {
    events: broadcast::Sender<Arc<Event>>,
    state: Arc<watch::Sender<Snapshot>>,
    /// When a pull reader (an HTTP poll) last asked for live figures, epoch ms.
    interest: Arc<std::sync::atomic::AtomicU64>,
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum Delivery {
    Event(Arc<Event>),
    /// The subscriber lagged; this is the whole current state to redraw from.
    Resync(Snapshot),
    /// The bus is gone (shutdown).
    Closed,
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        let (events, _) = broadcast::channel(capacity);
        let (state, _) = watch::channel(Snapshot::default());
        EventBus { events, state: Arc::new(state), interest: Arc::default() }
    }

    /// The current state (cheap: the big parts are behind `Arc`s).
    pub fn snapshot(&self) -> Snapshot {
        self.state.borrow().clone()
    }

    /// Changes the state, then announces `event`, so anyone reacting to the event already
    /// sees the new state.
    pub fn update(&self, change: impl FnOnce(&mut Snapshot), event: Event) {
        self.state.send_modify(|s| {
            change(s);
            s.seq += 1;
        });
        let _ = self.events.send(Arc::new(event));
    }

    /// Records that a reader wants live figures (CPU, memory) now.
    pub fn note_interest(&self) {
        self.interest.store(crate::time::now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether anyone is watching: a subscriber to the event stream, or a reader within
    /// `recent`. Costly sampling runs only then.
    pub fn is_watched(&self, recent: std::time::Duration) -> bool {
        let last = self.interest.load(std::sync::atomic::Ordering::Relaxed);
        self.events.receiver_count() > 0 || crate::time::now_ms().saturating_sub(last) < recent.as_millis() as u64
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription { rx: self.events.subscribe(), state: self.state.subscribe() }
    }

    /// A receiver of state changes, for consumers that only need the latest state.
    pub fn watch(&self) -> watch::Receiver<Snapshot> {
        self.state.subscribe()
    }
}

pub struct Subscription {
    rx: broadcast::Receiver<Arc<Event>>,
    state: watch::Receiver<Snapshot>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Delivery {
        match self.rx.recv().await {
            Ok(ev) => Delivery::Event(ev),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                // Drop the backlog: start again at the newest event, with a snapshot taken
                // after re-subscribing so nothing between the two is missed.
                self.rx = self.rx.resubscribe();
                Delivery::Resync(self.state.borrow().clone())
            }
            Err(broadcast::error::RecvError::Closed) => Delivery::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::ClaudeInfo;

    fn probe(v: &str) -> Event {
        Event::ClaudeProbed(ClaudeInfo { ok: Some(true), version: Some(v.into()), error: None })
    }

    #[tokio::test]
    async fn delivers_in_order_with_state_already_updated() {
        let bus = EventBus::new(8);
        let mut sub = bus.subscribe();
        bus.update(|s| s.claude.version = Some("1".into()), probe("1"));
        match sub.recv().await {
            Delivery::Event(e) => assert!(matches!(&*e, Event::ClaudeProbed(c) if c.version.as_deref() == Some("1"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(bus.snapshot().seq, 1);
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_a_snapshot_not_a_backlog() {
        let bus = EventBus::new(4);
        let mut sub = bus.subscribe();
        for i in 0..100 {
            bus.update(|s| s.claude.version = Some(i.to_string()), probe(&i.to_string()));
        }
        match sub.recv().await {
            Delivery::Resync(s) => {
                assert_eq!(s.seq, 100);
                assert_eq!(s.claude.version.as_deref(), Some("99"));
            }
            other => panic!("expected a resync, got {other:?}"),
        }
        // After the resync it follows live events again, with nothing stale queued.
        bus.update(|s| s.seq += 0, probe("live"));
        match sub.recv().await {
            Delivery::Event(e) => {
                assert!(matches!(&*e, Event::ClaudeProbed(c) if c.version.as_deref() == Some("live")))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn closed_when_the_bus_is_gone() {
        let bus = EventBus::new(4);
        let mut sub = bus.subscribe();
        drop(bus);
        assert!(matches!(sub.recv().await, Delivery::Closed));
    }
}
