//! The Bridges actor: supervisor and registry of one [`bridge::BridgeActor`] per project.
//!
//! It validates start requests against the project snapshot and the config (so a bad
//! option is refused even when the bridge already runs), sets claude's remote-control
//! flags before the first start, re-adopts bridges that outlived a restart (only on an
//! exact pid + start time + boot id match), starts `autostart` projects, routes log-folder
//! events to the right bridge, and re-creates a Bridge actor that panicked (re-adopting its
//! process if it is still alive).

pub mod bridge;
pub mod env;
pub mod log_tail;
pub mod process;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use actix::prelude::*;
use notify::{RecursiveMode, Watcher};

use super::store::Store;
use super::supervisor::{ChildExited, ExitGuard};
use crate::bus::EventBus;
use crate::config::Loaded;
use crate::messages::instance::{
    BridgeError, Instance, NewSession, ResumeBridge, StartBridge, StartOptions, Status, StopBridge,
};
use crate::state_file::Record;
use bridge::{BridgeActor, Launch, LogChanged, Stop, SubscribeLog, Usage};
use env::{BridgeEnv, LaunchSpec};

pub use validate::resolve;

struct Child {
    addr: Addr<BridgeActor>,
    generation: u64,
}

pub struct BridgesActor {
    config: Arc<Loaded>,
    env: Arc<BridgeEnv>,
    bus: EventBus,
    store: Addr<Store>,
    children: HashMap<String, Child>,
    generation: u64,
    /// The records read from state.json at startup, consumed by `started`.
    initial: BTreeMap<String, Record>,
    rc_flags_set: bool,
    watcher: Option<notify::RecommendedWatcher>,
    /// The previous CPU sample per pid: (cpu ticks, when).
    cpu: HashMap<u32, (u64, std::time::Instant)>,
    _guard: ExitGuard,
}

