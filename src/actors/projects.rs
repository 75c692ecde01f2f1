//! The Projects actor: owns the discovery cache of `projects_root` and the trust index
//! from `~/.claude.json`, keeps both fresh from `notify` events (with a slow fallback
//! timer for file systems that send none), publishes every change on the bus, and
//! performs Trust writes. Read handlers never call it: they read the snapshot.
//!
//! All file work (scans, reads, the locked trust write, adding watches) runs on
//! blocking threads; the actor only merges results. Bursts of events are coalesced by a
//! short settle delay, and at most one refresh runs at a time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use notify::{EventKind, RecursiveMode, Watcher};

use super::supervisor::ExitGuard;
use crate::bus::EventBus;
use crate::claude_json;
use crate::claude_md::{self, ClaudeMdError};
use crate::clone_job::{self, CloneJobs};
use crate::discovery::{self, Found};
use crate::messages::commands::{
    CloneProject, CreateProject, ProjectsError, RescanProjects, SaveClaudeMd, TrustProject,
};
use crate::messages::{Event, Project, ProjectList, TrustState};
use crate::names::is_valid_project_name;
use crate::provision::{self, CreateError};
use crate::trust::TrustIndex;

/// What the actor needs from the config, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct ProjectsConfig {
    pub root: PathBuf,
    pub claude_json: PathBuf,
    /// Relative trust keys resolve against this (clauster's working directory).
    pub cwd: PathBuf,
    /// Projects whose config allows `bypassPermissions`.
    pub bypass_allowed: HashSet<String>,
    /// Rescan this often even without events (NFS and friends send none).
    pub fallback_interval: Duration,
    /// How long to let a burst of events settle before refreshing.
    pub settle: Duration,
    /// `<state_dir>/claude_md_audit.log`: one line per CLAUDE.md save.
    pub claude_md_audit: PathBuf,
    /// The `clone.*` settings that apply to every job.
    pub clone: CloneSettings,
}

#[derive(Debug, Clone)]
pub struct CloneSettings {
    pub policy: crate::ssrf::Policy,
    pub timeout: Duration,
    pub max_mb: u64,
    /// Shared with the web layer, which streams each job's progress.
    pub jobs: Arc<CloneJobs>,
}

/// Which inputs a refresh must re-read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Dirty {
    scan: bool,
    trust: bool,
}

impl Dirty {
    const BOTH: Dirty = Dirty { scan: true, trust: true };
    fn any(self) -> bool {
        self.scan || self.trust
    }
    fn merge(&mut self, o: Dirty) {
        self.scan |= o.scan;
        self.trust |= o.trust;
    }
}

/// Sent from the notify thread when something relevant changed on disk.
#[derive(Message)]
#[rtype(result = "()")]
struct FsChanged(Dirty);

type SharedWatcher = Arc<Mutex<notify::RecommendedWatcher>>;

pub struct ProjectsActor {
    cfg: Arc<ProjectsConfig>,
    bus: EventBus,
    _guard: ExitGuard,
    watcher: Option<SharedWatcher>,
    /// Project folders with a watch, owned by the refresh job while one runs.
    watched: Arc<Mutex<HashSet<PathBuf>>>,
    found: Arc<Vec<Found>>,
    trust: Arc<TrustIndex>,
    /// Bumped by every trust change, so a refresh that read `~/.claude.json` before a
    /// Trust write cannot put the older trust back.
    trust_gen: u64,
    dirty: Dirty,
    in_flight: bool,
    settle_timer: Option<SpawnHandle>,
    /// Held across a CLAUDE.md save's check-and-write, so two saves from the same base
    /// cannot both pass the hash check.
    claude_md_lock: Arc<Mutex<()>>,
}

impl ProjectsActor {
    pub fn new(cfg: Arc<ProjectsConfig>, bus: EventBus, guard: ExitGuard) -> ProjectsActor {
        ProjectsActor {
            cfg,
            bus,
            _guard: guard,
            watcher: None,
            watched: Arc::default(),
            found: Arc::default(),
            trust: Arc::default(),
            trust_gen: 0,
            dirty: Dirty::default(),
            in_flight: false,
            settle_timer: None,
            claude_md_lock: Arc::default(),
        }
    }

    /// Notes what changed and schedules a refresh after the settle delay.
    fn request(&mut self, what: Dirty, settle: bool, ctx: &mut Context<Self>) {
        self.dirty.merge(what);
        if !settle {
            self.kick(ctx);
        } else if self.settle_timer.is_none() {
            self.settle_timer = Some(ctx.run_later(self.cfg.settle, |act, ctx| {
                act.settle_timer = None;
                act.kick(ctx);
            }));
        }
    }

