//! The Bridge actor: owns one project's `claude remote-control` process, its status
//! machine, readiness, stop and restart policy. Its mailbox serialises everything done to
//! the bridge (start, stop, exit, log news), so a stop can never race a start.
//!
//! Push, not poll: readiness comes from the debug log as its lines arrive (the Bridges
//! actor's watch on the logs folder sends `LogChanged`), and an exit from the child's wait
//! future, or for an adopted bridge (not our child) from a pidfd.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::env::{BridgeEnv, LaunchSpec};
use super::log_tail::{self, LogTail};
use super::process::{self, Run};
use crate::actors::store::{Put, Store};
use crate::actors::supervisor::ExitGuard;
use crate::bus::EventBus;
use crate::markers::{self, ExitClass, Markers};
use crate::messages::Event;
use crate::messages::instance::{Instance, LastExit, Status};
use crate::restart::Decision;
use crate::state_file::Record;
use crate::time;

/// Start the bridge (or join a start in progress). Replies when the status leaves
/// `starting`, or after the env's sync wait, whichever is first.
#[derive(Debug, Message)]
#[rtype(result = "Instance")]
pub struct Launch(pub LaunchSpec);

/// Stop the bridge; replies once the process is gone.
#[derive(Debug, Message)]
#[rtype(result = "Instance")]
pub struct Stop;

/// The debug-log folder changed; read new lines if it was our file.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct LogChanged(pub PathBuf);

/// The process of run `seq` ended.
#[derive(Debug)]
struct Exited {
    seq: u64,
    code: Option<i32>,
    signal: Option<i32>,
}

pub struct BridgeActor {
    env: Arc<BridgeEnv>,
    bus: EventBus,
    store: Addr<Store>,
    inst: Instance,
    spec: Option<LaunchSpec>,
    run: Option<Run>,
    seq: u64,
    markers: Markers,
    log: LogTail,
    start_waiters: Vec<oneshot::Sender<Instance>>,
    stop_waiters: Vec<oneshot::Sender<Instance>>,
    timers: Vec<SpawnHandle>,
    _guard: ExitGuard,
}

impl BridgeActor {
    /// A bridge with no process: a fresh project, or a saved card to resume.
    pub fn idle(env: Arc<BridgeEnv>, bus: EventBus, store: Addr<Store>, inst: Instance, guard: ExitGuard) -> Self {
        BridgeActor {
            log: LogTail::new(env.strip_ansi),
            env,
            bus,
            store,
            inst,
            spec: None,
            run: None,
            seq: 0,
            markers: Markers::default(),
            start_waiters: Vec::new(),
            stop_waiters: Vec::new(),
            timers: Vec::new(),
            _guard: guard,
        }
    }

    /// A bridge still running from before clauster restarted, its identity already
    /// checked. It keeps its debug log (so its tail and links survive) and ids.
    pub fn adopted(mut base: Self, id: &crate::procs::Identity, record: &Record, spec: LaunchSpec) -> Self {
        base.inst.status = Status::Running;
        base.inst.bridge_pid = Some(id.pid);
        base.inst.bridge_proc_start = process::start_epoch(id);
        base.inst.bridge_debug_log_path = record.debug_log.clone();
        base.inst.started_at = record.started_at.clone();
        base.inst.intentional_stop = false;
        base.inst.restart.policy = spec.policy;
        if let Some(path) = &record.debug_log {
            base.log.follow_existing(path);
        }
        base.spec = Some(spec);
        base.seq = 1;
        base.run = Some(Run {
            id: id.clone(),
            started: std::time::Instant::now(),
            owned: false,
            stderr_log: record.debug_log.as_ref().map(|p| p.with_extension("stderr.log")),
            by_us: false,
        });
        base
    }

    fn publish(&mut self) {
        let inst = self.inst.clone();
        let name = inst.project.clone();
        let for_event = inst.clone();
        self.bus.update(
            move |s| drop(Arc::make_mut(&mut s.instances).insert(name, inst)),
            Event::InstanceChanged(Box::new(for_event)),
        );
        self.persist();
        if self.inst.status != Status::Starting {
            for w in self.start_waiters.drain(..) {
                let _ = w.send(self.inst.clone());
            }
        }
    }

