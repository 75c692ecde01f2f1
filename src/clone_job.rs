//! Clone jobs (spec §7.3, §7.4): `git clone` into a hidden temp folder under
//! projects_root with the transport locked down, progress parsed from git's stderr, a
//! timeout, a size cap, and a no-replace rename into place. Nothing is left behind on
//! failure, and a clone never starts a bridge or trusts a folder.
//!
//! Watchers follow a job through a `watch` channel: each sees the latest state, so a slow
//! watcher skips intermediate percentages but never misses the outcome.

use std::collections::{HashMap, VecDeque};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::provision;
use crate::ssrf::{self, Policy};

/// A finished job stays readable this long, then its id is forgotten.
pub const KEEP_FINISHED: Duration = Duration::from_secs(60);
const TAIL_LINES: usize = 20;
const PHASES: [&str; 7] = ["Enumerating", "Counting", "Compressing", "Receiving", "Resolving", "Total", "Updating"];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobState {
    /// Bumped by every forwarded line, so each line is one frame for a watcher keeping up.
    pub seq: u64,
    pub phase: String,
    pub percent: Option<u8>,
    /// `Some(None)` done, `Some(Some(error))` failed.
    pub outcome: Option<Option<String>>,
}

impl JobState {
    pub fn frame(&self) -> String {
        match &self.outcome {
            None => json!({"type": "progress", "phase": self.phase, "percent": self.percent}).to_string(),
            Some(err) => json!({"type": "done", "status": if err.is_some() { "error" } else { "done" }, "error": err})
                .to_string(),
        }
    }

    /// Folds one line of git's stderr in: the first `NN%` sets the percent, a known phase
    /// word at the start (after an optional `remote:`) sets the phase; both persist.
    pub fn apply_line(&mut self, line: &str) {
        self.seq += 1;
        let bytes = line.as_bytes();
        for (i, _) in line.match_indices('%') {
            let start = (0..i).rev().take_while(|&j| bytes[j].is_ascii_digit()).last();
            // At most the three digits before the `%`, as the original's `(\d{1,3})%`.
            if let Some(s) = start.map(|s| s.max(i.saturating_sub(3)))
                && let Ok(n) = line[s..i].parse::<u16>()
            {
                self.percent = Some(n.min(100) as u8);
                break;
            }
        }
        let rest = line.trim();
        let rest = rest.strip_prefix("remote:").map_or(rest, str::trim_start);
        if let Some(word) = rest.split(|c: char| !c.is_ascii_alphabetic()).next()
            && PHASES.contains(&word)
        {
            self.phase = word.to_owned();
        }
    }
}

/// The live jobs, by id (32 lowercase hex).
#[derive(Debug, Default)]
pub struct CloneJobs {
    jobs: Mutex<HashMap<String, watch::Receiver<JobState>>>,
}

impl CloneJobs {
    pub fn create(&self) -> (String, watch::Sender<JobState>) {
        let id = format!("{:032x}", rand::random::<u128>());
        let (tx, rx) = watch::channel(JobState::default());
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), rx);
        (id, tx)
    }

    pub fn watch(&self, id: &str) -> Option<watch::Receiver<JobState>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    pub fn forget(&self, id: &str) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// Everything one clone needs.
#[derive(Debug, Clone)]
pub struct CloneSpec {
    pub name: String,
    pub url: String,
    pub shallow: bool,
    pub root: PathBuf,
    pub policy: Policy,
    pub timeout: Duration,
    /// 0 = unlimited.
    pub max_mb: u64,
}

/// Runs the clone, reporting on `tx`; ends with the outcome set.
pub async fn run(spec: CloneSpec, tx: &watch::Sender<JobState>) {
    let result = clone(&spec, tx).await;
    if let Err(e) = &result {
        tracing::warn!(project = %spec.name, error = %e, "clone failed");
    } else {
        tracing::info!(project = %spec.name, "clone finished");
    }
    tx.send_modify(|s| s.outcome = Some(result.err()));
}

