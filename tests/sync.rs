//! rl-sync integration tests: adversarial trees synced by real `rsync -rlptDSHog` and by
//! rl-sync, compared entry by entry; publish order watched live; refusals.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use filetime::FileTime;
use serde_json::Value;

use crate::common::*;

/// One entry of a tree as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snap {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    content: Vec<u8>,
    target: Vec<u8>,
    /// For files with several links: the first path (in name order) of the link group.
    group: Vec<u8>,
}

fn snapshot(root: &Path) -> BTreeMap<Vec<u8>, Snap> {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let m = fs::symlink_metadata(&path).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            "symlink"
        } else if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else {
            "special"
        };
        let key = rel.as_os_str().as_bytes().to_vec();
        let mut group = Vec::new();
        if ft.is_file() && m.nlink() > 1 {
            group = inodes
                .entry((m.dev(), m.ino()))
                .or_insert(key.clone())
                .clone();
        }
        out.insert(
            key,
            Snap {
                kind,
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                size: if ft.is_dir() { 0 } else { m.len() },
                mtime: (m.mtime(), m.mtime_nsec()),
                content: if ft.is_file() {
                    fs::read(&path).unwrap()
                } else {
                    vec![]
                },
                target: if ft.is_symlink() {
                    fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec()
                } else {
                    vec![]
                },
                group,
            },
        );
        if ft.is_dir() {
            let mut names: Vec<_> = fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            // Reverse so the stack pops in name order (link groups keyed by first name).
            names.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
            for n in names {
                stack.push(rel.join(n));
            }
        }
    }
    out
}

/// Entries both tools wrote "now" (directories not in the source whose contents changed) cannot
/// have equal mtimes; they only need to be recent in both trees.
fn normalise(mut snap: BTreeMap<Vec<u8>, Snap>) -> BTreeMap<Vec<u8>, Snap> {
    let recent = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3600;
    for v in snap.values_mut() {
        if v.kind == "dir" && v.mtime.0 > recent {
            v.mtime = (0, 0);
        }
    }
    snap
}

fn assert_same_tree(expected: &Path, actual: &Path) {
    let a = normalise(snapshot(expected));
    let b = normalise(snapshot(actual));
    let mut diffs = Vec::new();
    for (k, va) in &a {
        match b.get(k) {
            None => diffs.push(format!(
                "missing in rl-sync: {:?}",
                String::from_utf8_lossy(k)
            )),
            Some(vb) if va != vb => {
                let mut short_a = va.clone();
                let mut short_b = vb.clone();
                short_a.content.truncate(16);
                short_b.content.truncate(16);
                diffs.push(format!(
                    "{:?}:\n  rsync   {short_a:?}\n  rl-sync {short_b:?}",
                    String::from_utf8_lossy(k)
                ))
            }
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!(
                "extra in rl-sync: {:?}",
                String::from_utf8_lossy(k)
            ));
        }
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
}

fn set_mtime(p: &Path, secs: i64) {
    filetime::set_symlink_file_times(
        p,
        FileTime::from_unix_time(secs, 0),
        FileTime::from_unix_time(secs, 123_456_789),
    )
    .unwrap();
}