    fn persist(&self) {
        let i = &self.inst;
        let record = Record {
            label: i.label.clone(),
            intentional_stop: i.intentional_stop,
            spawn_mode: i.spawn_mode,
            permission_mode: i.permission_mode,
            resume_mode: i.resume_mode,
            process: self.run.as_ref().map(|r| r.id.clone()),
            debug_log: i.bridge_debug_log_path.clone(),
            bridge_id: i.bridge_id.clone(),
            environment_id: i.environment_id.clone(),
            starter_session_id: i.starter_session_id.clone(),
            started_at: i.started_at.clone(),
            extra: Default::default(),
        };
        self.store.do_send(Put { project: i.project.clone(), record });
    }

    fn cancel_timers(&mut self, ctx: &mut Context<Self>) {
        for t in self.timers.drain(..) {
            ctx.cancel_future(t);
        }
        self.inst.restart.next_attempt_at = None;
    }

    /// Spawns the process for `spec`. A user start resets the restart history.
    fn launch(&mut self, spec: LaunchSpec, by_user: bool, ctx: &mut Context<Self>) {
        self.cancel_timers(ctx);
        if by_user {
            self.inst.restart = Default::default();
        }
        self.inst.restart.policy = spec.policy;
        self.inst.label = spec.label.clone();
        self.inst.spawn_mode = spec.spawn_mode;
        self.inst.permission_mode = spec.permission_mode;
        self.inst.resume_mode = spec.resume_mode;
        self.inst.status = Status::Starting;
        self.inst.intentional_stop = false;
        self.inst.error_detail = None;
        self.inst.restart.gave_up = None;
        self.inst.started_at = Some(time::now_rfc3339());
        self.markers = Markers::default();
        let paths = process::LogPaths::allocate(&self.env.logs_dir, &self.inst.project);
        self.inst.bridge_debug_log_path = Some(paths.debug.clone());
        self.log.follow_new(&paths.debug);
        self.spec = Some(spec.clone());
        self.seq += 1;
        let seq = self.seq;
        self.publish();

        let env = self.env.clone();
        let prepared = tokio::task::spawn_blocking(move || process::prepare(&env, &paths));
        ctx.spawn(prepared.into_actor(self).map(move |res, act, ctx| {
            if act.seq != seq {
                return; // stopped (or relaunched) while the files were being prepared
            }
            let spawned = res
                .map_err(|e| e.to_string())
                .and_then(|p| p.map_err(|e| e.to_string()))
                .and_then(|p| process::spawn(&spec, &p).map_err(|e| format!("cannot start {}: {e}", p.exe.display())));
            match spawned {
                Ok((run, child)) => act.started(run, child, ctx),
                Err(e) => {
                    tracing::warn!(project = %act.inst.project, error = %e, "bridge launch failed");
                    act.inst.status = Status::Error;
                    act.inst.error_detail = Some(e);
                    act.publish();
                }
            }
        }));
    }

    fn started(&mut self, run: Run, child: tokio::process::Child, ctx: &mut Context<Self>) {
        tracing::info!(project = %self.inst.project, pid = run.id.pid, "bridge started");
        self.inst.bridge_pid = Some(run.id.pid);
        self.inst.bridge_proc_start = process::start_epoch(&run.id);
        self.run = Some(run);
        self.publish();
        let seq = self.seq;
        ctx.spawn(
            async move {
                let status = process::wait_child(child).await;
                (status.code(), std::os::unix::process::ExitStatusExt::signal(&status))
            }
            .into_actor(self)
            .map(move |(code, signal), act, ctx| act.handle_exit(Exited { seq, code, signal }, ctx)),
        );
        let grace = self.env.startup_grace;
        self.timers.push(ctx.run_later(grace, move |act, ctx| act.startup_grace_expired(seq, ctx)));
        self.read_log(ctx);
    }

