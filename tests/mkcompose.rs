//! scripts/mkcompose: the generated compose is what the release scripts expect under
//! COMPOSE_ROOT, and it passes the project's own gates (rl-compose info, repos, closure,
//! unsigned, images, locate).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

const DATE: &str = "20261122";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mkcompose")
}

/// rpmbuild, createrepo_c, xorriso and python3 with productmd, or a skip (a failure under
/// CI=true).
fn have_peers() -> bool {
    if !(have_peer("rpmbuild")
        && have_peer("createrepo_c")
        && have_peer("xorriso")
        && have_peer("python3"))
    {
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import productmd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "the Python productmd library is missing under CI=true; scripts/check installs it"
        );
        eprintln!("skipping: the Python productmd library is not installed");
    }
    ok
}

/// Runs the generator into `root`; returns the compose path it prints and its stderr.
fn generate(root: &Path, extra: &[&str]) -> (PathBuf, String) {
    let out = Command::new("bash")
        .arg(script())
        .args(["--date", DATE])
        .args(extra)
        .arg(root)
        .output()
        .expect("run scripts/mkcompose");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "mkcompose failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout is the compose path: {stdout}"
    );
    (PathBuf::from(stdout.trim()), stderr)
}

/// Runs rl-compose; returns records and exit code.
fn rl_compose(args: &[&str]) -> (Vec<Value>, i32) {
    let out = rl("rl-compose").args(args).output().unwrap();
    (records(&out.stdout), out.status.code().unwrap_or(-1))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn generated_compose_passes_the_gates() {
    if !have_peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (compose, stderr) = generate(root, &[]);
    let id = format!("Rocky-9.7-{DATE}.0");
    assert_eq!(compose, root.join("9").join(&id));
    for kind in ["rpms", "repos", "isos", "images", "done in"] {
        assert!(stderr.contains(kind), "no {kind} line: {stderr}");
    }

    // The three composes the minor-release sync reads, behind relative latest links.
    for (link, target) in [
        ("latest-Rocky-9", id.clone()),
        ("latest-Extras-9", format!("Extras-9.7-{DATE}.0")),
        ("latest-Rocky-devel-9", format!("Rocky-devel-9.7-{DATE}.0")),
    ] {
        let l = root.join("9").join(link);
        assert_eq!(fs::read_link(&l).unwrap(), Path::new(&target), "{link}");
        assert_eq!(fs::read_to_string(l.join("STATUS")).unwrap(), "FINISHED\n");
        assert_eq!(fs::read_to_string(l.join("COMPOSE_ID")).unwrap(), target);
    }
    let latest = root.join("9/latest-Rocky-9");

    let (recs, code) = rl_compose(&["info", s(&latest), "--require", "finished"]);
    assert_eq!(code, 0);
    let c = of_event(&recs, "compose")[0];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["status"], "FINISHED");
    assert_eq!(c["date"], DATE);
    assert_eq!(c["release"]["short"], "Rocky");
    assert_eq!(c["release"]["version"], "9.7");

    // locate finds each compose the way common_X does.
    for short in ["Rocky", "Extras", "Rocky-devel"] {
        let (recs, code) = rl_compose(&[
            "locate",
            "--major",
            "9",
            "--short",
            short,
            "--compose-root",
            s(root),
        ]);
        assert_eq!(code, 0, "locate {short}");
        let c = of_event(&recs, "compose")[0];
        assert_eq!(c["id"], format!("{short}-9.7-{DATE}.0").as_str());
    }

    // os, debug and source repositories of both arches; comps for the os ones.
    let (recs, code) = rl_compose(&["repos", s(&latest)]);
    assert_eq!(code, 0);
    let got: BTreeSet<String> = of_event(&recs, "repo")
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    let mut want = BTreeSet::new();
    for v in ["BaseOS", "AppStream"] {
        for a in ["x86_64", "aarch64"] {
            want.insert(format!("{v}/{a}/os"));
            want.insert(format!("{v}/{a}/debug/tree"));
        }
        want.insert(format!("{v}/source/tree"));
    }
    assert_eq!(got, want);
    for r in of_event(&recs, "repo") {
        if r["kind"] == "os" {
            let comps = r["comps"].as_str().expect("os repos have comps");
            assert!(Path::new(comps).is_file(), "{comps}");
        }
    }
    let (recs, _) = rl_compose(&["repos", s(&root.join("9/latest-Extras-9"))]);
    let got: BTreeSet<&str> = of_event(&recs, "repo")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = [
        "extras/aarch64/os",
        "extras/x86_64/os",
        "plus/aarch64/os",
        "plus/x86_64/os",
    ]
    .into();
    assert_eq!(got, want);

    // The dependency set is closed per arch (AppStream needs BaseOS).
    let (recs, code) = rl_compose(&["closure", "--compose", s(&latest)]);
    assert_eq!(code, 0, "{recs:#?}");
    let sum = summary(&recs);
    assert_eq!(sum["unresolved"], 0);
    assert_eq!(sum["repos"], 4);
    assert!(sum["packages"].as_u64().unwrap() >= 16);

    // Every package carries the signing key in rpms.json.
    let (recs, code) = rl_compose(&["unsigned", s(&latest), "--key", "350d275d"]);
    assert_eq!(code, 0);
    assert!(summary(&recs)["packages"].as_u64().unwrap() > 20);

    // ISOs (boot, dvd1, minimal per arch, a live ISO), cloud and vagrant images; each ISO has
    // its manifest, and the recorded digest is the file's.
    let (recs, code) = rl_compose(&["images", s(&latest)]);
    assert_eq!(code, 0);
    let images = of_event(&recs, "image");
    let paths: BTreeSet<&str> = images.iter().map(|r| r["path"].as_str().unwrap()).collect();
    for a in ["x86_64", "aarch64"] {
        for p in [
            format!("BaseOS/{a}/iso/Rocky-9.7-{a}-boot.iso"),
            format!("BaseOS/{a}/iso/Rocky-9.7-{a}-dvd1.iso"),
            format!("Minimal/{a}/iso/Rocky-9.7-{a}-minimal.iso"),
            format!("images/{a}/images/Rocky-9-GenericCloud-Base-9.7-{DATE}.0.{a}.qcow2"),
        ] {
            assert!(paths.contains(p.as_str()), "{p} not in {paths:?}");
        }
    }
    for p in [
        format!(
            "images/x86_64/images/Rocky-9-Vagrant-Libvirt-9.7-{DATE}.0.x86_64.vagrant.libvirt.box"
        ),
        format!("live/x86_64/iso/Rocky-9.7-KDE-x86_64-{DATE}.0.iso"),
    ] {
        assert!(paths.contains(p.as_str()), "{p} not in {paths:?}");
    }
    let c = latest.join("compose");
    for img in &images {
        let p = img["path"].as_str().unwrap();
        assert_eq!(img["exists"], true, "{p}");
        if p.ends_with(".iso") {
            let manifest = fs::read_to_string(c.join(format!("{p}.manifest"))).unwrap();
            assert!(
                manifest.lines().any(|l| l.contains("EFI")),
                "{p}: {manifest}"
            );
        }
        let digest = sh(&format!("sha256sum '{p}'"), &c);
        let digest = String::from_utf8(digest).unwrap();
        assert_eq!(
            img["sha256"].as_str().unwrap(),
            digest.split_whitespace().next().unwrap(),
            "{p}"
        );
    }

    // Installer tree: productmd .treeinfo checksumming repomd.xml, and noarch packages that are
    // the same file in both arches (for the hard-link step).
    let treeinfo = fs::read_to_string(c.join("BaseOS/x86_64/os/.treeinfo")).unwrap();
    assert!(treeinfo.contains("type = productmd.treeinfo"), "{treeinfo}");
    assert!(
        treeinfo.contains("repodata/repomd.xml = sha256:"),
        "{treeinfo}"
    );
    assert!(treeinfo.contains("[variant-BaseOS]"), "{treeinfo}");
    let noarch = "Packages/r/rocky-release-9.7-1.2.el9.noarch.rpm";
    let x = fs::read(c.join("BaseOS/x86_64/os").join(noarch)).unwrap();
    let y = fs::read(c.join("BaseOS/aarch64/os").join(noarch)).unwrap();
    assert_eq!(x, y);
    for f in ["media.repo", "EULA", "LICENSE", ".discinfo"] {
        assert!(c.join("BaseOS/aarch64/os").join(f).is_file(), "{f}");
    }

    // The pre-sync step of the release scripts works on it: BaseOS and Minimal ISOs meet in
    // isos/<arch> without colliding files.
    let (recs, code) = rl_compose(&["prepare", "--revision", "9.7", s(&latest)]);
    assert_eq!(code, 0, "{recs:#?}");
    assert_eq!(summary(&recs)["conflicts"], 0);
    for a in ["x86_64", "aarch64"] {
        for t in ["boot", "dvd", "minimal"] {
            let l = c.join(format!("isos/{a}/Rocky-9-latest-{a}-{t}.iso"));
            assert!(l.is_file(), "{}", l.display());
        }
    }
    assert!(!c.join("Minimal").exists());
}