fn write(p: &Path, data: &[u8]) {
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(p, data).unwrap();
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// The adversarial source tree.
fn build_src(s: &Path) {
    fs::create_dir_all(s).unwrap();
    write(&s.join("plain"), b"plain file\n");
    write(&s.join("name with spaces"), b"spaces");
    write(&s.join("new\nline"), b"newline in name");
    write(
        &s.join(OsStr::from_bytes(b"bad\xffutf8")),
        b"invalid utf-8 name",
    );
    write(&s.join("same-size-diff"), b"AAAA");
    write(&s.join("touched"), b"touched file");
    write(&s.join("perm-only"), b"perm");
    chmod(&s.join("perm-only"), 0o600);
    // Hard-link groups across directories.
    write(&s.join("a/h1"), b"hard link group one");
    fs::create_dir_all(s.join("b")).unwrap();
    fs::hard_link(s.join("a/h1"), s.join("b/h1-link")).unwrap();
    fs::hard_link(s.join("a/h1"), s.join("h1-top")).unwrap();
    write(&s.join("a/h2"), b"group two");
    fs::hard_link(s.join("a/h2"), s.join("a/h2b")).unwrap();
    // Symlinks: relative, absolute, dangling, to a directory.
    symlink("plain", s.join("rel-link")).unwrap();
    symlink("/etc/hostname", s.join("abs-link")).unwrap();
    symlink("does/not/exist", s.join("dangling")).unwrap();
    symlink("a", s.join("dir-link")).unwrap();
    symlink("new-target", s.join("changed-link")).unwrap();
    // Type changes: x is a directory here (a file in the destination), y a file (a directory there).
    write(&s.join("x/inside"), b"x is a dir now");
    write(&s.join("y"), b"y is a file now");
    // Read-only file and directory, setgid directory, empty directory.
    write(&s.join("ro-file"), b"read only");
    chmod(&s.join("ro-file"), 0o444);
    write(&s.join("ro-dir/f"), b"in a read-only dir");
    chmod(&s.join("ro-dir"), 0o555);
    fs::create_dir_all(s.join("setgid")).unwrap();
    write(&s.join("setgid/f"), b"setgid");
    chmod(&s.join("setgid"), 0o2775);
    fs::create_dir_all(s.join("empty")).unwrap();
    // Sparse file: 1 MiB hole then data.
    {
        let f = fs::File::create(s.join("sparse")).unwrap();
        f.set_len(1 << 20).unwrap();
        use std::io::{Seek, SeekFrom, Write};
        let mut f = f;
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"tail data").unwrap();
    }
    // A fifo.
    sh("mkfifo fifo", s);
    // A compose-like part with names the pungi exclude list drops.
    write(&s.join("BaseOS/x86_64/os/Packages/p/pkg-1.rpm"), b"rpm one");
    write(
        &s.join("BaseOS/x86_64/os/repodata/repomd.xml"),
        b"<repomd/>",
    );
    write(&s.join("BaseOS/x86_64/os/.treeinfo"), b"[tree]");
    write(&s.join("BaseOS/x86_64/os/.discinfo"), b"disc");
    write(&s.join("BaseOS/x86_64/os/images/boot.iso"), b"iso");
    write(&s.join("BaseOS/x86_64/os/EFI/BOOT/grub.cfg"), b"grub");
    write(&s.join("BaseOS/x86_64/os/EULA"), b"eula");
    write(&s.join("Minimal/x86_64/iso/min.iso"), b"minimal");
    write(&s.join("extra_files.json"), b"{}");
    // Fixed mtimes everywhere (directories last, deepest first).
    let mut all: Vec<PathBuf> = Vec::new();
    let mut stack = vec![s.to_path_buf()];
    while let Some(p) = stack.pop() {
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
        all.push(p);
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, 1_600_000_000 + i as i64 * 7);
    }
    set_mtime(&s.join("touched"), 1_700_000_000);
}

