//! Temporaries (issue #19, items 4, 6 and 7): named after a live writer, removed only once that
//! writer is gone, never against an exclude, never a directory, never copied or checksummed as
//! content, cleaned by the next run of the tool that wrote them, and never left by a failed commit.
//!
//! A "live writer" is a `sleep` child (its PID and start time in the name, as a running tool
//! writes them); a "dead writer" is one that ran and was reaped (its PID and start time name no
//! process any more), which is what a `kill -9`ed run leaves.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command};

use crate::common::{bin_path, is_root, of_event, records, rl, run_ok};

/// Start time (field 22 of /proc/PID/stat) of a process.
fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A process that stands for a tool still writing its temporaries; killed when dropped.
struct LiveWriter(Child);

impl LiveWriter {
    fn start() -> Self {
        LiveWriter(Command::new("sleep").arg("30").spawn().unwrap())
    }
    /// `PID-START`, as the writer itself puts it in its temporaries' names.
    fn tag(&self) -> String {
        format!("{}-{}", self.0.id(), start_time(self.0.id()))
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for LiveWriter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `PID-START` of a writer that ran and is gone (killed and reaped).
fn dead_tag() -> String {
    let w = LiveWriter::start();
    let tag = w.tag();
    drop(w);
    tag
}

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn rl_sync(src: &Path, dst: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    run_ok(
        rl("rl-sync")
            .args(extra)
            .arg(format!("{}/", src.display()))
            .arg(dst),
    )
}

#[test]
fn sync_removes_only_stale_regular_temporaries_never_a_live_or_excluded_one() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("f"), b"content");
    write(&src.join("sub/g"), b"content");
    let live = LiveWriter::start();
    let dead = dead_tag();
    let live_new = format!(".f.rl-tmp.{}.0", live.tag());
    let live_old = format!(".g.rl-tmp.{}.0", live.pid());
    let stale = format!(".h.rl-tmp.{dead}.0");
    let stale_below = format!("sub/.g.rl-tmp.{dead}.1");
    let excluded = format!(".x.rl-tmp.{dead}.2");
    let stale_dir = format!(".d.rl-tmp.{dead}.3");
    for delete in [false, true] {
        for n in [&live_new, &live_old, &stale, &stale_below, &excluded] {
            write(&dst.join(n), b"half-written");
        }
        write(&dst.join(&stale_dir).join("inside"), b"not ours to judge");
        let mut args = vec!["--exclude", ".x.rl-tmp.*"];
        if delete {
            args.push("--delete");
        }
        let recs = rl_sync(&src, &dst, &args);
        // The stale regular files go, with a record saying why.
        assert!(!dst.join(&stale).exists(), "delete={delete}");
        assert!(!dst.join(&stale_below).exists(), "delete={delete}");
        let deleted: Vec<&str> = of_event(&recs, "delete")
            .iter()
            .map(|r| {
                assert_eq!(r["reason"], "stale temporary");
                r["path"].as_str().unwrap()
            })
            .collect();
        assert_eq!(deleted.len(), 2, "{deleted:?}");
        // A live writer's temporary (either name form), an excluded one and a directory stay.
        for kept in [&live_new, &live_old, &excluded] {
            assert_eq!(fs::read(dst.join(kept)).unwrap(), b"half-written", "{kept}");
        }
        assert!(
            dst.join(&stale_dir).join("inside").exists(),
            "delete={delete}"
        );
        assert_eq!(fs::read(dst.join("f")).unwrap(), b"content");
    }
}

