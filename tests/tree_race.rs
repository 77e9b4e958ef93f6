//! The other tools that change a tree, under the same attacker as rl-sync (#19 item 5): a
//! directory inside the tree swapped for a symlink to a victim in a loop while `rl-compose
//! prepare`, `rl-checksum create` and `rl-filelist write` run. Every change goes through
//! descriptors opened below the root without following a symlink, so the victim never changes;
//! the runs that meet the swap say so and exit non-zero.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::race::{digest, put, racer};
use crate::common::*;

const TRIALS: usize = 15;
/// Directories of ISOs in the CHECKSUM race.
const DIRS: usize = 24;

/// A victim directory holding `files` (relative names), closed to others.
fn make_victim(victim: &Path, files: &[&str]) {
    for f in files {
        put(&victim.join(f), "victim data");
    }
    fs::set_permissions(victim, fs::Permissions::from_mode(0o700)).unwrap();
}

/// Runs `cmd` while each `(dir, victim)` pair is swapped in a loop; returns the exit status.
fn raced(cmd: &mut Command, swaps: &[(PathBuf, &Path)]) -> i32 {
    let stop = Arc::new(AtomicBool::new(false));
    let racers: Vec<_> = swaps
        .iter()
        .map(|(dir, victim)| racer(dir.clone(), victim.to_path_buf(), stop.clone()))
        .collect();
    let out = cmd.output().unwrap();
    stop.store(true, Ordering::Relaxed);
    for r in racers {
        r.join().unwrap();
    }
    out.status.code().expect("the tool was killed")
}

/// A small compose: ISOs to move into isos/, and a Minimal variant that prepare deletes.
fn mini_compose(top: &Path) {
    let _ = fs::remove_dir_all(top);
    let c = top.join("compose");
    for f in [
        "BaseOS/x86_64/os/repodata/repomd.xml",
        "BaseOS/x86_64/iso/Rocky-9.7-x86_64-boot.iso",
        "BaseOS/x86_64/iso/Rocky-9.7-x86_64-dvd.iso",
        "BaseOS/x86_64/iso/CHECKSUM",
        "Minimal/x86_64/iso/Rocky-9.7-x86_64-minimal.iso",
    ] {
        put(&c.join(f), f);
    }
    put(&top.join("STATUS"), "FINISHED\n");
    put(&top.join("COMPOSE_ID"), "Rocky-9-updates-20251124.1\n");
}

#[test]
fn prepare_never_moves_or_deletes_outside_the_compose() {
    let base = tempfile::tempdir().unwrap();
    let (iso_victim, minimal_victim) = (base.path().join("v-iso"), base.path().join("v-min"));
    make_victim(
        &iso_victim,
        &[
            "Rocky-9.7-x86_64-boot.iso",
            "Rocky-9.7-x86_64-dvd.iso",
            "CHECKSUM",
        ],
    );
    make_victim(
        &minimal_victim,
        &["x86_64/iso/Rocky-9.7-x86_64-minimal.iso"],
    );
    let before = (digest(&iso_victim), digest(&minimal_victim));
    let top = base.path().join("Rocky-9-updates-20251124.1");
    let mut met = 0;
    for trial in 0..TRIALS {
        mini_compose(&top);
        let c = top.join("compose");
        let code = raced(
            tool("rl-compose")
                .args(["prepare", "--revision", "9.7"])
                .arg(&top)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            &[
                (c.join("BaseOS/x86_64/iso"), &iso_victim),
                (c.join("Minimal"), &minimal_victim),
            ],
        );
        assert_eq!(
            (digest(&iso_victim), digest(&minimal_victim)),
            before,
            "trial {trial}: rl-compose prepare changed a victim"
        );
        met += usize::from(code != 0);
    }
    eprintln!(
        "rl-compose prepare: {met} of {TRIALS} runs met a swapped directory; no victim changed"
    );
    // Without the race the same compose is prepared.
    mini_compose(&top);
    run_ok(
        rl("rl-compose")
            .args(["prepare", "--revision", "9.7"])
            .arg(&top),
    );
    assert!(
        top.join("compose/isos/x86_64/Rocky-9.7-x86_64-dvd.iso")
            .is_file()
    );
    assert!(!top.join("compose/Minimal").exists());
}

