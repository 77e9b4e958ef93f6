//! rl-hardlink integration tests: the same partition of files into inodes as util-linux
//! `hardlink` on a tree full of traps, safety (read-only directory, file changed before the
//! link), dry run, `--from`, and bad input.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use filetime::{FileTime, set_file_mtime};

use crate::common::*;

const TOOLKIT_EXCLUDES: [&str; 6] = [
    "-x",
    r".*\.xml.*",
    "-x",
    r".*\.treeinfo",
    "-x",
    r".*\.discinfo",
];
const T0: i64 = 1_700_000_000;

fn put(root: &Path, rel: impl AsRef<OsStr>, data: &[u8], mode: u32, mtime: i64, nsec: u32) {
    let p = root.join(rel.as_ref());
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    set_file_mtime(&p, FileTime::from_unix_time(mtime, nsec)).unwrap();
}

fn body(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[2] ^ seed)
        .collect()
}

/// A tree with duplicates and every trap the issue lists.
fn fixture(root: &Path) {
    let pkg = body(1, 30_000);
    // Plain duplicates in three places (two links).
    for d in ["x86_64", "aarch64", "ppc64le"] {
        put(
            root,
            format!("BaseOS/{d}/Packages/a.noarch.rpm"),
            &pkg,
            0o644,
            T0,
            0,
        );
    }
    // Differ only in mode: m1 alone, m2+m3 together.
    let m = body(2, 5000);
    put(root, "mode/m1", &m, 0o644, T0, 0);
    put(root, "mode/m2", &m, 0o600, T0, 0);
    put(root, "mode/m3", &m, 0o600, T0, 0);
    // Differ only in mtime (whole seconds): t2 alone; t3 differs in nanoseconds only → linked.
    let t = body(3, 9000);
    put(root, "time/t1", &t, 0o644, T0, 0);
    put(root, "time/t2", &t, 0o644, T0 + 3600, 0);
    put(root, "time/t3", &t, 0o644, T0, 123_456_789);
    // One byte differs at the end (small and large files), and in the middle of a large file
    // (same head and tail: only the full comparison tells).
    let mut e2 = body(4, 3000);
    let e1 = e2.clone();
    *e2.last_mut().unwrap() ^= 1;
    put(root, "end/e1", &e1, 0o644, T0, 0);
    put(root, "end/e2", &e2, 0o644, T0, 0);
    let big = body(5, 100_000);
    let mut big_end = big.clone();
    *big_end.last_mut().unwrap() ^= 1;
    let mut big_mid = big.clone();
    big_mid[50_000] ^= 1;
    put(root, "end/big1", &big, 0o644, T0, 0);
    put(root, "end/big2", &big_end, 0o644, T0, 0);
    put(root, "end/big3", &big_mid, 0o644, T0, 0);
    put(root, "end/big4", &big, 0o644, T0, 0);
    // Pairs (the only two files of their size) compared end first: one differing only in its
    // first byte, one only in its last; neither may be linked.
    let s1 = body(13, 21_000);
    let mut s2 = s1.clone();
    s2[0] ^= 1;
    put(root, "pair/start1", &s1, 0o644, T0, 0);
    put(root, "pair/start2", &s2, 0o644, T0, 0);
    let p1 = body(14, 22_000);
    let mut p2 = p1.clone();
    *p2.last_mut().unwrap() ^= 1;
    put(root, "pair/end1", &p1, 0o644, T0, 0);
    put(root, "pair/end2", &p2, 0o644, T0, 0);
    // A large group of same-size files with equal head and tail: 5 identical, 5 different.
    let g = body(6, 20_000);
    for i in 0..10 {
        let mut data = g.clone();
        if i % 2 == 1 {
            data[10_000] = i as u8;
        }
        put(root, format!("group/g{i:02}"), &data, 0o644, T0, 0);
    }
    // Empty files are never linked.
    for i in 0..3 {
        put(root, format!("empty/z{i}"), b"", 0o644, T0, 0);
    }
    // Excluded names, identical across arches.
    let meta = body(7, 4000);
    for d in ["x86_64", "aarch64"] {
        put(
            root,
            format!("BaseOS/{d}/repodata/abc-primary.xml.gz"),
            &meta,
            0o644,
            T0,
            0,
        );
        put(
            root,
            format!("BaseOS/{d}/repodata/repomd.xml"),
            &body(8, 900),
            0o644,
            T0,
            0,
        );
        put(
            root,
            format!("BaseOS/{d}/.treeinfo"),
            b"[general]\n",
            0o644,
            T0,
            0,
        );
        put(
            root,
            format!("BaseOS/{d}/.discinfo"),
            b"1700000000\n",
            0o644,
            T0,
            0,
        );
        put(
            root,
            format!("BaseOS/{d}/foo.xml.d/plain"),
            &body(9, 700),
            0o644,
            T0,
            0,
        );
    }
    put(root, "plain-copy", &body(9, 700), 0o644, T0, 0);
    // Symbolic links are never followed or replaced.
    std::os::unix::fs::symlink("BaseOS/x86_64/Packages/a.noarch.rpm", root.join("sym")).unwrap();
    std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
    std::os::unix::fs::symlink(".", root.join("mode/self")).unwrap();
    // Already linked files plus one more copy.
    let h = body(10, 12_000);
    put(root, "linked/h1", &h, 0o644, T0, 0);
    fs::hard_link(root.join("linked/h1"), root.join("linked/h2")).unwrap();
    put(root, "linked/h3", &h, 0o644, T0, 0);
    // Awkward names.
    let n = body(11, 800);
    put(root, "names/with space", &n, 0o644, T0, 0);
    put(root, "names/new\nline", &n, 0o644, T0, 0);
    put(
        root,
        OsStr::from_bytes(b"names/bad\xffutf8"),
        &n,
        0o644,
        T0,
        0,
    );
    // A fifo is not a regular file.
    sh("mkfifo names/fifo", root);
    // Owners differ (only root can make that).
    if is_root() {
        let o = body(12, 6000);
        put(root, "owner/o1", &o, 0o644, T0, 0);
        put(root, "owner/o2", &o, 0o644, T0, 0);
        put(root, "owner/o3", &o, 0o644, T0, 0);
        sh("chown 1234:1234 owner/o2 && chown 1234 owner/o3", root);
    }
}

