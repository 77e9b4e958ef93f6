//! rl-filelist against create-filelist's documented output (expected bytes built here from the
//! reference's rules), against real `find .`, and through quick-fedora-mirror's own parsing steps
//! (awk, sort, diff under zsh).

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// max(mtime, ctime) in whole seconds, from the lstat.
fn modtime(p: &Path) -> i64 {
    let m = fs::symlink_metadata(p).unwrap();
    m.mtime().max(m.ctime())
}

/// Directory-read order of one directory, as `find -maxdepth 1` prints it (small directories
/// are never sorted by find).
fn readdir_order(dir: &Path) -> Vec<Vec<u8>> {
    let out = sh("find . -mindepth 1 -maxdepth 1 -printf '%f\\0'", dir);
    out.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The `[Files]` section create-filelist writes, built from a table of what each path must show
/// (`TYPE`, and whether the entry is a directory to descend into); paths not in the table must not
/// appear. Order: post-order, directory-read order.
fn expected_files(root: &Path, rel: &str, table: &HashMap<String, &str>, out: &mut Vec<u8>) {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    for name in readdir_order(&dir) {
        let name = String::from_utf8(name).unwrap();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Some(ty) = table.get(&path) else { continue };
        if ty.starts_with('d') {
            expected_files(root, &path, table, out);
        }
        let full = root.join(&path);
        let size = fs::symlink_metadata(&full).unwrap().len();
        out.extend_from_slice(format!("{}\t{ty}\t{size}\t{path}\n", modtime(&full)).as_bytes());
    }
}

fn empty_sections() -> &'static str {
    "\n[Checksums SHA1]\n\n[Checksums MD5]\n\n[Checksums SHA256]\n\n[Checksums SHA512]\n\n[End]\n"
}

/// The release-day tree of the reference: a public 9.5, a staged 9.6 at 750, and every case
/// create-filelist skips or marks.
fn staged_tree(r: &Path) -> HashMap<String, &'static str> {
    for d in [
        "9.5/BaseOS/x86_64/os/repodata",
        "9.5/BaseOS/x86_64/os/Packages/a",
        "9.6/BaseOS/x86_64/os/repodata",
        "9.6/BaseOS/x86_64/os/Packages/b",
        ".~tmp~/9.5",
        "sub",
    ] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(
        r.join("9.5/BaseOS/x86_64/os/repodata/repomd.xml"),
        "<repomd/>",
    )
    .unwrap();
    fs::write(r.join("9.5/BaseOS/x86_64/os/Packages/a/a-1.0.rpm"), "rpm-a").unwrap();
    fs::hard_link(
        r.join("9.5/BaseOS/x86_64/os/Packages/a/a-1.0.rpm"),
        r.join("9.5/BaseOS/x86_64/os/Packages/a/a-hardlink.rpm"),
    )
    .unwrap();
    fs::write(
        r.join("9.6/BaseOS/x86_64/os/repodata/repomd.xml"),
        "<repomd 9.6/>",
    )
    .unwrap();
    fs::write(r.join("9.6/BaseOS/x86_64/os/Packages/b/b-2.0.rpm"), "rpm-b").unwrap();
    fs::write(r.join("9.6/BaseOS/x86_64/os/Packages/b/embargo.rpm"), "x").unwrap();
    chmod(
        &r.join("9.6/BaseOS/x86_64/os/Packages/b/embargo.rpm"),
        0o640,
    );
    fs::write(r.join("9.6/BaseOS/x86_64/os/Packages/b/secret.rpm"), "x").unwrap();
    chmod(&r.join("9.6/BaseOS/x86_64/os/Packages/b/secret.rpm"), 0o600);
    fs::write(r.join("private.txt"), "p").unwrap();
    chmod(&r.join("private.txt"), 0o600);
    fs::write(r.join(".~tmp~/9.5/partial.rpm"), "").unwrap();
    fs::write(r.join(".nfs000000001"), "").unwrap();
    fs::write(r.join("foo-1.2.3.nfs-1.foo"), "").unwrap();
    fs::write(r.join("with space"), "s").unwrap();
    fs::write(r.join("fullfiletimelist-rocky"), "old list").unwrap();
    fs::write(r.join("sub/fullfiletimelist-rocky"), "nested").unwrap();
    symlink("9.5", r.join("9")).unwrap();
    symlink("nonexistent", r.join("dangling")).unwrap();
    symlink("loop", r.join("loop")).unwrap();
    chmod(&r.join("9.6"), 0o750);
    let mut t = HashMap::new();
    for (p, ty) in [
        ("9", "l"),
        ("9.5", "d"),
        ("9.5/BaseOS", "d"),
        ("9.5/BaseOS/x86_64", "d"),
        ("9.5/BaseOS/x86_64/os", "d"),
        ("9.5/BaseOS/x86_64/os/repodata", "d"),
        ("9.5/BaseOS/x86_64/os/repodata/repomd.xml", "f"),
        ("9.5/BaseOS/x86_64/os/Packages", "d"),
        ("9.5/BaseOS/x86_64/os/Packages/a", "d"),
        ("9.5/BaseOS/x86_64/os/Packages/a/a-1.0.rpm", "f"),
        ("9.5/BaseOS/x86_64/os/Packages/a/a-hardlink.rpm", "f"),
        ("9.6", "d-"),
        ("9.6/BaseOS", "d*"),
        ("9.6/BaseOS/x86_64", "d*"),
        ("9.6/BaseOS/x86_64/os", "d*"),
        ("9.6/BaseOS/x86_64/os/repodata", "d*"),
        ("9.6/BaseOS/x86_64/os/repodata/repomd.xml", "f*"),
        ("9.6/BaseOS/x86_64/os/Packages", "d*"),
        ("9.6/BaseOS/x86_64/os/Packages/b", "d*"),
        ("9.6/BaseOS/x86_64/os/Packages/b/b-2.0.rpm", "f*"),
        ("9.6/BaseOS/x86_64/os/Packages/b/embargo.rpm", "f-"),
        ("foo-1.2.3.nfs-1.foo", "f"),
        ("with space", "f"),
        ("fullfiletimelist-rocky", "f"),
        ("sub", "d"),
        ("sub/fullfiletimelist-rocky", "f"),
    ] {
        t.insert(p.to_owned(), ty);
    }
    t
}

