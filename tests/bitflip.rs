//! rl-bitflip integration tests: stage / publish / status on small trees, the guard rails
//! (minimum age, symlinks, `/`, roots it did not stage), idempotence, `--dry-run`, and the effect
//! on create-filelist's type markers computed by a test-side model of its rule.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

const TOOL: &str = "rl-bitflip";

/// A small production tree: `pub/9.5` (released) and `pub/9.6` (the new release), all 0755/0644.
struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
    pub_dir: PathBuf,
    root: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let pub_dir = base.join("pub");
    let root = pub_dir.join("9.6");
    for rel in [
        "9.5/BaseOS/x86_64/os/repodata",
        "9.6/BaseOS/x86_64/os/repodata",
        "9.6/BaseOS/x86_64/os/Packages/b",
        "9.6/isos/x86_64",
    ] {
        fs::create_dir_all(pub_dir.join(rel)).unwrap();
    }
    for (rel, body) in [
        ("9.5/BaseOS/x86_64/os/repodata/repomd.xml", "old"),
        ("9.6/BaseOS/x86_64/os/repodata/repomd.xml", "new"),
        ("9.6/BaseOS/x86_64/os/Packages/b/b-2.0.rpm", "rpm"),
        ("9.6/isos/x86_64/CHECKSUM", "sums"),
    ] {
        fs::write(pub_dir.join(rel), body).unwrap();
    }
    symlink("9.5", pub_dir.join("9")).unwrap();
    set_modes(&pub_dir);
    Tree {
        _dir: dir,
        base,
        pub_dir,
        root,
    }
}

