//! One writer per tree (#16): rl-sync takes a lock per destination, so a second run into the
//! same tree is refused (exit 3) or waits (`--wait`); a lock file another user made is still
//! usable (flock needs no write access), as real `flock(1)` holders see it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::common::*;

/// The lock rl-sync takes by default for `tree` under `dir` (`rl_core::lock::for_tree`).
fn default_sync_lock(dir: &Path, tree: &Path) -> PathBuf {
    let canon = fs::canonicalize(tree).unwrap();
    let d = sha2::Sha256::digest(canon.as_os_str().as_encoded_bytes());
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("rl-sync-{hex}.lock"))
}

/// Holds `lock` with the real flock(1) until killed; returns once it is held.
fn hold(lock: &Path) -> Child {
    // -o: the lock stays with flock itself (not with sleep), so killing flock releases it.
    let child = Command::new("flock")
        .arg("-o")
        .arg(lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let t = Instant::now();
    while Command::new("flock")
        .args(["-n"])
        .arg(lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "flock never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn tree(base: &Path) -> (PathBuf, PathBuf) {
    let (src, dst) = (base.join("src"), base.join("dst"));
    fs::create_dir_all(src.join("9/BaseOS")).unwrap();
    fs::write(src.join("9/BaseOS/p.rpm"), "p").unwrap();
    fs::create_dir_all(&dst).unwrap();
    (src, dst)
}

fn sync(src: &Path, dst: &Path, locks: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin_path("rl-sync"));
    c.env("RL_LOCK_DIR", locks)
        .args(extra)
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_second_sync_into_the_same_tree_is_refused_or_waits() {
    if !have_peer("flock") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let (src, dst) = tree(base.path());
    let locks = base.path().join("locks");
    fs::create_dir(&locks).unwrap();
    let mut holder = hold(&default_sync_lock(&locks, &dst));
    let out = sync(&src, &dst, &locks, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another rl-sync is writing") && err.contains("--wait"),
        "{err}"
    );
    assert!(!dst.join("9").exists(), "a refused sync copies nothing");
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "refused").len(), 1);
    // A dry run reads only: it takes no lock.
    let dry = sync(&src, &dst, &locks, &["-n"]).output().unwrap();
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    // --wait waits for the holder, then syncs.
    let waiting = sync(&src, &dst, &locks, &["--wait"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!dst.join("9").exists(), "--wait did not wait");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(dst.join("9/BaseOS/p.rpm").is_file());
    // Another destination has another lock; --lock names one; --no-lock takes none.
    let other = base.path().join("other");
    fs::create_dir(&other).unwrap();
    let mut holder = hold(&default_sync_lock(&locks, &dst));
    assert_eq!(
        sync(&src, &other, &locks, &[]).status().unwrap().code(),
        Some(0)
    );
    assert_eq!(
        sync(&src, &dst, &locks, &["--no-lock"])
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    let named = base.path().join("named.lock");
    let mut named_holder = hold(&named);
    let mut c = sync(&src, &other, &locks, &[]);
    c.arg("--lock").arg(&named);
    assert_eq!(c.status().unwrap().code(), Some(3));
    for h in [&mut holder, &mut named_holder] {
        h.kill().unwrap();
        h.wait().unwrap();
    }
}

/// A lock file another user created (0644, in a shared sticky directory like /run/lock) used to
/// make rl-filelist fail with "permission denied"; it is now opened read-only and still locks.
#[test]
fn a_lock_file_of_another_user_still_serialises() {
    if !is_root() {
        if std::env::var_os("CI").is_some_and(|v| v == "true") {
            panic!("CI=true: this test needs root to act as two users");
        }
        eprintln!("skipping: needs root to act as two users");
        return;
    }
    if !have_peer("setpriv") || !have_peer("flock") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o1777)).unwrap();
    let root = base.path().join("pub");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("f"), "x").unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
    // root's lock file, as the first operator's run leaves it.
    let lock = base.path().join("rl-filelist.lock");
    fs::write(&lock, "").unwrap();
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o644)).unwrap();
    let as_nobody = |extra: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin_path("rl-filelist"))
            .args(["write", "--lock"])
            .arg(&lock)
            .arg("--root")
            .arg(format!("{}:t", root.display()))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = as_nobody(&[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // And it is a real lock: held by flock(1), the other user's run is refused.
    let mut holder = hold(&lock);
    let out = as_nobody(&["--no-wait"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}