    /// Watches an adopted process through a pidfd (it is not our child).
    fn watch_adopted(&mut self, ctx: &mut Context<Self>) {
        let Some(run) = &self.run else { return };
        let (pid, seq) = (run.id.pid, self.seq);
        ctx.spawn(
            async move {
                match crate::procs::pidfd_open(pid) {
                    Ok(fd) => {
                        let _ = crate::procs::pidfd_wait(fd).await;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(_) => process::poll_until_gone(pid).await,
                }
            }
            .into_actor(self)
            .map(move |(), act, ctx| act.handle_exit(Exited { seq, code: None, signal: None }, ctx)),
        );
    }

    fn startup_grace_expired(&mut self, seq: u64, ctx: &mut Context<Self>) {
        if self.seq != seq || self.inst.status != Status::Starting {
            return;
        }
        let secs = self.env.startup_grace.as_secs_f64();
        tracing::warn!(project = %self.inst.project, "bridge never registered within {secs}s; stopping it");
        self.inst.status = Status::Error;
        self.inst.error_detail = Some(format!(
            "claude started but did not register with claude.ai within {secs}s, so clauster stopped it \
             (check this host's network and `clauster doctor`)"
        ));
        self.publish();
        self.signal_stop(ctx);
    }

    /// SIGINT to the group now and again a second later, SIGKILL after the stop grace.
    fn signal_stop(&mut self, ctx: &mut Context<Self>) {
        let Some(run) = &mut self.run else { return };
        run.by_us = true;
        let (id, owned, seq) = (run.id.clone(), run.owned, self.seq);
        let send = move |sig: i32| {
            let id = id.clone();
            tokio::task::spawn_blocking(move || {
                // An adopted bridge is not our child, so its pid could be reused once it
                // exits: check the full identity right before each signal.
                if owned || crate::procs::is_live_bridge(&id) {
                    let _ = crate::procs::signal_group(id.pid, sig);
                }
            })
        };
        ctx.spawn(fut::wrap_future::<_, Self>(send(libc::SIGINT)).map(|_, _, _| ()));
        let again = send.clone();
        self.timers.push(ctx.run_later(Duration::from_secs(1), move |act, ctx| {
            if act.seq == seq && act.run.is_some() {
                ctx.spawn(fut::wrap_future::<_, Self>(again(libc::SIGINT)).map(|_, _, _| ()));
            }
        }));
        let grace = self.env.stop_grace;
        self.timers.push(ctx.run_later(grace, move |act, ctx| {
            if act.seq == seq && act.run.is_some() {
                tracing::warn!(project = %act.inst.project, "bridge ignored SIGINT for {grace:?}; killing it");
                ctx.spawn(fut::wrap_future::<_, Self>(send(libc::SIGKILL)).map(|_, _, _| ()));
            }
        }));
    }

    /// Reads whatever was appended to the debug log since last time. Runs under
    /// `ctx.wait`, so reads never overlap each other or an exit being processed.
    fn read_log(&mut self, ctx: &mut Context<Self>) {
        let Some((follower, strip)) = self.log.take() else { return };
        let job = tokio::task::spawn_blocking(move || log_tail::read(follower, strip));
        ctx.wait(job.into_actor(self).map(|res, act, ctx| {
            let Ok(read) = res else {
                return tracing::error!(project = %act.inst.project, "a log read crashed; the log tail stops");
            };
            let more = read.more;
            for line in act.log.put_back(read) {
                act.markers.feed(&line);
            }
            act.apply_markers(ctx);
            if more {
                act.read_log(ctx);
            }
        }));
    }

    fn apply_markers(&mut self, ctx: &mut Context<Self>) {
        let m = &self.markers;
        let before = self.inst.clone();
        if self.inst.bridge_id.is_none() {
            self.inst.bridge_id = m.bridge_id.clone();
        }
        if m.environment_id.is_some() {
            self.inst.environment_id = m.environment_id.clone();
        }
        if self.inst.starter_session_id.is_none() || m.starter_session_id.is_some() {
            self.inst.starter_session_id = m.starter_session_id.clone().or(self.inst.starter_session_id.take());
        }
        self.inst.refresh_links();
        let alive = self.run.is_some();
        if self.inst.status == Status::Starting && m.trust_error && alive {
            self.inst.status = Status::Error;
            self.inst.error_detail = ExitClass::Untrusted.advice().map(str::to_owned);
            self.publish();
            self.signal_stop(ctx);
            return;
        }
        if self.inst.status == Status::Starting && m.is_ready() && alive {
            self.inst.status = Status::Running;
            tracing::info!(project = %self.inst.project, env = self.inst.environment_id.as_deref().unwrap_or(""), "bridge running");
            if self.inst.starter_session_id.is_none() {
                self.backfill_session(ctx);
            }
        }
        if self.inst != before {
            self.publish();
        }
    }

    /// A resumed bridge logs no "Created initial session"; its session id is in the
    /// bridge-pointer claude keeps for the folder.
    fn backfill_session(&mut self, ctx: &mut Context<Self>) {
        let Some(spec) = &self.spec else { return };
        let (home, dir) = (self.env.home.clone(), spec.real_dir.clone());
        let job = tokio::task::spawn_blocking(move || process::read_pointer(&home, &dir));
        ctx.spawn(job.into_actor(self).map(|res, act, _| {
            if let Ok(Some(p)) = res
                && act.inst.starter_session_id.is_none()
            {
                act.inst.starter_session_id = Some(p.session_id);
                act.inst.refresh_links();
                act.publish();
            }
        }));
    }

    fn handle_exit(&mut self, e: Exited, ctx: &mut Context<Self>) {
        if e.seq != self.seq {
            return;
        }
        let Some(run) = self.run.take() else { return };
        let uptime = run.started.elapsed();
        // The last lines first (they may say why it ended), then its stderr.
        self.read_log(ctx);
        let stderr_path = run.stderr_log.clone();
        let job = tokio::task::spawn_blocking(move || {
            stderr_path.and_then(|p| std::fs::read(p).ok()).map(|b| String::from_utf8_lossy(&b).into_owned())
        });
        ctx.wait(job.into_actor(self).map(move |res, act, ctx| {
            let stderr = res.ok().flatten().unwrap_or_default();
            act.finish_exit(run, e, uptime, &stderr, ctx);
        }));
    }

    fn finish_exit(&mut self, run: Run, e: Exited, uptime: Duration, stderr: &str, ctx: &mut Context<Self>) {
        self.cancel_timers(ctx);
        let class = markers::classify(run.by_us, stderr, &self.markers, e.code);
        let (code, signal) =
            (e.code.map_or_else(String::new, |c| c.to_string()), e.signal.map_or_else(String::new, |s| s.to_string()));
        tracing::info!(project = %self.inst.project, ?class, code, signal, "bridge exited");
        let was = self.inst.status;
        self.inst.bridge_pid = None;
        self.inst.cpu_percent = None;
        self.inst.rss_bytes = None;
        self.inst.restart.last_exit = Some(LastExit {
            class,
            exit_code: e.code,
            signal: e.signal,
            at: time::now_rfc3339(),
            uptime_seconds: (uptime.as_secs_f64() * 1000.0).round() / 1000.0,
        });
        let detail = || {
            let tail = markers::tail(stderr, 2000);
            match (class.advice(), tail.is_empty()) {
                (Some(a), true) => Some(a.to_owned()),
                (Some(a), false) => Some(format!("{a}\n\n{tail}")),
                (None, false) => Some(tail),
                (None, true) => None,
            }
        };
        self.inst.status = match class {
            ExitClass::Stopped if self.inst.intentional_stop => Status::Stopped,
            ExitClass::Stopped => was, // stopped by the startup grace: stays `error`
            _ if was == Status::Starting => Status::Error,
            ExitClass::Completed if self.inst.spawn_mode == crate::config::types::SpawnMode::Session => Status::Stopped,
            c if c.is_permanent() => Status::Error,
            _ => Status::Crashed,
        };
        if matches!(self.inst.status, Status::Error | Status::Crashed) && class != ExitClass::Stopped {
            self.inst.error_detail = detail();
        }
        self.apply_restart_policy(class, uptime, ctx);
        self.publish();
        for w in self.stop_waiters.drain(..) {
            let _ = w.send(self.inst.clone());
        }
    }

    fn apply_restart_policy(&mut self, class: ExitClass, uptime: Duration, ctx: &mut Context<Self>) {
        let Some(spec) = self.spec.clone() else { return };
        let rules = self.env.restart_rules(spec.policy);
        let (decision, quick) = rules.decide(class, uptime, self.inst.restart.quick_failures, rand::random());
        match decision {
            Decision::Stay => {}
            Decision::Restart { delay, attempt } => {
                self.inst.restart.quick_failures = quick;
                self.inst.restart.next_attempt_at = Some(time::in_rfc3339(delay));
                tracing::info!(project = %self.inst.project, attempt, ?delay, "restarting bridge by its policy");
                let seq = self.seq;
                self.timers.push(ctx.run_later(delay, move |act, ctx| {
                    if act.seq == seq && act.run.is_none() && !act.inst.intentional_stop {
                        act.inst.restart.restarts += 1;
                        act.launch(spec, false, ctx);
                    }
                }));
            }
            Decision::GiveUp { reason } => {
                self.inst.restart.quick_failures = quick;
                tracing::warn!(project = %self.inst.project, %reason, "bridge failed");
                self.inst.restart.gave_up = Some(reason);
                self.inst.status = Status::Failed;
            }
        }
    }
}

impl Actor for BridgeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.run.is_some() {
            // Adopted: show its recent log to viewers, and learn of the exit by pidfd.
            self.read_log(ctx);
            self.watch_adopted(ctx);
        }
        self.publish();
    }
}

