//! Release day (issue #18): a new release is created staged by its first sync to production,
//! rl-sync never widens a staged root, the lists are written under the lock the syncs hold, the
//! -old list exists from the first write, and a public rsync daemon (uid nobody) serves no byte of
//! the release before `bitflip.sh publish` and all of it after.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::*;

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

fn write(p: &Path, body: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, body).unwrap();
}

/// Every regular file below `dir` (relative path, content).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    if !dir.exists() {
        return v;
    }
    for e in rl_core::walk::walk(dir, &rl_core::walk::WalkOptions::default()) {
        let e = e.unwrap();
        if e.metadata.is_file() {
            v.push((e.rel.clone(), fs::read(&e.path).unwrap()));
        }
    }
    v.sort();
    v
}

/// A temporary site with a small hand-made staging release 9.7-RC2 (RLVER=9, stable).
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Wrappers of our binaries; `rl-sync` records what it finds before the real one runs.
    bins: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        // Readable by the public user, so only the release root's own mode hides it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let rev = root.join("repos-staging/mirror/pub/rocky/9.7-RC2");
        for (rel, body) in [
            ("BaseOS/x86_64/os/Packages/a/a-1.0.rpm", "rpm a"),
            ("BaseOS/x86_64/os/repodata/repomd.xml", "<repomd/>"),
            ("AppStream/x86_64/os/Packages/b/b-1.0.rpm", "rpm b"),
            ("isos/x86_64/CHECKSUM", "sums"),
        ] {
            write(&rev.join(rel), body);
        }
        // An earlier, public release already in production.
        write(
            &root.join("repos-production/mirror/pub/rocky/9.6/BaseOS/old.rpm"),
            "old",
        );
        for e in rl_core::walk::walk(&root, &rl_core::walk::WalkOptions::default()) {
            let e = e.unwrap();
            let m = if e.metadata.is_dir() { 0o755 } else { 0o644 };
            fs::set_permissions(&e.path, fs::Permissions::from_mode(m)).unwrap();
        }
        let bins = root.join("bin");
        fs::create_dir(&bins).unwrap();
        let real = bin_path("rl-sync").parent().unwrap().to_path_buf();
        for tool in [
            "rl-bitflip",
            "rl-filelist",
            "rl-hardlink",
            "rl-compose",
            "rl-checksum",
            "rl-torrent",
        ] {
            std::os::unix::fs::symlink(real.join(tool), bins.join(tool)).unwrap();
        }
        // rl-sync as the scripts call it: first what the sync finds (mode and entries of the
        // release root, whether the production lock is held), then, with RL_TEST_GO, a wait
        // for that file (a sync in progress), then the real rl-sync.
        let sync = bins.join("rl-sync");
        fs::write(
            &sync,
            format!(
                r#"#!/bin/bash
t=$PRODUCTION_ROOT/mirror/pub/rocky/9.7
{{
  echo "mode=$(stat -c %a "$t" 2>/dev/null)"
  echo "entries=$(ls -A "$t" 2>/dev/null | wc -l)"
  echo "state=$('{real}/rl-bitflip' status --no-check "$t" 2>/dev/null | grep -o '"state":"[a-z]*"')"
  if flock -n "$RL_PRODUCTION_LOCK" true; then echo lock=free; else echo lock=held; fi
}} >>"$RL_TEST_LOG"
if [[ -n ${{RL_TEST_GO:-}} ]]; then
  touch "$RL_TEST_GO.waiting"
  while [[ ! -e $RL_TEST_GO ]]; do sleep 0.05; done
fi
exec '{real}/rl-sync' "$@"
"#,
                real = real.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&sync, fs::Permissions::from_mode(0o755)).unwrap();
        Site {
            _dir: dir,
            root,
            bins,
        }
    }

    fn staging(&self) -> PathBuf {
        self.root.join("repos-staging/mirror/pub/rocky/9.7-RC2")
    }
    fn category(&self) -> PathBuf {
        self.root.join("repos-production/mirror/pub/rocky")
    }
    fn release(&self) -> PathBuf {
        self.category().join("9.7")
    }
    fn log(&self) -> PathBuf {
        self.root.join("sync.log")
    }

    fn command(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_dir().join("scripts").join(name))
            .args(args)
            .env("COMPOSE_ROOT", self.root.join("compose"))
            .env("STAGING_ROOT", self.root.join("repos-staging"))
            .env("PRODUCTION_ROOT", self.root.join("repos-production"))
            .env("TMPDIR", &self.root)
            .env("RL_LOCK_DIR", &self.root)
            .env("RL_BIN_DIR", &self.bins)
            .env("RL_CHOWN", "")
            .env("RL_TEST_LOG", self.log())
            .env("RLVER", "9")
            .env_remove("RLREL")
            .env_remove("RL_PRODUCTION_LOCK")
            .env_remove("RL_TEST_GO");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(name, args, env).output().unwrap()
    }

    fn ok(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(name, args, env);
        assert!(
            out.status.success(),
            "{name} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Waits (polling, no deadline assertion beyond a generous bound) until `cond` holds.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..2400 {
        if cond() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn a_sync_never_widens_a_staged_root() {
    let d = tempfile::tempdir().unwrap();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    write(&src.join("BaseOS/a.rpm"), "a");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(&dst).unwrap();
    run_ok(rl("rl-bitflip").arg("stage").arg(&dst));
    assert_eq!(mode(&dst), 0o750);
    let sync = |extra: &[&str]| {
        run_ok(
            rl("rl-sync")
                .args(extra)
                .arg(format!("{}/", src.display()))
                .arg(format!("{}/", dst.display())),
        )
    };
    let recs = sync(&[]);
    assert_eq!(mode(&dst), 0o750, "the sync reopened the staged root");
    assert_eq!(fs::read(dst.join("BaseOS/a.rpm")).unwrap(), b"a");
    let kept = of_event(&recs, "kept");
    assert_eq!(kept.len(), 1, "{recs:?}");
    assert_eq!(kept[0]["path"], "");
    assert_eq!(kept[0]["mode"], "0750");
    assert_eq!(kept[0]["source_mode"], "0755");
    assert_eq!(kept[0]["cause"], "staging record");
    assert!(
        of_event(&recs, "meta")
            .iter()
            .all(|r| r["path"] != "" || !r["changed"].to_string().contains("perms")),
        "{recs:?}"
    );
    // A fix pushed during the embargo (and its dry run) keeps it staged too.
    write(&src.join("BaseOS/fix.rpm"), "fix");
    let recs = sync(&["--dry-run"]);
    assert_eq!(of_event(&recs, "kept")[0]["dry_run"], true);
    sync(&[]);
    assert_eq!(mode(&dst), 0o750);
    let status = run_ok(rl("rl-bitflip").args(["status", "--no-check"]).arg(&dst));
    assert_eq!(of_event(&status, "status")[0]["state"], "staged");
    // A root locked by hand (no record) is not widened either; a public one stays public.
    let hand = d.path().join("hand");
    fs::create_dir(&hand).unwrap();
    fs::set_permissions(&hand, fs::Permissions::from_mode(0o700)).unwrap();
    let recs = run_ok(
        rl("rl-sync")
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", hand.display())),
    );
    assert_eq!(mode(&hand), 0o700);
    assert_eq!(
        of_event(&recs, "kept")[0]["cause"],
        "not readable by others"
    );
    let public = d.path().join("public");
    fs::create_dir(&public).unwrap();
    fs::set_permissions(&public, fs::Permissions::from_mode(0o755)).unwrap();
    let recs = run_ok(
        rl("rl-sync")
            .arg(format!("{}/", src.display()))
            .arg(format!("{}/", public.display())),
    );
    assert_eq!(mode(&public), 0o755);
    assert!(of_event(&recs, "kept").is_empty());
}

#[test]
fn the_first_sync_to_prod_creates_the_release_staged_before_content() {
    let site = Site::new();
    let out = site.ok("sync-to-prod-dry.sh", &[], &[]);
    assert!(out.contains("\"dry_run\":true"));
    assert!(!site.release().exists(), "a dry run creates nothing");
    site.ok("sync-to-prod.sh", &[], &[]);
    let log = fs::read_to_string(site.log()).unwrap();
    // Only the real run's line counts (the dry run found nothing and held no lock).
    let real = log.lines().skip(4).collect::<Vec<_>>().join("\n");
    assert_eq!(
        real, "mode=750\nentries=0\nstate=\"state\":\"staged\"\nlock=held",
        "when the sync starts, the new root is staged, empty and locked"
    );
    assert_eq!(mode(&site.release()), 0o750);
    assert_eq!(files(&site.release()), files(&site.staging()));
    // The earlier release stays public, and so does a public release synced again.
    assert_eq!(mode(&site.category().join("9.6")), 0o755);
    fs::set_permissions(site.release(), fs::Permissions::from_mode(0o755)).unwrap();
    site.ok("sync-to-prod.sh", &["-q"], &[]);
    assert_eq!(mode(&site.release()), 0o755);
}

#[test]
fn a_list_writer_waits_for_a_sync_in_progress() {
    let site = Site::new();
    let go = site.root.join("go");
    let mut sync = site
        .command(
            "sync-to-prod.sh",
            &[],
            &[("RL_TEST_GO", go.to_str().unwrap())],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let waiting = PathBuf::from(format!("{}.waiting", go.display()));
    wait_for("the sync to start", || waiting.exists());
    let err = site.root.join("lists.err");
    let mut lists = site
        .command("sync-file-list-parallel.sh", &[], &[])
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    wait_for("the list writer to wait for the lock", || {
        fs::read_to_string(&err).is_ok_and(|e| e.contains("waiting for the production lock"))
    });
    // The lock is still the sync's: no list is written while it runs.
    assert!(lists.try_wait().unwrap().is_none());
    let list = site.category().join("fullfiletimelist-rocky");
    assert!(!list.exists());
    fs::write(&go, "").unwrap();
    assert!(sync.wait().unwrap().success());
    assert!(
        lists.wait().unwrap().success(),
        "{}",
        fs::read_to_string(&err).unwrap()
    );
    // Written after the sync: it names every file the sync brought, and -old exists from the
    // first write on.
    let text = fs::read_to_string(&list).unwrap();
    for (rel, _) in files(&site.staging()) {
        assert!(
            text.contains(&format!("\t9.7/{}\n", rel.display())),
            "{rel:?} missing from the list"
        );
    }
    assert_eq!(
        fs::read(site.category().join("fullfiletimelist-rocky-old")).unwrap(),
        text.as_bytes()
    );
}

/// The staging group of the tier-1 modules (`daemon`; the release root is staged with it).
const TIER1_GID: u32 = 1;

/// An rsync daemon on 127.0.0.1 with public modules (uid nobody, chroot): `pub` over `path` (the
/// category, for plain rsync) and `master` over its parent (QFM's master module, `rocky` in it),
/// and their tier-1 twins `pub0` and `master0` running with the staging group.
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

fn public_daemon(dir: &Path, path: &Path) -> Daemon {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("rsyncd.conf");
    fs::write(
        &conf,
        format!(
            "pid file = {pid}\nuse chroot = yes\nread only = yes\nuid = nobody\ngid = nogroup\nignore nonreadable = yes\n\
             [pub]\npath = {cat}\n[master]\npath = {master}\n\
             [pub0]\npath = {cat}\ngid = {TIER1_GID}\n[master0]\npath = {master}\ngid = {TIER1_GID}\n",
            pid = dir.join("rsyncd.pid").display(),
            cat = path.display(),
            master = path.parent().unwrap().display()
        ),
    )
    .unwrap();
    let child = Command::new("rsync")
        .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--config={}", conf.display()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the rsync daemon", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Daemon { child, port }
}

/// A mirror's pull: `rsync -aSH --delete` from `module` (pub: public, pub0: tier-1).
fn pull_from(d: &Daemon, module: &str, mirror: &Path) {
    fs::create_dir_all(mirror).unwrap();
    let out = Command::new("rsync")
        .args(["-aSH", "--delete"])
        .arg(format!("rsync://127.0.0.1:{}/{module}/", d.port))
        .arg(format!("{}/", mirror.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rsync pull: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A public mirror's pull.
fn pull(d: &Daemon, mirror: &Path) {
    pull_from(d, "pub", mirror)
}

/// quick-fedora-mirror from `$RL_PEERS_DIR` (default ../shared/peers), when it and zsh are there;
/// missing under CI=true fails.
fn qfm_program() -> Option<PathBuf> {
    let dir = std::env::var_os("RL_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("../shared/peers"));
    let qfm = dir.join("quick-fedora-mirror");
    if !qfm.exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{} is missing under CI=true", qfm.display());
        }
        eprintln!("skipping the QFM pull: {} is missing", qfm.display());
        return None;
    }
    have_peer("zsh").then_some(qfm)
}

/// A QFM mirror's run of module `rocky` into `work/mirror`: public (master module `master`), or
/// tier-1 (`master0`, `PREBITFLIP=1`).
fn qfm_pull(d: &Daemon, qfm: &Path, work: &Path, tier1: bool) -> PathBuf {
    let (master, prebitflip) = if tier1 {
        ("master0", "PREBITFLIP=1\n")
    } else {
        ("master", "")
    };
    let dest = work.join("mirror");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(work.join("tmp")).unwrap();
    let conf = work.join("qfm.conf");
    fs::write(
        &conf,
        format!(
            "DESTD={dest}\nTIMEFILE={work}/timefile\nTMPDIR={work}/tmp\nREMOTE=rsync://127.0.0.1:{port}\n\
             MASTERMODULE={master}\nMODULEMAPPING=(rocky rocky)\nMODULES=(rocky)\nEXTRAFILES=(fullfilelist)\n\
             VERBOSE=2\nCHECKIN_SITE=\n{prebitflip}",
            dest = dest.display(),
            work = work.display(),
            port = d.port
        ),
    )
    .unwrap();
    let out = Command::new("zsh")
        .arg(qfm)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "quick-fedora-mirror: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    dest.join("rocky")
}

#[test]
fn a_public_mirror_gets_no_byte_before_publish_and_everything_after() {
    if !have_peer("rsync") {
        return;
    }
    if !is_root() {
        // The public module runs as uid nobody, which only root can start.
        eprintln!("skipping: the rsync daemon as uid nobody needs root");
        return;
    }
    let site = Site::new();
    let mirror = site.root.join("mirror");
    let daemon = public_daemon(&site.root, &site.category());
    let release_bytes = |m: &Path| files(&m.join("9.7"));

    let tier1 = site.root.join("tier1");
    let group = TIER1_GID.to_string();
    // As in production: the sync's --chown group is the staging group (10005 there).
    let chown = format!(":{group}");
    let staged_env = [
        ("RL_BITFLIP_GROUP", group.as_str()),
        ("RL_CHOWN", chown.as_str()),
    ];

    // Release day, the SOP's order: sync to production (staged), hardlink, lists.
    site.ok("sync-to-prod.sh", &[], &staged_env);
    assert_eq!(
        fs::metadata(site.release()).unwrap().gid(),
        TIER1_GID,
        "staged with the tier-1 group"
    );
    pull(&daemon, &mirror);
    assert!(release_bytes(&mirror).is_empty(), "public got the release");
    assert!(mirror.join("9.6/BaseOS/old.rpm").exists());
    pull_from(&daemon, "pub0", &tier1);
    assert_eq!(
        release_bytes(&tier1),
        files(&site.release()),
        "tier-1 before publish"
    );
    run_ok(rl("rl-hardlink").arg(site.release()));
    site.ok("sync-file-list-parallel.sh", &[], &[]);
    assert!(site.category().join("fullfiletimelist-rocky-old").exists());
    // A fix pushed during the embargo.
    write(
        &site.staging().join("BaseOS/x86_64/os/Packages/a/a-1.1.rpm"),
        "fix",
    );
    site.ok("sync-to-prod.sh", &[], &staged_env);
    site.ok("sync-file-list-parallel.sh", &[], &[]);
    assert_eq!(mode(&site.release()), 0o750);
    assert_eq!(
        fs::metadata(site.release()).unwrap().gid(),
        TIER1_GID,
        "the fix kept the tier-1 group"
    );
    pull_from(&daemon, "pub0", &tier1);
    assert_eq!(
        release_bytes(&tier1),
        files(&site.release()),
        "tier-1 got the fix"
    );
    pull(&daemon, &mirror);
    assert!(release_bytes(&mirror).is_empty(), "public got the fix");
    assert!(mirror.join("fullfiletimelist-rocky").exists());
    let qfm = qfm_program();
    let qfm_work = site.root.join("qfm");
    let qfm_tier1 = site.root.join("qfm0");
    if let Some(q) = &qfm {
        let got = qfm_pull(&daemon, q, &qfm_work, false);
        assert!(release_bytes(&got).is_empty(), "public QFM got the release");
        assert!(got.join("9.6/BaseOS/old.rpm").exists());
        let got = qfm_pull(&daemon, q, &qfm_tier1, true);
        assert_eq!(release_bytes(&got), files(&site.release()), "tier-1 QFM");
    }

    // release-check agrees it is staged, and fails when the public can read it all the same.
    let check = |env: &[(&str, &str)]| {
        site.run(
            "release-check",
            &[
                "--expect-staged",
                "--skip",
                "compose,isos,images,checksums,torrents",
            ],
            env,
        )
    };
    let line = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains("bitflip"))
            .unwrap_or_default()
            .to_owned()
    };
    let ok = check(&[]);
    assert!(line(&ok).starts_with("PASS"), "{}", line(&ok));
    nix_chgrp(&site.release(), 65534);
    let open = check(&[]);
    assert!(line(&open).starts_with("FAIL"), "{}", line(&open));
    assert!(
        line(&open).contains("readable by others"),
        "{}",
        line(&open)
    );
    assert_eq!(open.status.code(), Some(1));
    nix_chgrp(&site.release(), TIER1_GID);

    // 24–48 h later: publish (forced here), and the lists follow.
    site.ok("bitflip.sh", &["publish"], &[("RL_BITFLIP_FORCE", "1")]);
    pull(&daemon, &mirror);
    assert_eq!(release_bytes(&mirror), files(&site.release()));
    assert_eq!(files(&mirror), files(&site.category()));
    pull_from(&daemon, "pub0", &tier1);
    assert_eq!(files(&tier1), files(&site.category()));
    if let Some(q) = &qfm {
        for (work, tier) in [(&qfm_work, false), (&qfm_tier1, true)] {
            let got = qfm_pull(&daemon, q, work, tier);
            assert_eq!(
                release_bytes(&got),
                files(&site.release()),
                "QFM after publish"
            );
            assert_eq!(mode(&got.join("9.7")), 0o755);
        }
    }
}

fn nix_chgrp(p: &Path, gid: u32) {
    std::os::unix::fs::chown(p, None, Some(gid)).unwrap();
}
