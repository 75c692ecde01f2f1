//! `clauster run`: load the config, start the actor tree, serve, and shut down on
//! SIGTERM/SIGINT without touching any bridge.

use std::net::{TcpListener, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use anyhow::Context as _;

use super::{fail, load_config};
use crate::actors::{self, projects::ProjectsConfig, supervisor};
use crate::auth::{Auth, store};
use crate::bus::{self, EventBus};
use crate::config::Loaded;
use crate::web::state::AppState;

pub fn run(explicit: Option<&Path>) -> ExitCode {
    let loaded = match load_config(explicit) {
        Ok(l) => l,
        Err(e) => return fail(2, format!("config error: {e}")),
    };
    crate::logging::init(loaded.config.log_format);
    tracing::info!(config = %loaded.source, "clauster {} starting", env!("CARGO_PKG_VERSION"));
    for var in &loaded.overrides {
        tracing::info!(%var, "config value overridden from the environment");
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if let Err(e) = ensure_state_dir(&loaded.config.state_dir) {
        return fail(2, format!("config error: state_dir: {e:#}"));
    }
    let listener = match bind(&loaded.config.host, loaded.config.port.0) {
        Ok(l) => l,
        Err(e) => return fail(1, format!("{e:#}")),
    };
    // The port only now: `port: 0` means the OS picked one, and the allowed origins of a
    // loopback bind name it.
    let port = listener.local_addr().map_or(loaded.config.port.0, |a| a.port());
    let env_secret = std::env::var_os(store::SECRET_ENV).map(std::os::unix::ffi::OsStringExt::into_vec);
    let auth = match Auth::open(&loaded.config, port, env_secret.as_deref()) {
        Ok((auth, notes)) => {
            notes.info.iter().for_each(|n| tracing::info!("{n}"));
            notes.warnings.iter().for_each(|w| tracing::warn!("{w}"));
            Arc::new(auth)
        }
        Err(e) => return fail(2, format!("config error: {e}")),
    };
    supervisor::install_panic_hook();
    cap_malloc_arenas();
    let system = actix::System::new();
    let code = match system.block_on(serve(Arc::new(loaded), listener, auth)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e:#}");
            1
        }
    };
    // Exit without waiting for blocking threads (a pending file lock, a slow probe):
    // nothing they do needs finishing, and bridges are separate processes.
    std::process::exit(code)
}

async fn serve(config: Arc<Loaded>, listener: TcpListener, auth: Arc<Auth>) -> anyhow::Result<()> {
    let bus = EventBus::new(bus::DEFAULT_CAPACITY);
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default();
    let clones = Arc::new(crate::clone_job::CloneJobs::default());
    let projects_cfg = ProjectsConfig {
        root: config.projects_root().to_owned(),
        claude_json: home.join(".claude.json"),
        cwd: std::env::current_dir().unwrap_or_default(),
        bypass_allowed: config
            .config
            .projects
            .iter()
            .filter(|(_, p)| p.allow_bypass_permissions)
            .map(|(n, _)| n.clone())
            .collect(),
        fallback_interval: Duration::from_secs(60),
        settle: Duration::from_millis(20),
        claude_md_audit: config.config.state_dir.join("claude_md_audit.log"),
        clone: actors::projects::CloneSettings {
            policy: crate::ssrf::Policy::from_config(&config.config.clone),
            timeout: Duration::from_secs(config.config.clone.timeout_seconds.0.max(1) as u64),
            max_mb: config.config.clone.max_mb.0.max(0) as u64,
            jobs: clones.clone(),
        },
    };
    let transcripts = home.join(".claude/projects");
    let bridges = bridges_setup(&config, home);
    let tree = actors::start(config.clone(), projects_cfg, bridges, bus.clone());
    let addr = listener.local_addr().context("reading the bound address")?;
    let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
    let state = web::Data::new(AppState {
        bus,
        tree,
        config: config.clone(),
        templates: templates()?,
        auth,
        shutdown,
        usage: Arc::new(crate::usage::Cache::new(transcripts)),
        clones,
    });
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let server = crate::web::serve(state, listener, workers).context("starting the HTTP server")?;
    tracing::info!(projects_root = %config.projects_root().display(), "listening on http://{addr}");
    let handle = server.handle();
    actix::spawn(async move {
        let signal = wait_for_signal().await;
        tracing::info!(signal, "shutting down (bridges keep running)");
        let _ = shutdown_tx.send(true);
        handle.stop(true).await;
    });
    server.await.context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Reads state.json (once, before the actors start) and the bridge settings.
fn bridges_setup(config: &Loaded, home: std::path::PathBuf) -> actors::BridgesSetup {
    let c = &config.config;
    let defaults = crate::state_file::ModeDefaults {
        spawn_mode: c.instance_defaults.spawn_mode,
        permission_mode: c.instance_defaults.permission_mode,
        resume_mode: c.claude.resume_mode,
    };
    let state_path = c.state_dir.join("state.json");
    let loaded = crate::state_file::load(&state_path, defaults);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    actors::BridgesSetup {
        env: actors::bridges::env::BridgeEnv::from_config(c, home),
        state_path,
        saved: std::sync::Arc::new(std::sync::Mutex::new(loaded.records)),
    }
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve host {host:?}; fix `host` in the config"))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a, e)),
        }
    }
    match last {
        Some((a, e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
            anyhow::bail!(
                "cannot listen on {a}: the port is in use (is clauster already running?); stop it or set `port`"
            )
        }
        Some((a, e)) => anyhow::bail!("cannot listen on {a}: {e}"),
        None => anyhow::bail!("host {host:?} resolved to no address; fix `host` in the config"),
    }
}

/// glibc gives each thread that allocates its own malloc arena and keeps their free
/// pages; a dashboard has no allocation contention worth that memory, so two arenas
/// keep idle RSS down (about 1 MiB at 1000 projects).
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Creates the state dir private to this user (0700) if it is missing.
fn ensure_state_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).ok();
    } else if !dir.is_dir() {
        anyhow::bail!("{} exists but is not a directory", dir.display());
    }
    Ok(())
}

/// The page templates, embedded in the binary.
fn templates() -> anyhow::Result<tera::Tera> {
    #[derive(rust_embed::RustEmbed)]
    #[folder = "templates/"]
    struct Templates;
    let mut files = Vec::new();
    for name in Templates::iter() {
        let file = Templates::get(&name).expect("listed by iter");
        let text =
            String::from_utf8(file.data.into_owned()).with_context(|| format!("template {name} is not UTF-8"))?;
        files.push((name, text));
    }
    // All at once: a template may include or extend one that sorts after it.
    let mut tera = tera::Tera::new();
    tera.add_raw_templates(files).context("templates")?;
    Ok(tera)
}