/// How often live CPU and memory figures are sampled, while anyone is watching.
const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl BridgesActor {
    pub fn new(
        config: Arc<Loaded>,
        env: Arc<BridgeEnv>,
        bus: EventBus,
        store: Addr<Store>,
        records: BTreeMap<String, Record>,
        guard: ExitGuard,
    ) -> BridgesActor {
        BridgesActor {
            config,
            env,
            bus,
            store,
            children: HashMap::new(),
            generation: 0,
            initial: records,
            rc_flags_set: false,
            watcher: None,
            cpu: HashMap::new(),
            _guard: guard,
        }
    }

    fn guard(&mut self, project: &str, ctx: &mut Context<Self>) -> (ExitGuard, u64) {
        self.generation += 1;
        (ExitGuard::new(project, self.generation, ctx.address().recipient()), self.generation)
    }

    /// Creates the actor for `project` from its record: adopted if its process is still
    /// the same live bridge, otherwise an idle card that can be resumed.
    fn restore(&mut self, project: &str, record: &Record, live: bool, ctx: &mut Context<Self>) -> Addr<BridgeActor> {
        let (guard, generation) = self.guard(project, ctx);
        let mut inst =
            Instance::new(project, &record.label, record.spawn_mode, record.permission_mode, record.resume_mode);
        inst.intentional_stop = record.intentional_stop;
        inst.bridge_id = record.bridge_id.clone();
        inst.environment_id = record.environment_id.clone();
        inst.starter_session_id = record.starter_session_id.clone();
        inst.refresh_links();
        let spec = self.spec_for(project, record.spawn_mode, record.permission_mode, record.resume_mode, &record.label);
        let base = BridgeActor::idle(self.env.clone(), self.bus.clone(), self.store.clone(), inst, guard);
        let actor = match (&record.process, live) {
            (Some(id), true) => {
                tracing::info!(project, pid = id.pid, "re-adopted a running bridge");
                BridgeActor::adopted(base, id, record, spec)
            }
            _ => base,
        };
        let addr = actor.start();
        self.children.insert(project.to_owned(), Child { addr: addr.clone(), generation });
        addr
    }

    fn spec_for(
        &self,
        project: &str,
        spawn_mode: crate::config::types::SpawnMode,
        permission_mode: crate::config::types::PermissionMode,
        resume_mode: crate::config::types::ResumeMode,
        label: &str,
    ) -> LaunchSpec {
        let snap = self.bus.snapshot();
        let p = snap.projects.get(project);
        let dir = p.map(|p| p.path.clone()).unwrap_or_else(|| self.config.projects_root().join(project));
        LaunchSpec {
            project: project.to_owned(),
            label: label.to_owned(),
            real_dir: p.and_then(|p| p.real_path.clone()).unwrap_or_else(|| dir.clone()),
            dir,
            spawn_mode,
            permission_mode,
            resume_mode,
            policy: validate::policy_for(&self.config.config, project),
        }
    }

    fn addr(&mut self, project: &str, ctx: &mut Context<Self>) -> Addr<BridgeActor> {
        if let Some(c) = self.children.get(project) {
            return c.addr.clone();
        }
        let d = &self.config.config.instance_defaults;
        let record = Record {
            label: project.to_owned(),
            intentional_stop: false,
            spawn_mode: d.spawn_mode,
            permission_mode: d.permission_mode,
            resume_mode: self.config.config.claude.resume_mode,
            process: None,
            debug_log: None,
            bridge_id: None,
            environment_id: None,
            starter_session_id: None,
            started_at: None,
            extra: Default::default(),
        };
        self.restore(project, &record, false, ctx)
    }

    /// Watches the logs folder once, so every bridge's readiness is pushed, not polled.
    fn watch_logs(&mut self, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        let handler = move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res
                && changes_content(&ev.kind)
            {
                for p in ev.paths {
                    if let Some(project) = process::project_of_log(&p) {
                        addr.do_send(RouteLog { project: project.to_owned(), path: p.clone() });
                    }
                }
            }
        };
        let dir = self.env.logs_dir.clone();
        match notify::recommended_watcher(handler) {
            Ok(mut w) => {
                if let Err(e) = std::fs::create_dir_all(&dir)
                    .map_err(notify::Error::io)
                    .and_then(|()| w.watch(&dir, RecursiveMode::NonRecursive))
                {
                    tracing::error!(dir = %dir.display(), error = %e, "cannot watch the bridge logs folder; readiness will not be seen");
                }
                self.watcher = Some(w);
            }
            Err(e) => tracing::error!(error = %e, "file watching unavailable; bridge readiness will not be seen"),
        }
    }

    /// Sets claude's `hasUsedRemoteControl` and `remoteDialogSeen`, without which a
    /// detached bridge waits forever on an "Enable Remote Control?" prompt.
    fn ensure_rc_flags(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if self.rc_flags_set || !self.config.config.claude.auto_enable_remote_control {
            return None;
        }
        self.rc_flags_set = true;
        let path = self.env.home.join(".claude.json");
        Some(tokio::task::spawn_blocking(move || {
            let r = crate::claude_json::update(&path, |o| {
                o.insert("hasUsedRemoteControl".into(), serde_json::Value::Bool(true));
                o.insert("remoteDialogSeen".into(), serde_json::Value::Bool(true));
                Ok(())
            });
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not enable remote control in ~/.claude.json; a bridge may wait on its prompt");
            }
        }))
    }

    fn start(
        &mut self,
        project: String,
        spec: LaunchSpec,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<Instance, BridgeError>> {
        let flags = self.ensure_rc_flags();
        let addr = self.addr(&project, ctx);
        Box::pin(
            async move {
                if let Some(f) = flags {
                    let _ = f.await;
                }
                addr.send(Launch(spec)).await
            }
            .into_actor(self)
            .map(|res, _, _| launched(res)),
        )
    }
}

/// Whether an event can mean new bytes to read. Opening, reading and closing a file we
/// only read are events too, and our own reads cause them: reacting to those would make
/// every read trigger the next one.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Maps a Launch reply to the API result: a bridge that ended in error is an error.
fn launched(res: Result<Instance, MailboxError>) -> Result<Instance, BridgeError> {
    let inst = res.map_err(|_| BridgeError::Unavailable("the bridge is restarting; retry in a moment".into()))?;
    match inst.status {
        Status::Error | Status::Crashed | Status::Failed => Err(BridgeError::LaunchFailed {
            detail: inst.error_detail.clone().unwrap_or_else(|| "the bridge exited while starting".into()),
            instance: Box::new(inst),
        }),
        _ => Ok(inst),
    }
}

/// A file in the logs folder changed.
#[cfg(test)]
mod tests {
    use super::changes_content;
    use notify::event::{AccessKind, AccessMode, CreateKind, DataChange, EventKind, MetadataKind, ModifyKind};

    #[test]
    fn only_content_changes_trigger_a_read() {
        assert!(changes_content(&EventKind::Modify(ModifyKind::Data(DataChange::Any))));
        assert!(changes_content(&EventKind::Create(CreateKind::File)));
        assert!(changes_content(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!changes_content(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(!changes_content(&EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any))));
    }
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
struct RouteLog {
    project: String,
    path: PathBuf,
}

impl Actor for BridgesActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.watch_logs(ctx);
        ctx.run_interval(SAMPLE_EVERY, |act, ctx| act.sample_usage(ctx));
        let records = std::mem::take(&mut self.initial);
        let check = tokio::task::spawn_blocking(move || {
            records
                .into_iter()
                .map(|(name, r)| {
                    let live = r.process.as_ref().is_some_and(crate::procs::is_live_bridge);
                    (name, r, live)
                })
                .collect::<Vec<_>>()
        });
        ctx.wait(check.into_actor(self).map(|res, act, ctx| {
            for (name, record, live) in res.unwrap_or_default() {
                act.restore(&name, &record, live, ctx);
            }
            act.autostart(ctx);
        }));
    }
}