/// A destination that already holds an older copy with every kind of difference.
fn build_dst(s: &Path, d: &Path) {
    fs::create_dir_all(d).unwrap();
    write(&d.join("plain"), b"plain file\n");
    let m = fs::metadata(s.join("plain")).unwrap();
    filetime::set_file_mtime(d.join("plain"), FileTime::from_last_modification_time(&m)).unwrap();
    // Same size and mtime, other bytes: the quick check keeps it (as rsync does).
    write(&d.join("same-size-diff"), b"BBBB");
    let m = fs::metadata(s.join("same-size-diff")).unwrap();
    filetime::set_file_mtime(
        d.join("same-size-diff"),
        FileTime::from_last_modification_time(&m),
    )
    .unwrap();
    write(&d.join("touched"), b"touched file");
    write(&d.join("perm-only"), b"perm");
    let m = fs::metadata(s.join("perm-only")).unwrap();
    filetime::set_file_mtime(
        d.join("perm-only"),
        FileTime::from_last_modification_time(&m),
    )
    .unwrap();
    chmod(&d.join("perm-only"), 0o644);
    symlink("old-target", d.join("changed-link")).unwrap();
    write(&d.join("x"), b"x was a file");
    write(&d.join("y/old"), b"y was a dir");
    write(&d.join("stale"), b"not in the source");
    write(&d.join("olddir/sub/f"), b"old directory");
    write(
        &d.join("olddir/Minimal/keep"),
        b"protected inside a deleted dir",
    );
    write(
        &d.join("Minimal/keep"),
        b"excluded, protected from --delete",
    );
    write(
        &d.join("BaseOS/x86_64/os/images/old.img"),
        b"excluded dir in dest",
    );
    write(&d.join("BaseOS/x86_64/os/Packages/p/pkg-0.rpm"), b"old rpm");
    // A destination temporary left by an interrupted run.
    write(&d.join(".plain.rl-tmp.99999999.0"), b"partial");
    // Destination hard links that the source does not have.
    write(&d.join("a/h2"), b"group two");
    fs::hard_link(d.join("a/h2"), d.join("a/h2b")).unwrap();
    fs::create_dir_all(d.join("empty")).unwrap();
    chmod(&d.join("empty"), 0o700);
}

const PUNGI_EXCLUDES: [&str; 13] = [
    "ppc",
    "images",
    "boot",
    ".discinfo",
    ".treeinfo",
    "EFI",
    "isolinux",
    "media.repo",
    "EULA",
    "LICENSE",
    "COMMUNITY-CHARTER",
    "extra_files.json",
    "Minimal",
];

struct Case {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    want: PathBuf,
    got: PathBuf,
}

/// Builds the source, and two identical destinations (fresh or pre-populated).
fn case(prepopulate: bool) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    build_src(&src);
    let want = tmp.path().join("want");
    let got = tmp.path().join("got");
    if prepopulate {
        let tpl = tmp.path().join("tpl");
        build_dst(&src, &tpl);
        sh("cp -a tpl want && cp -a tpl got", tmp.path());
        // The stale temporary is ours, not rsync's: rsync would keep it without --delete.
        fs::remove_file(want.join(".plain.rl-tmp.99999999.0")).unwrap();
    }
    Case {
        _tmp: tmp,
        src,
        want,
        got,
    }
}

fn rsync(src: &str, dst: &Path, extra: &[&str]) -> i32 {
    let out = Command::new("rsync")
        .arg("-rlptDSHog")
        .args(extra)
        .arg(src)
        .arg(dst)
        .output()
        .unwrap();
    out.status.code().unwrap_or(-1)
}

fn rl_sync(src: &str, dst: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let out = rl("rl-sync")
        .args(extra)
        .arg(src)
        .arg(dst)
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    (out.status.code().unwrap_or(-1), recs)
}

fn slash(p: &Path) -> String {
    format!("{}/", p.display())
}

fn no_temps_left(root: &Path) {
    for (k, _) in snapshot(root) {
        let name = Path::new(OsStr::from_bytes(&k))
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        assert!(
            !rl_core::fsx::is_temp_name(OsStr::from_bytes(&name)),
            "temporary left: {}",
            String::from_utf8_lossy(&k)
        );
    }
}