impl Handler<Launch> for BridgeActor {
    type Result = ResponseActFuture<Self, Instance>;

    fn handle(&mut self, msg: Launch, ctx: &mut Context<Self>) -> Self::Result {
        match self.inst.status {
            Status::Running => return Box::pin(fut::ready(self.inst.clone())),
            Status::Starting => {}
            _ => self.launch(msg.0, true, ctx),
        }
        let (tx, rx) = oneshot::channel();
        self.start_waiters.push(tx);
        let wait = self.env.sync_wait;
        Box::pin(async move { tokio::time::timeout(wait, rx).await }.into_actor(self).map(|res, act, _| match res {
            Ok(Ok(inst)) => inst,
            _ => act.inst.clone(),
        }))
    }
}

impl Handler<Stop> for BridgeActor {
    type Result = ResponseActFuture<Self, Instance>;

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) -> Self::Result {
        self.cancel_timers(ctx);
        self.inst.intentional_stop = true;
        if self.run.is_none() {
            // Nothing running (or still preparing files): invalidate any pending launch.
            self.seq += 1;
            self.inst.status = Status::Stopped;
            self.inst.bridge_pid = None;
            self.publish();
            return Box::pin(fut::ready(self.inst.clone()));
        }
        // The intent is on disk before any signal, so a clauster crash mid-stop can never
        // read the exit as a crash.
        self.publish();
        let flushed = self.store.send(crate::actors::store::Flush);
        ctx.wait(flushed.into_actor(self).map(|_, act, ctx| act.signal_stop(ctx)));
        let (tx, rx) = oneshot::channel();
        self.stop_waiters.push(tx);
        Box::pin(rx.into_actor(self).map(|res, act, _| res.unwrap_or_else(|_| act.inst.clone())))
    }
}

