//! One source of release data (#17): `etc/rl-tools/release-MAJOR.conf` is sourced by
//! `scripts/common` and read by the binaries; for every major and release line the scripts and
//! `rl-compose locate` agree, and a release bump is an edit of that file only.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// REV and COMPOSE_APPEND as `scripts/common` computes them.
fn from_scripts(major: u32, rel: &str, data: Option<&Path>) -> (String, String) {
    let common = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/common");
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!(
            "source {}; printf '%s\\n%s\\n%s\\n' \"$REV\" \"$COMPOSE_APPEND\" \"${{ARCHES[*]}}\"",
            common.display()
        ))
        .env("RLVER", major.to_string())
        .env("RLREL", rel)
        .env_remove("RL_RELEASE_DATA");
    if let Some(d) = data {
        c.env("RL_RELEASE_DATA", d);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let rev = lines.next().unwrap().to_owned();
    let append = lines.next().unwrap_or("").to_owned();
    (rev, append)
}

/// REV and COMPOSE_APPEND as `rl-compose locate` reports them (a compose is made where the
/// scripts' RELEASE_COMPOSE_ROOT points).
fn from_locate(
    root: &Path,
    major: u32,
    rel: &str,
    append: &str,
    data: Option<&Path>,
) -> (String, String) {
    let dir = root.join(format!("{major}{append}"));
    let compose = dir.join(format!("Rocky-{major}-{rel}"));
    fs::create_dir_all(compose.join("compose")).unwrap();
    let link = dir.join(format!("latest-Rocky-{major}"));
    let _ = fs::remove_file(&link);
    symlink(&compose, &link).unwrap();
    let mut cmd = rl("rl-compose");
    cmd.args([
        "locate",
        "--major",
        &major.to_string(),
        "--release",
        rel,
        "--compose-root",
    ])
    .arg(root)
    .env_remove("RL_RELEASE_DATA");
    if let Some(d) = data {
        cmd.env("RL_RELEASE_DATA", d);
    }
    let recs = run_ok(&mut cmd);
    let c = of_event(&recs, "compose")[0];
    (
        c["rev"].as_str().unwrap().to_owned(),
        c["compose_append"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn scripts_and_locate_agree_for_every_major_and_release_line() {
    let d = tempfile::tempdir().unwrap();
    for major in [8, 9, 10] {
        for rel in ["stable", "beta", "lh"] {
            let scripts = from_scripts(major, rel, None);
            let locate = from_locate(d.path(), major, rel, &scripts.1, None);
            assert_eq!(scripts, locate, "RLVER={major} RLREL={rel}");
        }
    }
}

#[test]
fn a_release_bump_is_an_edit_of_the_data_file_only() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    fs::create_dir(&data).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/rl-tools/release-9.conf");
    let bumped = fs::read_to_string(shipped)
        .unwrap()
        .replace("STABLE_REVISION=9.7", "STABLE_REVISION=9.8")
        .replace("STABLE_PREREV=9.6", "STABLE_PREREV=9.7");
    fs::write(data.join("release-9.conf"), bumped).unwrap();
    let scripts = from_scripts(9, "stable", Some(&data));
    assert_eq!(scripts.0, "9.8-RC2");
    let locate = from_locate(&d.path().join("compose"), 9, "stable", "", Some(&data));
    assert_eq!(locate, scripts);
    // A broken file is an error in both, naming it.
    fs::write(data.join("release-9.conf"), "STABLE_REVISION 9.8\n").unwrap();
    let out = rl("rl-compose")
        .args(["locate", "--major", "9", "--compose-root"])
        .arg(d.path())
        .env("RL_RELEASE_DATA", &data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("release-9.conf:1: expected KEY=VALUE"));
}

#[test]
fn an_unset_rlver_is_an_error_in_the_scripts() {
    let common = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/common");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {}", common.display()))
        .env_remove("RLVER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RLVER is not set"));
}