fn expected_list(r: &Path, table: &HashMap<String, &str>) -> Vec<u8> {
    let mut want = b"[Version]\n2\n\n[Files]\n".to_vec();
    expected_files(r, "", table, &mut want);
    want
}

#[test]
fn create_filelist_bytes_on_a_staged_tree() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let table = staged_tree(r);
    let out = rl("rl-filelist").current_dir(r).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = expected_list(r, &table);
    want.extend_from_slice(empty_sections().as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&want)
    );
    // Same bytes with -d from elsewhere; the stderr lines for the two unresolvable links.
    let out2 = rl("rl-filelist").arg("-d").arg(r).output().unwrap();
    assert_eq!(out2.stdout, out.stdout);
    let err = String::from_utf8(out2.stderr).unwrap();
    assert!(
        err.contains("Could not stat dangling.  Dangling symlink?\n"),
        "{err}"
    );
    assert!(
        err.contains("Could not stat loop.  Dangling symlink?\n"),
        "{err}"
    );
    // Hard links: both names, same size and modtime.
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |p: &str| {
        text.lines()
            .find(|l| l.ends_with(&format!("\t{p}")))
            .map(|l| l.rsplit_once('\t').unwrap().0.to_owned())
    };
    assert_eq!(
        row("9.5/BaseOS/x86_64/os/Packages/a/a-1.0.rpm"),
        row("9.5/BaseOS/x86_64/os/Packages/a/a-hardlink.rpm")
    );
}

#[test]
fn checksum_sections_new_and_old_layout() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let table = staged_tree(r);
    let out = rl("rl-filelist")
        .args(["-c", "-C", "b-2.0.rpm"])
        .current_dir(r)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut want = expected_list(r, &table);
    // Sorted by path; hexdigest of the content; restricted files are hashed too.
    let files = [
        "9.5/BaseOS/x86_64/os/repodata/repomd.xml",
        "9.6/BaseOS/x86_64/os/Packages/b/b-2.0.rpm",
        "9.6/BaseOS/x86_64/os/repodata/repomd.xml",
    ];
    for (algo, prog) in [
        ("SHA1", "sha1sum"),
        ("MD5", "md5sum"),
        ("SHA256", "sha256sum"),
        ("SHA512", "sha512sum"),
    ] {
        want.extend_from_slice(format!("\n[Checksums {algo}]\n").as_bytes());
        for f in files {
            let sum = String::from_utf8(sh(&format!("{prog} '{f}'"), r)).unwrap();
            let hex = sum.split_whitespace().next().unwrap();
            want.extend_from_slice(format!("{hex}\t{f}\n").as_bytes());
        }
    }
    want.extend_from_slice(b"\n[End]\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&want)
    );
    // The 2019 layout: one SHA1 section.
    let old = rl("rl-filelist")
        .args(["-c", "--checksum-sections", "sha1"])
        .current_dir(r)
        .output()
        .unwrap();
    let text = String::from_utf8(old.stdout).unwrap();
    assert!(text.ends_with("9.6/BaseOS/x86_64/os/repodata/repomd.xml\n\n[End]\n"));
    assert_eq!(text.matches("[Checksums").count(), 1);
}

