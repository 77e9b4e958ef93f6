//! scripts/demo is the README's first command: it must keep working.

use std::process::Command;

use crate::common::bin_path;

#[test]
fn demo_runs_and_leaves_a_verified_release() {
    let dir = tempfile::tempdir().unwrap();
    let bins = bin_path("rl-checksum").parent().unwrap().to_path_buf();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .env("RL_BIN_DIR", bins)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("release rehearsal in"), "{stdout}");
    for line in stdout.lines().filter(|l| l.contains(" ms  rc=")) {
        assert!(line.contains("rc=0"), "a demo step failed: {line}");
    }
    assert!(dir.path().join("compose/isos/x86_64/CHECKSUM").is_file());
}