async fn clone(spec: &CloneSpec, tx: &watch::Sender<JobState>) -> Result<(), String> {
    // Again: the answer may have changed since the request was checked.
    ssrf::validate(&spec.url, &spec.policy).await.map_err(|e| e.to_string())?;
    let path = std::env::var_os("PATH");
    let git = provision::find_git(path.as_deref()).ok_or("git is not installed on the host")?;
    let tmp = spec.root.join(format!(".{}.{:08x}.clone-tmp", spec.name, rand::random::<u32>()));
    let outcome = fetch(spec, &git, &tmp, tx).await;
    let outcome = match outcome {
        Ok(()) => finish(spec, tmp.clone()).await,
        Err(e) => Err(e),
    };
    if outcome.is_err() {
        let t = tmp.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if std::fs::symlink_metadata(&t).is_ok() {
                provision::remove_dir(&t);
            }
        })
        .await;
    }
    outcome
}

/// `git clone` into `tmp`, forwarding progress, within the timeout.
async fn fetch(spec: &CloneSpec, git: &Path, tmp: &Path, tx: &watch::Sender<JobState>) -> Result<(), String> {
    let mut cmd = provision::git_command(git);
    cmd.args(["clone", "--progress", "--no-tags", "--no-recurse-submodules"]);
    if spec.shallow {
        cmd.args(["--depth", "1"]);
    }
    cmd.arg("--").arg(&spec.url).arg(tmp);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("could not run git: {e}"))?;
    let pid = child.id();
    let mut stderr = child.stderr.take().ok_or("git's stderr was not captured")?;
    let mut tail: VecDeque<String> = VecDeque::new();
    let cap = spec.max_mb * 1024 * 1024;
    // Ends with git's exit status, or `Err` once git says it received more than the cap:
    // the download stops there, not after the whole pack is on disk.
    let work = async {
        let mut buf = [0u8; 4096];
        let mut partial = Vec::new();
        loop {
            let n = stderr.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            partial.extend_from_slice(&buf[..n]);
            while let Some(i) = partial.iter().position(|&b| b == b'\r' || b == b'\n') {
                let line: Vec<u8> = partial.drain(..=i).collect();
                if let Some(got) = forward(&line, &mut tail, tx)
                    && cap > 0
                    && got > cap
                {
                    return Err(format!(
                        "clone exceeds the {} MB size cap (stopped after receiving {got} bytes)",
                        spec.max_mb
                    ));
                }
            }
        }
        forward(&partial, &mut tail, tx);
        Ok(child.wait().await)
    };
    let outcome = tokio::time::timeout(spec.timeout, work).await;
    let status = match outcome {
        Ok(Ok(status)) => status.map_err(|e| format!("waiting for git: {e}"))?,
        Ok(Err(over_cap)) => return Err(stop(&mut child, pid, over_cap).await),
        Err(_) => return Err(stop(&mut child, pid, format!("clone timed out after {}s", spec.timeout.as_secs())).await),
    };
    if status.success() {
        return Ok(());
    }
    // The temp folder's path means nothing to the user (and shows the host's layout).
    let joined = tail.iter().cloned().collect::<Vec<_>>().join(" / ").replace(&*tmp.to_string_lossy(), &spec.name);
    let last: String = joined.chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
    Err(format!("git clone failed: {last}"))
}

/// Ends git and the helpers it runs (remote-https, index-pack: the whole group), reaps
/// it, and hands `why` back.
async fn stop(child: &mut tokio::process::Child, pid: Option<u32>, why: String) -> String {
    if let Some(pid) = pid {
        // SAFETY: a plain kill(2) on the process group we created.
        unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
    }
    if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    why
}

/// Folds one stderr line into the job and the error tail; returns the bytes received so
/// far when the line is a "Receiving objects" progress line that says.
fn forward(raw: &[u8], tail: &mut VecDeque<String>, tx: &watch::Sender<JobState>) -> Option<u64> {
    let line = String::from_utf8_lossy(raw);
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    // "Cloning into '<temp path>'..." is not an error and only names our temp folder.
    if !line.starts_with("Cloning into") {
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line.to_owned());
    }
    tx.send_modify(|s| s.apply_line(line));
    received_bytes(line)
}