impl Handler<LogChanged> for BridgeActor {
    type Result = ();
    fn handle(&mut self, msg: LogChanged, ctx: &mut Context<Self>) {
        if self.log.path() == Some(msg.0.as_path()) {
            self.read_log(ctx);
        }
    }
}

/// Join the log's viewers: the backlog, then live batches. `None` when the bridge never
/// had a log.
#[derive(Debug, Message)]
#[rtype(result = "Option<log_tail::Subscription>")]
pub struct SubscribeLog;

impl Handler<SubscribeLog> for BridgeActor {
    type Result = Option<log_tail::Subscription>;
    fn handle(&mut self, _: SubscribeLog, _: &mut Context<Self>) -> Self::Result {
        self.inst.bridge_debug_log_path.is_some().then(|| self.log.subscribe())
    }
}

/// A fresh CPU and memory sample of the process.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Usage {
    pub cpu_percent: Option<f64>,
    pub rss_bytes: u64,
}

impl Handler<Usage> for BridgeActor {
    type Result = ();
    fn handle(&mut self, msg: Usage, _: &mut Context<Self>) {
        if self.run.is_none() {
            return;
        }
        self.inst.cpu_percent = msg.cpu_percent;
        self.inst.rss_bytes = Some(msg.rss_bytes);
        // Figures only: announce them, nothing to persist.
        let inst = self.inst.clone();
        let name = inst.project.clone();
        self.bus.update(
            move |s| drop(Arc::make_mut(&mut s.instances).insert(name, inst.clone())),
            Event::InstanceChanged(Box::new(self.inst.clone())),
        );
    }
}
