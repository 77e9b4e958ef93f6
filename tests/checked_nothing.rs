//! A check that checked nothing must not pass (#16): a tool reading upstream records that finds
//! none it can use exits 2 saying what it got and which `--event` would take it; a worker after
//! an upstream run that produced nothing has nothing to do (exit 0).

use crate::common::*;

const IMAGES: &str = "{\"event\":\"start\",\"tool\":\"rl-compose\"}\n\
{\"event\":\"image\",\"root\":\"/nonexistent\",\"path\":\"a.qcow2\",\"sha256\":\"00\"}\n\
{\"event\":\"image\",\"root\":\"/nonexistent\",\"path\":\"b.qcow2\",\"sha256\":\"00\"}\n\
{\"event\":\"summary\",\"tool\":\"rl-compose\"}\n";
const QUIET: &str =
    "{\"event\":\"start\",\"tool\":\"rl-sync\"}\n{\"event\":\"summary\",\"tool\":\"rl-sync\"}\n";

/// Runs TOOL ARGS with STDIN; the exit status, the error messages of the records and stderr.
fn piped(tool: &str, args: &[&str], stdin: &str) -> (i32, Vec<String>, String) {
    let out = rl(tool).args(args).write_stdin(stdin).output().unwrap();
    let recs = records(&out.stdout);
    let messages = of_event(&recs, "error")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), messages, err)
}

#[test]
fn checkers_given_the_wrong_records_fail_and_name_the_event() {
    let (code, msgs, err) = piped("rl-checksum", &["verify", "-"], IMAGES);
    assert_eq!(code, 2, "{err}");
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains("stdin held 2 image (by event)"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[0].contains("--event image would take the image records"),
        "{}",
        msgs[0]
    );
    assert!(
        err.contains("--event image"),
        "a person sees it on stderr too: {err}"
    );

    let (code, msgs, _) = piped("rl-compose", &["closure", "-"], IMAGES);
    assert_eq!(code, 2);
    assert!(msgs[0].contains("takes repo records"), "{msgs:?}");

    let (code, msgs, _) = piped("rl-torrent", &["verify", "-"], IMAGES);
    assert_eq!(code, 2);
    assert!(msgs[0].contains("torrent records"), "{msgs:?}");
}

#[test]
fn checkers_with_nothing_on_stdin_fail() {
    for (tool, args) in [
        ("rl-checksum", vec!["verify", "-"]),
        ("rl-compose", vec!["closure", "-"]),
        ("rl-torrent", vec!["verify", "-"]),
    ] {
        for stdin in ["\n", QUIET] {
            let (code, msgs, err) = piped(tool, &args, stdin);
            assert_eq!(code, 2, "{tool} {args:?} with {stdin:?}: {err}");
            assert!(
                msgs[0].starts_with("nothing to work on: stdin held "),
                "{msgs:?}"
            );
        }
    }
}

#[test]
fn workers_after_a_quiet_upstream_have_nothing_to_do_but_wrong_records_fail() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (tool, args) in [
        ("rl-checksum", vec!["create", "-"]),
        ("rl-hardlink", vec!["--from", "-", d]),
    ] {
        let (code, msgs, err) = piped(tool, &args, QUIET);
        assert_eq!(code, 0, "{tool}: {err}");
        assert!(msgs.is_empty(), "{msgs:?}");
    }
    let nameless =
        "{\"event\":\"start\"}\n{\"event\":\"note\",\"text\":\"hi\"}\n{\"event\":\"summary\"}\n";
    let (code, msgs, _) = piped("rl-hardlink", &["--from", "-", d], nameless);
    assert_eq!(code, 2);
    assert!(msgs[0].contains("none of them names a file"), "{msgs:?}");
    let (code, msgs, _) = piped(
        "rl-torrent",
        &["create", "-", "--no-date", "-o", d],
        nameless,
    );
    assert_eq!(code, 2, "{msgs:?}");
}

#[test]
fn a_dry_run_upstream_is_refused_by_tools_that_change_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(src.join("a.iso"), "the new image").unwrap();
    std::fs::write(dst.join("a.iso"), "old").unwrap();
    let sync = rl("rl-sync")
        .arg("-n")
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .output()
        .unwrap();
    let preview = String::from_utf8(sync.stdout).unwrap();
    assert!(preview.contains("\"dry_run\":true"), "{preview}");
    let d = dst.to_str().unwrap();
    let torrents = dir.path().join("t");
    for (tool, args) in [
        ("rl-checksum", vec!["create", "-"]),
        ("rl-hardlink", vec!["--from", "-", d]),
        (
            "rl-torrent",
            vec![
                "create",
                "-",
                "--no-tracker",
                "--event",
                "update",
                "-o",
                torrents.to_str().unwrap(),
            ],
        ),
    ] {
        let out = rl(tool)
            .args(&args)
            .write_stdin(preview.clone())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(3),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let recs = records(&out.stdout);
        assert_eq!(of_event(&recs, "refused")[0]["kind"], "dry_run_upstream");
    }
    // Nothing was written: no CHECKSUM for the update that never happened, no torrent.
    assert!(!dst.join("CHECKSUM").exists());
    assert!(!torrents.exists() || std::fs::read_dir(&torrents).unwrap().next().is_none());
    assert_eq!(std::fs::read(dst.join("a.iso")).unwrap(), b"old");
    // A dry run downstream may read a dry run's records.
    let out = rl("rl-checksum")
        .args(["create", "-", "--dry-run"])
        .write_stdin(preview)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dst.join("CHECKSUM").exists());
}