#[test]
fn sync_never_copies_a_temporary_found_in_the_source() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let live = LiveWriter::start();
    write(&src.join("CHECKSUM"), b"complete");
    // A half-written CHECKSUM of a tool still running in staging, and a killed one's.
    let live_temp = format!(".CHECKSUM.rl-tmp.{}.0", live.tag());
    write(&src.join(&live_temp), b"half");
    write(&src.join(".CHECKSUM.rl-tmp.99999999.0"), b"half");
    write(&src.join(".d.rl-tmp.99999999.1/x"), b"half");
    let recs = rl_sync(&src, &dst, &["--delete"]);
    assert_eq!(names(&dst), ["CHECKSUM"]);
    assert_eq!(of_event(&recs, "copy").len(), 1);
    // rsync with the temporaries excluded gives the same tree.
    if crate::common::have_peer("rsync") {
        let want = t.path().join("want");
        let st = Command::new("rsync")
            .args(["-rlptDSHog", "--delete", "--exclude", ".*.rl-tmp.*"])
            .arg(format!("{}/", src.display()))
            .arg(&want)
            .status()
            .unwrap();
        assert!(st.success());
        assert_eq!(names(&want), names(&dst));
    }
    // A destination entry of the same name as a source temporary is not the source's to replace:
    // the live writer's one stays.
    write(&dst.join(&live_temp), b"other writer");
    rl_sync(&src, &dst, &["--delete"]);
    assert_eq!(fs::read(dst.join(&live_temp)).unwrap(), b"other writer");
}

#[test]
fn checksum_removes_a_killed_runs_temporaries_and_never_hashes_one() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(&d.join("a.iso"), b"image");
    let live = LiveWriter::start();
    let dead = dead_tag();
    // What a `kill -9`ed rl-checksum leaves: temporaries of the side file and of CHECKSUM.
    let leftovers = [
        format!(".a.iso.CHECKSUM.rl-tmp.{dead}.0"),
        format!(".CHECKSUM.rl-tmp.{dead}.1"),
    ];
    let live_temp = format!(".CHECKSUM.rl-tmp.{}.2", live.tag());
    let not_ours = format!(".repomd.xml.rl-tmp.{dead}.3");
    for n in leftovers.iter().chain([&live_temp, &not_ours]) {
        write(&d.join(n), b"");
    }
    let recs = run_ok(rl("rl-checksum").arg("create").arg(d));
    for n in &leftovers {
        assert!(!d.join(n).exists(), "{n} left");
    }
    assert!(
        d.join(&live_temp).exists(),
        "a live writer's temporary was removed"
    );
    assert!(
        d.join(&not_ours).exists(),
        "another tool's temporary was removed"
    );
    let deleted = of_event(&recs, "delete");
    assert_eq!(deleted.len(), 2);
    assert!(deleted.iter().all(|r| r["reason"] == "stale temporary"));
    let checksum = fs::read_to_string(d.join("CHECKSUM")).unwrap();
    assert!(!checksum.contains("rl-tmp"), "{checksum}");
    // A temporary named on the command line is not content either.
    let odd = d.join(format!(".b.iso.rl-tmp.{}.4", live.tag()));
    write(&odd, b"half");
    let out = rl("rl-checksum").arg("create").arg(&odd).output().unwrap();
    assert!(of_event(&records(&out.stdout), "checksum").is_empty());
    assert!(
        !d.join(format!(
            "{}.CHECKSUM",
            odd.file_name().unwrap().to_string_lossy()
        ))
        .exists()
    );
}

#[test]
fn torrent_removes_a_killed_runs_temporaries() {
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("Rocky-9.6-x86_64-dvd");
    write(&content.join("Rocky-9.6-x86_64-dvd.iso"), &[7u8; 70_000]);
    let out = t.path().join("torrents");
    let live = LiveWriter::start();
    let dead = dead_tag();
    let leftover = format!(".Rocky-9.6-x86_64-dvd.torrent.rl-tmp.{dead}.0");
    let live_temp = format!(".Rocky-9.5-x86_64-dvd.torrent.rl-tmp.{}.0", live.tag());
    write(&out.join(&leftover), b"");
    write(&out.join(&live_temp), b"");
    // A temporary inside the content is not part of the torrent.
    write(&content.join(format!(".x.iso.rl-tmp.{dead}.1")), b"half");
    let recs = run_ok(
        rl("rl-torrent")
            .args(["create", "--no-date", "--no-tracker", "-o"])
            .arg(&out)
            .arg(&content),
    );
    assert!(!out.join(&leftover).exists());
    assert!(out.join(&live_temp).exists());
    assert_eq!(of_event(&recs, "delete").len(), 1);
    let torrent = of_event(&recs, "torrent");
    assert_eq!(torrent.len(), 1);
    assert_eq!(torrent[0]["files"], 1);
}