impl BridgesActor {
    /// Samples CPU and resident memory of every live bridge, but only while someone is
    /// watching (an event subscriber or a recent API read): idle, clauster reads nothing.
    fn sample_usage(&mut self, ctx: &mut Context<Self>) {
        if !self.bus.is_watched(SAMPLE_EVERY * 5) {
            self.cpu.clear();
            return;
        }
        let pids: Vec<(String, u32)> =
            self.bus.snapshot().instances.values().filter_map(|i| Some((i.project.clone(), i.bridge_pid?))).collect();
        let job = tokio::task::spawn_blocking(move || {
            pids.into_iter().filter_map(|(p, pid)| Some((p, pid, crate::procs::usage(pid)?))).collect::<Vec<_>>()
        });
        ctx.spawn(job.into_actor(self).map(|res, act, _| {
            let tck = crate::procs::ticks_per_second() as f64;
            let now = std::time::Instant::now();
            let mut seen = HashMap::new();
            for (project, pid, (ticks, rss)) in res.unwrap_or_default() {
                let cpu = act.cpu.get(&pid).map(|(t0, at)| {
                    let secs = now.duration_since(*at).as_secs_f64().max(1e-3);
                    ((ticks.saturating_sub(*t0)) as f64 / tck / secs * 1000.0).round() / 10.0
                });
                seen.insert(pid, (ticks, now));
                if let Some(c) = act.children.get(&project) {
                    c.addr.do_send(Usage { cpu_percent: cpu, rss_bytes: rss });
                }
            }
            act.cpu = seen;
        }));
    }

    /// Starts every `autostart: true` project that is not already up, once the project
    /// list is known.
    fn autostart(&mut self, ctx: &mut Context<Self>) {
        let wanted: Vec<String> =
            self.config.config.projects.iter().filter(|(_, p)| p.autostart).map(|(n, _)| n.clone()).collect();
        if wanted.is_empty() {
            return;
        }
        let mut rx = self.bus.watch();
        let ready = async move {
            let _ = rx.wait_for(|s| s.projects_ready).await;
        };
        ctx.spawn(ready.into_actor(self).map(move |(), act, ctx| {
            for name in wanted {
                let live = act.bus.snapshot().instances.get(&name).is_some_and(|i| i.status.is_live());
                if live {
                    continue;
                }
                match validate::resolve(&act.bus.snapshot(), &act.config.config, &name, &StartOptions::default(), None)
                {
                    Ok(spec) => {
                        tracing::info!(project = %name, "autostart");
                        let f = act.start(name, spec, ctx);
                        ctx.spawn(f.map(|r, _, _| {
                            if let Err(e) = r {
                                tracing::warn!(error = %e, "autostart failed");
                            }
                        }));
                    }
                    Err(e) => tracing::warn!(project = %name, error = %e, "cannot autostart"),
                }
            }
        }));
    }
}

impl Handler<StartBridge> for BridgesActor {
    type Result = ResponseActFuture<Self, Result<Instance, BridgeError>>;

    fn handle(&mut self, msg: StartBridge, ctx: &mut Context<Self>) -> Self::Result {
        let snap = self.bus.snapshot();
        match validate::resolve(&snap, &self.config.config, &msg.project, &msg.options, None) {
            Ok(spec) => self.start(msg.project, spec, ctx),
            Err(e) => Box::pin(fut::ready(Err(e))),
        }
    }
}

impl Handler<ResumeBridge> for BridgesActor {
    type Result = ResponseActFuture<Self, Result<Instance, BridgeError>>;

    fn handle(&mut self, msg: ResumeBridge, ctx: &mut Context<Self>) -> Self::Result {
        let snap = self.bus.snapshot();
        let Some(prev) = snap.instances.get(&msg.project).cloned() else {
            return Box::pin(fut::ready(Err(BridgeError::UnknownProject(format!(
                "no managed instance to resume: {:?}",
                msg.project
            )))));
        };
        match validate::resolve(&snap, &self.config.config, &msg.project, &StartOptions::default(), Some(&prev)) {
            Ok(spec) => self.start(msg.project, spec, ctx),
            Err(e) => Box::pin(fut::ready(Err(e))),
        }
    }
}

