//! rl-sync under an attacker: a destination directory swapped for a symlink to a victim while the
//! sync runs, a source file swapped for a symlink to a secret, and a package that fails to copy
//! (ENOSPC by strace's fault injection) — the victim never changes, the secret is never
//! published, and the repository metadata over the failed package stays the old one (#19).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::race::{digest, put, racer};
use crate::common::*;

/// One run of `sync` (rl-sync or rsync, given SRC/ and DST/) from a fresh `src` onto a fresh
/// `dst` while `dst/d` is swapped for a symlink to `victim` in a loop. Returns the exit status.
fn race_trial(
    base: &Path,
    victim: &Path,
    trial: usize,
    sync: &dyn Fn(&Path, &Path) -> Command,
) -> i32 {
    let (src, dst) = (base.join("src"), base.join("dst"));
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_dir_all(&dst);
    for i in 0..RACE_FILES {
        put(
            &src.join(format!("d/f{i}.rpm")),
            &format!("new {trial} {i}"),
        );
        put(&dst.join(format!("d/old{i}.rpm")), "old");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let race = racer(dst.join("d"), victim.to_path_buf(), stop.clone());
    let out = sync(&src, &dst).output().unwrap();
    stop.store(true, Ordering::Relaxed);
    race.join().unwrap();
    out.status.code().expect("the sync was killed")
}

const RACE_TRIALS: usize = 15;
/// Files in the raced directory, in the source and the victim (few: setting up a trial costs
/// more than the sync itself).
const RACE_FILES: usize = 12;

fn make_victim(victim: &Path) {
    for i in 0..RACE_FILES {
        put(&victim.join(format!("f{i}.rpm")), "victim data");
    }
    fs::set_permissions(victim, fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn a_destination_directory_swapped_for_a_symlink_never_leads_outside() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    make_victim(&victim);
    let before = digest(&victim);
    let rl_sync = |src: &Path, dst: &Path| {
        let mut c = tool("rl-sync");
        c.args(["--delete", "--chown", "4242:4242"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display()));
        c
    };
    let mut met = 0;
    for trial in 0..RACE_TRIALS {
        let code = race_trial(base.path(), &victim, trial, &rl_sync);
        assert_eq!(
            digest(&victim),
            before,
            "trial {trial}: rl-sync changed the victim"
        );
        met += usize::from(code != 0);
    }
    // The race is real: some runs met the swapped directory and said so (exit 2).
    eprintln!(
        "rl-sync: {met} of {RACE_TRIALS} runs met the swapped directory and reported it; the victim never changed"
    );
    // rsync under the same race, for comparison (reported, not asserted: it is the peer's
    // behaviour, not ours). The victim is restored after a trial that changed it.
    if !have_peer("rsync") {
        return;
    }
    let rsync = |src: &Path, dst: &Path| {
        let mut c = Command::new("rsync");
        c.args(["-rlptDSHog", "--delete", "--chown", "4242:4242"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display()));
        c
    };
    let (mut rsync_met, mut rsync_changed) = (0, 0);
    for trial in 0..RACE_TRIALS {
        let code = race_trial(base.path(), &victim, trial, &rsync);
        rsync_met += usize::from(code != 0);
        if digest(&victim) != before {
            rsync_changed += 1;
            let _ = fs::remove_dir_all(&victim);
            make_victim(&victim);
        }
    }
    eprintln!(
        "rsync: {rsync_met} of {RACE_TRIALS} runs met the swapped directory; the victim changed in {rsync_changed}"
    );
}

#[test]
fn a_source_file_swapped_for_a_symlink_is_never_published() {
    let base = tempfile::tempdir().unwrap();
    let (src, dst) = (base.path().join("src"), base.path().join("dst"));
    let secret = base.path().join("secret");
    fs::write(&secret, "SECRET KEY MATERIAL").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    for trial in 0..20 {
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_dir_all(&dst);
        for i in 0..30 {
            put(&src.join(format!("p/f{i}")), "public");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (file, stop2, secret2) = (src.join("p/f7"), stop.clone(), secret.clone());
        let race = std::thread::spawn(move || {
            let aside = file.with_extension("aside");
            while !stop2.load(Ordering::Relaxed) {
                // The symlink stands most of the time: the scan mostly sees the file, the copy
                // mostly meets the link.
                if fs::rename(&file, &aside).is_ok() {
                    let _ = symlink(&secret2, &file);
                    std::thread::sleep(std::time::Duration::from_micros(300));
                    let _ = fs::remove_file(&file);
                    let _ = fs::rename(&aside, &file);
                }
                std::thread::sleep(std::time::Duration::from_micros(30));
            }
        });
        let out = rl("rl-sync")
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display()))
            .output()
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        race.join().unwrap();
        assert!(out.status.code().is_some());
        for e in walkdir::WalkDir::new(&dst) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let body = fs::read(e.path()).unwrap();
                assert_ne!(
                    body,
                    b"SECRET KEY MATERIAL",
                    "trial {trial}: {} published the secret",
                    e.path().display()
                );
            }
        }
    }
}

