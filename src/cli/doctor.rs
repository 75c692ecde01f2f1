//! `clauster doctor`: one line per check on stderr, exit 0 when nothing failed, else 1.

use std::path::Path;
use std::process::ExitCode;

use super::load_config;
use crate::claude_cli;
use crate::doctor::{self, Host, Report, Status};

pub fn run(explicit: Option<&Path>) -> ExitCode {
    let report = match load_config(explicit) {
        Err(e) => Report::config_failed(&e),
        Ok(loaded) => {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return super::fail(1, format!("cannot start the runtime: {e}")),
            };
            rt.block_on(async {
                let probe = claude_cli::probe_version(&loaded.config.claude.binary).await;
                doctor::run(&loaded, Host::from_env(), probe, true).await
            })
        }
    };
    for c in &report.checks {
        let mark = match c.status {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
        };
        eprintln!("  {mark} {:<16} {}", c.name, c.detail);
    }
    if report.ok {
        eprintln!("clauster: all checks passed");
        ExitCode::SUCCESS
    } else {
        eprintln!("clauster: FAILURES above");
        ExitCode::from(1)
    }
}