    /// Starts a refresh of whatever is dirty, unless one is already running (its
    /// completion starts the next).
    fn kick(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || !self.dirty.any() {
            return;
        }
        let what = std::mem::take(&mut self.dirty);
        self.in_flight = true;
        let job = RefreshJob { what, cfg: self.cfg.clone(), trust_gen: self.trust_gen };
        let fut = tokio::task::spawn_blocking(move || job.run());
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.in_flight = false;
            match res {
                Ok(outcome) => {
                    let scanned = outcome.scan.as_ref().is_some_and(Result::is_ok);
                    act.apply(outcome);
                    if scanned {
                        act.refresh_watches(ctx);
                    }
                }
                Err(e) => tracing::error!(error = %e, "project refresh crashed"),
            }
            act.kick(ctx);
        }));
    }

    /// Brings the folder watches in line with the published list, off the actor. The list
    /// is published first so clients never wait on watch registration; a folder that
    /// gained a watch is rescanned once, to catch a change made before its watch existed.
    fn refresh_watches(&mut self, ctx: &mut Context<Self>) {
        let Some(watcher) = self.watcher.clone() else { return };
        let (watched, root) = (self.watched.clone(), self.cfg.root.clone());
        let want = self.found.iter().map(|f| f.path.clone()).collect();
        let fut = tokio::task::spawn_blocking(move || update_watches(&watcher, &watched, &root, want));
        ctx.spawn(fut.into_actor(self).map(|added, act, ctx| {
            if added.is_ok_and(|n| n > 0) {
                act.request(Dirty { scan: true, trust: false }, false, ctx);
            }
        }));
    }

    fn apply(&mut self, out: RefreshOutcome) {
        let mut error = self.bus.snapshot().projects_error;
        if let Some(scan) = out.scan {
            match scan {
                Ok(found) => {
                    self.found = Arc::new(found);
                    error = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot scan projects_root");
                    self.found = Arc::default();
                    error = Some(e);
                }
            }
        }
        if let Some(trust) = out.trust
            && out.trust_gen == self.trust_gen
        {
            self.trust = Arc::new(trust);
            self.trust_gen += 1;
        }
        self.publish(error);
    }

    /// Rebuilds the project list from the cached scan and trust, and publishes it if it
    /// changed.
    fn publish(&self, error: Option<String>) {
        let items = self
            .found
            .iter()
            .map(|f| Project {
                name: f.name.clone(),
                path: f.path.clone(),
                is_git_repo: f.is_git_repo,
                has_claude_md: f.has_claude_md,
                has_claude_dir: f.has_claude_dir,
                trust_state: match &f.real_path {
                    Some(real) if self.trust.is_trusted(real) => TrustState::Trusted,
                    _ => TrustState::Untrusted,
                },
                allow_bypass_permissions: self.cfg.bypass_allowed.contains(&f.name),
                real_path: f.real_path.clone(),
            })
            .collect();
        let list = ProjectList::new(items);
        let snap = self.bus.snapshot();
        if snap.projects_ready && *snap.projects == list && snap.projects_error == error {
            return;
        }
        let list = Arc::new(list);
        let count = list.len();
        let for_event = list.clone();
        self.bus.update(
            move |s| {
                s.projects = list;
                s.projects_error = error;
                s.projects_ready = true;
            },
            Event::ProjectsChanged { projects: for_event, count },
        );
    }

    fn start_watching(&mut self, ctx: &mut Context<Self>) {
        let addr = ctx.address();
        let classify = Classifier { root: self.cfg.root.clone(), claude_json: self.cfg.claude_json.clone() };
        let handler = move |res: notify::Result<notify::Event>| match res {
            Ok(ev) => {
                let d = classify.classify(&ev);
                if d.any() {
                    addr.do_send(FsChanged(d));
                }
            }
            Err(e) => tracing::debug!(error = %e, "file watch error"),
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "file watching unavailable; falling back to periodic rescans");
                return;
            }
        };
        // Before the first scan, so nothing created during it goes unnoticed.
        if let Err(e) = watcher.watch(&self.cfg.root, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %self.cfg.root.display(), error = %e, "cannot watch projects_root; relying on periodic rescans");
        }
        if let Some(home) = self.cfg.claude_json.parent()
            && let Err(e) = watcher.watch(home, RecursiveMode::NonRecursive)
        {
            tracing::warn!(dir = %home.display(), error = %e, "cannot watch for ~/.claude.json changes");
        }
        self.watcher = Some(Arc::new(Mutex::new(watcher)));
    }
}

impl Actor for ProjectsActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_watching(ctx);
        self.request(Dirty::BOTH, false, ctx);
        ctx.run_interval(self.cfg.fallback_interval, |act, ctx| act.request(Dirty::BOTH, false, ctx));
    }
}

