//! Supervisor behaviour, each property on its own: fresh state after a restart, panic
//! detection, restart types, backoff growth, the sliding intensity window, Failed on
//! the bus, and reset.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use actix::prelude::{Actor, Addr, Context, Handler, Message};

use super::*;
use crate::bus::{Delivery, EventBus};
use crate::messages::Event;

/// A child with state that counts messages, and can panic or stop on request.
struct Worker {
    count: u32,
    _guard: ExitGuard,
}

impl Actor for Worker {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "u32")]
struct Incr;

#[derive(Message)]
#[rtype(result = "()")]
struct Boom;

#[derive(Message)]
#[rtype(result = "()")]
struct Quit;

impl Handler<Incr> for Worker {
    type Result = u32;
    fn handle(&mut self, _: Incr, _: &mut Context<Self>) -> u32 {
        self.count += 1;
        self.count
    }
}

impl Handler<Boom> for Worker {
    type Result = ();
    fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
        panic!("boom in handler");
    }
}

impl Handler<Quit> for Worker {
    type Result = ();
    fn handle(&mut self, _: Quit, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

struct Harness {
    sup: Addr<Supervisor>,
    slot: Slot<Worker>,
    starts: Arc<AtomicU32>,
    bus: EventBus,
}

fn fast_backoff() -> Backoff {
    Backoff { initial: Duration::from_millis(5), factor: 2.0, max: Duration::from_millis(40), jitter: 0.0 }
}

fn harness(restart: Restart, intensity: Intensity) -> Harness {
    let bus = EventBus::new(64);
    let slot = Slot::<Worker>::default();
    let starts = Arc::new(AtomicU32::new(0));
    let (s2, n2) = (slot.clone(), starts.clone());
    let spec = ChildSpec::new("worker", restart, move |guard| {
        n2.fetch_add(1, Ordering::SeqCst);
        s2.set(Worker { count: 0, _guard: guard }.start());
    });
    let sup = Supervisor::new(Some(bus.clone()), intensity, fast_backoff()).child(spec).start();
    Harness { sup, slot, starts, bus }
}

impl Harness {
    async fn wait_for(&self, what: &str, pred: impl Fn(&ChildState) -> bool) -> ChildState {
        for _ in 0..400 {
            let states = self.sup.send(ListChildren).await.unwrap();
            if pred(&states[0]) {
                return states[0].clone();
            }
            actix::clock::sleep(Duration::from_millis(5)).await;
        }
        panic!("timed out waiting for {what}: {:?}", self.sup.send(ListChildren).await.unwrap());
    }

    async fn wait_running_gen(&self, generation: u64) -> Addr<Worker> {
        self.wait_for("running", |s| s.status == ChildStatus::Running && s.generation == generation).await;
        self.slot.get().unwrap()
    }
}

fn quiet_panics() {
    install_panic_hook();
}

#[actix::test]
async fn a_panicking_handler_is_restarted_with_fresh_state() {
    quiet_panics();
    let h = harness(Restart::Permanent, Intensity::default());
    let w = h.wait_running_gen(1).await;
    assert_eq!(w.send(Incr).await.unwrap(), 1);
    assert_eq!(w.send(Incr).await.unwrap(), 2);
    assert!(w.send(Boom).await.is_err(), "the panicking handler never replies");
    let w2 = h.wait_running_gen(2).await;
    assert_eq!(w2.send(Incr).await.unwrap(), 1, "state comes fresh from the factory");
    assert_eq!(h.starts.load(Ordering::SeqCst), 2);
}

#[actix::test]
async fn the_guard_tells_panic_from_stop_and_carries_the_message() {
    quiet_panics();
    let h = harness(Restart::Permanent, Intensity::default());
    let mut sub = h.bus.subscribe();
    let w = h.wait_running_gen(1).await;
    let _ = w.send(Boom).await;
    let mut saw = None;
    while saw.is_none() {
        if let Delivery::Event(e) = sub.recv().await
            && let Event::ChildChanged(ChildState { status: ChildStatus::Restarting { last_exit, .. }, .. }) = &*e
        {
            saw = Some(last_exit.clone());
        }
    }
    let last_exit = saw.unwrap();
    assert!(last_exit.starts_with("panicked: boom in handler"), "{last_exit}");
    let w = h.wait_running_gen(2).await;
    w.do_send(Quit);
    let s = h.wait_for("restart after stop", |s| s.generation == 3).await;
    assert_eq!(s.status, ChildStatus::Running, "a Permanent child comes back after a normal stop too");
}

#[actix::test]
async fn transient_restarts_only_after_a_panic() {
    quiet_panics();
    let h = harness(Restart::Transient, Intensity::default());
    let w = h.wait_running_gen(1).await;
    let _ = w.send(Boom).await;
    let w = h.wait_running_gen(2).await;
    w.do_send(Quit);
    let s = h.wait_for("stopped", |s| matches!(s.status, ChildStatus::Stopped { .. })).await;
    assert_eq!(s.generation, 2);
    actix::clock::sleep(Duration::from_millis(60)).await;
    assert_eq!(h.starts.load(Ordering::SeqCst), 2, "no restart after a normal stop");
}

#[actix::test]
async fn temporary_is_never_restarted() {
    quiet_panics();
    let h = harness(Restart::Temporary, Intensity::default());
    let w = h.wait_running_gen(1).await;
    let _ = w.send(Boom).await;
    let s = h.wait_for("stopped", |s| matches!(s.status, ChildStatus::Stopped { .. })).await;
    assert!(matches!(s.status, ChildStatus::Stopped { ref last_exit } if last_exit.starts_with("panicked")));
    actix::clock::sleep(Duration::from_millis(60)).await;
    assert_eq!(h.starts.load(Ordering::SeqCst), 1);
}

#[actix::test]
async fn exceeding_intensity_marks_failed_on_the_bus_until_reset() {
    quiet_panics();
    let h = harness(Restart::Permanent, Intensity { max_restarts: 2, period: Duration::from_secs(30) });
    let mut delays = Vec::new();
    for generation in 1..=3 {
        let w = h.wait_running_gen(generation).await;
        let _ = w.send(Boom).await;
        if generation < 3 {
            let s = h.wait_for("restarting", |s| matches!(s.status, ChildStatus::Restarting { .. })).await;
            if let ChildStatus::Restarting { delay_ms, .. } = s.status {
                delays.push(delay_ms);
            }
        }
    }
    assert!(delays[1] > delays[0], "backoff grows: {delays:?}");
    let s = h.wait_for("failed", |s| matches!(s.status, ChildStatus::Failed { .. })).await;
    let ChildStatus::Failed { reason, .. } = &s.status else { unreachable!() };
    assert!(reason.contains("boom in handler") && reason.contains("more than 2 restarts"), "{reason}");
    assert!(
        matches!(h.bus.snapshot().children["worker"].status, ChildStatus::Failed { .. }),
        "published in the snapshot"
    );
    actix::clock::sleep(Duration::from_millis(60)).await;
    assert_eq!(h.starts.load(Ordering::SeqCst), 3, "no restart once failed");

    h.sup.send(ResetChild { id: "worker".into() }).await.unwrap().unwrap();
    let w = h.wait_running_gen(4).await;
    assert_eq!(w.send(Incr).await.unwrap(), 1);
    assert!(h.sup.send(ResetChild { id: "worker".into() }).await.unwrap().is_err(), "only failed children reset");
}

#[actix::test]
async fn the_window_slides_so_old_restarts_stop_counting() {
    quiet_panics();
    let h = harness(Restart::Permanent, Intensity { max_restarts: 2, period: Duration::from_millis(300) });
    for generation in 1..=2 {
        let w = h.wait_running_gen(generation).await;
        let _ = w.send(Boom).await;
    }
    let w = h.wait_running_gen(3).await;
    actix::clock::sleep(Duration::from_millis(350)).await;
    let _ = w.send(Boom).await;
    let s = h.wait_for("running again", |s| s.generation == 4 && s.status == ChildStatus::Running).await;
    assert_eq!(s.recent_restarts, 1, "the two early restarts left the window");
}

#[test]
fn backoff_is_exponential_capped_and_jittered() {
    let b = Backoff { initial: Duration::from_millis(100), factor: 2.0, max: Duration::from_secs(1), jitter: 0.2 };
    assert_eq!(b.delay(0, 0.5), Duration::from_millis(100));
    assert_eq!(b.delay(1, 0.5), Duration::from_millis(200));
    assert_eq!(b.delay(3, 0.5), Duration::from_millis(800));
    assert_eq!(b.delay(10, 0.5), Duration::from_secs(1));
    assert_eq!(b.delay(0, 0.0), Duration::from_millis(80));
    assert!(b.delay(0, 0.999_999) > Duration::from_millis(119));
    assert_eq!(b.delay(u32::MAX, 0.5), Duration::from_secs(1));
}
