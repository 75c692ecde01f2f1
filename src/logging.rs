//! Log output through `tracing`: human-readable on a terminal, one JSON object per line
//! otherwise (journald, files), unless `log_format` says which. The level comes from
//! `CLAUSTER_LOG` (or `RUST_LOG`), e.g. `CLAUSTER_LOG=debug`; the default is `info`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::types::LogFormat;

pub fn init(format: LogFormat) {
    let filter = std::env::var("CLAUSTER_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let tty = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !tty,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let result = if json {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        builder.with_ansi(tty).try_init()
    };
    if let Err(e) = result {
        eprintln!("clauster: logging already initialised: {e}");
    }
}