#[test]
fn lookahead_layout_and_unsigned_packages() {
    if !have_peers() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (compose, _) = generate(root, &["--release", "lh", "--unsigned", "2"]);
    assert_eq!(
        compose,
        root.join(format!("9-LookAhead/Rocky-9.8-{DATE}.0"))
    );
    let (recs, code) = rl_compose(&[
        "locate",
        "--major",
        "9",
        "--release",
        "lh",
        "--compose-root",
        s(root),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        of_event(&recs, "compose")[0]["id"],
        format!("Rocky-9.8-{DATE}.0").as_str()
    );
    let (recs, code) = rl_compose(&["unsigned", s(&compose)]);
    assert_eq!(code, 1);
    assert_eq!(of_event(&recs, "unsigned").len(), 2);

    // A second run the same day is the next respin and moves the latest link.
    let (again, _) = generate(root, &["--release", "lh"]);
    assert_eq!(again, root.join(format!("9-LookAhead/Rocky-9.8-{DATE}.1")));
    assert_eq!(
        fs::read_link(root.join("9-LookAhead/latest-Rocky-9")).unwrap(),
        Path::new(&format!("Rocky-9.8-{DATE}.1"))
    );
}

#[test]
fn missing_programs_are_named_and_nothing_is_made() {
    // Only bash and dirname on PATH: every other program the generator needs is missing.
    let bin = tempfile::tempdir().unwrap();
    for p in ["bash", "dirname"] {
        let found = sh(&format!("command -v {p}"), bin.path());
        let found = String::from_utf8(found).unwrap();
        std::os::unix::fs::symlink(found.trim(), bin.path().join(p)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("compose");
    let out = Command::new(bin.path().join("bash"))
        .arg(script())
        .arg(&root)
        .env("PATH", bin.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "rpmbuild (Debian package: rpm)",
        "createrepo_c (Debian package: createrepo-c)",
        "xorriso (Debian package: xorriso)",
        "python3 (Debian package: python3)",
    ] {
        assert!(stderr.contains(want), "no {want:?} in {stderr}");
    }
    assert!(!root.exists());
}
