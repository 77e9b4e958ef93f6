//! rl-checksum against the toolkit's printf/sha256sum pipeline and `sha256sum -c`.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// An ISO directory like isos/x86_64 after the minor-release script made its latest links.
fn iso_dir(root: &Path) {
    fs::write(root.join("Rocky-9.5-x86_64-boot.iso"), vec![7u8; 300_000]).unwrap();
    fs::write(root.join("Rocky-9.5-x86_64-dvd1.iso"), b"dvd contents").unwrap();
    fs::write(root.join("Rocky-9.5-x86_64-minimal.iso"), b"").unwrap();
    fs::write(root.join("with space.iso"), b"spaces").unwrap();
    std::os::unix::fs::symlink(
        "Rocky-9.5-x86_64-dvd1.iso",
        root.join("Rocky-9-latest-x86_64-dvd.iso"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "Rocky-9.5-x86_64-boot.iso",
        root.join("Rocky-9-latest-x86_64-boot.iso"),
    )
    .unwrap();
    fs::write(root.join("not-an-image.txt"), b"ignored").unwrap();
}

/// The toolkit's loop (with `$file` quoted, as the issue states it), in the C locale.
const TOOLKIT: &str = r##"set -e
export LC_ALL=C
for file in *.iso; do
  printf "# %s: %s bytes\n%s\n" "${file}" "$(stat -c %s "${file}" -L)" "$(sha256sum --tag "${file}")" >> "${file}.CHECKSUM"
done
cat ./*.CHECKSUM > CHECKSUM
"##;

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().as_bytes().ends_with(b"CHECKSUM"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn byte_identical_to_the_toolkit_pipeline() {
    if !have_peer("sha256sum") || !have_peer("bash") {
        return;
    }
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    iso_dir(ours.path());
    iso_dir(theirs.path());
    let out = Command::new("bash")
        .arg("-c")
        .arg(TOOLKIT)
        .current_dir(theirs.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let recs = run_ok(rl("rl-checksum").arg("create").arg(ours.path()));
    assert_eq!(of_event(&recs, "checksum").len(), 6);
    let expected = listing(theirs.path());
    assert_eq!(expected.len(), 7, "six side files and CHECKSUM");
    assert_eq!(listing(ours.path()), expected);

    // The latest link is listed under its own name with its target's size.
    let combined = String::from_utf8(fs::read(ours.path().join("CHECKSUM")).unwrap()).unwrap();
    assert!(combined.starts_with("# Rocky-9-latest-x86_64-boot.iso: 300000 bytes\n"));
    assert!(combined.contains("SHA256 (with space.iso) = "));
}

#[test]
fn output_passes_sha256sum_c_with_hard_names() {
    if !have_peer("sha256sum") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    fs::write(dir.path().join("back\\slash.iso"), b"bs").unwrap();
    fs::write(dir.path().join("new\nline.iso"), b"nl").unwrap();
    fs::write(
        dir.path().join(OsStr::from_bytes(b"latin1-\xe9.iso")),
        b"l1",
    )
    .unwrap();
    let recs = run_ok(rl("rl-checksum").arg("create").arg(dir.path()));
    let bytes_names: Vec<_> = of_event(&recs, "checksum")
        .into_iter()
        .filter(|r| r["path"].is_object())
        .collect();
    assert_eq!(
        bytes_names.len(),
        1,
        "the Latin-1 name is written as {{\"bytes\":…}}"
    );
    assert_eq!(bytes_names[0]["path"]["bytes"], "bGF0aW4xLekuaXNv");

    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "CHECKSUM"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(text.matches(": OK").count(), 9, "{text}");

    // The tag line is exactly what sha256sum --tag writes for each name.
    for name in ["back\\slash.iso", "new\nline.iso"] {
        let tag = Command::new("sha256sum")
            .arg("--tag")
            .arg(name)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let side = fs::read(dir.path().join(format!("{name}.CHECKSUM"))).unwrap();
        assert!(side.ends_with(&tag.stdout), "{name}");
    }
}

#[test]
fn rerun_is_idempotent_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .assert()
        .success();
    let before = listing(dir.path());
    let mtime = fs::metadata(dir.path().join("CHECKSUM"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let recs = run_ok(rl("rl-checksum").arg("create").arg(dir.path()));
    assert!(
        of_event(&recs, "write")
            .iter()
            .all(|r| r["outcome"] == "unchanged")
    );
    assert_eq!(summary(&recs)["written"], 0);
    assert_eq!(listing(dir.path()), before, "no duplicated lines");
    assert_eq!(
        fs::metadata(dir.path().join("CHECKSUM"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
}

#[test]
fn a_changed_iso_replaces_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .assert()
        .success();
    fs::write(dir.path().join("Rocky-9.5-x86_64-dvd1.iso"), b"respun").unwrap();
    let out = rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    let replaced: Vec<_> = of_event(&recs, "write")
        .into_iter()
        .filter(|r| r["outcome"] == "replaced")
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        replaced,
        [
            "Rocky-9-latest-x86_64-dvd.iso.CHECKSUM",
            "Rocky-9.5-x86_64-dvd1.iso.CHECKSUM",
            "CHECKSUM"
        ]
    );
    rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("CHECKSUM"))
        .assert()
        .code(0);
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    let recs = run_ok(
        rl("rl-checksum")
            .args(["create", "--dry-run"])
            .arg(dir.path()),
    );
    assert!(
        of_event(&recs, "write")
            .iter()
            .all(|r| r["dry_run"] == true)
    );
    assert_eq!(of_event(&recs, "write").len(), 7);
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn verify_reports_ok_mismatch_and_missing() {
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .assert()
        .success();
    // One flipped byte, one truncated file, one removed file.
    let boot = dir.path().join("Rocky-9.5-x86_64-boot.iso");
    let mut data = fs::read(&boot).unwrap();
    data[123_456] ^= 1;
    fs::write(&boot, data).unwrap();
    fs::write(dir.path().join("with space.iso"), b"spa").unwrap();
    fs::remove_file(dir.path().join("Rocky-9.5-x86_64-dvd1.iso")).unwrap();

    let out = rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("CHECKSUM"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    let names = |ev| -> Vec<String> {
        of_event(&recs, ev)
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names("mismatch"),
        [
            "Rocky-9-latest-x86_64-boot.iso",
            "Rocky-9.5-x86_64-boot.iso",
            "with space.iso"
        ]
    );
    // The latest link to the removed ISO dangles: missing too.
    assert_eq!(
        names("missing"),
        ["Rocky-9-latest-x86_64-dvd.iso", "Rocky-9.5-x86_64-dvd1.iso"]
    );
    assert_eq!(names("ok"), ["Rocky-9.5-x86_64-minimal.iso"]);
    let s = summary(&recs);
    assert_eq!(
        (
            s["ok"].as_u64(),
            s["mismatch"].as_u64(),
            s["missing"].as_u64()
        ),
        (Some(1), Some(3), Some(2))
    );
    let mismatch = of_event(&recs, "mismatch")[0];
    assert_eq!(mismatch["line"], 2);
    assert!(mismatch["list"].as_str().unwrap().ends_with("/CHECKSUM"));

    // sha256sum agrees on the verdict.
    if have_peer("sha256sum") {
        let st = Command::new("sha256sum")
            .args(["--status", "-c", "CHECKSUM"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(1));
    }
    let out = rl("rl-checksum")
        .args(["verify", "--ignore-missing"])
        .arg(dir.path().join("CHECKSUM"))
        .output()
        .unwrap();
    assert!(of_event(&records(&out.stdout), "missing").is_empty());
}

#[test]
fn malformed_and_truncated_lists_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.iso"), b"a").unwrap();
    rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .assert()
        .success();
    let good = fs::read_to_string(dir.path().join("CHECKSUM")).unwrap();
    // CRLF line ends and comments are fine.
    fs::write(dir.path().join("crlf"), good.replace('\n', "\r\n")).unwrap();
    rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("crlf"))
        .assert()
        .code(0);
    // Truncated in the middle of the digest.
    fs::write(dir.path().join("cut"), &good[..good.len() - 20]).unwrap();
    let out = rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("cut"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut: line 2: SHA256 digest is not 64 hexadecimal digits"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error")[0]["kind"], "checksum.malformed");
    // Garbage, another algorithm, an escape from the directory, an empty list.
    let hex = "0".repeat(64);
    fs::write(
        dir.path().join("bad"),
        format!("hello\nMD5 (a.iso) = abc\nSHA256 (../etc/passwd) = {hex}\n"),
    )
    .unwrap();
    let out = rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let kinds: Vec<_> = of_event(&records(&out.stdout), "error")
        .iter()
        .map(|r| r["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            "checksum.malformed",
            "checksum.malformed",
            "checksum.unsafe_name"
        ]
    );
    fs::write(dir.path().join("empty"), "# only a comment\n").unwrap();
    let out = rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("empty"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checksum lines found"));
}

#[test]
fn missing_paths_unreadable_files_and_link_loops_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = rl("rl-checksum")
        .arg("create")
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope: No such file or directory"));
    assert_eq!(summary(&records(&out.stdout))["errors"], 1);

    let out = rl("rl-checksum")
        .arg("verify")
        .arg(dir.path().join("CHECKSUM"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // A looping latest link: an error record, and the directory's CHECKSUM is not written with
    // an entry missing.
    fs::write(dir.path().join("good.iso"), b"g").unwrap();
    std::os::unix::fs::symlink("loop-b.iso", dir.path().join("loop-a.iso")).unwrap();
    std::os::unix::fs::symlink("loop-a.iso", dir.path().join("loop-b.iso")).unwrap();
    let out = rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    let errors = of_event(&recs, "error");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["kind"], "io.filesystem_loop");
    assert!(!dir.path().join("CHECKSUM").exists());
    assert!(dir.path().join("good.iso.CHECKSUM").exists());

    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        let locked = tempfile::tempdir().unwrap();
        let f = locked.path().join("locked.iso");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
        let out = rl("rl-checksum")
            .arg("create")
            .arg(locked.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            of_event(&records(&out.stdout), "error")[0]["kind"],
            "io.permission_denied"
        );
    }
}

#[test]
fn create_piped_into_verify() {
    let dir = tempfile::tempdir().unwrap();
    iso_dir(dir.path());
    let created = rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(created.status.success());
    let recs = run_ok(
        rl("rl-checksum")
            .args(["verify", "-"])
            .write_stdin(created.stdout.clone()),
    );
    // 6 direct checks from `checksum` records, 6 from the side files, 6 from CHECKSUM.
    assert_eq!(of_event(&recs, "ok").len(), 18);

    // Only the direct records, with the rest passed through.
    let out = rl("rl-checksum")
        .args(["verify", "--event", "checksum", "--pass", "-"])
        .write_stdin(created.stdout)
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "ok").len(), 6);
    assert_eq!(of_event(&recs, "write").len(), 7, "passed through");

    // Bad upstream input is a clear error.
    let out = rl("rl-checksum")
        .args(["verify", "-"])
        .write_stdin("not json\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin line 1: invalid JSON"));
}

#[test]
fn side_file_free_layout_for_images() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Rocky-9-GenericCloud.qcow2"), b"q").unwrap();
    fs::write(dir.path().join("Rocky-9-Vagrant.box"), b"v").unwrap();
    fs::write(dir.path().join("readme"), b"r").unwrap();
    let out = rl("rl-checksum")
        .args([
            "create",
            "--no-side-files",
            "--pattern",
            "*.qcow2",
            "--pattern",
            "*.box",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(listing(dir.path()).len(), 1);
    let text = fs::read_to_string(dir.path().join("CHECKSUM")).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.starts_with("# Rocky-9-GenericCloud.qcow2: 1 bytes\n"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..200 {
        fs::write(dir.path().join(format!("f{i:03}.iso")), b"x").unwrap();
    }
    let mut child = tool("rl-checksum")
        .args(["create", "--dry-run"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lh/beta image step checksums every file of a directory (`--pattern '*'`): CHECKSUM files
/// and their signatures are never entries themselves, so a re-run changes nothing.
#[test]
fn every_file_pattern_leaves_checksum_files_out() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Rocky-9-GenericCloud.qcow2"), b"q").unwrap();
    fs::write(dir.path().join("CHECKSUM.asc"), b"signature").unwrap();
    let run = || {
        run_ok(
            rl("rl-checksum")
                .args(["create", "--pattern", "*"])
                .arg(dir.path()),
        )
    };
    let first = run();
    let names: Vec<_> = of_event(&first, "checksum")
        .iter()
        .map(|r| r["path"].clone())
        .collect();
    assert_eq!(names, ["Rocky-9-GenericCloud.qcow2"]);
    let second = run();
    assert_eq!(of_event(&second, "checksum").len(), 1);
    assert!(
        of_event(&second, "write")
            .iter()
            .all(|r| r["outcome"] == "unchanged")
    );
}

#[test]
fn a_directory_without_matches_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("readme.txt"), b"r").unwrap();
    let out = rl("rl-checksum")
        .arg("create")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file matches the pattern"));
    assert!(!dir.path().join("CHECKSUM").exists());
}