#[test]
fn timelist_to_a_file_skips_lists_at_the_top_only_and_reports_records() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let mut table = staged_tree(r);
    let recs = run_ok(
        rl("rl-filelist")
            .args(["-s", "-t", "fullfiletimelist-rocky", "-f", "fullfilelist"])
            .current_dir(r),
    );
    let lists = of_event(&recs, "list");
    assert_eq!(lists.len(), 2);
    assert_eq!(lists[0]["kind"], "timelist");
    assert_eq!(lists[0]["outcome"], "replaced");
    // -s: the top-level list is not listed; sub/fullfiletimelist-rocky still is.
    table.remove("fullfiletimelist-rocky");
    let mut want = expected_list(r, &table);
    want.extend_from_slice(empty_sections().as_bytes());
    assert_eq!(fs::read(r.join("fullfiletimelist-rocky")).unwrap(), want);
    // -f: the same entries, as ./PATH.
    let plain: Vec<String> = String::from_utf8(want)
        .unwrap()
        .lines()
        .skip(4)
        .take_while(|l| !l.is_empty())
        .map(|l| format!("./{}", l.splitn(4, '\t').nth(3).unwrap()))
        .collect();
    let got = fs::read_to_string(r.join("fullfilelist")).unwrap();
    assert_eq!(got, plain.join("\n") + "\n");
    // Unchanged: the file is not rewritten.
    let before = fs::metadata(r.join("fullfiletimelist-rocky"))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let out = rl("rl-filelist")
        .args(["-s", "-t", "fullfiletimelist-rocky", "-f", "fullfilelist"])
        .current_dir(r)
        .output()
        .unwrap();
    assert_eq!(
        of_event(&records(&out.stdout), "list")[0]["outcome"],
        "unchanged"
    );
    let after = fs::metadata(r.join("fullfiletimelist-rocky"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn imagelist_lists_image_formats() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    fs::create_dir_all(r.join("isos/x86_64")).unwrap();
    fs::write(r.join("isos/x86_64/Rocky-9.6-x86_64-dvd.iso"), "").unwrap();
    fs::write(r.join("isos/x86_64/CHECKSUM"), "").unwrap();
    fs::write(r.join("img.qcow2"), "").unwrap();
    let out = rl("rl-filelist")
        .args(["-t", "tl", "-i", "images"])
        .current_dir(r)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut got: Vec<String> = fs::read_to_string(r.join("images"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["./img.qcow2", "./isos/x86_64/Rocky-9.6-x86_64-dvd.iso"]
    );
}

/// A tree with awkward names: spaces, a newline, invalid UTF-8.
fn awkward_tree(r: &Path) {
    fs::create_dir_all(r.join("a dir/sub")).unwrap();
    fs::write(r.join("a dir/sub/f"), "").unwrap();
    fs::write(r.join("a dir/new\nline"), "").unwrap();
    fs::write(r.join(OsStr::from_bytes(b"bad\xffname")), "").unwrap();
    fs::write(r.join(".nfs123"), "").unwrap();
    fs::create_dir(r.join(".~tmp~")).unwrap();
    symlink("nowhere", r.join("dangling")).unwrap();
    fs::create_dir(r.join("empty")).unwrap();
}

/// A directory big enough that GNU find sorts it by inode (on ext4 and most local filesystems).
fn big_directory(r: &Path) {
    let big = r.join("big");
    fs::create_dir(&big).unwrap();
    for i in 0..10_050u64 {
        fs::write(big.join(format!("f{}", (i * 7919) % 100_003)), "").unwrap();
    }
}

#[test]
fn fullfilelist_matches_real_find() {
    if !have_peer("find") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("pub");
    fs::create_dir(&r).unwrap();
    awkward_tree(&r);
    big_directory(&r);
    let spec = format!(
        "{}:rocky:fullfiletimelist,fullfiletimelist-rocky-linux",
        r.display()
    );
    let lock = d.path().join("lock");
    for _ in 0..2 {
        let out = rl("rl-filelist")
            .args(["write", "--lock"])
            .arg(&lock)
            .args(["--root", &spec])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let find = Command::new("find")
        .arg(".")
        .current_dir(&r)
        .output()
        .unwrap();
    assert!(find.status.success());
    assert_eq!(
        fs::read(r.join("fullfilelist")).unwrap(),
        find.stdout,
        "fullfilelist differs from find ."
    );
    // Raw bytes in the time list too.
    let tl = fs::read(r.join("fullfiletimelist-rocky")).unwrap();
    assert!(tl.windows(8).any(|w| w == b"bad\xffname"));
    assert!(tl.windows(13).any(|w| w == b"a dir/new\nlin"));
    // Aliases are identical copies.
    assert_eq!(fs::read(r.join("fullfiletimelist")).unwrap(), tl);
    assert_eq!(
        fs::read(r.join("fullfiletimelist-rocky-linux")).unwrap(),
        tl
    );
}

fn write_run(
    lock: &Path,
    roots: &[String],
    extra: &[&str],
) -> (i32, Vec<serde_json::Value>, String) {
    let mut cmd = rl("rl-filelist");
    cmd.args(["write", "--lock"]).arg(lock);
    for r in roots {
        cmd.args(["--root", r]);
    }
    cmd.args(extra);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        records(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn write_several_roots_old_copies_and_unchanged_reruns() {
    let d = tempfile::tempdir().unwrap();
    let prod = d.path().join("prod");
    let cat = prod.join("mirror/pub/rocky");
    let sig = prod.join("mirror/pub/sig");
    fs::create_dir_all(cat.join("9.6/BaseOS")).unwrap();
    fs::create_dir_all(sig.join("9/core")).unwrap();
    fs::write(cat.join("9.6/BaseOS/p.rpm"), "p").unwrap();
    fs::write(sig.join("9/core/s.rpm"), "s").unwrap();
    let roots = vec![
        format!("{}:rocky:fullfiletimelist", prod.display()),
        format!(
            "{}:rocky:fullfiletimelist,fullfiletimelist-rocky-linux",
            cat.display()
        ),
        format!("{}:sig:fullfiletimelist", sig.display()),
    ];
    let lock = d.path().join("lock");
    // Dry run first: records, nothing on disk.
    let (code, recs, _) = write_run(&lock, &roots, &["--dry-run"]);
    assert_eq!(code, 0);
    assert!(of_event(&recs, "list").iter().all(|r| r["dry_run"] == true));
    assert!(!cat.join("fullfiletimelist-rocky").exists());
    assert!(!prod.join("fullfilelist").exists());

    let (code, recs, err) = write_run(&lock, &roots, &[]);
    assert_eq!(code, 0, "{err}");
    let lists = of_event(&recs, "list");
    // 3 time lists, their 3 -old copies (they exist from the first write), 4 aliases, 3
    // fullfilelists.
    assert_eq!(lists.len(), 13, "{lists:?}");
    assert!(lists.iter().all(|r| r["outcome"] == "created"));
    assert_eq!(lists.iter().filter(|r| r["kind"] == "old").count(), 3);
    // The outer list never lists a list this run writes, at any depth.
    let outer = fs::read_to_string(prod.join("fullfiletimelist-rocky")).unwrap();
    assert!(outer.contains("\tmirror/pub/rocky/9.6/BaseOS/p.rpm\n"));
    assert!(!outer.contains("fullfiletimelist"), "{outer}");
    assert!(!outer.contains("fullfilelist"), "{outer}");
    // A second run on the unchanged tree rewrites nothing (the first run's fullfilelists did not
    // list themselves yet, as `find . > fullfilelist` would; the second one settles them).
    let (code, _, _) = write_run(&lock, &roots, &[]);
    assert_eq!(code, 0);
    let mtimes = |dir: &Path| -> Vec<(String, std::time::SystemTime)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().modified().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = [mtimes(&prod), mtimes(&cat), mtimes(&sig)];
    std::thread::sleep(Duration::from_millis(20));
    let (code, recs, _) = write_run(&lock, &roots, &[]);
    assert_eq!(code, 0);
    assert!(
        of_event(&recs, "list")
            .iter()
            .all(|r| r["outcome"] == "unchanged"),
        "{recs:?}"
    );
    assert_eq!(summary(&recs)["unchanged"], 10);
    assert_eq!(before, [mtimes(&prod), mtimes(&cat), mtimes(&sig)]);
    assert_eq!(
        fs::read(cat.join("fullfiletimelist-rocky-old")).unwrap(),
        fs::read(cat.join("fullfiletimelist-rocky")).unwrap(),
        "the first -old is a copy of the first list"
    );

    // A change: the list is replaced and the previous one kept as -old.
    let previous = fs::read(cat.join("fullfiletimelist-rocky")).unwrap();
    fs::write(cat.join("9.6/BaseOS/q.rpm"), "q").unwrap();
    let (code, recs, _) = write_run(&lock, &roots, &[]);
    assert_eq!(code, 0);
    let replaced: BTreeSet<String> = of_event(&recs, "list")
        .iter()
        .filter(|r| r["outcome"] == "replaced" && r["kind"] == "timelist")
        .map(|r| r["root"].as_str().unwrap().to_owned())
        .collect();
    assert!(replaced.contains(cat.to_str().unwrap()));
    assert!(replaced.contains(prod.to_str().unwrap()));
    assert!(!replaced.contains(sig.to_str().unwrap()));
    assert_eq!(
        fs::read(cat.join("fullfiletimelist-rocky-old")).unwrap(),
        previous
    );
    assert_eq!(
        fs::read(cat.join("fullfiletimelist-rocky-linux")).unwrap(),
        fs::read(cat.join("fullfiletimelist-rocky")).unwrap()
    );
    // One run after a change settles every list, nested roots included (inner roots are
    // written before the outer root lists their directories).
    let (code, recs, _) = write_run(&lock, &roots, &[]);
    assert_eq!(code, 0);
    assert!(
        of_event(&recs, "list")
            .iter()
            .all(|r| r["outcome"] == "unchanged"),
        "{recs:?}"
    );
    // No temporaries are left anywhere.
    let left = sh("find . -name '*.rl-tmp.*'", d.path());
    assert!(left.is_empty(), "{}", String::from_utf8_lossy(&left));
}

#[test]
fn write_refuses_when_locked_and_rejects_bad_roots() {
    let d = tempfile::tempdir().unwrap();
    let lock = d.path().join("lock");
    let root = format!("{}:x", d.path().display());
    // Bad specs and missing directories: one sentence, exit 2, no records.
    for bad in [
        "/nonexistent/dir:x".to_owned(),
        d.path().display().to_string(),
        format!("{}:a/b", d.path().display()),
    ] {
        let out = rl("rl-filelist")
            .args(["write", "--root", &bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    if !have_peer("flock") {
        return;
    }
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut code = None;
    while t0.elapsed() < Duration::from_secs(10) {
        let out = rl("rl-filelist")
            .args(["write", "--no-wait", "--lock"])
            .arg(&lock)
            .args(["--root", &root])
            .output()
            .unwrap();
        code = out.status.code();
        if code == Some(3) {
            assert!(String::from_utf8_lossy(&out.stderr).contains("lock"));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code, Some(3));
}

#[test]
fn missing_or_unreadable_input_is_an_error_not_a_panic() {
    let out = rl("rl-filelist")
        .args(["-d", "/nonexistent/tree"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    // Root reads any directory: as root, run the tool as uid/gid 65534 through setpriv
    // (util-linux), so the permission check is real; otherwise run it as ourselves.
    if is_root() && !have_peer("setpriv") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    chmod(d.path(), 0o777);
    // A copy of the binary the other user can surely run (the build tree may be private).
    let bin = d.path().join("rl-filelist");
    fs::copy(bin_path("rl-filelist"), &bin).unwrap();
    chmod(&bin, 0o755);
    let as_user = |args: &[&OsStr]| -> std::process::Output {
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args).output().unwrap()
    };
    let r = d.path().join("pub");
    fs::create_dir_all(r.join("closed/x")).unwrap();
    chmod(&r, 0o777);
    let lock = d.path().join("lock");
    let spec = format!("{}:t", r.display());
    // Everything in fullfilelist: the public one would not even try to enter `closed`.
    let args = [
        OsStr::new("write"),
        OsStr::new("--fullfilelist-all"),
        OsStr::new("--lock"),
        lock.as_os_str(),
        OsStr::new("--root"),
        OsStr::new(&spec),
    ];
    let out = as_user(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = fs::read(r.join("fullfiletimelist-t")).unwrap();
    let before_find = fs::read(r.join("fullfilelist")).unwrap();
    // Group-readable (so listed and entered) but not enterable by the tool's user.
    chmod(&r.join("closed"), 0o040);
    let out = as_user(&args);
    let stdout_mode = as_user(&[OsStr::new("-d"), r.as_os_str()]);
    chmod(&r.join("closed"), 0o755);
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    let errors = of_event(&recs, "error");
    assert!(!errors.is_empty());
    assert_eq!(errors[0]["path"], "closed");
    assert_eq!(errors[0]["kind"], "io.permission_denied");
    assert_eq!(fs::read(r.join("fullfiletimelist-t")).unwrap(), before);
    assert_eq!(fs::read(r.join("fullfilelist")).unwrap(), before_find);
    // create-filelist mode: the list still goes to stdout (the original would crash), exit 2.
    assert_eq!(stdout_mode.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&stdout_mode.stderr).contains("closed: Permission denied"));
    assert!(stdout_mode.stdout.ends_with(b"[End]\n"));
}

#[test]
fn interrupted_write_leaves_the_previous_list() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("pub");
    fs::create_dir_all(r.join("repo/repodata")).unwrap();
    for i in 0..200 {
        fs::write(r.join(format!("repo/p{i}.rpm")), "x").unwrap();
    }
    let lock = d.path().join("lock");
    let spec = format!("{}:t", r.display());
    let (code, _, _) = write_run(&lock, std::slice::from_ref(&spec), &["-c"]);
    assert_eq!(code, 0);
    let list = r.join("fullfiletimelist-t");
    let before = fs::read(&list).unwrap();
    // A FIFO named repomd.xml: the checksum step blocks on it after the [Files] lines are
    // written to the temporary, so the kill lands in the middle of a write.
    assert!(
        Command::new("mkfifo")
            .arg(r.join("repo/repodata/repomd.xml"))
            .status()
            .unwrap()
            .success()
    );
    let mut child = tool("rl-filelist")
        .args(["write", "-c", "--lock"])
        .arg(&lock)
        .args(["--root", &spec])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let temp = loop {
        let found = fs::read_dir(&r)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .find(|n| {
                n.to_string_lossy()
                    .starts_with(".fullfiletimelist-t.rl-tmp.")
            });
        if let Some(n) = found {
            break r.join(n);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no temporary appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(fs::read(&list).unwrap(), before, "the list changed");
    assert!(temp.exists());
    // Consumers never see the half-written temporary: it is not listed, and the next run
    // removes it.
    let out = rl("rl-filelist").current_dir(&r).output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(".rl-tmp."));
    fs::remove_file(r.join("repo/repodata/repomd.xml")).unwrap();
    let (code, _, _) = write_run(&lock, &[spec], &["-c"]);
    assert_eq!(code, 0);
    assert!(!temp.exists());
    let after = fs::read_to_string(&list).unwrap();
    assert!(after.ends_with("\n[End]\n"));
}

/// quick-fedora-mirror's steps over two lists (reference §2.1): the version check, the `[End]`
/// check, the `[Files]` extraction with awk, `sort -t$'\t' -k4`, the changed-line diff, and the
/// type filter of a public client (no PREBITFLIP). Prints the paths the client would transfer.
const QFM: &str = r#"
export LANG=C
old=$1 new=$2
flversion=$(awk -F '\t' '/^\[Version/ {s=1; next} /^$/ {exit} {if (s) print $0}' < $new)
[[ $flversion -le 3 ]] || { print -u2 "File list from the mirror cannot be processed by this script."; exit 3 }
tail -2 $new | grep -q '^\[End\]$' || { print -u2 "No end marker.  Corrupted file list?"; exit 4 }
for f in $old $new; do
  awk -F '\t' '/\[Files/ {s=1;next} /^$/ {s=0;next} {if (s) print}' < $f | sort -t$'\t' -k4 > $f.sorted
done
diff --changed-group-format='%>' --unchanged-group-format='' --old-group-format='' \
     --new-group-format='%>' $old.sorted $new.sorted > changed
awk -F '\t' '{if ($2 == "d" || $2 == "f" || $2 == "l") print $4}' < changed | sort
exit 0
"#;

fn qfm(dir: &Path, old: &Path, new: &Path) -> BTreeSet<String> {
    let out = Command::new("zsh")
        .arg("-c")
        .arg(QFM)
        .arg("qfm")
        .arg(old)
        .arg(new)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn quick_fedora_mirror_picks_up_exactly_the_changes_and_the_bitflip() {
    if !have_peer("zsh") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("rocky");
    fs::create_dir(&r).unwrap();
    staged_tree(&r);
    let work = d.path();
    let lock = work.join("lock");
    let spec = format!("{}:rocky", r.display());
    let list = r.join("fullfiletimelist-rocky");
    let snapshot = |name: &str| {
        let p = work.join(name);
        fs::copy(&list, &p).unwrap();
        p
    };
    assert_eq!(write_run(&lock, std::slice::from_ref(&spec), &["-c"]).0, 0);
    let l1 = snapshot("l1");
    // Nothing changed: nothing to transfer (and the list is byte-identical).
    assert_eq!(write_run(&lock, std::slice::from_ref(&spec), &["-c"]).0, 0);
    let l1b = snapshot("l1b");
    assert!(qfm(work, &l1, &l1b).is_empty());
    assert_eq!(fs::read(&l1).unwrap(), fs::read(&l1b).unwrap());

    // A change one second later (MODTIME has whole seconds): a rewritten package and a new one.
    std::thread::sleep(Duration::from_millis(1100));
    let pkgs = r.join("9.5/BaseOS/x86_64/os/Packages/a");
    fs::write(pkgs.join("a-1.0.rpm"), "rpm-a rebuilt").unwrap();
    fs::write(pkgs.join("a-1.1.rpm"), "new").unwrap();
    assert_eq!(write_run(&lock, std::slice::from_ref(&spec), &["-c"]).0, 0);
    let l2 = snapshot("l2");
    let want: BTreeSet<String> = [
        "9.5/BaseOS/x86_64/os/Packages/a",
        "9.5/BaseOS/x86_64/os/Packages/a/a-1.0.rpm",
        "9.5/BaseOS/x86_64/os/Packages/a/a-1.1.rpm",
        // The hard link shares the inode, so its size and ctime changed too.
        "9.5/BaseOS/x86_64/os/Packages/a/a-hardlink.rpm",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(qfm(work, &l1, &l2), want);

    // The bitflip: chmod 755 on the release root only. A public client now fetches the whole
    // release (every row lost its `*`), except what stays unreadable on its own (`f-`).
    std::thread::sleep(Duration::from_millis(1100));
    chmod(&r.join("9.6"), 0o755);
    assert_eq!(write_run(&lock, std::slice::from_ref(&spec), &["-c"]).0, 0);
    let l3 = snapshot("l3");
    let all96: BTreeSet<String> = fs::read_to_string(&l3)
        .unwrap()
        .lines()
        .filter_map(|l| l.splitn(4, '\t').nth(3))
        .filter(|p| p.starts_with("9.6"))
        .filter(|p| !p.ends_with("embargo.rpm"))
        .map(str::to_owned)
        .collect();
    assert_eq!(all96.len(), 9);
    assert_eq!(qfm(work, &l2, &l3), all96);

    // The SHA1 checks a client runs over the checksum sections pass on the tree itself.
    let check = Command::new("zsh")
        .arg("-c")
        .arg(
            "awk -F '\\t' '/^\\[Checksums SHA1/ {s=1; next} /^$/ {s=0; next} \
             {if (s) print $1 \"  \" $2}' < fullfiletimelist-rocky | sha1sum --check --quiet",
        )
        .current_dir(&r)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // A truncated list is refused by the client's [End] check.
    let cut = work.join("cut");
    let bytes = fs::read(&l3).unwrap();
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = Command::new("zsh")
        .arg("-c")
        .arg(QFM)
        .arg("qfm")
        .arg(&l2)
        .arg(&cut)
        .current_dir(work)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn diff_reports_added_removed_changed() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("t");
    fs::create_dir_all(r.join("a")).unwrap();
    fs::write(r.join("a/keep"), "k").unwrap();
    fs::write(r.join("a/gone"), "g").unwrap();
    fs::write(r.join("a/grow"), "1").unwrap();
    let old = d.path().join("old");
    let out = rl("rl-filelist").arg("-d").arg(&r).output().unwrap();
    fs::write(&old, &out.stdout).unwrap();
    // Identical: exit 0, no differences.
    let same = rl("rl-filelist")
        .arg("diff")
        .arg(&old)
        .arg(&old)
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(summary(&records(&same.stdout))["same"], 4);
    fs::remove_file(r.join("a/gone")).unwrap();
    fs::write(r.join("a/grow"), "12").unwrap();
    fs::write(r.join("a/new file"), "n").unwrap();
    let new = d.path().join("new");
    let out = rl("rl-filelist").arg("-d").arg(&r).output().unwrap();
    fs::write(&new, &out.stdout).unwrap();
    for against in [&new, &r] {
        let out = rl("rl-filelist")
            .arg("diff")
            .arg(&old)
            .arg(against)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let recs = records(&out.stdout);
        let added = of_event(&recs, "added");
        assert_eq!(added.len(), 1);
        assert_eq!(added[0]["path"], "a/new file");
        let removed = of_event(&recs, "removed");
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0]["path"], "a/gone");
        let changed: BTreeSet<&str> = of_event(&recs, "changed")
            .iter()
            .map(|r| r["path"].as_str().unwrap())
            .collect();
        assert!(changed.contains("a/grow"));
        let grow = of_event(&recs, "changed")
            .into_iter()
            .find(|r| r["path"] == "a/grow")
            .unwrap();
        assert_eq!(grow["size"], 2);
        assert_eq!(grow["old"]["size"], 1);
    }
    // A list written into the tree it describes (`rl-filelist write`) matches that tree: the
    // live scan leaves the list files out, unless --keep-lists.
    let out = rl("rl-filelist")
        .arg("write")
        .arg("--root")
        .arg(format!("{}:t:fullfiletimelist", r.display()))
        .arg("--lock")
        .arg(d.path().join("lock"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = r.join("fullfiletimelist-t");
    let fresh = rl("rl-filelist")
        .arg("diff")
        .arg(&list)
        .arg(&r)
        .output()
        .unwrap();
    assert_eq!(
        fresh.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fresh.stdout)
    );
    let kept = rl("rl-filelist")
        .args(["diff", "--keep-lists"])
        .arg(&list)
        .arg(&r)
        .output()
        .unwrap();
    assert_eq!(kept.status.code(), Some(1));
    let kept_recs = records(&kept.stdout);
    let added: BTreeSet<&str> = of_event(&kept_recs, "added")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(
        added.contains("fullfiletimelist-t") && added.contains("fullfilelist"),
        "{added:?}"
    );
    for a in &added {
        assert!(a.starts_with("fullfile"), "{a}");
    }
    fs::remove_file(r.join("fullfilelist")).unwrap();
    for f in [
        "fullfiletimelist-t",
        "fullfiletimelist",
        "fullfiletimelist-t-old",
    ] {
        let _ = fs::remove_file(r.join(f));
    }
    // Bad input: a truncated list, a file that is no list, a missing path.
    let cut = d.path().join("cut");
    let b = fs::read(&new).unwrap();
    fs::write(&cut, &b[..b.len() - 7]).unwrap();
    for bad in [cut, r.join("a/keep"), d.path().join("missing")] {
        let out = rl("rl-filelist")
            .arg("diff")
            .arg(&old)
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", bad.display());
        // Framed like every run: start, one error, summary; nothing compared.
        let recs = records(&out.stdout);
        assert_eq!(recs.len(), 3, "{recs:?}");
        assert_eq!(of_event(&recs, "error").len(), 1);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn write_chowns_the_lists_it_writes() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("pub");
    fs::create_dir_all(r.join("a")).unwrap();
    let spec = format!("{}:x:fullfiletimelist", r.display());
    let lock = d.path().join("lock");
    let bad = rl("rl-filelist")
        .args(["write", "--chown", "ftpsync", "--root", &spec])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
    if !is_root() {
        return; // only root may give files away
    }
    let (code, _, err) = write_run(&lock, &[spec], &["--chown", "10004:10005"]);
    assert_eq!(code, 0, "{err}");
    for name in ["fullfiletimelist-x", "fullfiletimelist", "fullfilelist"] {
        let m = fs::metadata(r.join(name)).unwrap();
        assert_eq!((m.uid(), m.gid()), (10004, 10005), "{name}");
        assert_eq!(m.mode() & 0o777, 0o644, "{name}");
    }
}

#[test]
fn strict_names_refuses_lists_consumers_cannot_parse() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("pub");
    fs::create_dir(&r).unwrap();
    fs::write(r.join("fine name"), "").unwrap();
    let spec = format!("{}:x", r.display());
    let lock = d.path().join("lock");
    let (code, _, _) = write_run(&lock, std::slice::from_ref(&spec), &["--strict-names"]);
    assert_eq!(code, 0);
    let before = fs::read(r.join("fullfiletimelist-x")).unwrap();
    fs::write(r.join(OsStr::from_bytes(b"bad\xffname")), "").unwrap();
    let (code, recs, _) = write_run(&lock, std::slice::from_ref(&spec), &["--strict-names"]);
    assert_eq!(code, 2);
    assert_eq!(of_event(&recs, "error")[0]["kind"], "io.invalid_data");
    assert_eq!(fs::read(r.join("fullfiletimelist-x")).unwrap(), before);
    // create-filelist mode: same check, exit 2; without the flag the raw bytes are listed.
    let out = rl("rl-filelist")
        .arg("--strict-names")
        .current_dir(&r)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rl("rl-filelist").current_dir(&r).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.windows(8).any(|w| w == b"bad\xffname"));
}

/// The public fullfilelist names what a public mirror can see: a staged release root (0750) by
/// name, none of its contents — exactly what `find .` prints when run as nobody (#18 item 5).
/// `--fullfilelist-all` restores the toolkit's `find .` as root.
#[test]
fn public_fullfilelist_leaves_out_what_others_cannot_enter() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path().join("rocky");
    for f in ["9.6/BaseOS/p.rpm", "9.7/BaseOS/new.rpm", "9.7/isos/x.iso"] {
        fs::create_dir_all(r.join(f).parent().unwrap()).unwrap();
        fs::write(r.join(f), "x").unwrap();
    }
    chmod(d.path(), 0o755);
    chmod(&r.join("9.7"), 0o750);
    let lock = d.path().join("lock");
    let root = vec![format!("{}:rocky", r.display())];
    let (code, _, err) = write_run(&lock, &root, &["--no-old"]);
    assert_eq!(code, 0, "{err}");
    let public = fs::read_to_string(r.join("fullfilelist")).unwrap();
    assert!(
        public.contains("./9.7\n") && public.contains("./9.6/BaseOS/p.rpm\n"),
        "{public}"
    );
    assert!(
        !public.contains("./9.7/"),
        "staged contents named: {public}"
    );
    // The time list still has everything, marked for the tier-1 mirrors.
    let tl = fs::read_to_string(r.join("fullfiletimelist-rocky")).unwrap();
    assert!(tl.contains("9.7/BaseOS/new.rpm"), "{tl}");
    if is_root() && have_peer("setpriv") {
        // The public's view: find as nobody (it also prints the list written meanwhile).
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "find",
                ".",
            ])
            .current_dir(&r)
            .output()
            .unwrap();
        let mut seen: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        let mut listed: Vec<&str> = public.lines().collect();
        seen.retain(|l| *l != "./fullfilelist");
        listed.retain(|l| *l != "./fullfilelist");
        seen.sort();
        listed.sort();
        assert_eq!(
            listed, seen,
            "public fullfilelist differs from find as nobody"
        );
    }
    let (code, _, err) = write_run(&lock, &root, &["--no-old", "--fullfilelist-all"]);
    assert_eq!(code, 0, "{err}");
    let all = fs::read_to_string(r.join("fullfilelist")).unwrap();
    assert!(all.contains("./9.7/BaseOS/new.rpm\n"), "{all}");
}
