//! The command line: version, help, hash-password and doctor exit codes.

use std::fs;
use std::io::Write;
use std::process::Stdio;

use crate::common::Fixture;

#[test]
fn version_and_help() {
    let fx = Fixture::new();
    let (status, stdout, _) = fx.run(|c| {
        c.arg("--version");
    });
    assert!(status.success());
    assert_eq!(stdout.trim(), format!("clauster {}", env!("CARGO_PKG_VERSION")));
    let (status, stdout, _) = fx.run(|c| {
        c.arg("--help");
    });
    assert!(status.success());
    for cmd in ["run", "hash-password", "doctor"] {
        assert!(stdout.contains(cmd), "{stdout}");
    }
    let (status, _, stderr) = fx.run(|c| {
        c.arg("frobnicate");
    });
    assert_eq!(status.code(), Some(2), "{stderr}");
}

fn hash_password(fx: &Fixture, input: &str) -> (i32, String, String) {
    let mut child = fx
        .command()
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn hash_password_prints_an_argon2id_hash_that_verifies() {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    let fx = Fixture::new();
    let (code, stdout, stderr) = hash_password(&fx, "s3cret pass\n");
    assert_eq!(code, 0, "{stderr}");
    let hash = stdout.trim();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    let parsed = PasswordHash::new(hash).unwrap();
    assert!(Argon2::default().verify_password(b"s3cret pass", &parsed).is_ok());
    assert!(Argon2::default().verify_password(b"s3cret", &parsed).is_err());

    let (code, stdout, stderr) = hash_password(&fx, "\n");
    assert_eq!(code, 2);
    assert!(stdout.is_empty() && stderr.contains("empty password"), "{stderr}");
}

#[test]
fn doctor_passes_on_a_healthy_host_and_fails_with_fixes() {
    let fx = Fixture::new();
    let cfg = fx.config("");
    fs::create_dir_all(fx.home.join(".claude")).unwrap();
    fs::write(fx.home.join(".claude/.credentials.json"), r#"{"claudeAiOauth":{"accessToken":"tok-123"}}"#).unwrap();
    let (status, stdout, stderr) = fx.run(|c| {
        c.args(["doctor", "-c"]).arg(&cfg);
    });
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.is_empty());
    for name in
        ["config", "claude", "claude-login", "projects_root", "state_dir", "git", "auth", "workspace-trust", "port"]
    {
        assert!(stderr.lines().any(|l| l.split_whitespace().nth(1) == Some(name)), "{name} missing:\n{stderr}");
    }
    assert!(stderr.contains("2.1.197") && stderr.contains("all checks passed"), "{stderr}");
    assert!(!stderr.contains("tok-123"), "the token never appears");

    // Logged out and the claude binary gone: failures, each with its fix.
    fs::remove_file(fx.home.join(".claude/.credentials.json")).unwrap();
    fs::remove_file(fx.bin.join("claude")).unwrap();
    let (status, _, stderr) = fx.run(|c| {
        c.args(["doctor", "-c"]).arg(&cfg);
    });
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("✗ claude ") && stderr.contains("npm install -g @anthropic-ai/claude-code"), "{stderr}");
    assert!(stderr.contains("✗ claude-login") && stderr.contains("/login"), "{stderr}");
    assert!(stderr.contains("FAILURES above"), "{stderr}");

    let (status, _, stderr) = fx.run(|c| {
        c.args(["doctor", "-c"]).arg(fx.dir.path().join("missing.yml"));
    });
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("✗ config"), "{stderr}");
}

/// On a terminal the password is asked twice and never echoed. `script` (util-linux)
/// gives clauster a real pty; the keystrokes are fed after each prompt appears.
#[test]
fn hash_password_on_a_terminal_asks_twice_without_echo() {
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED hash_password_on_a_terminal_asks_twice_without_echo: `script` (util-linux) is not installed"
        );
        return;
    }
    let fx = Fixture::new();
    let run = |first: &str, second: &str| {
        let cmd = format!("{} hash-password; echo exit=$?", crate::common::clauster_bin().display());
        let mut script = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env_clear()
            .env("HOME", &fx.home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = script.stdin.take().unwrap();
        let mut stdout = script.stdout.take().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
                    seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        // Type each answer only once its prompt is on screen (echo is off by then).
        for (prompt, answer) in [("Password:", first), ("Confirm:", second)] {
            let deadline = std::time::Instant::now() + crate::common::PATIENCE;
            while !seen.lock().unwrap().contains(prompt) {
                assert!(std::time::Instant::now() < deadline, "no {prompt} prompt: {}", seen.lock().unwrap());
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        }
        drop(stdin);
        script.wait().unwrap();
        reader.join().unwrap();
        seen.lock().unwrap().clone()
    };
    let out = run("tty-secret", "tty-secret");
    assert!(out.contains("Password:") && out.contains("Confirm:"), "{out}");
    assert!(out.contains("$argon2id$") && out.contains("exit=0"), "{out}");
    assert!(!out.contains("tty-secret"), "the password was echoed: {out}");
    let out = run("one", "two");
    assert!(out.contains("passwords do not match") && out.contains("exit=2"), "{out}");
}