/// The partition of regular files into inodes, as sets of relative paths.
fn partition(root: &Path) -> BTreeSet<BTreeSet<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, map: &mut HashMap<(u64, u64), BTreeSet<Vec<u8>>>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            if m.is_dir() {
                walk(root, &e.path(), map);
            } else if m.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec();
                map.entry((m.dev(), m.ino())).or_default().insert(rel);
            }
        }
    }
    let mut map = HashMap::new();
    walk(root, root, &mut map);
    map.into_values().collect()
}

fn linked_sets(p: &BTreeSet<BTreeSet<Vec<u8>>>) -> Vec<Vec<String>> {
    p.iter()
        .filter(|s| s.len() > 1)
        .map(|s| {
            s.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        })
        .collect()
}

/// Two copies of the fixture (cp -a keeps links, modes, times, owners).
fn two_copies() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    fixture(&base.join("t0"));
    sh("cp -a t0 peer && cp -a t0 ours", &base);
    (dir, base.join("peer"), base.join("ours"))
}

fn hardlink_peer(args: &[&str], dir: &Path) -> String {
    let out = Command::new("hardlink")
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// "Linked: N files" from util-linux's summary.
fn peer_linked(stats: &str) -> u64 {
    stats
        .lines()
        .find(|l| l.starts_with("Linked:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("Linked line")
}

fn same_result_as_util_linux(extra: &[&str]) {
    if !have_peer("hardlink") {
        return;
    }
    let (_dir, peer, ours) = two_copies();
    let mut args: Vec<&str> = TOOLKIT_EXCLUDES.to_vec();
    args.extend_from_slice(extra);
    let stats = hardlink_peer(&args, &peer);
    let out = rl("rl-hardlink").args(&args).arg(&ours).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    let (pp, po) = (partition(&peer), partition(&ours));
    assert_eq!(
        linked_sets(&po),
        linked_sets(&pp),
        "flags {extra:?}: rl-hardlink (left) and hardlink (right) differ"
    );
    let s = summary(&recs);
    // Same partition, but util-linux's count depends on inode numbers: when it keeps the single
    // copy linked/h3 instead of the two names linked/h1+h2 it replaces one name more.
    let (mine, theirs) = (s["linked"].as_u64().unwrap(), peer_linked(&stats));
    assert!(
        mine == theirs || mine + 1 == theirs,
        "flags {extra:?}: linked {mine}, util-linux {stats}"
    );
    assert_eq!(
        of_event(&recs, "link").len() as u64,
        s["linked"].as_u64().unwrap()
    );
    // The tree must have something to link under every flag set tested.
    assert!(s["linked"].as_u64().unwrap() > 0);
    // No temporary is left behind; symlinks are still symlinks.
    assert!(
        fs::symlink_metadata(ours.join("sym"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let leftovers = sh("find . -name '*.rl-tmp.*' | wc -l", &ours);
    assert_eq!(String::from_utf8_lossy(&leftovers).trim(), "0");
}

#[test]
fn default_criteria_match_util_linux() {
    same_result_as_util_linux(&[]);
}

#[test]
fn relaxed_and_tightened_criteria_match_util_linux() {
    for flags in [
        &["-t"][..],
        &["-p"],
        &["-o"],
        &["-c"],
        &["-f"],
        &["-p", "-t"],
        &["-s", "10K"],
        &["-S", "4000"],
        &["-i", "names"],
        &["-c", "-s", "0"],
    ] {
        same_result_as_util_linux(flags);
    }
}

#[test]
fn second_run_links_nothing_and_reads_little() {
    let (_dir, _peer, ours) = two_copies();
    rl("rl-hardlink")
        .args(TOOLKIT_EXCLUDES)
        .arg(&ours)
        .assert()
        .success();
    let before = partition(&ours);
    let out = rl("rl-hardlink")
        .args(TOOLKIT_EXCLUDES)
        .arg(&ours)
        .output()
        .unwrap();
    assert!(out.status.success());
    let recs = records(&out.stdout);
    let s = summary(&recs);
    assert_eq!(s["linked"], 0);
    // Only the pair with equal head and tail (end/big1 vs big3) and the group's look-alikes
    // (four, split by a full digest after one round) are compared again; linked files are
    // never re-read.
    assert!(s["compared"].as_u64().unwrap() <= 5, "{s}");
    assert_eq!(partition(&ours), before);
}

#[test]
fn records_name_file_target_and_size() {
    let (_dir, _peer, ours) = two_copies();
    let out = rl("rl-hardlink")
        .args(TOOLKIT_EXCLUDES)
        .arg(&ours)
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    let links = of_event(&recs, "link");
    let a = links
        .iter()
        .find(|r| r["path"] == "BaseOS/x86_64/Packages/a.noarch.rpm")
        .expect("x86_64 copy replaced");
    // Same mtime: the smallest path (aarch64) survives.
    assert_eq!(a["target"], "BaseOS/aarch64/Packages/a.noarch.rpm");
    assert_eq!(a["size"], 30_000);
    assert_eq!(a["root"], ours.to_str().unwrap());
    // Newest mtime survives: time/t3 (nanoseconds later) over time/t1.
    let t = links
        .iter()
        .find(|r| r["path"] == "time/t1")
        .expect("t1 linked");
    assert_eq!(t["target"], "time/t3");
    // A non-UTF-8 name travels as bytes.
    assert!(
        links
            .iter()
            .any(|r| r["path"].get("bytes").is_some() || r["target"].get("bytes").is_some())
    );
    let s = summary(&recs);
    assert!(s["bytes_saved"].as_u64().unwrap() >= 60_000);
    assert_eq!(s["errors"], 0);
}

#[test]
fn dry_run_changes_nothing_and_reports_the_same() {
    let (_dir, peer, ours) = two_copies();
    let before = partition(&ours);
    let dry = rl("rl-hardlink")
        .args(TOOLKIT_EXCLUDES)
        .arg("--dry-run")
        .arg(&ours)
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert_eq!(partition(&ours), before);
    let dry = records(&dry.stdout);
    assert!(of_event(&dry, "link").iter().all(|r| r["dry_run"] == true));
    let real = rl("rl-hardlink")
        .args(TOOLKIT_EXCLUDES)
        .arg(&peer)
        .output()
        .unwrap();
    let real = records(&real.stdout);
    let key = |rs: &[serde_json::Value]| {
        let mut v: Vec<String> = of_event(rs, "link")
            .iter()
            .map(|r| format!("{} {}", r["path"], r["target"]))
            .collect();
        v.sort();
        v
    };
    assert_eq!(key(&dry), key(&real));
    assert_eq!(summary(&dry)["linked"], summary(&real)["linked"]);
    assert_eq!(summary(&dry)["bytes_saved"], summary(&real)["bytes_saved"]);
}

/// Runs rl-hardlink on `root`; as root, drops to nobody (via setpriv) after giving the tree to
/// nobody, so that permissions mean something.
fn run_unprivileged(dir: &Path, root: &Path, args: &[&str]) -> std::process::Output {
    if !is_root() {
        return rl("rl-hardlink").args(args).arg(root).output().unwrap();
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    sh(&format!("chown -R 65534:65534 '{}'", root.display()), dir);
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin_path("rl-hardlink"))
        .args(args)
        .arg(root)
        .output()
        .unwrap()
}

#[test]
fn read_only_directory_is_an_error_and_the_tree_stays_intact() {
    if is_root() && !have_peer("setpriv") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap().join("t");
    put(&root, "a/f", b"identical content", 0o644, T0, 0);
    put(&root, "ro/f", b"identical content", 0o644, T0, 0);
    put(&root, "ro/sub/g", b"another pair", 0o644, T0, 0);
    put(&root, "rw/g", b"another pair", 0o644, T0, 0);
    fs::set_permissions(root.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    let before = partition(&root);
    let out = run_unprivileged(dir.path(), &root, &[]);
    fs::set_permissions(root.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    let recs = records(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    let errs = of_event(&recs, "error");
    assert_eq!(errs.len(), 1, "{recs:?}");
    assert_eq!(errs[0]["path"], "ro/f");
    assert_eq!(errs[0]["op"], "link");
    assert_eq!(errs[0]["kind"], "io.permission_denied");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ro/f"));
    // The other pair (victim rw/g in a writable directory) is still linked.
    assert_eq!(summary(&recs)["linked"], 1);
    let after = partition(&root);
    assert_eq!(after.len(), before.len() - 1);
    assert_eq!(fs::read(root.join("ro/f")).unwrap(), b"identical content");
    assert_eq!(
        fs::read_dir(root.join("ro")).unwrap().count(),
        2,
        "no temporary left"
    );
    let ino = |p: &str| fs::metadata(root.join(p)).unwrap().ino();
    assert_ne!(ino("a/f"), ino("ro/f"));
    assert_eq!(ino("ro/sub/g"), ino("rw/g"));
}

#[test]
fn file_changed_after_comparison_is_not_linked() {
    for hook in ["echo more >> b", "touch -d @1600000000 b"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        put(&root, "a", b"same bytes", 0o644, T0, 0);
        put(&root, "b", b"same bytes", 0o644, T0, 0);
        let out = rl("rl-hardlink")
            .arg(&root)
            .env(
                "RL_HARDLINK_TEST_HOOK",
                format!("cd '{}' && {hook}", root.display()),
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let recs = records(&out.stdout);
        let skips = of_event(&recs, "skip");
        assert_eq!(skips.len(), 1, "{hook}: {recs:?}");
        assert_eq!(skips[0]["path"], "b");
        assert_eq!(skips[0]["reason"], "changed");
        assert_eq!(summary(&recs)["linked"], 0);
        let (ma, mb) = (
            fs::metadata(root.join("a")).unwrap(),
            fs::metadata(root.join("b")).unwrap(),
        );
        assert_ne!(ma.ino(), mb.ino(), "{hook}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 2, "no temporary left");
    }
}

#[test]
fn from_upstream_replaces_only_named_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for p in ["a/f", "b/f", "c/f"] {
        put(&root, p, b"content of f", 0o644, T0, 0);
    }
    let r = root.to_str().unwrap();
    let input = format!(
        "{{\"event\":\"start\",\"tool\":\"rl-sync\"}}\n\
         {{\"event\":\"copy\",\"root\":\"{r}\",\"path\":\"c/f\"}}\n\
         {{\"event\":\"delete\",\"root\":\"{r}\",\"path\":\"gone\"}}\n\
         {{\"event\":\"error\",\"root\":\"{r}\",\"path\":\"x\",\"op\":\"copy\",\"kind\":\"io.other\",\"message\":\"m\"}}\n\
         {{\"event\":\"summary\",\"tool\":\"rl-sync\"}}\n"
    );
    let out = rl("rl-hardlink")
        .args(["--from", "-"])
        .arg(&root)
        .write_stdin(input.clone())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    let links = of_event(&recs, "link");
    assert_eq!(links.len(), 1, "{recs:?}");
    assert_eq!(links[0]["path"], "c/f");
    assert_eq!(links[0]["target"], "a/f");
    assert_eq!(
        of_event(&recs, "error").len(),
        1,
        "upstream error passed through"
    );
    assert_eq!(summary(&recs)["upstream_errors"], 1);
    let ino = |p: &str| fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("a/f"), ino("c/f"));
    assert_ne!(ino("a/f"), ino("b/f"));
    // Without DIR the records' roots are scanned.
    put(&root, "d/f", b"content of f", 0o644, T0, 0);
    let input2 = input.replace("c/f", "d/f");
    let out = rl("rl-hardlink")
        .args(["--from", "-", "--pass"])
        .write_stdin(input2)
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "link")[0]["path"], "d/f");
    assert_eq!(
        of_event(&recs, "copy").len(),
        1,
        "--pass passes records through"
    );
    assert_eq!(ino("a/f"), ino("d/f"));
}

#[test]
fn bad_input_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    // Missing directory: error record, status 2.
    let out = rl("rl-hardlink")
        .arg(root.join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error")[0]["kind"], "io.not_found");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    // Bad regex and bad size: usage errors, nothing on stdout.
    for args in [&["-x", "("][..], &["-s", "12Q"], &[]] {
        let out = rl("rl-hardlink").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
    // A file instead of a directory.
    put(&root, "file", b"x", 0o644, T0, 0);
    let out = rl("rl-hardlink").arg(root.join("file")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Corrupt upstream input.
    let out = rl("rl-hardlink")
        .args(["--from", "-"])
        .arg(&root)
        .write_stdin("{\"event\":\"copy\"}\nnot json\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert!(
        of_event(&recs, "error")[0]["message"]
            .as_str()
            .unwrap()
            .contains("line 2")
    );
    // An unreadable file is an error record; the rest is still linked.
    put(&root, "u/a", b"readable twin", 0o644, T0, 0);
    put(&root, "u/b", b"readable twin", 0o644, T0, 0);
    put(&root, "u/c", b"readable twin", 0o000, T0, 0);
    let out = rl("rl-hardlink")
        .arg("-p")
        .arg(root.join("u"))
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    assert_eq!(summary(&recs)["linked"], if is_root() { 2 } else { 1 });
    if !is_root() {
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(of_event(&recs, "error")[0]["path"], "c");
    }
}

#[test]
fn extended_attributes_matter_only_with_capital_x() {
    if !have_peer("hardlink") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let t0 = base.join("t0");
    for n in ["x1", "x2", "x3", "x4"] {
        put(&t0, n, b"same bytes, other attributes", 0o644, T0, 0);
    }
    for (n, v) in [("x1", "a"), ("x2", "a"), ("x3", "b")] {
        let set = rustix::fs::lsetxattr(
            t0.join(n),
            "user.rl",
            v.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        );
        if set.is_err() {
            eprintln!("skipping: this filesystem has no user extended attributes");
            return;
        }
    }
    for (flags, linked_sets_expected) in [(&[][..], 1), (&["-X"][..], 1)] {
        sh("rm -rf peer ours && cp -a t0 peer && cp -a t0 ours", &base);
        hardlink_peer(flags, &base.join("peer"));
        let out = rl("rl-hardlink")
            .args(flags)
            .arg(base.join("ours"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let (pp, po) = (partition(&base.join("peer")), partition(&base.join("ours")));
        assert_eq!(linked_sets(&po), linked_sets(&pp), "flags {flags:?}");
        assert_eq!(linked_sets(&po).len(), linked_sets_expected);
        let biggest = linked_sets(&po)[0].len();
        assert_eq!(
            biggest,
            if flags.is_empty() { 4 } else { 2 },
            "flags {flags:?}"
        );
    }
}

#[test]
fn a_filesystem_root_is_refused_before_anything_is_read() {
    for args in [
        vec!["-n", "/"],
        vec!["-n", "/proc"],
        vec!["-n", "--allow-fs-root", "/"],
    ] {
        let out = rl("rl-hardlink").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let recs = records(&out.stdout);
        assert_eq!(of_event(&recs, "refused").len(), 1, "{args:?}");
        assert_eq!(
            recs.len(),
            3,
            "{args:?}: start, refused, summary: nothing scanned"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("rl-hardlink: refused: the tree to link "),
            "{err}"
        );
    }
    // A root named by an upstream record is refused the same way.
    let out = rl("rl-hardlink")
        .args(["-n", "--from", "-"])
        .write_stdin("{\"event\":\"copy\",\"root\":\"/\",\"path\":\"etc/hostname\"}\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the root directory /"));
}