impl Handler<FsChanged> for ProjectsActor {
    type Result = ();
    fn handle(&mut self, msg: FsChanged, ctx: &mut Context<Self>) {
        self.request(msg.0, true, ctx);
    }
}

impl Handler<RescanProjects> for ProjectsActor {
    type Result = ();
    fn handle(&mut self, _: RescanProjects, ctx: &mut Context<Self>) {
        self.request(Dirty::BOTH, false, ctx);
    }
}

impl Handler<TrustProject> for ProjectsActor {
    type Result = ResponseActFuture<Self, Result<Project, ProjectsError>>;

    fn handle(&mut self, msg: TrustProject, _: &mut Context<Self>) -> Self::Result {
        let name = msg.name;
        let found = if !is_valid_project_name(&name) {
            Err(ProjectsError::InvalidName(name.clone()))
        } else {
            match self.found.iter().find(|f| f.name == name) {
                None => Err(ProjectsError::NotFound(name.clone())),
                Some(Found { real_path: None, .. }) => Err(ProjectsError::Vanished(name.clone())),
                Some(Found { real_path: Some(real), .. }) => Ok(real.clone()),
            }
        };
        let real = match found {
            Ok(r) => r,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let (path, cwd) = (self.cfg.claude_json.clone(), self.cfg.cwd.clone());
        let write = tokio::task::spawn_blocking(move || {
            let obj = claude_json::update(&path, |o| claude_json::set_trusted(o, &real))?;
            Ok::<_, ProjectsError>(TrustIndex::build(Some(&obj), &cwd))
        });
        Box::pin(write.into_actor(self).map(move |res, act, _| {
            let trust = res.map_err(|e| ProjectsError::Interrupted(e.to_string()))??;
            act.trust = Arc::new(trust);
            act.trust_gen += 1;
            act.publish(act.bus.snapshot().projects_error);
            act.bus.snapshot().projects.get(&name).cloned().ok_or(ProjectsError::NotFound(name))
        }))
    }
}

impl Handler<CreateProject> for ProjectsActor {
    type Result = ResponseActFuture<Self, Result<(), CreateError>>;

    /// The folder work runs on a blocking thread and `git init` as a tokio process, both
    /// inside the actor's context: a client that disconnects cannot cut the cleanup short.
    fn handle(&mut self, msg: CreateProject, _: &mut Context<Self>) -> Self::Result {
        let root = self.cfg.root.clone();
        let job = async move {
            let target = provision::target(&root, &msg.name)?;
            let (t, name, want_git) = (target.clone(), msg.name.clone(), msg.git_init);
            // git is looked up before the folder exists, so a missing git leaves nothing behind.
            let git = tokio::task::spawn_blocking(move || {
                let git = match want_git {
                    true => {
                        Some(provision::find_git(std::env::var_os("PATH").as_deref()).ok_or(CreateError::GitMissing)?)
                    }
                    false => None,
                };
                provision::make_dir(&t, &name).map(|()| git)
            })
            .await
            .map_err(|e| CreateError::Io(e.to_string()))??;
            if let Some(git) = git
                && let Err(e) = provision::git_init(&git, &target, provision::GIT_INIT_TIMEOUT).await
            {
                let _ = tokio::task::spawn_blocking(move || provision::remove_dir(&target)).await;
                return Err(e);
            }
            Ok(())
        };
        Box::pin(job.into_actor(self).map(|res, act, ctx| {
            // Even a failure may have touched the root; a rescan is cheap and exact.
            act.request(Dirty { scan: true, trust: false }, false, ctx);
            res
        }))
    }
}

impl Handler<SaveClaudeMd> for ProjectsActor {
    type Result = ResponseActFuture<Self, Result<claude_md::Doc, ClaudeMdError>>;

    fn handle(&mut self, msg: SaveClaudeMd, _: &mut Context<Self>) -> Self::Result {
        let Some(found) = self.found.iter().find(|f| f.name == msg.name) else {
            return Box::pin(fut::ready(Err(ClaudeMdError::NoSuchProject(msg.name))));
        };
        let trusted = found.real_path.as_ref().is_some_and(|r| self.trust.is_trusted(r));
        let (dir, lock, audit) = (found.path.clone(), self.claude_md_lock.clone(), self.cfg.claude_md_audit.clone());
        let save = tokio::task::spawn_blocking(move || {
            let _held = lock.lock().unwrap_or_else(|e| e.into_inner());
            claude_md::save(&claude_md::Save {
                project: &msg.name,
                dir: &dir,
                trusted,
                content: &msg.content,
                base_sha256: msg.base_sha256.as_deref(),
                user: &msg.user,
                audit_log: &audit,
            })
        });
        Box::pin(save.into_actor(self).map(|res, act, ctx| {
            act.request(Dirty { scan: true, trust: false }, false, ctx);
            res.map_err(|e| ClaudeMdError::Write(format!("the save was interrupted ({e}); retry")))?
        }))
    }
}

impl Handler<CloneProject> for ProjectsActor {
    type Result = String;

