//! An OTP-style supervisor for our own actors.
//!
//! `actix::Supervisor` is not enough: it never restarts an actor whose handler panicked,
//! and on `ctx.stop()` it restarts the *same* struct with its old state. This one:
//!
//! - starts each child from a [`ChildSpec`] factory, so a restart gets fresh state;
//! - learns that a child ended through an [`ExitGuard`] the child owns: its `Drop` runs
//!   whether the child stopped or unwound from a panic, and `std::thread::panicking()`
//!   tells the two apart (this is why the release profile keeps `panic = "unwind"`);
//! - restarts one-for-one by the child's [`Restart`] type, after an exponential backoff
//!   with jitter;
//! - refuses to restart a child that exceeded its intensity (at most `max_restarts` in a
//!   sliding `period`) and marks it `Failed` with the reason, on the bus, until reset.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;

use crate::bus::EventBus;
use crate::messages::{ChildState, ChildStatus, Event};

/// When a child that ended is started again (OTP's restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal end (a panic).
    Transient,
    /// Never restarted.
    Temporary,
}

/// At most `max_restarts` restarts of one child within any `period`.
#[derive(Debug, Clone, Copy)]
pub struct Intensity {
    pub max_restarts: usize,
    pub period: Duration,
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity { max_restarts: 5, period: Duration::from_secs(60) }
    }
}

/// Delay before restart number `n` (0-based, counted inside the intensity window):
/// `initial × factor^n`, capped at `max`, then spread by ±`jitter` (a fraction).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub factor: f64,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(100), factor: 2.0, max: Duration::from_secs(10), jitter: 0.2 }
    }
}

impl Backoff {
    /// `unit` is a random number in [0, 1); 0.5 gives the undisturbed delay.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.factor.powi(n.min(64) as i32);
        let capped = base.min(self.max.as_secs_f64());
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64((capped * spread).max(0.0))
    }
}

/// Starts a fresh child, handing it the guard it must keep for its whole life.
pub type Factory = Box<dyn Fn(ExitGuard)>;

pub struct ChildSpec {
    pub id: String,
    pub restart: Restart,
    pub factory: Factory,
}

impl ChildSpec {
    pub fn new(id: impl Into<String>, restart: Restart, factory: impl Fn(ExitGuard) + 'static) -> ChildSpec {
        ChildSpec { id: id.into(), restart, factory: Box::new(factory) }
    }
}

/// Sent by a child's [`ExitGuard`] when the child is dropped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ChildExited {
    pub id: String,
    pub generation: u64,
    pub panicked: bool,
    pub panic_message: Option<String>,
}

/// Owned by a supervised actor (as a field). Dropping it tells the supervisor the actor
/// ended, and whether it ended by panicking.
pub struct ExitGuard {
    id: String,
    generation: u64,
    to: Recipient<ChildExited>,
}

impl ExitGuard {
    /// A guard for a child managed by a supervisor other than [`Supervisor`] (e.g. the
    /// Bridges actor, whose children come and go).
    pub fn new(id: impl Into<String>, generation: u64, to: Recipient<ChildExited>) -> ExitGuard {
        ExitGuard { id: id.into(), generation, to }
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        let panic_message = if panicked { LAST_PANIC.with(|p| p.borrow_mut().take()) } else { None };
        self.to.do_send(ChildExited { id: self.id.clone(), generation: self.generation, panicked, panic_message });
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records each panic's message for the unwinding [`ExitGuard`] to report, then defers to
/// the previous hook (which logs it). Call once at startup.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".into());
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
        previous(info);
    }));
}

/// A stable handle to a supervised actor for code outside the tree (web handlers): the
/// factory stores each new address here, so callers always reach the current generation.
pub struct Slot<A: Actor>(Arc<RwLock<Option<Addr<A>>>>);

impl<A: Actor> Clone for Slot<A> {
    fn clone(&self) -> Self {
        Slot(self.0.clone())
    }
}

impl<A: Actor> Default for Slot<A> {
    fn default() -> Self {
        Slot(Arc::new(RwLock::new(None)))
    }
}

impl<A: Actor> Slot<A> {
    pub fn set(&self, addr: Addr<A>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(addr);
    }

