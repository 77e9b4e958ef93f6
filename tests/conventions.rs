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

#[test]
fn a_huge_input_value_gives_a_short_message_and_an_exact_record() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("a/".repeat(50_000));
    let line = format!("SHA256 ({}) = 00\n", "x".repeat(100_000));
    let checksum = dir.path().join("CHECKSUM");
    std::fs::write(&checksum, &line).unwrap();
    for (tool, args) in [
        ("rl-checksum", vec![huge.as_os_str()]),
        ("rl-checksum", vec![checksum.as_os_str()]),
        ("rl-hardlink", vec!["-n".as_ref(), huge.as_os_str()]),
    ] {
        let mut cmd = rl(tool);
        if tool == "rl-checksum" {
            cmd.arg("verify");
        }
        let out = cmd
            .args(args.iter().filter(|a| **a != "--"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.is_empty(), "{tool}: no message");
        for l in err.lines() {
            assert!(l.len() < 1200, "{tool}: a {}-byte stderr line", l.len());
        }
        assert!(!out.status.success(), "{tool}");
    }
    // The record keeps the exact path: it is data, not a message.
    let out = rl("rl-checksum").arg("verify").arg(&huge).output().unwrap();
    let recs = crate::common::records(&out.stdout);
    let e = crate::common::of_event(&recs, "error");
    let shown = format!(
        "{}{}",
        e[0]["root"].as_str().unwrap(),
        e[0]["path"].as_str().unwrap_or("")
    );
    assert!(shown.len() >= 100_000, "{}", shown.len());
}

#[test]
fn an_unreadable_composeinfo_is_one_error_not_also_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("compose/metadata")).unwrap();
    std::fs::write(dir.path().join("STATUS"), "FINISHED\n").unwrap();
    std::fs::write(dir.path().join("compose/metadata/composeinfo.json"), "{bad").unwrap();
    let out = rl("rl-compose")
        .arg("info")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not productmd metadata"), "{err}");
    assert!(!err.contains("no metadata/composeinfo.json"), "{err}");
}

#[test]
fn a_diff_of_a_missing_list_is_still_framed() {
    let out = rl("rl-filelist")
        .args(["diff", "/nonexistent/fullfiletimelist-rocky", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // records() checks start first, summary last.
    let recs = crate::common::records(&out.stdout);
    assert_eq!(crate::common::of_event(&recs, "error").len(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such file"));
}