#[test]
fn checksum_create_never_writes_outside_the_records_root() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    // Many directories, each written into: many moments at which the swap can meet a write.
    let names: Vec<String> = (0..DIRS)
        .flat_map(|d| {
            [
                format!("a{d}/0.iso"),
                format!("a{d}/CHECKSUM"),
                format!("a{d}/0.iso.CHECKSUM"),
            ]
        })
        .collect();
    make_victim(
        &victim,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let before = digest(&victim);
    let tree = base.path().join("tree");
    let fill = |top: &Path| {
        for d in 0..DIRS {
            for i in 0..2 {
                put(
                    &top.join(format!("isos/a{d}/{i}.iso")),
                    &format!("iso {d} {i}"),
                );
            }
        }
    };
    let isos = || {
        let _ = fs::remove_dir_all(&tree);
        fill(&tree);
    };
    // The upstream records: a real rl-sync run that published the ISOs into the tree.
    let staging = base.path().join("staging");
    fill(&staging);
    let synced = tool("rl-sync")
        .arg(format!("{}/", staging.display()))
        .arg(format!("{}/", tree.display()))
        .output()
        .unwrap();
    assert!(synced.status.success(), "{synced:?}");
    let records = base.path().join("records");
    fs::write(&records, &synced.stdout).unwrap();
    let mut met = 0;
    for trial in 0..TRIALS {
        isos();
        let code = raced(
            tool("rl-checksum")
                .args(["create", "-"])
                .stdin(fs::File::open(&records).unwrap())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            &[(tree.join("isos"), &victim)],
        );
        assert_eq!(
            digest(&victim),
            before,
            "trial {trial}: rl-checksum changed the victim"
        );
        met += usize::from(code != 0);
    }
    eprintln!(
        "rl-checksum create: {met} of {TRIALS} runs met the swapped directory; the victim never changed"
    );
    // Without the race the records give the directory its CHECKSUM.
    isos();
    run_ok(
        rl("rl-checksum")
            .args(["create", "-"])
            .pipe_stdin(&records)
            .unwrap(),
    );
    let sums = fs::read_to_string(tree.join("isos/a0/CHECKSUM")).unwrap();
    assert_eq!(
        sums.lines().filter(|l| l.starts_with("SHA256 (")).count(),
        2,
        "{sums}"
    );
}

/// `rl-filelist write` of `top` with `top/rocky` nested in it.
fn nested_lists(base: &Path, top: &Path) -> Command {
    let mut c = tool("rl-filelist");
    c.arg("write")
        .arg("--lock")
        .arg(base.join("lock"))
        .arg("--root")
        .arg(format!("{}:top", top.display()))
        .arg("--root")
        .arg(format!("{}/rocky:rocky", top.display()));
    c
}

#[test]
fn filelist_write_never_writes_a_list_outside_the_outer_root() {
    let base = tempfile::tempdir().unwrap();
    let victim = base.path().join("victim");
    make_victim(&victim, &["fullfiletimelist-rocky", "pub/x"]);
    let before = digest(&victim);
    let top = base.path().join("top");
    for i in 0..20 {
        put(&top.join(format!("rocky/9/BaseOS/f{i}.rpm")), "rpm");
    }
    let mut met = 0;
    for trial in 0..TRIALS {
        let code = raced(
            nested_lists(base.path(), &top)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            &[(top.join("rocky"), &victim)],
        );
        assert_eq!(
            digest(&victim),
            before,
            "trial {trial}: rl-filelist changed the victim"
        );
        met += usize::from(code != 0);
    }
    eprintln!(
        "rl-filelist write: {met} of {TRIALS} runs met the swapped directory; the victim never changed"
    );
    // Without the race the nested root gets its lists.
    let out = nested_lists(base.path(), &top).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!of_event(&records(&out.stdout), "list").is_empty());
    assert!(top.join("rocky/fullfiletimelist-rocky").is_file());
}

#[test]
fn a_nested_root_that_is_a_symlink_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let top = base.path().join("top");
    let elsewhere = base.path().join("elsewhere");
    put(&elsewhere.join("f"), "x");
    fs::create_dir_all(&top).unwrap();
    std::os::unix::fs::symlink(&elsewhere, top.join("rocky")).unwrap();
    let out = nested_lists(base.path(), &top).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory below"), "{err}");
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        1,
        "nothing written there"
    );
    assert_eq!(
        fs::read_dir(&top).unwrap().count(),
        1,
        "no list written in a refused run"
    );
}
