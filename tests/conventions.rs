//! Conventions every tool follows: --help and --version work, unknown flags are usage errors with
//! exit 2 and nothing on stdout.

use crate::common::rl;
use crate::man::TOOLS;

#[test]
fn help_and_version_exit_zero() {
    for tool in TOOLS {
        let out = rl(tool).arg("--help").output().unwrap();
        assert!(out.status.success(), "{tool} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{tool} --help text"
        );
        let out = rl(tool).arg("--version").output().unwrap();
        assert!(out.status.success(), "{tool} --version");
        assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    for tool in TOOLS {
        let out = rl(tool).arg("--no-such-flag").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{tool}");
        assert!(
            out.stdout.is_empty(),
            "{tool} wrote to stdout on a usage error"
        );
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.iso"), vec![1u8; 4 << 20]).unwrap();
    let out = rl("rl-checksum")
        .args(["create", "--dry-run", "--progress", "auto"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
