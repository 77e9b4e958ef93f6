//! scripts/release-check on a small hand-made release (compose, staging, production, torrents)
//! built with the rl-* tools the way the pipelines build it; then things are broken one at a time
//! and the check that must notice says FAIL.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

const ARCHES: [&str; 2] = ["x86_64", "aarch64"];

/// The release data of scripts/common for RLVER=9 RLREL=stable: (REVISION, REV, MAJOR).
fn release_data() -> (String, String, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1/scripts/common" && printf '%s\n' "$REVISION" "$REV" "$MAJOR""#)
        .arg("bash")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .env("RLVER", "9")
        .env("RLREL", "stable")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Vec<&str> = text.lines().collect();
    (v[0].to_owned(), v[1].to_owned(), v[2].to_owned())
}

fn put(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Runs one of our tools and insists on exit 0.
fn tool(name: &str, args: &[&std::ffi::OsStr]) {
    let out = rl(name).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn os<P: AsRef<std::ffi::OsStr> + ?Sized>(p: &P) -> &std::ffi::OsStr {
    p.as_ref()
}

/// Repository metadata as createrepo_c would write it, by hand: an uncompressed primary.xml with
/// two packages of ARCH, one requiring the other.
fn repodata(repo: &Path, arch: &str) {
    put(
        &repo.join("repodata/repomd.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision><data type="primary"><location href="repodata/primary.xml"/></data></repomd>
"#,
    );
    put(
        &repo.join("repodata/repomd.xml.asc"),
        "-----BEGIN PGP SIGNATURE-----\n\nstub\n-----END PGP SIGNATURE-----\n",
    );
    let pkg = |name: &str, req: &str| {
        format!(
            r#"<package type="rpm"><name>{name}</name><arch>{arch}</arch><version epoch="0" ver="1.0" rel="1.el9"/><checksum type="sha256" pkgid="YES">{name}</checksum><location href="Packages/{l}/{name}-1.0-1.el9.{arch}.rpm"/><format><rpm:provides><rpm:entry name="{name}" flags="EQ" epoch="0" ver="1.0" rel="1.el9"/></rpm:provides><rpm:requires>{req}</rpm:requires></format></package>
"#,
            l = &name[..1]
        )
    };
    put(
        &repo.join("repodata/primary.xml"),
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
{}{}</metadata>
"#,
            pkg("bash", r#"<rpm:entry name="glibc"/>"#),
            pkg("glibc", "")
        ),
    );
    for name in ["bash", "glibc"] {
        put(
            &repo.join(format!(
                "Packages/{}/{name}-1.0-1.el9.{arch}.rpm",
                &name[..1]
            )),
            format!("rpm {name}"),
        );
    }
}

struct Release {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    revision: String,
    compose: PathBuf,
    stage: PathBuf,
    prod_cat: PathBuf,
    prod: PathBuf,
}

fn build() -> Release {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let (revision, rev, major) = release_data();

    // The compose: STATUS, productmd metadata, repositories of two arches.
    let id = format!("Rocky-{revision}-20251124.0");
    let top = base.join(format!("compose/{major}/{id}"));
    put(&top.join("STATUS"), "FINISHED\n");
    put(&top.join("COMPOSE_ID"), format!("{id}\n"));
    let c = top.join("compose");
    let mut rpms = serde_json::Map::new();
    for arch in ARCHES {
        repodata(&c.join(format!("BaseOS/{arch}/os")), arch);
        let mut srpms = serde_json::Map::new();
        for name in ["bash", "glibc"] {
            srpms.insert(
                format!("{name}-0:1.0-1.el9.src"),
                serde_json::json!({ format!("{name}-0:1.0-1.el9.{arch}"): {
                    "path": format!("BaseOS/{arch}/os/Packages/{}/{name}-1.0-1.el9.{arch}.rpm", &name[..1]),
                    "sigkey": "350d275d", "category": "binary"}}),
            );
        }
        rpms.insert(arch.to_owned(), Value::Object(srpms));
    }
    let header =
        |kind: &str| serde_json::json!({"type": format!("productmd.{kind}"), "version": "1.2"});
    let compose_rec =
        serde_json::json!({"id": id, "date": "20251124", "respin": 0, "type": "production"});
    put(
        &c.join("metadata/rpms.json"),
        serde_json::json!({"header": header("rpms"), "payload": {"compose": compose_rec,
            "rpms": {"BaseOS": rpms}}})
        .to_string(),
    );
    put(
        &c.join("metadata/composeinfo.json"),
        serde_json::json!({"header": header("composeinfo"), "payload": {"compose": compose_rec,
            "release": {"name": "Rocky Linux", "short": "Rocky", "version": revision, "type": "ga", "is_layered": false},
            "variants": {"BaseOS": {"id": "BaseOS", "uid": "BaseOS", "name": "BaseOS", "type": "variant",
                "arches": ARCHES, "paths": {"os_tree": {"x86_64": "BaseOS/x86_64/os", "aarch64": "BaseOS/aarch64/os"},
                "repository": {"x86_64": "BaseOS/x86_64/os", "aarch64": "BaseOS/aarch64/os"}}}}}})
        .to_string(),
    );
    symlink(
        &id,
        base.join(format!("compose/{major}/latest-Rocky-{major}")),
    )
    .unwrap();

    // Staging: the repositories, ISOs (x86_64 with dvd, aarch64 with dvd1), a cloud image, and
    // two identical files for the hard-link check.
    let stage = base.join(format!("staging/mirror/pub/rocky/{rev}"));
    for arch in ARCHES {
        repodata(&stage.join(format!("BaseOS/{arch}/os")), arch);
        let dvd = if arch == "x86_64" { "dvd" } else { "dvd1" };
        for (n, variant) in ["boot", "minimal", dvd].into_iter().enumerate() {
            let bytes: Vec<u8> = (0..40_000 + 1000 * n).map(|i| (i * 7 + n) as u8).collect();
            put(
                &stage.join(format!("isos/{arch}/Rocky-{revision}-{arch}-{variant}.iso")),
                bytes,
            );
        }
        tool(
            "rl-checksum",
            &[os("create"), os(&stage.join(format!("isos/{arch}")))],
        );
    }
    put(
        &stage.join(format!(
            "images/x86_64/Rocky-9-GenericCloud-Base-{revision}-20251124.0.x86_64.qcow2"
        )),
        "qcow2",
    );
    tool(
        "rl-checksum",
        &[
            os("create"),
            os("--pattern"),
            os("*.qcow2"),
            os(&stage.join("images/x86_64")),
        ],
    );
    put(&stage.join("AppStream/x86_64/os/EULA"), "same text");
    put(&stage.join("BaseOS/x86_64/os/EULA"), "same text");
    // One old mtime for everything: the identical files (EULA, the same packages and ISO bytes in
    // both arches) are then always hard-linked in production, which moves the mtimes of their
    // directories there (the check must not count that as a difference).
    let mtime = filetime::FileTime::from_unix_time(1_700_000_000, 0);
    for e in rl_core::walk::walk(&stage, &Default::default()) {
        filetime::set_file_mtime(e.unwrap().path, mtime).unwrap();
    }

    // Torrents: download directories of links to the staging ISOs, one torrent each.
    let download = base.join("download");
    tool(
        "rl-torrent",
        &[
            os("scaffold"),
            os("--revision"),
            os(&revision),
            os("--arch"),
            os("x86_64,aarch64"),
            os("--into"),
            os(&download),
            os(&stage.join("isos")),
        ],
    );
    let mut args = vec![
        os("create").to_owned(),
        os("--no-tracker").to_owned(),
        os("--no-date").to_owned(),
        os("-x").to_owned(),
        os(r".*/CHECKSUM.asc").to_owned(),
        os("-o").to_owned(),
        base.join("torrents").into_os_string(),
    ];
    for e in fs::read_dir(&download).unwrap() {
        args.push(e.unwrap().path().into_os_string());
    }
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    tool("rl-torrent", &args);

    // Production as the SOP leaves it before the flip: synced, hard-linked, staged, listed.
    let prod_cat = base.join("production/mirror/pub/rocky");
    let prod = prod_cat.join(&revision);
    fs::create_dir_all(&prod_cat).unwrap();
    let mut src = stage.clone().into_os_string();
    src.push("/");
    tool(
        "rl-sync",
        &[os("--delete"), &src, os(&format!("{}/", prod.display()))],
    );
    tool(
        "rl-hardlink",
        &[
            os("-x"),
            os(r".*\.xml.*"),
            os("-x"),
            os(r".*\.treeinfo"),
            os("-x"),
            os(r".*\.discinfo"),
            os(&prod),
        ],
    );
    tool("rl-bitflip", &[os("stage"), os(&prod)]);
    write_file_lists(&base, &prod_cat);

    Release {
        _tmp: tmp,
        base,
        revision,
        compose: top,
        stage,
        prod_cat,
        prod,
    }
}

fn write_file_lists(base: &Path, prod_cat: &Path) {
    let mut root = prod_cat.as_os_str().to_owned();
    root.push(":rocky:fullfiletimelist,fullfiletimelist-rocky-linux");
    tool(
        "rl-filelist",
        &[
            os("write"),
            os("--root"),
            &root,
            os("--lock"),
            os(&base.join("filelist.lock")),
        ],
    );
}

struct Run {
    code: i32,
    stdout: String,
}

impl Run {
    /// The table line of one check.
    fn line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{}", self.stdout))
    }

    fn result(&self, name: &str) -> &str {
        self.line(name).split_whitespace().next().unwrap()
    }

    fn assert(&self, name: &str, result: &str, why: &str) {
        let line = self.line(name);
        assert!(
            line.starts_with(result) && line.contains(why),
            "expected {result} {name} … {why}, got: {line}\nall:\n{}",
            self.stdout
        );
    }

    /// Every check not named in `except` passes (or is skipped, for the arches not in the
    /// release).
    fn others_pass(&self, except: &[&str]) {
        for l in self
            .stdout
            .lines()
            .filter(|l| !l.starts_with("release-check:"))
        {
            let name = l.split_whitespace().nth(1).unwrap();
            if except.contains(&name) {
                continue;
            }
            let ok = l.starts_with("PASS") || (l.starts_with("SKIP") && OPTIONAL.contains(&name));
            assert!(ok, "unexpected: {l}\nall:\n{}", self.stdout);
        }
    }
}

/// Checks that SKIP on a good release here: arches it does not have, and the MirrorManager checks,
/// which need a database or propagation logs that the test does not give.
const OPTIONAL: [&str; 4] = ["isos:ppc64le", "isos:s390x", "redirects", "propagation"];

fn release_check(r: &Release, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let bins = bin_path("rl-compose").parent().unwrap().to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release-check");
    let mut cmd = Command::new("bash");
    cmd.arg(script)
        .args(args)
        .env("RLVER", "9")
        .env("RLREL", "stable")
        .env("RL_BIN_DIR", bins)
        .env("COMPOSE_ROOT", r.base.join("compose"))
        .env("STAGING_ROOT", r.base.join("staging"))
        .env("PRODUCTION_ROOT", r.base.join("production"))
        .env("TORRENT_DIR", r.base.join("torrents"))
        .env("RL_TORRENT_DOWNLOAD", r.base.join("download"))
        .env_remove("RL_SIGN_KEY")
        .env_remove("SHORT")
        .env_remove("PGDATABASE")
        .env_remove("PGSERVICE")
        .env_remove("RL_PROPAGATION_LOGS")
        .env_remove("RL_PROPAGATION_MAX_BEHIND")
        .env_remove("RL_SIGN_CMD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

fn flip_byte(path: &Path, at: u64) {
    let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(b"\xff").unwrap();
}

#[test]
fn a_good_release_passes_and_each_break_fails_its_check() {
    let r = build();
    let rev = &r.revision;

    let run = release_check(&r, &[], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.others_pass(&[]);
    for name in [
        "compose-finished",
        "closure",
        "signed",
        "isos:x86_64",
        "isos:aarch64",
        "images",
        "signatures",
        "checksums",
        "torrents:x86_64",
        "torrents:aarch64",
        "identical",
        "hardlinked",
        "filelist-fresh",
        "bitflip",
    ] {
        assert_eq!(run.result(name), "PASS", "{}", run.stdout);
    }
    run.assert(
        "isos:aarch64",
        "PASS",
        &format!("Rocky-{rev}-aarch64-dvd1.iso"),
    );
    run.assert("isos:s390x", "SKIP", "neither in the compose");
    run.assert("checksums", "PASS", "7 files verified by 3 CHECKSUM files");
    run.assert("bitflip", "PASS", "staged");
    run.assert("identical", "PASS", "directory mtimes differ, ignored");
    run.assert("closure", "PASS", "4 packages in 2 repositories");
    let key = Path::new("350d275d");
    let run = release_check(&r, &[], &[("RL_SIGN_KEY", key)]);
    run.assert("signed", "PASS", "all 4 packages signed with 350d275d");

    // The same as records.
    let out = release_check(&r, &["--json"], &[]);
    assert_eq!(out.code, 0);
    let recs = records(out.stdout.as_bytes());
    assert_eq!(recs[0]["tool"], "release-check");
    let checks = of_event(&recs, "check");
    assert_eq!(checks.len(), 18, "{}", out.stdout);
    for c in &checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["event", "name", "result", "why"]);
        assert!(c["result"] == "pass" || c["result"] == "skip", "{c}");
    }
    let s = summary(&recs);
    assert_eq!(
        (s["pass"].as_u64(), s["fail"].as_u64()),
        (Some(14), Some(0))
    );
    assert_eq!(s["skip"], 4);

    // Before the flip, --expect-public says so.
    let run = release_check(&r, &["--expect-public"], &[]);
    assert_eq!(run.code, 1);
    run.assert("bitflip", "FAIL", "expected public");
    run.others_pass(&["bitflip"]);

    // A file only in staging: the trees are no longer identical; nothing else notices.
    put(&r.stage.join("BaseOS/x86_64/os/Packages/new.rpm"), "new");
    let run = release_check(&r, &[], &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert(
        "identical",
        "FAIL",
        "copy BaseOS/x86_64/os/Packages/new.rpm",
    );
    run.others_pass(&["identical"]);

    // A file added to production after the lists were written: the lists are stale.
    put(&r.prod_cat.join("README"), "hello");
    let run = release_check(&r, &[], &[]);
    run.assert("filelist-fresh", "FAIL", "added README");
    run.others_pass(&["identical", "filelist-fresh"]);
    // An alias that differs from the list is stale too, even when the list is fresh.
    write_file_lists(&r.base, &r.prod_cat);
    put(&r.prod_cat.join("fullfiletimelist"), "old");
    let run = release_check(&r, &[], &[]);
    run.assert("filelist-fresh", "FAIL", "fullfiletimelist differ");
    write_file_lists(&r.base, &r.prod_cat);
    fs::copy(
        r.prod_cat.join("fullfiletimelist-rocky"),
        r.prod_cat.join("fullfiletimelist"),
    )
    .unwrap();
    let run = release_check(&r, &[], &[]);
    run.assert("filelist-fresh", "PASS", "matches the live tree");

    // One byte of a staging ISO flipped: its CHECKSUM and its torrent no longer verify.
    let iso = format!("isos/x86_64/Rocky-{rev}-x86_64-minimal.iso");
    flip_byte(&r.stage.join(&iso), 1234);
    let run = release_check(&r, &[], &[]);
    assert_eq!(run.code, 1);
    run.assert("checksums", "FAIL", &format!("mismatch {iso}"));
    run.assert("torrents:x86_64", "FAIL", "1 bad piece");
    run.assert("torrents:aarch64", "PASS", "3 torrents verified");
    run.others_pass(&["identical", "checksums", "torrents:x86_64"]);

    // A copy in production that rl-hardlink would link.
    let eula = r.prod.join("AppStream/x86_64/os/EULA");
    let copy = r.prod.join("AppStream/x86_64/os/EULA.copy");
    fs::copy(&eula, &copy).unwrap();
    filetime::set_file_mtime(
        &copy,
        filetime::FileTime::from_last_modification_time(&fs::metadata(&eula).unwrap()),
    )
    .unwrap();
    let run = release_check(&r, &[], &[]);
    run.assert("hardlinked", "FAIL", "1 file could still be hard-linked");

    // The compose is not FINISHED; the other compose checks still run.
    put(&r.compose.join("STATUS"), "DOOMED\n");
    let run = release_check(&r, &[], &[]);
    run.assert("compose-finished", "FAIL", "STATUS is DOOMED");
    run.assert("closure", "PASS", "every requirement resolved");

    // A requirement nothing provides, and an unsigned package.
    let primary = r
        .compose
        .join("compose/BaseOS/x86_64/os/repodata/primary.xml");
    let text = fs::read_to_string(&primary).unwrap().replacen(
        r#"<rpm:entry name="glibc"/>"#,
        r#"<rpm:entry name="glibc"/><rpm:entry name="nothing-provides-this"/>"#,
        1,
    );
    put(&primary, text);
    let rpms = r.compose.join("compose/metadata/rpms.json");
    let text = fs::read_to_string(&rpms).unwrap().replacen(
        r#""sigkey":"350d275d""#,
        r#""sigkey":null"#,
        1,
    );
    put(&rpms, text);
    let run = release_check(&r, &[], &[]);
    run.assert(
        "closure",
        "FAIL",
        "1 unresolved requirement in 1 package: bash-1.0-1.el9.x86_64 (x86_64) requires nothing-provides-this",
    );
    run.assert(
        "signed",
        "FAIL",
        "1 of 4 packages not signed with 350d275d: BaseOS/",
    );

    // --skip, and no torrent directory.
    let none = r.base.join("no-torrents");
    let run = release_check(
        &r,
        &["--skip", "compose,checksums"],
        &[("TORRENT_DIR", &none)],
    );
    run.assert("compose-finished", "SKIP", "--skip compose");
    run.assert("signed", "SKIP", "--skip compose");
    run.assert("checksums", "SKIP", "--skip checksums");
    run.assert("torrents", "SKIP", "no torrent directory");

    // Usage errors.
    assert_eq!(release_check(&r, &["--bogus"], &[]).code, 2);
    assert_eq!(release_check(&r, &["8.10"], &[]).code, 2);
    assert_eq!(release_check(&r, &["9.7", "9.6"], &[]).code, 2);
}

/// One mirror line of MirrorManager's propagation log (the crawler's format, see
/// scripts/mirrormanager-propagation).
fn propagation_line(id: u32, sum: &str, known: &str, path: &str) -> String {
    format!(
        "INFO:crawler:Hosts({id}/4):Threads(4/4):{id}:m{id}.example:URL::http://m{id}.example/rocky/{path}/repomd.xml::SHA256::{sum}::2026-12-07-01-00-00::{known}::200::{path}\n"
    )
}

#[test]
fn propagation_fails_when_too_many_mirrors_are_behind_and_skips_without_logs() {
    let r = build();
    let rev = &r.revision;
    let path = format!("{rev}/BaseOS/x86_64/os/repodata");
    let repomd = fs::read(
        r.base
            .join("production/mirror/pub/rocky")
            .join(&path)
            .join("repomd.xml"),
    )
    .unwrap();
    let current: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&repomd)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let logs = r.base.join("mm-logs");
    let mut text = String::new();
    for id in 1..=3 {
        text += &propagation_line(id, &current, &current, &path);
    }
    text += &propagation_line(4, &"0".repeat(64), &current, &path);
    put(
        &logs.join(format!(
            "rocky-{rev}-BaseOS-x86_64_propagation.log.1765069200"
        )),
        text,
    );

    let run = release_check(&r, &[], &[]);
    run.assert("propagation", "SKIP", "RL_PROPAGATION_LOGS");
    let run = release_check(&r, &[], &[("RL_PROPAGATION_LOGS", &logs)]);
    run.assert(
        "propagation",
        "PASS",
        "1 of 4 mirrors behind in 1 repository, none over 25%",
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let limit = Path::new("20");
    let run = release_check(
        &r,
        &[],
        &[
            ("RL_PROPAGATION_LOGS", &logs),
            ("RL_PROPAGATION_MAX_BEHIND", limit),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    run.assert(
        "propagation",
        "FAIL",
        &format!("more than 20% of the mirrors behind in rocky-{rev}-BaseOS-x86_64 (1 of 4)"),
    );
    run.others_pass(&["propagation"]);
    let empty = r.base.join("no-logs");
    fs::create_dir(&empty).unwrap();
    let run = release_check(&r, &[], &[("RL_PROPAGATION_LOGS", &empty)]);
    run.assert("propagation", "FAIL", "propagation could not be checked");
}

#[test]
fn an_unknown_skip_name_is_a_usage_error() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release-check");
    let out = Command::new("bash")
        .arg(script)
        .args(["--skip", "compose,composee"])
        .env("RLVER", "9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing checked");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("release-check: --skip composee: no such check"),
        "{err}"
    );
}

#[test]
fn signed_defaults_to_the_release_key_of_rlver() {
    let r = build();
    let rpms = r.compose.join("compose/metadata/rpms.json");
    let text = fs::read_to_string(&rpms)
        .unwrap()
        .replace(r#""sigkey":"350d275d""#, r#""sigkey":"deadbeef""#);
    put(&rpms, text);
    let run = release_check(&r, &["--skip", "production,torrents"], &[]);
    run.assert("signed", "FAIL", "4 of 4 packages not signed with 350d275d");
    let any = Path::new("any");
    let run = release_check(
        &r,
        &["--skip", "production,torrents"],
        &[("RL_SIGN_KEY", any)],
    );
    run.assert("signed", "PASS", "all 4 packages signed");
    let other = Path::new("deadbeef");
    let run = release_check(
        &r,
        &["--skip", "production,torrents"],
        &[("RL_SIGN_KEY", other)],
    );
    run.assert("signed", "PASS", "all 4 packages signed with deadbeef");
    // Release data without a key: no key would accept any signature, so the check fails.
    let data = r.base.join("release-data");
    fs::create_dir_all(&data).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/rl-tools/release-9.conf");
    let keyless: String = fs::read_to_string(shipped)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("SIGN_KEY="))
        .map(|l| format!("{l}\n"))
        .collect();
    put(&data.join("release-9.conf"), keyless);
    let run = release_check(
        &r,
        &["--skip", "production,torrents"],
        &[("RL_RELEASE_DATA", &data)],
    );
    run.assert("signed", "FAIL", "no release signing key");
}

#[test]
fn an_unsigned_repomd_fails_signatures_unless_unsigned_on_purpose() {
    let r = build();
    let asc = r.stage.join("BaseOS/x86_64/os/repodata/repomd.xml.asc");
    fs::remove_file(&asc).unwrap();
    let run = release_check(&r, &["--skip", "production,torrents"], &[]);
    run.assert(
        "signatures",
        "FAIL",
        "1 repomd.xml of 2 without a signature (.asc): BaseOS/x86_64/os/repodata/repomd.xml",
    );
    let none = Path::new("none");
    let run = release_check(
        &r,
        &["--skip", "production,torrents"],
        &[("RL_SIGN_CMD", none)],
    );
    run.assert("signatures", "SKIP", "RL_SIGN_CMD=none");
}

#[test]
fn a_missing_production_release_fails_when_a_state_is_expected() {
    let r = build();
    let nowhere = r.base.join("nonexistent");
    let run = release_check(&r, &["--expect-public"], &[("PRODUCTION_ROOT", &nowhere)]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for name in ["identical", "hardlinked", "filelist-fresh", "bitflip"] {
        run.assert(name, "FAIL", "expected public");
    }
    let run = release_check(&r, &[], &[("PRODUCTION_ROOT", &nowhere)]);
    run.assert("identical", "SKIP", "no production release");
}