#[test]
fn hardlink_removes_a_killed_runs_temporaries_and_links_none() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("tree");
    write(&d.join("a"), b"same bytes");
    write(&d.join("b"), b"same bytes");
    let live = LiveWriter::start();
    let dead = dead_tag();
    // A killed run had linked the survivor to b's temporary and not renamed it yet.
    let leftover = d.join(format!(".b.rl-tmp.{dead}.0"));
    fs::hard_link(d.join("a"), &leftover).unwrap();
    let live_temp = d.join(format!(".c.rl-tmp.{}.0", live.tag()));
    write(&live_temp, b"same bytes");
    // A dry run reports it and removes nothing.
    let recs = run_ok(rl("rl-hardlink").arg("--dry-run").arg(&d));
    assert_eq!(of_event(&recs, "delete")[0]["dry_run"], true);
    assert!(leftover.exists());
    let recs = run_ok(rl("rl-hardlink").arg(&d));
    assert!(!leftover.exists());
    assert!(live_temp.exists());
    let deleted = of_event(&recs, "delete");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["reason"], "stale temporary");
    // a and b were linked; the live temporary was not touched.
    let links = of_event(&recs, "link");
    assert_eq!(links.len(), 1, "{links:?}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(&live_temp).unwrap().nlink(), 1);
}

#[test]
fn bitflip_removes_a_killed_runs_state_temporaries() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("9.6");
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    let leftover = t
        .path()
        .join(format!("..9.6.rl-bitflip.rl-tmp.{}.0", dead_tag()));
    write(&leftover, b"{\"schema\"");
    run_ok(
        rl("rl-bitflip")
            .args(["stage", "--state", "file"])
            .arg(&root),
    );
    assert!(!leftover.exists());
    assert_eq!(names(t.path()), [".9.6.rl-bitflip", "9.6"]);
}

/// Whether this test can mount a small tmpfs in its own mount namespace (root and `unshare`).
/// Skips with a reason otherwise, and fails instead under CI=true.
fn can_mount_tmpfs() -> bool {
    let why = if !is_root() {
        "not root"
    } else if !Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        "unshare -m does not work here"
    } else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the full-disk test needs a tmpfs mount ({why}) under CI=true");
    }
    eprintln!("skipping: a full disk needs a tmpfs mount, and {why}");
    false
}

#[test]
fn a_commit_failing_on_a_full_disk_leaves_no_temporary() {
    if !can_mount_tmpfs() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("full");
    fs::create_dir(&mnt).unwrap();
    // In a private mount namespace: a 64 KiB tmpfs, one ISO, filled up, then rl-checksum, whose
    // side file and CHECKSUM temporaries are created (no blocks needed) but cannot be flushed.
    let script = format!(
        "set -e; mount -t tmpfs -o size=64k tmpfs full
         printf image > full/a.iso; printf image > full/b.iso
         cat /dev/zero > full/fill 2>/dev/null || true
         rc=0; '{bin}' create full > out.jsonl || rc=$?
         echo rc=$rc; find full -name '*.rl-tmp.*'; umount full",
        bin = bin_path("rl-checksum").display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out, "rc=2\n",
        "exit status, then any temporary left:\n{out}"
    );
    let recs = records(&fs::read(t.path().join("out.jsonl")).unwrap());
    let errors = of_event(&recs, "error");
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|e| e["op"] == "write"), "{errors:?}");
}