    /// The newest address, if the child has been started at least once.
    pub fn get(&self) -> Option<Addr<A>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Clear a `Failed` (or stopped) child's history and start it again.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), String>")]
pub struct ResetChild {
    pub id: String,
}

/// The current state of every child, in start order.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ChildState>")]
pub struct ListChildren;

struct Child {
    spec: ChildSpec,
    generation: u64,
    /// Instants of the restarts inside the intensity period, oldest first.
    window: VecDeque<Instant>,
    status: ChildStatus,
    pending: Option<SpawnHandle>,
}

pub struct Supervisor {
    children: Vec<Child>,
    intensity: Intensity,
    backoff: Backoff,
    bus: Option<EventBus>,
}

impl Supervisor {
    pub fn new(bus: Option<EventBus>, intensity: Intensity, backoff: Backoff) -> Supervisor {
        Supervisor { children: Vec::new(), intensity, backoff, bus }
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, spec: ChildSpec) -> Supervisor {
        self.children.push(Child {
            spec,
            generation: 0,
            window: VecDeque::new(),
            status: ChildStatus::Running,
            pending: None,
        });
        self
    }

    fn start_child(&mut self, idx: usize, ctx: &mut Context<Self>) {
        let child = &mut self.children[idx];
        child.generation += 1;
        child.pending = None;
        let guard =
            ExitGuard { id: child.spec.id.clone(), generation: child.generation, to: ctx.address().recipient() };
        (child.spec.factory)(guard);
        self.set_status(idx, ChildStatus::Running);
    }

    fn set_status(&mut self, idx: usize, status: ChildStatus) {
        let child = &mut self.children[idx];
        child.status = status;
        let state = state_of(child);
        match &state.status {
            ChildStatus::Failed { reason, .. } => {
                tracing::error!(child = %state.id, %reason, "actor failed; not restarting")
            }
            ChildStatus::Restarting { delay_ms, last_exit } => {
                tracing::warn!(child = %state.id, delay_ms, %last_exit, "actor exited; restarting")
            }
            ChildStatus::Stopped { last_exit } => tracing::info!(child = %state.id, %last_exit, "actor stopped"),
            ChildStatus::Running => tracing::debug!(child = %state.id, generation = state.generation, "actor running"),
        }
        if let Some(bus) = &self.bus {
            let id = state.id.clone();
            let for_snapshot = state.clone();
            bus.update(
                move |s| drop(Arc::make_mut(&mut s.children).insert(id, for_snapshot)),
                Event::ChildChanged(state),
            );
        }
    }
}

fn state_of(child: &Child) -> ChildState {
    ChildState {
        id: child.spec.id.clone(),
        status: child.status.clone(),
        recent_restarts: child.window.len(),
        generation: child.generation,
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        for idx in 0..self.children.len() {
            self.start_child(idx, ctx);
        }
    }
}

impl Handler<ChildExited> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some(idx) = self.children.iter().position(|c| c.spec.id == msg.id) else { return };
        if self.children[idx].generation != msg.generation {
            return; // a stale guard from an earlier generation
        }
        let last_exit = match (&msg.panicked, &msg.panic_message) {
            (true, Some(m)) => format!("panicked: {m}"),
            (true, None) => "panicked".to_string(),
            (false, _) => "stopped".to_string(),
        };
        let child = &mut self.children[idx];
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => msg.panicked,
            Restart::Temporary => false,
        };
        if !restart {
            self.set_status(idx, ChildStatus::Stopped { last_exit });
            return;
        }
        let now = Instant::now();
        let period = self.intensity.period;
        child.window.retain(|t| now.duration_since(*t) < period);
        if child.window.len() >= self.intensity.max_restarts {
            let reason = format!(
                "{last_exit} (more than {} restarts within {:?}; reset it to try again)",
                self.intensity.max_restarts, self.intensity.period
            );
            self.set_status(idx, ChildStatus::Failed { reason, since_unix_ms: now_unix_ms() });
            return;
        }
        let delay = self.backoff.delay(child.window.len() as u32, rand::random::<f64>());
        child.window.push_back(now);
        let handle = ctx.run_later(delay, move |act, ctx| act.start_child(idx, ctx));
        self.children[idx].pending = Some(handle);
        self.set_status(idx, ChildStatus::Restarting { delay_ms: delay.as_millis() as u64, last_exit });
    }
}

impl Handler<ResetChild> for Supervisor {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: ResetChild, ctx: &mut Context<Self>) -> Self::Result {
        let idx = self
            .children
            .iter()
            .position(|c| c.spec.id == msg.id)
            .ok_or_else(|| format!("no child named {:?}", msg.id))?;
        let child = &mut self.children[idx];
        match child.status {
            ChildStatus::Failed { .. } | ChildStatus::Stopped { .. } => {
                child.window.clear();
                if let Some(h) = child.pending.take() {
                    ctx.cancel_future(h);
                }
                self.start_child(idx, ctx);
                Ok(())
            }
            _ => Err(format!("{:?} is not failed or stopped", msg.id)),
        }
    }
}

impl Handler<ListChildren> for Supervisor {
    type Result = MessageResult<ListChildren>;

    fn handle(&mut self, _: ListChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.children.iter().map(state_of).collect())
    }
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