/// 0755 for directories, 0644 for files, independent of the umask.
fn set_modes(dir: &Path) {
    for e in walk(dir) {
        let meta = fs::symlink_metadata(&e).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        let m = if meta.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&e, fs::Permissions::from_mode(m)).unwrap();
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every path below `dir` (not following symlinks), sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let is_dir = fs::symlink_metadata(&p).unwrap().is_dir();
        out.push(p.clone());
        if is_dir {
            out.extend(walk(&p));
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

fn ctime(p: &Path) -> (i64, i64) {
    let m = fs::symlink_metadata(p).unwrap();
    (m.ctime(), m.ctime_nsec())
}

/// Mode and ctime of every entry below `dir` and of `dir` itself.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, (i64, i64))> {
    let mut all = walk(dir);
    all.push(dir.to_path_buf());
    all.into_iter()
        .map(|p| (p.clone(), (mode(&p), ctime(&p))))
        .collect()
}

fn run(args: &[&OsStr]) -> (Option<i32>, Vec<Value>, String) {
    let out = rl(TOOL).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let recs = records(&out.stdout);
    (out.status.code(), recs, stderr)
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn stage(root: &Path, extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let mut a = vec![os("stage"), root.as_os_str()];
    a.extend(extra.iter().map(|s| os(s)));
    run(&a)
}

fn publish(root: &Path, extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let mut a = vec![os("publish"), root.as_os_str()];
    a.extend(extra.iter().map(|s| os(s)));
    run(&a)
}

fn status(roots: &[&Path], extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let mut a = vec![os("status")];
    a.extend(roots.iter().map(|r| r.as_os_str()));
    a.extend(extra.iter().map(|s| os(s)));
    run(&a)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn one<'a>(recs: &'a [Value], event: &str) -> &'a Value {
    let found = of_event(recs, event);
    assert_eq!(found.len(), 1, "one {event} record expected in {recs:?}");
    found[0]
}

/// The create-filelist type markers (reference §1.4, §1.6) of every listed entry below `top`,
/// with its MODTIME = max(mtime, ctime): `l`/`d`/`f`, plus `-` when the entry itself lacks o+r
/// (lstat), else `*` when it lies under a directory without o+r. Entries whose target is not
/// group-readable (or dangling) are not listed and not entered. The real list comes from
/// rl-filelist, which is merged separately; this model pins what the flip must do to it.
fn filelist_markers(top: &Path) -> BTreeMap<String, (String, i64)> {
    fn rec(dir: &Path, top: &Path, restricted: bool, out: &mut BTreeMap<String, (String, i64)>) {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let Ok(target) = fs::metadata(&p) else {
                continue;
            };
            if target.mode() & 0o040 == 0 {
                continue;
            }
            let l = fs::symlink_metadata(&p).unwrap();
            let base = if l.file_type().is_symlink() {
                "l"
            } else if l.is_dir() {
                "d"
            } else {
                "f"
            };
            let readable = l.mode() & 0o004 != 0;
            let marker = if !readable {
                "-"
            } else if restricted {
                "*"
            } else {
                ""
            };
            let rel = p.strip_prefix(top).unwrap().to_string_lossy().into_owned();
            out.insert(rel, (format!("{base}{marker}"), l.mtime().max(l.ctime())));
            if l.is_dir() {
                rec(&p, top, restricted || !readable, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    rec(top, top, false, &mut out);
    out
}

#[test]
fn stage_locks_the_root_and_records_the_time() {
    let t = tree();
    let entries_before = walk(&t.root);
    let before = now();
    let (code, recs, stderr) = stage(&t.root, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(mode(&t.root), 0o750);
    let flip = one(&recs, "flip");
    assert_eq!(flip["root"], t.root.to_str().unwrap());
    assert_eq!(flip["path"], "");
    assert_eq!(flip["action"], "stage");
    assert_eq!(flip["from"], "0755");
    assert_eq!(flip["to"], "0750");
    assert_eq!(flip["state"], "staged");
    assert_eq!(flip["changed"], true);
    let since = flip["staged_since"]["secs"].as_i64().unwrap();
    assert!(since >= before && since <= now());
    assert!(flip["store"] == "xattr" || flip["store"] == "file");
    assert_eq!(summary(&recs)["changed"], 1);
    // Nothing was added inside the released tree; descendants are untouched.
    assert_eq!(walk(&t.root), entries_before);
    assert_eq!(mode(&t.root.join("BaseOS")), 0o755);

    let (code, recs, _) = status(&[&t.root], &["--expect", "staged"]);
    assert_eq!(code, Some(0));
    let st = one(&recs, "status");
    assert_eq!(st["state"], "staged");
    assert_eq!(st["mode"], "0750");
    assert_eq!(st["staged_since"]["secs"], since);
    assert_eq!(st["store"], flip["store"]);
    assert!(of_event(&recs, "hidden").is_empty());
}

#[test]
fn state_file_store_lives_beside_the_root_with_mode_0600() {
    let t = tree();
    let (code, recs, _) = stage(&t.root, &["--state", "file", "--mode", "700"]);
    assert_eq!(code, Some(0));
    assert_eq!(one(&recs, "flip")["store"], "file");
    assert_eq!(mode(&t.root), 0o700);
    let file = t.pub_dir.join(".9.6.rl-bitflip");
    assert_eq!(
        mode(&file),
        0o600,
        "not group-readable: create-filelist skips it"
    );
    let text = fs::read_to_string(&file).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["state"], "staged");
    assert_eq!(v["mode"], "0700");
    // The file is not listed by the create-filelist rule (not group-readable).
    assert!(!filelist_markers(&t.pub_dir).contains_key(".9.6.rl-bitflip"));
    let (_, recs, _) = status(&[&t.root], &[]);
    assert_eq!(one(&recs, "status")["store"], "file");
    // 700 -> 750 (open to the tier-1 group) restarts the clock and keeps the record in one place.
    let (code, recs, _) = stage(&t.root, &["--state", "file"]);
    assert_eq!(code, Some(0));
    assert_eq!(one(&recs, "flip")["from"], "0700");
    let (code, _, _) = publish(&t.root, &["--force", "--state", "file"]);
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["state"], "public");
    assert!(v["published"].is_i64());
}

#[test]
fn publish_too_early_is_refused_and_changes_nothing() {
    let t = tree();
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let snap = snapshot(&t.pub_dir);
    let (code, recs, stderr) = publish(&t.root, &[]);
    assert_eq!(code, Some(3));
    let r = one(&recs, "refused");
    assert_eq!(r["reason"], "too_early");
    assert_eq!(r["override"], "--force");
    assert!(of_event(&recs, "flip").is_empty());
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(snapshot(&t.pub_dir), snap, "nothing changed on disk");
    assert_eq!(summary(&recs)["refused"], 1);
    // The same with --dry-run and with a custom minimum age.
    assert_eq!(publish(&t.root, &["--dry-run"]).0, Some(3));
    assert_eq!(publish(&t.root, &["--min-age", "90m"]).0, Some(3));
    assert_eq!(snapshot(&t.pub_dir), snap);
    let (_, recs, _) = status(&[&t.root], &["--expect", "public"]);
    assert_eq!(one(&recs, "status")["state"], "staged");
}

#[test]
fn publish_force_opens_to_755_and_status_says_public() {
    let t = tree();
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let staged_since = one(&status(&[&t.root], &[]).1, "status")["staged_since"].clone();
    let (code, recs, stderr) = publish(&t.root, &["--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(mode(&t.root), 0o755);
    let flip = one(&recs, "flip");
    assert_eq!(flip["action"], "publish");
    assert_eq!(
        (&flip["from"], &flip["to"]),
        (&"0750".into(), &"0755".into())
    );
    assert_eq!(flip["state"], "public");
    assert_eq!(flip["staged_since"], staged_since);
    assert!(
        flip["published_since"]["secs"].as_i64().unwrap() >= staged_since["secs"].as_i64().unwrap()
    );

    let (code, recs, _) = status(&[&t.root], &["--expect", "public"]);
    assert_eq!(code, Some(0));
    assert_eq!(one(&recs, "status")["state"], "public");
    let (code, _, stderr) = status(&[&t.root], &["--expect", "staged"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("not staged"), "{stderr}");
}

#[test]
fn publish_after_the_minimum_age_needs_no_force() {
    let t = tree();
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let (code, recs, _) = publish(&t.root, &["--min-age", "0", "--mode", "775"]);
    assert_eq!(code, Some(0));
    assert_eq!(mode(&t.root), 0o775);
    assert_eq!(one(&recs, "flip")["changed"], true);
}

#[test]
fn a_root_locked_by_hand_needs_adopt() {
    let t = tree();
    set_mode(&t.root, 0o750);
    let (code, recs, _) = status(&[&t.root], &[]);
    assert_eq!(code, Some(0));
    assert_eq!(one(&recs, "status")["state"], "unknown");
    let (code, recs, stderr) = publish(&t.root, &["--min-age", "0"]);
    assert_eq!(code, Some(3));
    assert_eq!(one(&recs, "refused")["override"], "--adopt");
    assert!(stderr.contains("--adopt"), "{stderr}");
    assert_eq!(mode(&t.root), 0o750);
    // Adopted, the age counts from the root's ctime (just now): still too early for 24h.
    let (code, recs, _) = publish(&t.root, &["--adopt"]);
    assert_eq!(code, Some(3));
    assert_eq!(one(&recs, "refused")["reason"], "too_early");
    let (code, _, _) = publish(&t.root, &["--adopt", "--min-age", "0"]);
    assert_eq!(code, Some(0));
    assert_eq!(mode(&t.root), 0o755);
}

#[test]
fn status_lists_entries_that_stay_hidden_after_the_flip() {
    let t = tree();
    let private = t.root.join("BaseOS/x86_64/os/private.txt");
    fs::write(&private, "x").unwrap();
    set_mode(&private, 0o600);
    let secret_dir = t.root.join("isos/x86_64/secret");
    fs::create_dir(&secret_dir).unwrap();
    set_mode(&secret_dir, 0o700);
    let noexec = t.root.join("isos/noexec");
    fs::create_dir(&noexec).unwrap();
    set_mode(&noexec, 0o754);
    symlink("/nonexistent", t.root.join("dangling")).unwrap();
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let (code, recs, _) = status(&[&t.root, &t.pub_dir.join("9.5")], &[]);
    assert_eq!(code, Some(0));
    let states: Vec<_> = of_event(&recs, "status")
        .iter()
        .map(|r| r["state"].clone())
        .collect();
    assert_eq!(states, vec!["staged", "public"]);
    let hidden: Vec<(String, String, String)> = of_event(&recs, "hidden")
        .iter()
        .map(|r| {
            assert_eq!(r["root"], t.root.to_str().unwrap());
            (
                r["path"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
                r["missing"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        hidden,
        vec![
            (
                "BaseOS/x86_64/os/private.txt".into(),
                "file".into(),
                "o+r".into()
            ),
            ("isos/noexec".into(), "dir".into(), "o+x".into()),
            ("isos/x86_64/secret".into(), "dir".into(), "o+rx".into()),
        ]
    );
    assert_eq!(summary(&recs)["hidden"], 3);
    // --no-check skips the walk.
    let (_, recs, _) = status(&[&t.root], &["--no-check"]);
    assert!(of_event(&recs, "hidden").is_empty());
    // publish reports them too, with a warning, and leaves them alone.
    let (code, recs, stderr) = publish(&t.root, &["--force"]);
    assert_eq!(code, Some(0));
    assert_eq!(of_event(&recs, "hidden").len(), 3);
    assert!(stderr.contains("--recursive"), "{stderr}");
    assert_eq!(mode(&private), 0o600);
}

#[test]
fn symlinked_root_is_refused_and_links_inside_are_not_followed() {
    let t = tree();
    // Outside the tree: a private directory and file a link inside points to.
    let outside = t.base.join("outside");
    fs::create_dir(&outside).unwrap();
    set_mode(&outside, 0o700);
    let outside_file = t.base.join("outside.txt");
    fs::write(&outside_file, "secret").unwrap();
    set_mode(&outside_file, 0o600);
    symlink(&outside, t.root.join("to-outside")).unwrap();
    symlink(&outside_file, t.root.join("BaseOS/file-outside")).unwrap();
    symlink(&outside, t.root.join("BaseOS/x86_64/os/Packages/loop")).unwrap();
    symlink("loop2", t.root.join("loop2")).unwrap();
    let private = t.root.join("isos/x86_64/CHECKSUM");
    set_mode(&private, 0o600);
    let closed = t.root.join("BaseOS/x86_64/os/Packages/b");
    set_mode(&closed, 0o700);

    // A symlink as the root: refused by every subcommand, its target untouched.
    let link_root = t.pub_dir.join("9.6-link");
    symlink(&t.root, &link_root).unwrap();
    for (code, recs, stderr) in [
        stage(&link_root, &[]),
        publish(&link_root, &["--force", "--recursive"]),
        status(&[&link_root], &[]),
    ] {
        assert_eq!(code, Some(3), "{stderr}");
        assert_eq!(one(&recs, "refused")["reason"], "symlink");
        assert!(stderr.contains("symbolic link"), "{stderr}");
    }
    assert_eq!(mode(&t.root), 0o755);

    // --recursive repairs inside, through no symlink.
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let (code, recs, stderr) = publish(&t.root, &["--force", "--recursive"]);
    assert_eq!(code, Some(0), "{stderr}");
    let chmods: Vec<(&str, &str, &str)> = of_event(&recs, "chmod")
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap(),
                r["from"].as_str().unwrap(),
                r["to"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chmods,
        vec![
            ("BaseOS/x86_64/os/Packages/b", "0700", "0705"),
            ("isos/x86_64/CHECKSUM", "0600", "0604"),
        ]
    );
    assert_eq!(mode(&closed), 0o705);
    assert_eq!(mode(&private), 0o604);
    assert_eq!(mode(&outside), 0o700, "link target outside untouched");
    assert_eq!(mode(&outside_file), 0o600, "link target outside untouched");
    assert!(of_event(&recs, "hidden").is_empty());
    let (_, recs, _) = status(&[&t.root], &[]);
    assert!(of_event(&recs, "hidden").is_empty());
}

#[test]
fn repeated_stage_and_publish_change_nothing() {
    let t = tree();
    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let since = one(&status(&[&t.root], &[]).1, "status")["staged_since"].clone();
    let snap = snapshot(&t.pub_dir);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, recs, _) = stage(&t.root, &[]);
    assert_eq!(code, Some(0));
    let flip = one(&recs, "flip");
    assert_eq!(flip["changed"], false);
    assert_eq!(flip["staged_since"], since, "the clock is not restarted");
    assert_eq!(summary(&recs)["changed"], 0);
    assert_eq!(snapshot(&t.pub_dir), snap, "no ctime changed");

    assert_eq!(publish(&t.root, &["--force"]).0, Some(0));
    let snap = snapshot(&t.pub_dir);
    let published = one(&status(&[&t.root], &[]).1, "status")["published_since"].clone();
    let (code, recs, _) = publish(&t.root, &[]);
    assert_eq!(code, Some(0), "publishing a public root needs no --force");
    let flip = one(&recs, "flip");
    assert_eq!(flip["changed"], false);
    assert_eq!(flip["published_since"], published);
    assert_eq!(snapshot(&t.pub_dir), snap);

    // Locking a published root again is refused unless forced.
    let (code, recs, stderr) = stage(&t.root, &[]);
    assert_eq!(code, Some(3));
    assert_eq!(one(&recs, "refused")["override"], "--force");
    assert!(stderr.contains("--force"));
    assert_eq!(mode(&t.root), 0o755);
    assert_eq!(stage(&t.root, &["--force"]).0, Some(0));
    assert_eq!(mode(&t.root), 0o750);
}

#[test]
fn dry_run_changes_nothing() {
    let t = tree();
    let hidden = t.root.join("isos/x86_64/CHECKSUM");
    set_mode(&hidden, 0o600);
    let snap = snapshot(&t.base);
    let (code, recs, _) = stage(&t.root, &["--dry-run"]);
    assert_eq!(code, Some(0));
    let flip = one(&recs, "flip");
    assert_eq!(flip["dry_run"], true);
    assert_eq!(flip["to"], "0750");
    assert_eq!(snapshot(&t.base), snap);
    assert_eq!(one(&status(&[&t.root], &[]).1, "status")["state"], "public");

    assert_eq!(stage(&t.root, &[]).0, Some(0));
    let snap = snapshot(&t.base);
    let (code, recs, _) = publish(&t.root, &["--force", "--recursive", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert_eq!(one(&recs, "flip")["dry_run"], true);
    let ch = one(&recs, "chmod");
    assert_eq!((&ch["to"], &ch["dry_run"]), (&"0604".into(), &true.into()));
    assert_eq!(snapshot(&t.base), snap);
    assert_eq!(one(&status(&[&t.root], &[]).1, "status")["state"], "staged");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let t = tree();
    // Missing root.
    let missing = t.pub_dir.join("9.7");
    for (code, recs, stderr) in [
        stage(&missing, &[]),
        publish(&missing, &["--force"]),
        status(&[&missing], &[]),
    ] {
        assert_eq!(code, Some(2));
        assert_eq!(one(&recs, "error")["kind"], "io.not_found");
        assert!(stderr.contains("does not exist"), "{stderr}");
    }
    // Not a directory.
    let file = t.root.join("isos/x86_64/CHECKSUM");
    let (code, recs, stderr) = stage(&file, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(one(&recs, "error")["kind"], "io.not_a_directory");
    assert!(stderr.contains("not a directory"));
    assert_eq!(mode(&file), 0o644);
    // `/`, also spelled differently: refused with 3, never changed.
    let root_mode = mode(Path::new("/"));
    for slash in ["/", "/.", "/tmp/.."] {
        for (code, recs, stderr) in [
            stage(Path::new(slash), &[]),
            publish(Path::new(slash), &["--force", "--recursive"]),
        ] {
            assert_eq!(code, Some(3), "{slash}: {stderr}");
            assert_eq!(one(&recs, "refused")["reason"], "filesystem_root");
        }
    }
    assert_eq!(mode(Path::new("/")), root_mode);
    // Usage errors: exit 2, nothing on stdout.
    for args in [
        vec!["stage", "x", "--mode", "755"],
        vec!["stage", "x", "--mode", "9"],
        vec!["stage", "x", "--mode", "2750"],
        vec!["publish", "x", "--mode", "750"],
        vec!["publish", "x", "--min-age", "24"],
        vec!["publish", "x", "--min-age", "1w"],
        vec!["stage", "x", "--group", "no-such-group-rl-bitflip"],
        vec!["status"],
        vec!["status", "x", "--expect", "open"],
    ] {
        let out = rl(TOOL).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A corrupt staging record: status reports an error, publish refuses to guess.
    assert_eq!(stage(&t.root, &["--state", "file"]).0, Some(0));
    fs::write(t.pub_dir.join(".9.6.rl-bitflip"), "{not json").unwrap();
    let (code, recs, stderr) = status(&[&t.root], &[]);
    assert_eq!(code, Some(2));
    assert_eq!(one(&recs, "error")["kind"], "io.invalid_data");
    assert!(stderr.contains("unreadable"), "{stderr}");
    assert_eq!(publish(&t.root, &["--min-age", "0"]).0, Some(2));
    assert_eq!(mode(&t.root), 0o750);
    assert_eq!(publish(&t.root, &["--force"]).0, Some(0));
    assert_eq!(mode(&t.root), 0o755);
}

#[test]
fn odd_names_are_handled() {
    let t = tree();
    let odd_root = t.pub_dir.join(OsStr::from_bytes(b"9.7 beta\n\xff"));
    fs::create_dir(&odd_root).unwrap();
    set_mode(&odd_root, 0o755);
    let odd_file = odd_root.join(OsStr::from_bytes(b"bad\xffname"));
    fs::write(&odd_file, "x").unwrap();
    set_mode(&odd_file, 0o600);
    let (code, recs, stderr) = stage(&odd_root, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(one(&recs, "flip")["root"]["bytes"].is_string());
    assert_eq!(mode(&odd_root), 0o750);
    let (_, recs, _) = status(&[&odd_root], &["--expect", "staged"]);
    let h = one(&recs, "hidden");
    assert_eq!(h["path"]["bytes"], "YmFk/25hbWU=");
    assert_eq!(publish(&odd_root, &["--force"]).0, Some(0));
    assert_eq!(mode(&odd_root), 0o755);
}

#[test]
fn group_is_changed_on_the_root_only() {
    let t = tree();
    // A group we may give the root to: any group as root, else one of ours.
    let ids = String::from_utf8(sh("id -G", &t.base)).unwrap();
    let current = fs::metadata(&t.root).unwrap().gid();
    let wanted: Option<u32> = if is_root() {
        Some(if current == 1 { 2 } else { 1 })
    } else {
        ids.split_whitespace()
            .filter_map(|g| g.parse().ok())
            .find(|g| *g != current)
    };
    let Some(gid) = wanted else {
        eprintln!("skipping: no second group to change to");
        return;
    };
    let (code, recs, stderr) = stage(&t.root, &["--group", &gid.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    let flip = one(&recs, "flip");
    assert_eq!(flip["gid"], gid);
    assert_eq!(flip["from_gid"], current);
    assert_eq!(fs::metadata(&t.root).unwrap().gid(), gid);
    assert_eq!(fs::metadata(t.root.join("BaseOS")).unwrap().gid(), current);
    let (_, recs, _) = stage(&t.root, &["--group", &gid.to_string()]);
    assert_eq!(one(&recs, "flip")["changed"], false);
}

#[test]
fn flip_changes_the_file_list_markers_of_the_root_only() {
    // Peer: the hand-typed `chmod 750` / `chmod 755` the SOP describes, on an identical tree.
    if !have_peer("chmod") {
        return;
    }
    let ours = tree();
    let theirs = tree();
    let before = filelist_markers(&ours.pub_dir);
    assert_eq!(before["9.6"].0, "d");

    assert_eq!(stage(&ours.root, &[]).0, Some(0));
    sh("chmod 750 pub/9.6", &theirs.base);
    let staged = filelist_markers(&ours.pub_dir);
    assert_eq!(staged["9.6"].0, "d-");
    assert_eq!(staged["9.6/BaseOS"].0, "d*");
    assert_eq!(staged["9.6/BaseOS/x86_64/os/repodata/repomd.xml"].0, "f*");
    assert_eq!(staged["9.5"].0, "d", "the other release is untouched");
    assert_eq!(staged["9"].0, "l");
    let kinds = |m: &BTreeMap<String, (String, i64)>| -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()
    };
    assert_eq!(kinds(&staged), kinds(&filelist_markers(&theirs.pub_dir)));
    for (path, (_, modtime)) in &staged {
        if path != "9.6" {
            assert_eq!(*modtime, before[path].1, "{path}: MODTIME must not change");
        }
    }

    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(publish(&ours.root, &["--force"]).0, Some(0));
    sh("chmod 755 pub/9.6", &theirs.base);
    let after = filelist_markers(&ours.pub_dir);
    assert_eq!(kinds(&after), kinds(&before), "d-/f* became d/f again");
    assert_eq!(kinds(&after), kinds(&filelist_markers(&theirs.pub_dir)));
    assert!(after["9.6"].1 > staged["9.6"].1, "the root's MODTIME moves");
    for (path, (_, modtime)) in &after {
        if path != "9.6" {
            assert_eq!(*modtime, before[path].1, "{path}: MODTIME must not change");
        }
    }
    // Same modes as the hand-typed chmod, everywhere.
    let modes = |base: &Path| -> Vec<(PathBuf, u32)> {
        walk(base)
            .into_iter()
            .filter(|p| !p.ends_with("outside"))
            .map(|p| (p.strip_prefix(base).unwrap().to_path_buf(), mode(&p)))
            .collect()
    };
    assert_eq!(modes(&ours.pub_dir), modes(&theirs.pub_dir));
}

#[test]
fn help_lists_events_and_the_recursive_caveat() {
    let out = rl(TOOL).args(["publish", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "flip",
        "refused",
        "status",
        "hidden",
        "chmod",
        "--recursive",
        "ctime",
        "130",
    ] {
        assert!(help.contains(word), "{word} missing from help");
    }
}

#[test]
fn unreadable_directory_below_is_reported() {
    let t = tree();
    let closed = t.root.join("BaseOS/closed");
    fs::create_dir(&closed).unwrap();
    fs::write(closed.join("inside"), "x").unwrap();
    set_mode(&closed, 0o000);
    let (code, recs, stderr) = status(&[&t.root], &[]);
    let hidden = one(&recs, "hidden");
    assert_eq!(hidden["path"], "BaseOS/closed");
    assert_eq!(hidden["mode"], "0000");
    if is_root() {
        // Root reads it anyway (skip only this assertion when root).
        assert_eq!(code, Some(0), "{stderr}");
    } else {
        assert_eq!(code, Some(2));
        assert_eq!(one(&recs, "error")["op"], "open");
        assert!(stderr.contains("BaseOS/closed"), "{stderr}");
    }
    set_mode(&closed, 0o755);
}

#[test]
fn a_record_that_cannot_be_written_leaves_the_root_as_it_was() {
    let t = tree();
    // A directory where the state file should go: the flip must not go ahead without a record.
    fs::create_dir(t.pub_dir.join(".9.6.rl-bitflip")).unwrap();
    let (code, recs, stderr) = stage(&t.root, &["--state", "file"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!of_event(&recs, "error").is_empty());
    assert!(of_event(&recs, "flip").is_empty());
    assert_eq!(mode(&t.root), 0o755);
    fs::remove_dir(t.pub_dir.join(".9.6.rl-bitflip")).unwrap();
    if is_root() {
        // Root writes into a read-only parent anyway; the rest needs an ordinary user.
        return;
    }
    set_mode(&t.pub_dir, 0o555);
    let (code, recs, stderr) = stage(&t.root, &["--state", "file"]);
    set_mode(&t.pub_dir, 0o755);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(one(&recs, "error")["op"], "write_state");
    assert!(of_event(&recs, "flip").is_empty());
    assert_eq!(mode(&t.root), 0o755, "the chmod was undone");
}

/// `rl-bitflip stage ROOT` killed (SIGKILL, by strace's fault injection) on entering SYSCALL.
fn stage_killed_at(root: &Path, syscall: &str) {
    let out = std::process::Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e"])
        .arg(format!("trace={syscall}"))
        .arg("-e")
        .arg(format!("inject={syscall}:signal=KILL"))
        .arg(bin_path(TOOL))
        .arg("stage")
        .arg(root)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{syscall}: the run was not killed");
}

#[test]
fn a_stage_killed_between_record_and_chmod_is_never_left_unknown() {
    if !have_peer("strace") {
        return;
    }
    // The record is written first (the extended attribute here, or the state file where the
    // filesystem has none), then the mode: a kill at either step leaves a state status can name.
    for syscall in ["fsetxattr", "fchmod"] {
        let t = tree();
        stage_killed_at(&t.root, syscall);
        let (_, recs, _) = status(&[&t.root], &["--no-check"]);
        let st = one(&recs, "status");
        assert_eq!(st["state"], "public", "killed at {syscall}: {st}");
        let (code, _, err) = stage(&t.root, &[]);
        assert_eq!(code, Some(0), "re-run after a kill at {syscall}: {err}");
        let (_, recs, _) = status(&[&t.root], &["--no-check"]);
        assert_eq!(one(&recs, "status")["state"], "staged", "after the re-run");
        assert_eq!(mode(&t.root) & 0o777, 0o750);
    }
}
