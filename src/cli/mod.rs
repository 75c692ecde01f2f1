//! The command line: `run` (the default), `hash-password`, `doctor` and `usage`.
//!
//! Human messages go to stderr prefixed `clauster: `; only machine output (a hash) goes to
//! stdout. Exit codes: 0 ok, 1 a failed check or runtime error, 2 bad usage or config.

mod doctor;
mod hash_password;
mod run;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, ConfigError, Loaded};

#[derive(Debug, Parser)]
#[command(
    name = "clauster",
    version,
    about = "Spawn and supervise Claude Code remote-control bridges from a web dashboard"
)]
struct Cli {
    /// Config file to use instead of searching ($CLAUSTER_CONFIG, ./clauster.yml,
    /// $CLAUSTER_HOME/clauster.yml, ~/.config/clauster/clauster.yml).
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the dashboard (the default when no command is given).
    Run,
    /// Print an argon2id hash of a password for auth.password_hash.
    HashPassword,
    /// Check the config, the claude CLI and its login, the folders, git and the port.
    Doctor,
    /// Print one session transcript's tokens by model and an approximate cost.
    Usage {
        /// A Claude Code transcript (`~/.claude/projects/<folder>/<session>.jsonl`).
        transcript: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run::run(cli.config.as_deref()),
        Command::HashPassword => hash_password::run(),
        Command::Doctor => doctor::run(cli.config.as_deref()),
        Command::Usage { transcript } => usage::run(&transcript),
    }
}

/// Loads the config from this process's environment and working directory.
fn load_config(explicit: Option<&std::path::Path>) -> Result<Loaded, ConfigError> {
    let env = |k: &str| std::env::var(k).ok();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    config::load(&config::Inputs { explicit, cwd, env: &env })
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("clauster: {msg}");
    ExitCode::from(code)
}