fn compare(prepopulate: bool, flags: &[&str]) -> Vec<Value> {
    if !have_peer("rsync") {
        return vec![];
    }
    let c = case(prepopulate);
    let rc_rsync = rsync(&slash(&c.src), &c.want, flags);
    let (rc, recs) = rl_sync(&slash(&c.src), &c.got, flags);
    if rc_rsync == 0 {
        assert_eq!(rc, 0, "rl-sync failed where rsync succeeded: {recs:?}");
    } else {
        assert_ne!(rc, 0, "rsync failed ({rc_rsync}), rl-sync did not");
    }
    assert_same_tree(&c.want, &c.got);
    no_temps_left(&c.got);
    // A second run changes nothing.
    let (rc2, recs2) = rl_sync(&slash(&c.src), &c.got, flags);
    if rc == 0 {
        assert_eq!(rc2, 0);
        assert_eq!(
            recs2.len(),
            2,
            "second run changed something: {:?}",
            &recs2[1..recs2.len() - 1]
        );
    }
    let sparse = fs::metadata(c.got.join("sparse")).unwrap();
    assert!(sparse.blocks() * 512 < sparse.len(), "sparse file filled");
    recs
}

#[test]
fn fresh_copy_matches_rsync() {
    let recs = compare(false, &[]);
    if recs.is_empty() {
        return;
    }
    assert!(of_event(&recs, "copy").len() > 10);
    assert!(!of_event(&recs, "link").is_empty());
    assert_eq!(summary(&recs)["errors"], 0);
}

#[test]
fn update_without_delete_matches_rsync() {
    // y is a non-empty directory in the destination: both tools refuse to replace it
    // without --delete (rsync exits 23, rl-sync 2) and leave the same tree.
    compare(true, &[]);
}