    /// The job runs in the actor's context (git is the actor's process); it rescans when
    /// done and forgets the job a minute later.
    fn handle(&mut self, msg: CloneProject, ctx: &mut Context<Self>) -> String {
        let c = &self.cfg.clone;
        let (id, tx) = c.jobs.create();
        let spec = clone_job::CloneSpec {
            name: msg.name,
            url: msg.url,
            shallow: msg.shallow,
            root: self.cfg.root.clone(),
            policy: c.policy.clone(),
            timeout: c.timeout,
            max_mb: c.max_mb,
        };
        let (jobs, job_id) = (c.jobs.clone(), id.clone());
        let job = async move {
            clone_job::run(spec, &tx).await;
            (jobs, job_id)
        };
        ctx.spawn(job.into_actor(self).map(|(jobs, job_id), act, ctx| {
            act.request(Dirty { scan: true, trust: false }, false, ctx);
            ctx.run_later(clone_job::KEEP_FINISHED, move |_, _| jobs.forget(&job_id));
        }));
        id
    }
}

/// Decides which file events matter: anything directly under `projects_root`, the three
/// badge names one level below it, and `~/.claude.json` itself (including the rename that
/// an atomic save ends with). Everything else, e.g. a build churning inside a project, is
/// ignored, so busy projects cost nothing.
struct Classifier {
    root: PathBuf,
    claude_json: PathBuf,
}

impl Classifier {
    fn classify(&self, ev: &notify::Event) -> Dirty {
        if matches!(ev.kind, EventKind::Access(notify::event::AccessKind::Open(_) | notify::event::AccessKind::Read))
            || matches!(ev.kind, EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Read)))
        {
            return Dirty::default();
        }
        let mut d = Dirty::default();
        for p in &ev.paths {
            if *p == self.claude_json {
                d.trust = true;
            } else if p == &self.root || p.parent() == Some(&self.root) || self.is_badge(p) {
                d.scan = true;
            }
        }
        d
    }
}

impl Classifier {
    /// `<root>/<project>/{.git,CLAUDE.md,.claude}`: the files behind a card's badges.
    fn is_badge(&self, p: &Path) -> bool {
        p.parent().and_then(Path::parent) == Some(&self.root)
            && p.file_name().is_some_and(|n| n == ".git" || n == "CLAUDE.md" || n == ".claude")
    }
}

/// One refresh, run on a blocking thread.
struct RefreshJob {
    what: Dirty,
    cfg: Arc<ProjectsConfig>,
    trust_gen: u64,
}

struct RefreshOutcome {
    scan: Option<Result<Vec<Found>, String>>,
    trust: Option<TrustIndex>,
    trust_gen: u64,
}

impl RefreshJob {
    fn run(self) -> RefreshOutcome {
        let scan = self.what.scan.then(|| {
            discovery::scan(&self.cfg.root)
                .map_err(|e| format!("cannot list projects_root {}: {e}", self.cfg.root.display()))
        });
        let trust = self.what.trust.then(|| match claude_json::read(&self.cfg.claude_json) {
            Ok(obj) => TrustIndex::build(obj.as_ref(), &self.cfg.cwd),
            Err(e) => {
                tracing::warn!(error = %e, "treating every project as untrusted");
                TrustIndex::default()
            }
        });
        RefreshOutcome { scan, trust, trust_gen: self.trust_gen }
    }
}

/// Watches the root and each project folder (non-recursively: only the badges one level
/// down matter), adding and removing watches as projects come and go. Returns how many
/// folders gained a watch. Blocking: registering a watch is a round trip to notify's thread.
fn update_watches(
    watcher: &SharedWatcher,
    watched: &Mutex<HashSet<PathBuf>>,
    root: &Path,
    want: HashSet<PathBuf>,
) -> usize {
    let mut w = watcher.lock().unwrap_or_else(|e| e.into_inner());
    let mut watched = watched.lock().unwrap_or_else(|e| e.into_inner());
    // Re-adding is idempotent, and re-arms the watch if the root was deleted and recreated.
    if let Err(e) = w.watch(root, RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, "cannot watch projects_root; relying on periodic rescans");
    }
    for gone in watched.difference(&want).cloned().collect::<Vec<_>>() {
        let _ = w.unwatch(&gone);
        watched.remove(&gone);
    }
    let mut added = 0;
    for p in want {
        if watched.contains(&p) {
            continue;
        }
        match w.watch(&p, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(p);
                added += 1;
            }
            Err(e) => tracing::debug!(dir = %p.display(), error = %e, "cannot watch project folder"),
        }
    }
    added
}