impl Handler<StopBridge> for BridgesActor {
    type Result = ResponseActFuture<Self, Result<Instance, BridgeError>>;

    fn handle(&mut self, msg: StopBridge, _: &mut Context<Self>) -> Self::Result {
        let Some(child) = self.children.get(&msg.project) else {
            return Box::pin(fut::ready(Err(BridgeError::UnknownProject(format!(
                "no managed instance: {:?}",
                msg.project
            )))));
        };
        let addr = child.addr.clone();
        Box::pin(async move { addr.send(Stop).await }.into_actor(self).map(|res, _, _| {
            res.map_err(|_| BridgeError::Unavailable("the bridge is restarting; retry in a moment".into()))
        }))
    }
}

impl Handler<RouteLog> for BridgesActor {
    type Result = ();
    fn handle(&mut self, msg: RouteLog, _: &mut Context<Self>) {
        if let Some(c) = self.children.get(&msg.project) {
            c.addr.do_send(LogChanged(msg.path));
        }
    }
}

impl Handler<ChildExited> for BridgesActor {
    type Result = ();

    /// A Bridge actor ended. It only ends by panicking (nothing stops it otherwise): log
    /// it and re-create it from its last record, re-adopting the process if it lives.
    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        if self.children.get(&msg.id).is_none_or(|c| c.generation != msg.generation) {
            return;
        }
        self.children.remove(&msg.id);
        tracing::error!(project = %msg.id, panic = ?msg.panic_message, "bridge actor ended; re-creating it");
        let (project, store) = (msg.id.clone(), self.store.clone());
        let fetch = async move { store.send(crate::actors::store::GetRecord(project)).await.ok().flatten() };
        let project = msg.id;
        ctx.spawn(fetch.into_actor(self).map(move |record, act, ctx| {
            let Some(record) = record else { return };
            let id = record.process.clone();
            let check = tokio::task::spawn_blocking(move || id.as_ref().is_some_and(crate::procs::is_live_bridge));
            ctx.spawn(check.into_actor(act).map(move |live, act, ctx| {
                act.restore(&project, &record, live.unwrap_or(false), ctx);
            }));
        }));
    }
}

impl Handler<NewSession> for BridgesActor {
    type Result = ResponseActFuture<Self, Result<Instance, BridgeError>>;

    fn handle(&mut self, msg: NewSession, _: &mut Context<Self>) -> Self::Result {
        let snap = self.bus.snapshot();
        let (Some(prev), Some(child)) = (snap.instances.get(&msg.project), self.children.get(&msg.project)) else {
            return Box::pin(fut::ready(Err(BridgeError::UnknownProject(format!(
                "no managed instance: {:?}",
                msg.project
            )))));
        };
        let spec =
            match validate::resolve(&snap, &self.config.config, &msg.project, &StartOptions::default(), Some(prev)) {
                Ok(s) => s,
                Err(e) => return Box::pin(fut::ready(Err(e))),
            };
        let (addr, home, dir) = (child.addr.clone(), self.env.home.clone(), spec.real_dir.clone());
        let project = msg.project;
        let prepare = async move {
            addr.send(Stop).await.map_err(|_| BridgeError::Unavailable("the bridge is restarting; retry".into()))?;
            tokio::task::spawn_blocking(move || process::set_pointer_aside(&home, &dir))
                .await
                .map_err(|e| BridgeError::Unavailable(e.to_string()))?
                .map_err(|e| BridgeError::Unavailable(format!("cannot move claude's bridge pointer aside: {e}")))
        };
        Box::pin(prepare.into_actor(self).then(
            move |res, act, ctx| -> ResponseActFuture<Self, Result<Instance, BridgeError>> {
                match res {
                    Ok(()) => act.start(project, spec, ctx),
                    Err(e) => Box::pin(fut::ready(Err(e))),
                }
            },
        ))
    }
}

/// Join a bridge's log viewers (see [`bridge::SubscribeLog`]); `None` for an unknown
/// project or a bridge that never had a log.
#[derive(Debug, Message)]
#[rtype(result = "Option<log_tail::Subscription>")]
pub struct SubscribeLogOf(pub String);

impl Handler<SubscribeLogOf> for BridgesActor {
    type Result = ResponseFuture<Option<log_tail::Subscription>>;

    fn handle(&mut self, msg: SubscribeLogOf, _: &mut Context<Self>) -> Self::Result {
        let addr = self.children.get(&msg.0).map(|c| c.addr.clone());
        Box::pin(async move { addr?.send(SubscribeLog).await.ok().flatten() })
    }
}
