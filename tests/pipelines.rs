//! The scripts/ pipelines end to end, on a real generated compose (scripts/mkcompose: RPMs from
//! rpmbuild, repodata from createrepo_c, ISOs from xorriso, productmd metadata) under temporary
//! roots: the layout the toolkit produces, idempotence, and the refusals.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

pub(crate) fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn have_compose_peers() -> bool {
    have_peer("rpmbuild")
        && have_peer("createrepo_c")
        && have_peer("xorriso")
        && have_peer("python3")
}

/// A temporary site: compose, staging, production and torrent roots.
pub(crate) struct Site {
    _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
}

impl Site {
    pub(crate) fn new(release: &str) -> Site {
        Site::for_major("9", release)
    }

    pub(crate) fn for_major(major: &str, release: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let out = Command::new("bash")
            .arg(repo_dir().join("scripts/mkcompose"))
            .args(["--major", major, "--release", release, "--date", "20261122"])
            .arg(root.join("compose"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mkcompose: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Site { _dir: dir, root }
    }

    pub(crate) fn staging(&self) -> PathBuf {
        self.root.join("repos-staging/mirror/pub/rocky")
    }

    pub(crate) fn production(&self) -> PathBuf {
        self.root.join("repos-production/mirror/pub/rocky")
    }

    /// A pipeline script with the site's roots and our binaries, signing off explicitly
    /// (RL_SIGN_CMD=none; no toolkit signer in RL_SIGN_DIR).
    pub(crate) fn command(&self, name: &str, args: &[&str]) -> Command {
        let bins = bin_path("rl-sync").parent().unwrap().to_path_buf();
        let mut cmd = Command::new("bash");
        cmd.arg(repo_dir().join("scripts").join(name))
            .args(args)
            .env("COMPOSE_ROOT", self.root.join("compose"))
            .env("STAGING_ROOT", self.root.join("repos-staging"))
            .env("PRODUCTION_ROOT", self.root.join("repos-production"))
            .env("RL_TORRENT_DOWNLOAD", self.root.join("torrents/download"))
            .env("RL_TORRENT_WATCH", self.root.join("torrents/watch"))
            .env("RL_TORRENT_LOCK", self.root.join("gen-torrents.lock"))
            .env("TMPDIR", &self.root)
            .env("RL_LOCK_DIR", &self.root)
            .env("RL_BIN_DIR", bins)
            .env("RL_CHOWN", "")
            .env("RLVER", "9")
            .env_remove("RLREL")
            .env_remove("RL_ALLOW_INCOMPLETE")
            .env("RL_SIGN_DIR", self.root.join("no-signer"))
            .env("RL_SIGN_CMD", "none");
        cmd
    }

    /// Runs a pipeline script (see `command`) with extra environment.
    pub(crate) fn script(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(name, args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub(crate) fn ok(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.script(name, args, env);
        assert!(
            out.status.success(),
            "{name} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Every entry below `dir`: type, mode, size, mtime and content digest (files), link target.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for e in rl_core::walk::walk(dir, &rl_core::walk::WalkOptions::default()) {
        let e = e.unwrap();
        let m = e.metadata;
        let rel = e.rel;
        let what = if m.file_type().is_symlink() {
            format!("l {}", fs::read_link(&e.path).unwrap().display())
        } else if m.is_dir() {
            format!("d {:o}", m.mode())
        } else {
            let digest = rl_core::hash::sha256_file(&e.path).unwrap().hex();
            format!("f {:o} {} {} {}", m.mode(), m.len(), m.mtime(), digest)
        };
        out.insert(rel, what);
    }
    out
}

#[test]
fn minor_release_to_production_and_bitflip() {
    if !have_compose_peers() {
        return;
    }
    let site = Site::new("stable");
    site.ok("minor-release-sync-to-staging.sh", &[], &[]);

    // The layout the toolkit leaves in staging.
    let staging = site.staging();
    let rev = staging.join("9.7-RC2");
    assert_eq!(
        fs::read_link(staging.join("latest-9")).unwrap(),
        Path::new("9.7-RC2")
    );
    assert_eq!(
        fs::read_link(staging.join("9.7")).unwrap(),
        Path::new("9.7-RC2")
    );
    let isos = rev.join("isos/x86_64");
    for name in [
        "Rocky-9.7-x86_64-boot.iso",
        "Rocky-9.7-x86_64-dvd1.iso",
        "Rocky-9.7-x86_64-minimal.iso",
        "Rocky-9.7-x86_64-dvd1.iso.manifest",
        "Rocky-9.7-x86_64-dvd1.iso.CHECKSUM",
        "Rocky-9-latest-x86_64-dvd.iso.CHECKSUM",
        "CHECKSUM",
    ] {
        assert!(
            isos.join(name).exists(),
            "{name} missing in staging isos/x86_64"
        );
    }
    assert!(
        fs::symlink_metadata(isos.join("Rocky-9-latest-x86_64-dvd.iso"))
            .unwrap()
            .is_symlink()
    );
    if have_peer("sha256sum") {
        let st = Command::new("sha256sum")
            .args(["--strict", "--quiet", "-c", "CHECKSUM"])
            .current_dir(&isos)
            .status()
            .unwrap();
        assert!(st.success());
    }
    assert!(!rev.join("Minimal").exists(), "Minimal is not synced");
    assert!(
        rev.join("extras/x86_64/os/repodata/repomd.xml").exists(),
        "Extras synced"
    );
    assert!(
        rev.join("devel/x86_64/os/repodata/repomd.xml").exists(),
        "Rocky-devel synced"
    );
    assert!(!rev.join("extras/metadata").exists() && rev.join("metadata").exists());
    let kickstart = rev.join("BaseOS/x86_64/kickstart");
    assert!(
        kickstart.join("repodata/repomd.xml").exists(),
        "kickstart tree"
    );
    let treeinfo = fs::read_to_string(rev.join("BaseOS/x86_64/os/.treeinfo")).unwrap();
    assert_eq!(treeinfo.matches("[variant-AppStream]").count(), 1);
    assert!(treeinfo.contains("variants = BaseOS,AppStream"));
    assert!(rev.join("BaseOS/x86_64/os/.treeinfo-pristine").exists());
    let ks = fs::read_to_string(kickstart.join(".treeinfo")).unwrap();
    assert!(ks.contains("../../../AppStream/x86_64/kickstart/"), "{ks}");
    // Hard links applied: the kickstart copy shares inodes with the os tree, but not the
    // excluded metadata.
    let rpm = |tree: &str| {
        let dir = rev.join(format!("BaseOS/x86_64/{tree}/Packages/b"));
        let f = fs::read_dir(dir).unwrap().next().unwrap().unwrap().path();
        fs::metadata(f).unwrap().ino()
    };
    assert_eq!(rpm("os"), rpm("kickstart"));
    let repomd = |tree: &str| {
        fs::metadata(rev.join(format!("BaseOS/x86_64/{tree}/repodata/repomd.xml")))
            .unwrap()
            .ino()
    };
    assert_ne!(repomd("os"), repomd("kickstart"));

    // Running it again changes nothing in staging but the .treeinfo edit the sync undoes and
    // the script redoes.
    let before = snapshot(&staging);
    site.ok("minor-release-sync-to-staging.sh", &["-q"], &[]);
    let after = snapshot(&staging);
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, v)| after.get(*p) != Some(v))
        .map(|(p, _)| p.clone())
        .filter(|p| !p.ends_with(".treeinfo") && !p.ends_with(".treeinfo-pristine"))
        .filter(|p| !after.get(p).is_some_and(|v| v.starts_with('d')))
        .collect();
    assert!(changed.is_empty(), "second run changed {changed:?}");
    assert_eq!(before.len(), after.len());
    assert_eq!(
        fs::read_to_string(isos.join("CHECKSUM"))
            .unwrap()
            .matches("SHA256 (")
            .count(),
        6,
        "no duplicated CHECKSUM lines"
    );

    // Staging → production, then file lists.
    let out = site.script("sync-to-prod.sh", &[], &[("RLREL", "lh")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "lh releases never go to production"
    );
    assert!(!site.production().exists());
    site.ok("sync-to-prod.sh", &[], &[]);
    let prod = site.production().join("9.7");
    // Production equals staging, but for the release root: a new release is created staged.
    let mut want = snapshot(&rev);
    want.insert(PathBuf::new(), "d 40750".into());
    assert_eq!(snapshot(&prod), want, "production equals staging");
    site.ok("sync-file-list-parallel.sh", &[], &[]);
    let lists = site.production();
    let list = lists.join("fullfiletimelist-rocky");
    assert_eq!(
        fs::read(&list).unwrap(),
        fs::read(lists.join("fullfiletimelist")).unwrap()
    );
    assert_eq!(
        fs::read(&list).unwrap(),
        fs::read(lists.join("fullfiletimelist-rocky-linux")).unwrap()
    );
    assert!(
        site.root
            .join("repos-production/fullfiletimelist-rocky")
            .exists()
    );
    let diff = rl("rl-filelist")
        .arg("diff")
        .arg(&list)
        .arg(&lists)
        .output()
        .unwrap();
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    let mtime = fs::metadata(&list).unwrap().mtime();
    site.ok("sync-file-list-parallel.sh", &[], &[]);
    assert_eq!(
        fs::metadata(&list).unwrap().mtime(),
        mtime,
        "unchanged list not rewritten"
    );

    // Torrents from the staging ISOs.
    site.ok(
        "gen-torrents.sh",
        &[isos.parent().unwrap().to_str().unwrap()],
        &[],
    );
    let torrent = site
        .root
        .join("torrents/watch/Rocky-9.7-x86_64-dvd1.torrent");
    assert!(torrent.exists());
    let verify = rl("rl-torrent")
        .arg("verify")
        .arg(&torrent)
        .arg(site.root.join("torrents/download/Rocky-9.7-x86_64-dvd1"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The flip: staged, publish refused too early, forced, and the lists follow.
    site.ok("bitflip.sh", &["stage"], &[]);
    assert_eq!(fs::metadata(&prod).unwrap().mode() & 0o777, 0o750);
    let text = fs::read_to_string(&list).unwrap();
    assert!(text.contains("\td-\t"), "the staged root is d- in the list");
    let out = site.script("bitflip.sh", &["publish"], &[]);
    assert_eq!(out.status.code(), Some(3));
    site.ok("bitflip.sh", &["publish"], &[("RL_BITFLIP_FORCE", "1")]);
    assert_eq!(fs::metadata(&prod).unwrap().mode() & 0o777, 0o755);
    let text = fs::read_to_string(&list).unwrap();
    assert!(!text.contains("\td-\t") && !text.contains("\tf*\t"));
}

#[test]
fn updates_regenerate_and_sign_the_staging_repositories() {
    if !have_compose_peers() || !have_peer("modifyrepo_c") {
        return;
    }
    let site = Site::new("stable");
    let signer = site.root.join("sign");
    fs::write(&signer, "#!/bin/sh\nsha256sum \"$1\" > \"$1.asc\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&signer, fs::Permissions::from_mode(0o755)).unwrap();
    let sign = signer.to_str().unwrap();
    site.ok(
        "sync-to-staging.sh",
        &["Rocky", "-q"],
        &[("RL_SIGN_CMD", sign)],
    );
    let os = site.staging().join("9.7-RC2/BaseOS/x86_64/os");
    let repodata: Vec<String> = fs::read_dir(os.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        repodata.iter().any(|n| n.contains("comps")),
        "comps groups: {repodata:?}"
    );
    assert!(os.join("repodata/repomd.xml.asc").exists(), "signed");
    assert!(
        !fs::read_to_string(os.join("repodata/repomd.xml"))
            .unwrap()
            .contains("<open-size></open-size>")
    );
    // Excluded boot media and treeinfo stay out of an updates sync.
    assert!(!os.join(".treeinfo").exists() && !os.join("images").exists());
    assert!(
        site.staging()
            .join("9.7-RC2/BaseOS/source/tree/repodata/repomd.xml")
            .exists()
    );
    // The repositories close.
    let closure = rl("rl-compose").arg("closure").arg(&os).output().unwrap();
    assert_eq!(
        closure.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&closure.stdout)
    );
}

#[test]
fn lookahead_release_mirrors_the_compose() {
    if !have_compose_peers() {
        return;
    }
    let site = Site::new("lh");
    site.ok("lh-release-sync-to-staging.sh", &["-q"], &[]);
    let staging = site.staging();
    assert_eq!(
        fs::read_link(staging.join("9-LookAhead")).unwrap(),
        Path::new("9.8-LookAhead")
    );
    let rev = staging.join("9.8-LookAhead");
    let images = rev.join("images/x86_64");
    let names: Vec<String> = fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "Rocky-9-GenericCloud-Base.latest.x86_64.qcow2"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with(".box") && !n.contains(".vagrant.")),
        "{names:?}"
    );
    assert!(images.join("CHECKSUM").exists());
    rl("rl-checksum")
        .arg("verify")
        .arg(images.join("CHECKSUM"))
        .assert()
        .success();
    assert!(
        rev.join("live/x86_64/Rocky-9-KDE-x86_64-latest.iso")
            .exists()
    );
    // The published format: sha256sum verifies every image and live CHECKSUM.
    if have_peer("sha256sum") {
        for dir in ["images/x86_64", "images/aarch64", "live/x86_64"] {
            let st = Command::new("sha256sum")
                .args(["--strict", "--quiet", "-c", "CHECKSUM"])
                .current_dir(rev.join(dir))
                .status()
                .unwrap();
            assert!(st.success(), "sha256sum -c {dir}/CHECKSUM");
        }
    }
    assert!(rev.join("extras").is_dir() && rev.join("plus").is_dir() && rev.join("devel").is_dir());
    // A file that is no longer in the compose disappears from staging on the next run.
    let stray = rev.join("BaseOS/x86_64/os/Packages/stray.rpm");
    fs::write(&stray, "old").unwrap();
    site.ok("lh-release-sync-to-staging.sh", &["-q"], &[]);
    assert!(!stray.exists());
    assert!(
        rev.join("extras").is_dir(),
        "Extras survive the Rocky sync's --delete"
    );
}

#[test]
fn bad_environment_stops_before_anything_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let bins = bin_path("rl-sync").parent().unwrap().to_path_buf();
    let run = |script: &str, env: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_dir().join("scripts").join(script))
            .env("COMPOSE_ROOT", dir.path().join("compose"))
            .env("STAGING_ROOT", dir.path().join("staging"))
            .env("PRODUCTION_ROOT", dir.path().join("production"))
            .env("RL_BIN_DIR", &bins)
            .env("RLVER", "9");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(
        "minor-release-sync-to-staging.sh",
        &[("RLREL", "lookahead")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RLREL=lookahead is not recognised"));
    let out = run("sync-to-prod.sh", &[("RLVER", "7")]);
    assert_eq!(out.status.code(), Some(2));
    let out = run("minor-release-sync-to-staging.sh", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = run("sync-to-prod.sh", &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run("sync-to-staging.sh", &[]);
    assert_eq!(out.status.code(), Some(2), "SHORT is required");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// The scripts the release flow above does not run: re-signing, the legacy symlink/checksum
/// script, the dry production sync, the single-root file lists, the vault, the SIG scripts, the
/// delete variant of the staging sync, module metadata, and the Beta release.
#[test]
fn the_other_scripts_do_what_the_toolkit_did() {
    if !have_compose_peers() || !have_peer("modifyrepo_c") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new("stable");
    let signer = site.root.join("sign");
    fs::write(&signer, "#!/bin/sh\nsha256sum \"$1\" > \"$1.asc\"\n").unwrap();
    fs::set_permissions(&signer, fs::Permissions::from_mode(0o755)).unwrap();
    let sign = [("RL_SIGN_CMD", signer.to_str().unwrap())];
    // Module metadata for AppStream, as the cron's rocky-module-metadata clone provides it.
    let yaml = site
        .root
        .join("compose/9_metadata/x86_64/AppStream-modules.yaml");
    fs::create_dir_all(yaml.parent().unwrap()).unwrap();
    fs::write(
        &yaml,
        "---\ndocument: modulemd-defaults\nversion: 1\ndata:\n  module: vim\n  stream: '8'\n...\n",
    )
    .unwrap();

    site.ok("minor-release-sync-to-staging.sh", &["-q"], &sign);
    let rev = site.staging().join("9.7-RC2");
    assert!(
        rev.join("BaseOS/x86_64/os/repodata/repomd.xml.asc")
            .exists()
    );
    assert!(
        rev.join("BaseOS/x86_64/kickstart/repodata/repomd.xml.asc")
            .exists()
    );

    site.ok("sync-to-staging.sh", &["Rocky", "-q"], &sign);
    let repomd = fs::read_to_string(rev.join("AppStream/x86_64/os/repodata/repomd.xml")).unwrap();
    assert!(
        repomd.contains("type=\"modules\""),
        "modules record injected after comps"
    );

    fs::remove_file(rev.join("BaseOS/x86_64/os/repodata/repomd.xml.asc")).unwrap();
    site.ok("sign-repos-only.sh", &["-q"], &sign);
    assert!(
        rev.join("BaseOS/x86_64/os/repodata/repomd.xml.asc")
            .exists()
    );

    site.ok("symlink-images-and-checksum.sh", &["-q"], &[]);
    // The legacy rule `${ISO//.[0-9]/-latest}` also links the dvd1 ISO under its own name, so
    // there is one more latest link than the minor-release script makes.
    let text = fs::read_to_string(rev.join("isos/x86_64/CHECKSUM")).unwrap();
    assert_eq!(text.matches("SHA256 (").count(), 7, "{text}");
    assert!(text.contains("SHA256 (Rocky-9-latest-x86_64-dvd1.iso) = "));
    assert!(
        !rev.join("isos/x86_64/Rocky-9-latest-x86_64-dvd1.iso.CHECKSUM")
            .exists()
    );

    // The delete variant makes staging equal to the compose (hard-linking the compose first).
    // Here that deletes half of staging: rl-sync's deletion guard refuses it (exit 3) until
    // the operator says RL_FORCE_DELETE=1.
    let out = site.script("sync-to-staging.delete.sh", &["Rocky", "-q"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --force-delete"));
    site.ok(
        "sync-to-staging.delete.sh",
        &["Rocky", "-q"],
        &[("RL_FORCE_DELETE", "1")],
    );

    let out = site.ok("sync-to-prod-dry.sh", &[], &[]);
    assert!(out.contains("\"dry_run\":true"));
    assert!(
        !site.production().join("9.7").exists(),
        "a dry run creates nothing"
    );
    site.ok("sync-to-prod.sh", &["-q"], &[]);
    // Idempotence: the same scripts again change nothing.
    let prod_before = snapshot(&site.production().join("9.7"));
    let out = site.ok("sync-to-prod.sh", &[], &[]);
    let summary = out.lines().last().unwrap();
    for zero in ["\"copy\":0", "\"update\":0", "\"delete\":0", "\"mkdir\":0"] {
        assert!(summary.contains(zero), "second sync-to-prod: {summary}");
    }
    assert_eq!(snapshot(&site.production().join("9.7")), prod_before);
    site.ok("sign-repos-only.sh", &["-q"], &sign);
    site.ok("sync-full-file-list.sh", &["-q"], &[]);
    assert!(
        site.production()
            .join("fullfiletimelist-rocky-linux")
            .exists()
    );
    site.ok("sync-root-file-list.sh", &["-q"], &[]);
    assert!(
        site.root
            .join("repos-production/fullfiletimelist-rocky")
            .exists()
    );

    site.ok("vault-release.sh", &["-q"], &[]);
    let vault = site.root.join("repos-production/mirror/vault/rocky/9.7");
    let vault_before = snapshot(&vault);
    site.ok("vault-release.sh", &["-q"], &[]);
    assert_eq!(
        snapshot(&vault),
        vault_before,
        "a second vault run changes nothing"
    );
    assert!(vault.join("BaseOS/x86_64/os/repodata/repomd.xml").exists());
    fs::remove_dir_all(&vault).unwrap();
    site.ok("vault-release-no-repodata.sh", &["-q"], &[]);
    let repomd = fs::read_to_string(vault.join("BaseOS/x86_64/os/repodata/repomd.xml")).unwrap();
    assert!(
        repomd.contains("group"),
        "comps carried over from production"
    );
    site.ok("sync-file-list-vault.sh", &["-q"], &[]);
    assert!(
        site.root
            .join("repos-production/mirror/vault/fullfiletimelist-vault")
            .exists()
    );
    assert!(
        site.root
            .join("repos-production/mirror/vault/rocky/fullfiletimelist-rocky-vault")
            .exists()
    );

    // A SIG compose: staging, production, hardlink, vault, file list.
    let sig = site.root.join("compose/9/SIG-core-9.7-20261122.0");
    for arch in ["x86_64", "aarch64"] {
        let os = sig.join(format!("compose/9/core/{arch}/os"));
        fs::create_dir_all(&os).unwrap();
        fs::write(os.join("shared-noarch.rpm"), "same bytes").unwrap();
    }
    std::os::unix::fs::symlink(
        "SIG-core-9.7-20261122.0",
        site.root.join("compose/9/latest-SIG-core-9"),
    )
    .unwrap();
    site.ok("sync-to-staging-sig.sh", &["core", "-q"], &[]);
    let staged = site
        .root
        .join("repos-staging/mirror/pub/sig/9/core/x86_64/os/shared-noarch.rpm");
    assert!(staged.exists());
    site.ok("sync-to-prod-sig.sh", &["core", "-q"], &[]);
    let prod_sig = site.root.join("repos-production/mirror/pub/sig/9/core");
    let ino = |arch: &str| {
        fs::metadata(prod_sig.join(format!("{arch}/os/shared-noarch.rpm")))
            .unwrap()
            .ino()
    };
    assert_eq!(ino("x86_64"), ino("aarch64"), "the SIG tree is hard-linked");
    site.ok("vault-sig.sh", &["-q"], &[]);
    assert!(
        site.root
            .join("repos-production/mirror/vault/sig/9.6/core/x86_64/os/shared-noarch.rpm")
            .exists()
    );
    site.ok("sync-sig-file-list.sh", &["-q"], &[]);
    assert!(
        site.root
            .join("repos-production/mirror/pub/sig/fullfiletimelist-sig")
            .exists()
    );
}

#[test]
fn beta_release_links_the_beta_name() {
    if !have_compose_peers() {
        return;
    }
    // Rocky 10's beta composes live in 10-BETA, where the toolkit's beta script looks for them.
    // (common_9 says -beta while the script reads -BETA: for 9 the script stops, compose missing.)
    let site = Site::for_major("10", "beta");
    site.ok(
        "beta-release-sync-to-staging.sh",
        &["-q"],
        &[("RLVER", "10")],
    );
    let staging = site.staging();
    assert_eq!(
        fs::read_link(staging.join("10-BETA")).unwrap(),
        Path::new("10.2-BETA")
    );
    let rev = staging.join("10.2-BETA");
    assert!(
        rev.join("isos/x86_64/Rocky-10.2-x86_64-dvd1.iso.manifest")
            .exists()
    );
    rl("rl-checksum")
        .arg("verify")
        .arg(rev.join("isos/x86_64/CHECKSUM"))
        .assert()
        .success();
    let out = site.script(
        "sync-to-prod.sh",
        &[],
        &[("RLVER", "10"), ("RLREL", "beta")],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "beta releases never go to production"
    );
}