#[test]
fn delete_with_pungi_excludes_matches_rsync() {
    let mut flags = vec!["--delete"];
    for e in PUNGI_EXCLUDES {
        flags.push("--exclude");
        flags.push(e);
    }
    let recs = compare(true, &flags);
    if recs.is_empty() {
        return;
    }
    let deleted: Vec<String> = of_event(&recs, "delete")
        .iter()
        .map(|r| r["path"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(deleted.contains(&"stale".to_owned()), "{deleted:?}");
    assert!(!deleted.iter().any(|d| d.contains("Minimal")));
}

#[test]
fn exclude_from_and_anchored_patterns_match_rsync() {
    if !have_peer("rsync") {
        return;
    }
    let c = case(true);
    let list = c.src.parent().unwrap().join("excludes");
    fs::write(
        &list,
        "# pungi list\nimages/\n/BaseOS/x86_64/os/EULA\n*.iso\n**/p/*.rpm\n[xy]\nh?-top\n",
    )
    .unwrap();
    let flags = ["--delete", "--exclude-from", list.to_str().unwrap()];
    let rc_rsync = rsync(&slash(&c.src), &c.want, &flags);
    let (rc, _) = rl_sync(&slash(&c.src), &c.got, &flags);
    assert_eq!((rc_rsync, rc), (0, 0));
    assert_same_tree(&c.want, &c.got);
}

#[test]
fn chown_matches_rsync_when_root() {
    if !is_root() {
        eprintln!("skipping: --chown needs root");
        return;
    }
    compare(true, &["--delete", "--chown=10004:10005"]);
}

#[test]
fn source_without_trailing_slash_and_checksum_match_rsync() {
    if !have_peer("rsync") {
        return;
    }
    let c = case(true);
    let src = c.src.display().to_string();
    assert_eq!(rsync(&src, &c.want, &["--delete"]), 0);
    let (rc, _) = rl_sync(&src, &c.got, &["--delete"]);
    assert_eq!(rc, 0);
    // DST itself is not synchronized without the trailing slash: the stale temporary at its
    // top stays (it is not inside the transfer).
    fs::remove_file(c.got.join(".plain.rl-tmp.99999999.0")).unwrap();
    assert_same_tree(&c.want, &c.got);
    // --checksum notices same-size-same-mtime content differences.
    let c = case(true);
    assert_eq!(rsync(&slash(&c.src), &c.want, &["--delete", "-c"]), 0);
    let (rc, recs) = rl_sync(&slash(&c.src), &c.got, &["--delete", "--checksum"]);
    assert_eq!(rc, 0);
    assert_same_tree(&c.want, &c.got);
    assert!(
        of_event(&recs, "update")
            .iter()
            .any(|r| r["path"] == "same-size-diff")
    );
}

#[test]
fn rsync_order_gives_the_same_tree() {
    if !have_peer("rsync") {
        return;
    }
    let c = case(true);
    assert_eq!(rsync(&slash(&c.src), &c.want, &["--delete"]), 0);
    let (rc, _) = rl_sync(
        &slash(&c.src),
        &c.got,
        &["--delete", "--order", "rsync", "-j", "1"],
    );
    assert_eq!(rc, 0);
    assert_same_tree(&c.want, &c.got);
}

#[test]
fn dry_run_changes_nothing_and_reports_the_same() {
    let c = case(true);
    let before = snapshot(&c.got);
    let (rc, dry) = rl_sync(
        &slash(&c.src),
        &c.got,
        &["--delete", "--dry-run", "--itemize"],
    );
    assert_eq!(rc, 0);
    assert_eq!(before, snapshot(&c.got), "dry run changed the tree");
    assert!(dry[1..dry.len() - 1].iter().all(|r| r["dry_run"] == true));
    let (rc, real) = rl_sync(&slash(&c.src), &c.got, &["--delete", "--itemize"]);
    assert_eq!(rc, 0);
    let key = |recs: &[Value]| {
        let mut v: Vec<String> = recs[1..recs.len() - 1]
            .iter()
            .map(|r| format!("{} {} {}", r["event"], r["path"], r["itemize"]))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&dry), key(&real));
    assert!(
        real.iter()
            .any(|r| r["itemize"] == ">f+++++++++" && r["event"] == "copy")
    );
    assert!(
        real.iter()
            .any(|r| r["itemize"] == "*deleting  " && r["path"] == "stale")
    );
}

#[test]
fn names_come_back_from_records() {
    let c = case(false);
    let (rc, recs) = rl_sync(&slash(&c.src), &c.got, &[]);
    assert_eq!(rc, 0);
    let bad = of_event(&recs, "copy")
        .into_iter()
        .find(|r| r["path"].is_object())
        .expect("non-UTF-8 name as bytes");
    let p = rl_core::record::path_from_wire(&bad["path"]).unwrap();
    assert_eq!(p.as_os_str().as_bytes(), b"bad\xffutf8");
    assert!(
        of_event(&recs, "copy")
            .iter()
            .any(|r| r["path"] == "new\nline")
    );
}

#[test]
fn refusals_exit_3() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    fs::create_dir_all(t.join("empty")).unwrap();
    write(&t.join("src/f"), b"f");
    write(&t.join("dst/keep"), b"keep");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--delete".into(),
                format!("{}/", t.join("missing").display()),
                t.join("dst").display().to_string(),
            ],
            "missing",
        ),
        (
            vec![
                "--delete".into(),
                slash(&t.join("empty")),
                t.join("dst").display().to_string(),
            ],
            "empty",
        ),
        (
            vec![
                "--delete".into(),
                t.join("empty").display().to_string(),
                t.join("dst").display().to_string(),
            ],
            "empty without slash",
        ),
        (vec![slash(&t.join("src")), "/".into()], "root"),
        (
            vec![
                slash(&t.join("src")),
                t.join("src/sub").display().to_string(),
            ],
            "overlap",
        ),
        (
            vec![slash(&t.join("src")), slash(&t.join("src/.."))],
            "overlap",
        ),
        (
            vec![
                "--root-guard".into(),
                t.join("empty").display().to_string(),
                slash(&t.join("src")),
                t.join("dst").display().to_string(),
            ],
            "outside",
        ),
    ];
    for (args, what) in cases {
        let out = rl("rl-sync").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{what}: {args:?}");
        let recs = records(&out.stdout);
        assert_eq!(of_event(&recs, "refused").len(), 1, "{what}");
        assert!(!out.stderr.is_empty());
    }
    assert_eq!(fs::read(t.join("dst/keep")).unwrap(), b"keep");
    assert!(!t.join("src/sub").exists());
    // Inside the guard it runs.
    let out = rl("rl-sync")
        .args(["--root-guard", t.to_str().unwrap()])
        .arg(slash(&t.join("src")))
        .arg(t.join("dst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read(t.join("dst/f")).unwrap(), b"f");
    // A guard that does not exist yet (a production root before its first sync) still guards:
    // a dry run into it is allowed, a destination beside it is refused.
    let future = t.join("production");
    let out = rl("rl-sync")
        .args(["--dry-run", "--root-guard", future.to_str().unwrap()])
        .arg(slash(&t.join("src")))
        .arg(future.join("pub/9.7"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!future.exists(), "a dry run creates nothing");
    let out = rl("rl-sync")
        .args(["--dry-run", "--root-guard", future.to_str().unwrap()])
        .arg(slash(&t.join("src")))
        .arg(t.join("production-other"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // A source that is a symlink loop, a destination that is a file: errors, not panics.
    symlink("loop", t.join("loop")).unwrap();
    let out = rl("rl-sync")
        .arg(slash(&t.join("loop")))
        .arg(t.join("dst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
    let out = rl("rl-sync")
        .arg(slash(&t.join("src")))
        .arg(t.join("dst/keep"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    // Missing source without --delete is an error; remote sources are not supported.
    let out = rl("rl-sync")
        .arg(slash(&t.join("missing")))
        .arg(t.join("dst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rl("rl-sync")
        .arg("mirror.example.org:/srv/x")
        .arg(t.join("dst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("remote sources"));
    let out = rl("rl-sync")
        .arg(slash(&t.join("src")))
        .arg("mirror.example.org:/")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let out = rl("rl-sync")
        .args(["--root-guard", "/srv/mirror"])
        .arg(slash(&t.join("src")))
        .arg("mirror.example.org:/srv/other")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn unreadable_source_file_is_an_error_and_blocks_deletions() {
    if is_root() {
        eprintln!("skipping: root reads everything");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write(&t.join("src/secret"), b"x");
    chmod(&t.join("src/secret"), 0);
    write(&t.join("dst/stale"), b"x");
    let out = rl("rl-sync")
        .args(["--delete"])
        .arg(slash(&t.join("src")))
        .arg(t.join("dst"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(t.join("dst/stale").exists(), "deleted despite an error");
}

/// A repository whose repomd.xml names repodata files which name packages.
fn write_repo(root: &Path, version: u32, packages: usize) {
    let os = root.join("BaseOS/x86_64/os");
    let mut primary = String::new();
    for i in 0..packages {
        let name = format!("Packages/p/pkg-{version}-{i}.rpm");
        write(&os.join(&name), &vec![b'x'; 16 * 1024 + i]);
        primary.push_str(&name);
        primary.push('\n');
    }
    let primary_name = format!("repodata/{version}-primary.xml");
    write(&os.join(&primary_name), primary.as_bytes());
    write(
        &os.join("repodata/repomd.xml"),
        format!("{primary_name}\n").as_bytes(),
    );
}

/// Whether the destination is consistent now: every file repomd.xml names exists, and every
/// package those files name. `None` when repomd.xml changed during the check.
fn consistent(os: &Path) -> Option<bool> {
    let before = fs::read(os.join("repodata/repomd.xml")).ok()?;
    let mut ok = true;
    for line in String::from_utf8_lossy(&before).lines() {
        match fs::read(os.join(line)) {
            Ok(primary) => {
                for pkg in String::from_utf8_lossy(&primary).lines() {
                    if !os.join(pkg).exists() {
                        ok = false;
                    }
                }
            }
            Err(_) => ok = false,
        }
    }
    let after = fs::read(os.join("repodata/repomd.xml")).ok()?;
    if after != before { None } else { Some(ok) }
}

#[test]
fn publish_order_never_shows_a_repomd_naming_a_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().to_path_buf();
    write_repo(&t.join("src"), 2, 400);
    write_repo(&t.join("dst"), 1, 400);
    let os = t.join("dst/BaseOS/x86_64/os");
    // Same size as the new one: an older mtime makes the quick check see the change.
    set_mtime(&os.join("repodata/repomd.xml"), 1_600_000_000);
    assert_eq!(consistent(&os), Some(true));
    let mut child = tool("rl-sync")
        .args(["--delete", "--force-delete", "-j", "2"])
        .arg(slash(&t.join("src")))
        .arg(t.join("dst"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut { stdout }, &mut v).unwrap();
        v
    });
    let mut checks = 0;
    let mut bad = 0;
    loop {
        match consistent(&os) {
            Some(false) => bad += 1,
            Some(true) => checks += 1,
            None => {}
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
    let recs = records(&reader.join().unwrap());
    assert_eq!(bad, 0, "inconsistent states seen ({checks} consistent)");
    assert_eq!(consistent(&os), Some(true));
    assert!(
        fs::read_to_string(os.join("repodata/repomd.xml"))
            .unwrap()
            .starts_with("repodata/2-")
    );
    // And the record order is the publish order: packages, repodata, repomd.xml, deletions.
    let phase = |r: &Value| -> u8 {
        let p = r["path"].as_str().unwrap_or("");
        match r["event"].as_str().unwrap_or("") {
            "delete" => 3,
            _ if p.ends_with("repomd.xml") => 2,
            _ if p.contains("repodata/") => 1,
            "copy" | "update" => 0,
            _ => 4,
        }
    };
    let phases: Vec<u8> = recs.iter().map(phase).filter(|&p| p < 4).collect();
    assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{phases:?}");
    assert_eq!(of_event(&recs, "delete").len(), 401);
    no_temps_left(&t.join("dst"));
}

#[test]
fn files_in_place_are_replaced_atomically_and_stale_temps_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    write(&t.join("src/f"), b"new content");
    write(&t.join("dst/f"), b"old");
    write(&t.join("dst/.f.rl-tmp.99999999.5"), b"half");
    // An outside hard link to the destination file must keep the old content (rename, not
    // write-in-place).
    fs::hard_link(t.join("dst/f"), t.join("outside")).unwrap();
    let (rc, recs) = rl_sync(&slash(&t.join("src")), &t.join("dst"), &[]);
    assert_eq!(rc, 0);
    assert_eq!(fs::read(t.join("dst/f")).unwrap(), b"new content");
    assert_eq!(fs::read(t.join("outside")).unwrap(), b"old");
    assert!(!t.join("dst/.f.rl-tmp.99999999.5").exists());
    assert_eq!(of_event(&recs, "update").len(), 1);
}

/// An rsync daemon on 127.0.0.1 serving modules `want` and `got`; killed on drop.
struct Daemon {
    child: std::process::Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(dir: &Path, want: &Path, got: &Path) -> Daemon {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ids = if is_root() { "uid = 0\ngid = 0\n" } else { "" };
    let conf = dir.join("rsyncd.conf");
    fs::write(
        &conf,
        format!(
            "use chroot = no\nmunge symlinks = no\npid file = {}\n[want]\npath = {}\nread only = no\n{ids}[got]\npath = {}\nread only = no\n{ids}",
            dir.join("rsyncd.pid").display(),
            want.display(),
            got.display(),
        ),
    )
    .unwrap();
    let child = Command::new("rsync")
        .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--config={}", conf.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Daemon { child, port }
}

#[test]
fn remote_destination_goes_through_rsync_daemon() {
    if !have_peer("rsync") {
        return;
    }
    let c = case(true);
    let mut flags = vec!["--delete"];
    for e in PUNGI_EXCLUDES {
        flags.push("--exclude");
        flags.push(e);
    }
    // The reference is real rsync through the same daemon (a non-chroot daemon strips the
    // leading slash of absolute symlinks, for both).
    let daemon = start_daemon(c.src.parent().unwrap(), &c.want, &c.got);
    let want_url = format!("rsync://127.0.0.1:{}/want/", daemon.port);
    assert_eq!(rsync(&slash(&c.src), Path::new(&want_url), &flags), 0);
    let url = format!("rsync://127.0.0.1:{}/got/", daemon.port);
    flags.push("--itemize");
    let (rc, recs) = rl_sync(&slash(&c.src), Path::new(&url), &flags);
    assert_eq!(rc, 0, "{recs:?}");
    // Our stale temporary is just an extraneous file to rsync: --delete removed it.
    assert_same_tree(&c.want, &c.got);
    assert!(
        of_event(&recs, "copy")
            .iter()
            .any(|r| r["path"] == "new\nline" && r["itemize"] == "<f+++++++++")
    );
    assert!(
        of_event(&recs, "delete")
            .iter()
            .any(|r| r["path"] == "stale")
    );
    assert!(of_event(&recs, "link").len() >= 2);
    // Publish order: the repomd.xml copy comes after every package copy.
    let pos = |pred: &dyn Fn(&Value) -> bool| recs.iter().position(pred);
    let repomd = pos(&|r| r["path"] == "BaseOS/x86_64/os/repodata/repomd.xml").unwrap();
    let rpm = pos(&|r| r["path"] == "BaseOS/x86_64/os/Packages/p/pkg-1.rpm").unwrap();
    assert!(rpm < repomd);
    // A second run changes nothing.
    let (rc, recs) = rl_sync(&slash(&c.src), Path::new(&url), &flags);
    assert_eq!(rc, 0);
    assert_eq!(recs.len(), 2, "{recs:?}");
}

#[test]
fn killed_run_leaves_no_partial_file_and_next_run_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for i in 0..40 {
        let data: Vec<u8> = (0..(2 << 20)).map(|k| (k * 7 + i) as u8).collect();
        write(&t.join(format!("src/d{}/f{i}", i % 4)), &data);
    }
    let mut child = tool("rl-sync")
        .args(["-j", "1"])
        .arg(slash(&t.join("src")))
        .arg(t.join("dst"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once it has copied a few files.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut copied = 0;
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
        if line.contains("\"copy\"") {
            copied += 1;
            if copied == 3 {
                break;
            }
        }
        line.clear();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Every file under its final name is complete.
    for (k, v) in snapshot(&t.join("dst")) {
        let name = Path::new(OsStr::from_bytes(&k));
        if v.kind == "file" && !rl_core::fsx::is_temp_name(name.file_name().unwrap()) {
            assert_eq!(
                v.content,
                fs::read(t.join("src").join(name)).unwrap(),
                "partial file under its final name: {name:?}"
            );
        }
    }
    // The next run converges and leaves no temporaries.
    let (rc, _) = rl_sync(&slash(&t.join("src")), &t.join("dst"), &[]);
    assert_eq!(rc, 0);
    no_temps_left(&t.join("dst"));
    let src = snapshot(&t.join("src"));
    let dst = snapshot(&t.join("dst"));
    assert_eq!(
        src.keys().collect::<Vec<_>>(),
        dst.keys().collect::<Vec<_>>()
    );
    for (k, v) in &src {
        assert_eq!(v.content, dst[k].content);
        // Times compare in whole seconds, as rsync's: a directory the killed run left within
        // the source's second is already up to date (the root, often).
        let (want, got) = if v.kind == "dir" {
            ((v.mtime.0, 0), (dst[k].mtime.0, 0))
        } else {
            (v.mtime, dst[k].mtime)
        };
        assert_eq!(want, got, "mtime of {:?}", String::from_utf8_lossy(k));
    }
}