/// The amount in git's `Receiving objects:  45% (123/456), 1.20 MiB | 980.00 KiB/s`.
fn received_bytes(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("Receiving objects:")?;
    let amount = rest.split("), ").nth(1)?.split('|').next()?.trim();
    let (number, unit) = amount.split_once(' ')?;
    let scale: f64 = match unit.split([',', ' ']).next()? {
        "bytes" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number.parse::<f64>().ok()? * scale) as u64)
}

/// Size cap, then the no-replace rename into place. Blocking work on a blocking thread.
async fn finish(spec: &CloneSpec, tmp: PathBuf) -> Result<(), String> {
    let (max_mb, target, name) = (spec.max_mb, spec.root.join(&spec.name), spec.name.clone());
    tokio::task::spawn_blocking(move || {
        if max_mb > 0 && tree_size(&tmp) > max_mb * 1024 * 1024 {
            return Err(format!("clone exceeds the {max_mb} MB size cap"));
        }
        rename_noreplace(&tmp, &target).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!("a directory named {name:?} already exists"),
            _ => format!("could not move the clone into place: {e}"),
        })
    })
    .await
    .map_err(|e| format!("the clone was interrupted: {e}"))?
}

/// Total `st_size` of the regular files under `dir`, symlinks not followed.
fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

/// `rename` that fails instead of replacing an existing (empty) directory, which plain
/// rename(2) would silently do.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths relative to the cwd fd.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_parsing() {
        let mut s = JobState::default();
        assert_eq!(s.frame(), r#"{"type":"progress","phase":"","percent":null}"#);
        s.apply_line("remote: Counting objects:  42% (10/24)");
        assert_eq!((s.phase.as_str(), s.percent), ("Counting", Some(42)));
        s.apply_line("Receiving objects:  57% (700/1234), 1.2 MiB");
        assert_eq!((s.phase.as_str(), s.percent), ("Receiving", Some(57)));
        s.apply_line("Checking out files: 50%");
        assert_eq!((s.phase.as_str(), s.percent), ("Receiving", Some(50)));
        s.apply_line("fatal: repository not found");
        assert_eq!((s.phase.as_str(), s.percent, s.seq), ("Receiving", Some(50), 4));
        s.apply_line("Resolving deltas: 150% odd");
        assert_eq!((s.phase.as_str(), s.percent), ("Resolving", Some(100)));
        s.outcome = Some(Some("git clone failed: x".into()));
        assert_eq!(s.frame(), r#"{"type":"done","status":"error","error":"git clone failed: x"}"#);
        s.outcome = Some(None);
        assert_eq!(s.frame(), r#"{"type":"done","status":"done","error":null}"#);
    }

    #[test]
    fn received_bytes_come_from_gits_receiving_lines() {
        assert_eq!(received_bytes("Receiving objects:  45% (123/456), 1.50 MiB | 980.00 KiB/s"), Some(1_572_864));
        assert_eq!(received_bytes("Receiving objects: 100% (9/9), 812 bytes | 812.00 KiB/s, done."), Some(812));
        assert_eq!(received_bytes("Receiving objects: 100% (3/3), 2.00 KiB, done."), Some(2048));
        assert_eq!(received_bytes("Receiving objects:  10% (1/10)"), None);
        assert_eq!(received_bytes("Resolving deltas: 100% (2/2), done."), None);
        assert_eq!(received_bytes("remote: Receiving objects: 1% (1/9), 5 TiB"), None);
    }

    #[test]
    fn rename_never_replaces_and_size_counts_files() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::write(a.join("sub/f"), vec![0u8; 1000]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", a.join("link")).unwrap();
        assert_eq!(tree_size(&a), 1000);
        std::fs::create_dir(&b).unwrap();
        assert_eq!(rename_noreplace(&a, &b).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
        std::fs::remove_dir(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert!(b.join("sub/f").exists());
    }

    #[test]
    fn jobs_registry() {
        let jobs = CloneJobs::default();
        let (id, tx) = jobs.create();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        tx.send_modify(|s| s.apply_line("Receiving objects: 5%"));
        assert_eq!(jobs.watch(&id).unwrap().borrow().percent, Some(5));
        jobs.forget(&id);
        assert!(jobs.watch(&id).is_none());
    }
}
