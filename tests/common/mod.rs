//! Helpers shared by the integration tests: running a tool, parsing its records, temporary
//! trees, and finding peer programs (rsync, hardlink, sha256sum, …).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

pub mod race;

/// A command for one of our binaries, with a clean environment for deterministic output.
pub fn rl(tool: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin_path(tool));
    cmd.env_remove("RUST_BACKTRACE")
        .env("NO_COLOR", "1")
        // Default locks of test runs stay out of the host's /run/lock.
        .env("RL_LOCK_DIR", env!("CARGO_TARGET_TMPDIR"));
    cmd
}

/// A plain `Command` for one of our binaries (for spawning, racing, piping), its default locks
/// kept out of the host's /run/lock.
pub fn tool(name: &str) -> Command {
    let mut c = Command::new(bin_path(name));
    c.env("RL_LOCK_DIR", env!("CARGO_TARGET_TMPDIR"));
    c
}

/// The path of one of our binaries.
pub fn bin_path(tool: &str) -> std::path::PathBuf {
    let var = format!("CARGO_BIN_EXE_{tool}");
    match std::env::var_os(&var) {
        Some(p) => p.into(),
        None => {
            // Integration tests of this package always have it at compile time; fall back to
            // target/debug for helpers compiled in other contexts.
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/debug")
                .join(tool)
        }
    }
}

/// Parses stdout into records and checks the framing: every line is a JSON object with `event`
/// first, the first record is `start` and the last `summary`.
pub fn records(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    let recs: Vec<Value> = text
        .lines()
        .map(|l| {
            assert!(
                l.starts_with("{\"event\":"),
                "event is not the first key: {l}"
            );
            serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}"))
        })
        .collect();
    assert!(!recs.is_empty(), "no records");
    assert_eq!(recs[0]["event"], "start", "first record: {}", recs[0]);
    assert_eq!(recs[0]["schema"], 1);
    assert_eq!(recs.last().unwrap()["event"], "summary", "last record");
    recs
}

/// The records of one event.
pub fn of_event<'a>(recs: &'a [Value], event: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["event"] == event).collect()
}

/// Runs a prepared command of one of our tools, asserts it succeeded (showing its stderr when it
/// did not) and returns its records.
pub fn run_ok(cmd: &mut assert_cmd::Command) -> Vec<Value> {
    let out = cmd.output().expect("run the tool");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    records(&out.stdout)
}

/// The summary record.
pub fn summary(recs: &[Value]) -> &Value {
    recs.last().expect("records")
}

/// Whether a peer program is installed. Under CI (CI=true) a missing peer fails the test instead
/// of skipping it, so a green CI always means the comparison ran.
pub fn have_peer(program: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("peer program {program} is missing under CI=true; scripts/check installs it");
        }
        eprintln!("skipping: peer program {program} is not installed");
    }
    found
}

/// Whether the tests run as root (some permission tests mean nothing for root).
pub fn is_root() -> bool {
    nix_uid() == 0
}

fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just created is our effective uid.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("uid");
    std::fs::write(&f, "").expect("write");
    std::fs::metadata(&f).expect("stat").uid()
}

/// Runs a shell command and returns stdout, panicking with stderr on failure.
pub fn sh(script: &str, dir: &Path) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "command failed: {script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