#[test]
fn metadata_over_a_package_that_failed_is_held_back() {
    if !have_peer("strace") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let (src, dst) = (base.path().join("src"), base.path().join("dst"));
    put(&src.join("BaseOS/os/Packages/a/a-1.rpm"), "package");
    put(
        &src.join("BaseOS/os/repodata/x-primary.xml.gz"),
        "primary naming a-1.rpm",
    );
    put(&src.join("BaseOS/os/repodata/repomd.xml"), "new repomd");
    put(&dst.join("BaseOS/os/repodata/repomd.xml"), "old");
    // One copy thread, and its first data copy fails as on a full disk: the package.
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=copy_file_range",
        ])
        .args(["-e", "inject=copy_file_range:error=ENOSPC:when=1"])
        .arg(bin_path("rl-sync"))
        .args(["-j", "1"])
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The old repomd.xml stays, and the repodata naming the missing package is not published.
    assert_eq!(
        fs::read_to_string(dst.join("BaseOS/os/repodata/repomd.xml")).unwrap(),
        "old"
    );
    assert!(!dst.join("BaseOS/os/repodata/x-primary.xml.gz").exists());
    let recs = records(&out.stdout);
    let held: Vec<&str> = of_event(&recs, "held")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        held,
        [
            "BaseOS/os/repodata/x-primary.xml.gz",
            "BaseOS/os/repodata/repomd.xml"
        ]
    );
    assert_eq!(summary(&recs)["held"], 2);
    // Once the disk has room again, the next run publishes everything.
    let recs = run_ok(
        rl("rl-sync")
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display())),
    );
    assert_eq!(summary(&recs)["held"], 0);
    assert_eq!(
        fs::read_to_string(dst.join("BaseOS/os/repodata/repomd.xml")).unwrap(),
        "new repomd"
    );
}

#[test]
fn a_staged_release_root_keeps_its_mode_through_a_sync() {
    let base = tempfile::tempdir().unwrap();
    let (src, dst) = (base.path().join("src"), base.path().join("9.7"));
    put(
        &src.join("BaseOS/os/Packages/a.rpm"),
        "fix pushed during the embargo",
    );
    fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(&dst).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    run_ok(rl("rl-bitflip").arg("stage").arg(&dst));
    assert_eq!(fs::metadata(&dst).unwrap().mode() & 0o777, 0o750);
    let out = rl("rl-sync")
        .arg(format!("{}/", src.display()))
        .arg(format!("{}/", dst.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    assert_eq!(
        fs::metadata(&dst).unwrap().mode() & 0o777,
        0o750,
        "the sync reopened the release"
    );
    let kept = of_event(&recs, "kept");
    assert_eq!(kept.len(), 1, "{recs:?}");
    assert_eq!(
        (kept[0]["mode"].as_str(), kept[0]["source_mode"].as_str()),
        (Some("0750"), Some("0755"))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rl-bitflip publish opens it"));
    let status = run_ok(rl("rl-bitflip").args(["status", "--no-check"]).arg(&dst));
    assert_eq!(of_event(&status, "status")[0]["state"], "staged");
    assert!(dst.join("BaseOS/os/Packages/a.rpm").exists());
}

#[test]
fn deletions_of_most_of_the_destination_are_refused_and_max_delete_is_rsyncs() {
    let base = tempfile::tempdir().unwrap();
    let (src, dst) = (base.path().join("src"), base.path().join("dst"));
    put(&src.join("keep.rpm"), "keep");
    for i in 0..40 {
        put(&dst.join(format!("Packages/old{i}.rpm")), "old");
    }
    let sync = |extra: &[&str]| {
        rl("rl-sync")
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", dst.display()))
            .output()
            .unwrap()
    };
    let remaining = || walkdir::WalkDir::new(&dst).into_iter().count();
    let before = remaining();
    // --delete from an almost empty source: refused, nothing deleted, the new file still copied.
    for extra in [&["--delete", "-n"][..], &["--delete"]] {
        let out = sync(extra);
        assert_eq!(out.status.code(), Some(3), "{extra:?}");
        let recs = records(&out.stdout);
        let refused = of_event(&recs, "refused");
        assert_eq!(refused[0]["kind"], "deletions");
        assert_eq!(refused[0]["deletions"], 41, "40 files and their directory");
        assert!(of_event(&recs, "delete").is_empty());
    }
    assert!(dst.join("keep.rpm").exists());
    assert_eq!(remaining(), before + 1);
    // --max-delete: rsync's exit status 25; rl-sync deletes none rather than the first N.
    if have_peer("rsync") {
        let copy = base.path().join("rsync-dst");
        assert!(
            Command::new("cp")
                .arg("-a")
                .arg(&dst)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        );
        let out = Command::new("rsync")
            .args(["-a", "--delete", "--max-delete=5"])
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", copy.display()))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(25));
    }
    let out = sync(&["--delete", "--max-delete", "5", "--force-delete"]);
    assert_eq!(out.status.code(), Some(25));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than --max-delete 5"));
    assert_eq!(remaining(), before + 1);
    // --force-delete: the operator means it.
    let out = sync(&["--delete", "--force-delete"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(remaining(), 2, "dst and keep.rpm");
}

#[test]
fn a_missing_destination_parent_is_one_error() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    for i in 0..50 {
        put(&src.join(format!("d{i}/f")), "x");
    }
    let out = rl("rl-sync")
        .arg(format!("{}/", src.display()))
        .arg(base.path().join("missing/dst/"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("missing does not exist"), "{err}");
    assert!(!base.path().join("missing").exists());
}
