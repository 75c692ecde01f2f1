//! Linux process facts and signals, read from `/proc` (no process-table scans).
//!
//! A process is identified by (pid, start time in clock ticks since boot, boot id): a pid
//! alone can be reused, a start time alone repeats across reboots. Bridges are re-adopted
//! and signalled only when all three match.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// Who a process is, as far as re-adoption is concerned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: start time in clock ticks since boot.
    pub start_ticks: u64,
    pub boot_id: String,
}

/// `/proc/sys/kernel/random/boot_id`, which changes on every boot.
pub fn boot_id() -> io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?.trim().to_owned())
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, hence the split at the last `)`). Index 0 is the state (field 3).
fn stat_fields(pid: u32) -> io::Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = text.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| io::Error::other("malformed stat"))?;
    Ok(rest.split_whitespace().map(str::to_owned).collect())
}

/// Start time (ticks since boot) of a live, non-zombie process.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid).ok()?;
    if f.first().is_some_and(|s| s == "Z" || s == "X") {
        return None;
    }
    f.get(19)?.parse().ok()
}

/// The identity of a live process now, if it is alive.
pub fn identity(pid: u32) -> Option<Identity> {
    Some(Identity { pid, start_ticks: start_ticks(pid)?, boot_id: boot_id().ok()? })
}

/// The command line, arguments joined with spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s: Vec<_> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy).collect();
    (!s.is_empty()).then(|| s.join(" "))
}

/// The working directory of a process.
pub fn cwd(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// True when `id` still names the same live process and it looks like a bridge (its
/// command line mentions `claude` and `remote-control`). Blocking I/O (small /proc reads).
pub fn is_live_bridge(id: &Identity) -> bool {
    let same = boot_id().is_ok_and(|b| b == id.boot_id) && start_ticks(id.pid) == Some(id.start_ticks);
    same && cmdline(id.pid).is_some_and(|c| c.contains("claude") && c.contains("remote-control"))
}

/// Sends `signal` to the process group led by `pgid` (bridges lead their own session and
/// group, so this reaches the bridge and everything it started). `ESRCH` (already gone)
/// is success.
pub fn signal_group(pgid: u32, signal: i32) -> io::Result<()> {
    let Ok(pgid) = i32::try_from(pgid) else { return Err(io::Error::other("pid out of range")) };
    if pgid <= 1 {
        return Err(io::Error::other("refusing to signal group <= 1"));
    }
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) { Ok(()) } else { Err(e) }
}

/// Opens a pidfd for `pid`: readable once the process exits, so an adopted bridge (not our
/// child, so no exit status) is watched without polling.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::c_int, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until the process behind `fd` exits.
pub async fn pidfd_wait(fd: OwnedFd) -> io::Result<()> {
    // SAFETY: the AsyncFd owns the OwnedFd, so the fd stays open and refers to the same
    // pidfd for the AsyncFd's whole life, and nothing else reads or closes it.
    let afd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)?;
    let _ready = afd.readable().await?;
    Ok(())
}

/// CPU time (user + system, in ticks) and resident memory (bytes) of one process.
pub fn usage(pid: u32) -> Option<(u64, u64)> {
    let f = stat_fields(pid).ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks, pages * page_size()))
}

/// Clock ticks per second (`_SC_CLK_TCK`), for turning tick counts into seconds.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_identity_is_stable_and_live() {
        let me = std::process::id();
        let a = identity(me).unwrap();
        assert_eq!(a, identity(me).unwrap());
        assert_eq!(a.boot_id.len(), 36);
        assert!(cmdline(me).is_some());
        assert!(!is_live_bridge(&a), "the test runner is not a claude bridge");
        let wrong = Identity { start_ticks: a.start_ticks + 1, ..a.clone() };
        assert!(start_ticks(me) != Some(wrong.start_ticks));
        assert!(usage(me).is_some_and(|(_, rss)| rss > 0));
    }

    #[test]
    fn refuses_to_signal_init_or_everyone() {
        assert!(signal_group(1, 0).is_err());
        assert!(signal_group(0, 0).is_err());
    }

    #[tokio::test]
    async fn pidfd_fires_when_the_process_exits() {
        let mut child = std::process::Command::new("sleep").arg("0.1").spawn().unwrap();
        let fd = pidfd_open(child.id()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), pidfd_wait(fd)).await.unwrap().unwrap();
        child.wait().unwrap();
    }
}
