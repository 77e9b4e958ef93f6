//! scripts/demo is the README's first command: it must keep working.

use std::process::Command;

use crate::common::{bin_path, have_peer};

#[test]
fn demo_rehearses_a_whole_release() {
    if !have_peer("rpmbuild") || !have_peer("createrepo_c") || !have_peer("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bins = bin_path("rl-checksum").parent().unwrap().to_path_buf();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir.path())
        .env("RL_BIN_DIR", bins)
        .env("TMPDIR", dir.path())
        .env("RL_LOCK_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("release rehearsal in"), "{stdout}");
    let steps: Vec<&str> = stdout.lines().filter(|l| l.contains(" ms  ")).collect();
    assert!(steps.len() >= 14, "{stdout}");
    for line in steps {
        assert!(line.contains(" ms  ok "), "a demo step failed: {line}");
    }
    for root in ["compose", "repos-staging", "repos-production", "torrents"] {
        assert!(dir.path().join(root).is_dir(), "{root} missing");
    }
    let prod = dir.path().join("repos-production/mirror/pub/rocky");
    assert!(prod.join("9.7/isos/x86_64/CHECKSUM").is_file());
    assert!(prod.join("fullfiletimelist-rocky").is_file());
    assert!(
        dir.path()
            .join("torrents/watch/Rocky-9.7-x86_64-dvd1.torrent")
            .is_file()
    );
}
