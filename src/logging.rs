//! Log output through `tracing`: human-readable on a terminal, one JSON object per line
//! otherwise (journald, files), unless `log_format` says which. Levels come from
//! `CLAUSTER_LOG` (or `RUST_LOG`) as `level` or `target=level` directives, e.g.
//! `CLAUSTER_LOG=debug` or `CLAUSTER_LOG=info,actix_server=warn`; the default is `info`.
//! (`Targets` parses those without the regex engine `EnvFilter` would pull in.)

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

use crate::config::types::LogFormat;

pub fn init(format: LogFormat) {
    let directives = std::env::var("CLAUSTER_LOG").or_else(|_| std::env::var("RUST_LOG")).ok();
    let filter = directives
        .as_deref()
        .and_then(|d| d.parse::<Targets>().map_err(|e| eprintln!("clauster: ignoring CLAUSTER_LOG={d:?}: {e}")).ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let tty = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !tty,
    };
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    let layer = if json {
        layer.json().flatten_event(true).with_current_span(false).boxed()
    } else {
        layer.with_ansi(tty).boxed()
    };
    if let Err(e) = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init() {
        eprintln!("clauster: logging already initialised: {e}");
    }
}
