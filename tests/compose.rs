//! rl-compose integration tests: compose trees whose metadata is written and read back by the
//! real productmd library, ISOs made with xorriso and listed with the scripts' xorriso pipeline,
//! the scripts' sed expressions for latest-link names, and Python's ConfigParser for .treeinfo.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

const REV: &str = "9.7";

/// Writes (`write DIR`) productmd metadata into DIR/metadata, or reads it back (`read DIR`) and
/// prints what productmd sees as one JSON object.
const PRODUCTMD: &str = r#"
import json, os, sys
from productmd.composeinfo import ComposeInfo, Variant
from productmd.images import Images, Image
from productmd.rpms import Rpms

def fill(c):
    c.id = "Rocky-9-updates-20251124.1"; c.date = "20251124"; c.respin = 1; c.type = "production"

def write(comp):
    meta = os.path.join(comp, "metadata"); os.makedirs(meta, exist_ok=True)
    ci = ComposeInfo(); fill(ci.compose)
    ci.release.name = "Rocky Linux"; ci.release.short = "Rocky"; ci.release.version = "9"
    ci.release.type = "updates"; ci.release.is_layered = False
    for uid in ["BaseOS", "AppStream", "Minimal"]:
        v = Variant(ci); v.id = v.uid = v.name = uid; v.type = "variant"
        v.arches = set(["x86_64", "aarch64"])
        for a in v.arches:
            if uid != "Minimal":
                v.paths.os_tree[a] = v.paths.repository[a] = f"{uid}/{a}/os"
                v.paths.packages[a] = f"{uid}/{a}/os/Packages"
                v.paths.debug_repository[a] = f"{uid}/{a}/debug/tree"
                v.paths.source_repository[a] = f"{uid}/source/tree"
            v.paths.isos[a] = f"{uid}/{a}/iso"
        ci.variants.add(v)
    ci.dump(os.path.join(meta, "composeinfo.json"))
    im = Images(); fill(im.compose)
    specs = [("BaseOS", "x86_64", "BaseOS/x86_64/iso/Rocky-9.7-x86_64-boot.iso", "boot", "iso"),
             ("BaseOS", "x86_64", "BaseOS/x86_64/iso/Rocky-9.7-x86_64-dvd.iso", "dvd", "iso"),
             ("Minimal", "x86_64", "Minimal/x86_64/iso/Rocky-9.7-x86_64-minimal.iso", "dvd", "iso"),
             ("images", "x86_64", "images/x86_64/images/Rocky-9-GenericCloud-Base-9.7-20251124.1.x86_64.qcow2", "qcow2", "qcow2")]
    for n, (var, arch, path, typ, fmt) in enumerate(specs):
        i = Image(im); i.path = path; i.mtime = 1700000000 + n; i.size = 1000 + n
        i.volume_id = f"Rocky-9-7-{n}"; i.type = typ; i.format = fmt; i.arch = arch
        i.disc_number = 1; i.disc_count = 1; i.bootable = fmt == "iso"; i.implant_md5 = None
        i.subvariant = var
        i.add_checksum(None, "sha256", "%064x" % (n + 1))
        im.add(var, arch, i)
    im.dump(os.path.join(meta, "images.json"))
    r = Rpms(); fill(r.compose)
    r.add("BaseOS", "x86_64", "bash-0:5.1.8-9.el9.x86_64", "BaseOS/x86_64/os/Packages/b/bash-5.1.8-9.el9.x86_64.rpm", "350d275d", "binary", "bash-0:5.1.8-9.el9.src")
    r.add("BaseOS", "x86_64", "bash-debuginfo-0:5.1.8-9.el9.x86_64", "BaseOS/x86_64/debug/tree/Packages/b/bash-debuginfo-5.1.8-9.el9.x86_64.rpm", None, "debug", "bash-0:5.1.8-9.el9.src")
    r.add("AppStream", "x86_64", "vim-2:8.2-1.el9.x86_64", "AppStream/x86_64/os/Packages/v/vim-8.2-1.el9.x86_64.rpm", "8483c65d", "binary", "vim-2:8.2-1.el9.src")
    r.add("AppStream", "x86_64", "vim-2:8.2-1.el9.src", "AppStream/source/tree/Packages/v/vim-8.2-1.el9.src.rpm", "350d275d", "source", None)
    r.dump(os.path.join(meta, "rpms.json"))

def read(comp):
    meta = os.path.join(comp, "metadata"); out = {}
    ci = ComposeInfo(); ci.load(os.path.join(meta, "composeinfo.json"))
    out["compose"] = {"id": ci.compose.id, "date": ci.compose.date, "type": ci.compose.type, "respin": ci.compose.respin,
                      "release": {"name": ci.release.name, "short": ci.release.short, "version": ci.release.version,
                                  "type": ci.release.type}}
    out["variants"] = sorted(v.uid for v in ci.get_variants())
    repos = set()
    for v in ci.get_variants():
        for a in v.arches:
            for cat in ("repository", "debug_repository", "source_repository"):
                p = getattr(v.paths, cat).get(a)
                if p: repos.add(p)
    out["repos"] = sorted(repos)
    im = Images(); im.load(os.path.join(meta, "images.json"))
    out["images"] = sorted([{"variant": var, "arch": i.arch, "path": i.path, "type": i.type, "format": i.format,
                             "size": i.size, "sha256": i.checksums["sha256"]}
                            for var, arches in im.images.items() for a, s in arches.items() for i in s],
                           key=lambda d: d["path"])
    r = Rpms(); r.load(os.path.join(meta, "rpms.json"))
    pk = [rp for var, arches in r.rpms.items() for a, srpms in arches.items() for s, rpms in srpms.items() for n, rp in rpms.items()]
    out["packages"] = len(pk)
    out["unsigned"] = sorted(rp["path"] for rp in pk if not rp["sigkey"])
    out["not_350d275d"] = sorted(rp["path"] for rp in pk if rp["sigkey"] != "350d275d")
    json.dump(out, sys.stdout, sort_keys=True)

(write if sys.argv[1] == "write" else read)(sys.argv[2])
"#;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// python3 with productmd, or a skip (a failure under CI=true).
fn have_productmd() -> bool {
    if !have_peer("python3") {
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import productmd"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !ci(),
            "the Python productmd library is missing under CI=true; scripts/check installs it"
        );
        eprintln!("skipping: the Python productmd library is not installed");
    }
    ok
}

fn productmd(mode: &str, compose_dir: &Path) -> Vec<u8> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PRODUCTMD)
        .arg(mode)
        .arg(compose_dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "productmd {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn put(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// A small Rocky 9 compose: repositories, ISOs, cloud/vagrant images, a live image, Minimal and
/// Cloud, comps under work/. Returns the top directory (no metadata yet).
fn build_compose(base: &Path) -> PathBuf {
    let top = base.join("Rocky-9-updates-20251124.1");
    let c = top.join("compose");
    for v in ["BaseOS", "AppStream"] {
        for a in ["x86_64", "aarch64"] {
            fs::create_dir_all(c.join(format!("{v}/{a}/os/repodata"))).unwrap();
            fs::create_dir_all(c.join(format!("{v}/{a}/debug/tree/repodata"))).unwrap();
        }
        fs::create_dir_all(c.join(format!("{v}/source/tree/repodata"))).unwrap();
    }
    for f in [
        "BaseOS/x86_64/iso/Rocky-9.7-x86_64-boot.iso",
        "BaseOS/x86_64/iso/Rocky-9.7-x86_64-boot.iso.manifest",
        "BaseOS/x86_64/iso/Rocky-9.7-x86_64-dvd.iso",
        "BaseOS/aarch64/iso/Rocky-9.7-aarch64-dvd1.iso",
        "Minimal/x86_64/iso/Rocky-9.7-x86_64-minimal.iso",
        "images/x86_64/images/Rocky-9-GenericCloud-Base-9.7-20251124.1.x86_64.qcow2",
        "images/x86_64/images/Rocky-9-Container-UBI-9.7-20251124.1.x86_64.oci.tar.xz",
        "images/x86_64/images/Rocky-9-Vagrant-Libvirt-9.7-20251124.1.x86_64.vagrant.libvirt.box",
        "images/x86_64/images/CHECKSUM",
        "live/x86_64/iso/Rocky-9.7-KDE-x86_64-20251124.1.iso",
        "live/x86_64/iso/CHECKSUM",
        "Cloud/x86_64/images/x.qcow2",
    ] {
        put(&c.join(f), f);
    }
    put(
        &top.join("work/x86_64/comps/comps-BaseOS.x86_64.xml"),
        "<comps/>",
    );
    put(&top.join("STATUS"), "FINISHED\n");
    put(&top.join("COMPOSE_ID"), "Rocky-9-updates-20251124.1\n");
    top
}

fn compose_ok(args: &[&str]) -> Vec<Value> {
    run_ok(rl("rl-compose").args(args))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every entry under a tree: (path, kind, link target, content).
fn snapshot(root: &Path) -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    for e in rl_core::walk::walk(root, &Default::default()) {
        let e = e.unwrap();
        let ft = e.file_type;
        let (kind, extra) = if ft.is_symlink() {
            ("l", fs::read_link(&e.path).unwrap().display().to_string())
        } else if ft.is_dir() {
            ("d", String::new())
        } else {
            ("f", fs::read_to_string(&e.path).unwrap_or_default())
        };
        out.push((e.rel, kind.to_string(), extra));
    }
    out
}

#[test]
fn records_agree_with_productmd() {
    if !have_productmd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    productmd("write", &top.join("compose"));
    let want: Value = serde_json::from_slice(&productmd("read", &top.join("compose"))).unwrap();

    let recs = compose_ok(&["info", s(&top), "--require", "finished"]);
    let c = of_event(&recs, "compose")[0];
    assert_eq!(c["status"], "FINISHED");
    assert_eq!(c["root"], s(&fs::canonicalize(&top).unwrap()));
    for k in ["id", "date", "type", "respin"] {
        assert_eq!(c[k], want["compose"][k], "{k}");
    }
    for k in ["name", "short", "version", "type"] {
        assert_eq!(
            c["release"][k], want["compose"]["release"][k],
            "release {k}"
        );
    }
    assert_eq!(c["variants"], want["variants"]);
    assert_eq!(of_event(&recs, "variant").len(), 3);

    // repos: the scan finds exactly the repositories composeinfo declares
    let recs = compose_ok(&["repos", s(&top)]);
    let got: Vec<&str> = of_event(&recs, "repo")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let want_repos: Vec<&str> = want["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, want_repos);

    // images: every field productmd reads back
    let recs = compose_ok(&["images", s(&top)]);
    let mut got: Vec<Value> = of_event(&recs, "image")
        .iter()
        .map(|r| {
            serde_json::json!({"variant": r["variant"], "arch": r["arch"], "path": r["path"],
                "type": r["type"], "format": r["format"], "size": r["size"], "sha256": r["sha256"]})
        })
        .collect();
    got.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    assert_eq!(Value::Array(got), want["images"]);
    assert!(of_event(&recs, "image").iter().all(|r| r["exists"] == true));

    // unsigned: null sigkey; with --key: anything else too; exit 1 when any
    let out = rl("rl-compose")
        .args(["unsigned", s(&top)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    let got: Vec<&str> = of_event(&recs, "unsigned")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(serde_json::json!(got), want["unsigned"]);
    assert_eq!(summary(&recs)["packages"], want["packages"]);
    let out = rl("rl-compose")
        .args(["unsigned", s(&top), "--key", "0x350D275D"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    let mut got: Vec<&str> = of_event(&recs, "unsigned")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    got.sort();
    assert_eq!(serde_json::json!(got), want["not_350d275d"]);
    let out = rl("rl-compose")
        .args([
            "unsigned",
            s(&top),
            "--key",
            "350d275d",
            "--key",
            "8483c65d",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(summary(&records(&out.stdout))["unsigned"], 1);
}

#[test]
fn repos_filters_comps_and_modules() {
    let dir = tempfile::tempdir().unwrap();
    // <root>/9/<compose>, module metadata in <root>/9_metadata/<arch>/<Repo>-modules.yaml
    let per_major = dir.path().join("9");
    let top = build_compose(&per_major);
    put(
        &dir.path().join("9_metadata/x86_64/AppStream-modules.yaml"),
        "---\n",
    );
    let recs = compose_ok(&["repos", s(&top), "--arch", "x86_64", "--kind", "os"]);
    let repos = of_event(&recs, "repo");
    assert_eq!(repos.len(), 2);
    let base = repos.iter().find(|r| r["variant"] == "BaseOS").unwrap();
    assert!(
        base["comps"]
            .as_str()
            .unwrap()
            .ends_with("work/x86_64/comps/comps-BaseOS.x86_64.xml")
    );
    assert_eq!(base["modules"], Value::Null);
    assert_eq!(base["source"], "scan");
    let app = repos.iter().find(|r| r["variant"] == "AppStream").unwrap();
    assert_eq!(app["comps"], Value::Null);
    assert!(
        app["modules"]
            .as_str()
            .unwrap()
            .ends_with("9_metadata/x86_64/AppStream-modules.yaml")
    );
    let recs = compose_ok(&["repos", s(&top.join("compose")), "--kind", "source"]);
    let src = of_event(&recs, "repo");
    assert_eq!(src.len(), 2);
    assert!(src.iter().all(|r| r["arch"] == "src"));
    let recs = compose_ok(&["repos", s(&top), "--variant", "BaseOS", "--kind", "debug"]);
    let paths: Vec<&str> = of_event(&recs, "repo")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["BaseOS/aarch64/debug/tree", "BaseOS/x86_64/debug/tree"]
    );
    // the same set as `find compose -name repodata -type d`
    let found = sh(
        "find compose -name repodata -type d | sed 's|^compose/||; s|/repodata$||' | LC_ALL=C sort",
        &top,
    );
    let recs = compose_ok(&["repos", s(&top)]);
    let mut ours: Vec<String> = of_event(&recs, "repo")
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    ours.sort();
    let theirs: Vec<String> = String::from_utf8(found)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, theirs);
    // explicit module directory
    let recs = compose_ok(&[
        "repos",
        s(&top),
        "--module-metadata",
        s(&dir.path().join("nowhere")),
        "--variant",
        "AppStream",
        "--arch",
        "x86_64",
        "--kind",
        "os",
    ]);
    assert_eq!(of_event(&recs, "repo")[0]["modules"], Value::Null);
}

#[test]
fn images_by_scan_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let recs = compose_ok(&["images", s(&top)]);
    let imgs = of_event(&recs, "image");
    assert!(imgs.iter().all(|r| r["source"] == "scan"));
    let boot = imgs
        .iter()
        .find(|r| r["path"] == "BaseOS/x86_64/iso/Rocky-9.7-x86_64-boot.iso")
        .unwrap();
    assert_eq!(boot["type"], "boot");
    assert_eq!(boot["variant"], "BaseOS");
    assert_eq!(boot["arch"], "x86_64");
    let live = imgs
        .iter()
        .find(|r| r["path"].as_str().unwrap().contains("KDE"))
        .unwrap();
    assert_eq!(live["type"], "live");
    assert!(imgs.iter().any(|r| r["format"] == "tar.xz"));
    assert!(imgs.iter().any(|r| r["format"] == "vagrant-box"));
    // manifests and CHECKSUM files are not images
    assert!(
        imgs.iter()
            .all(|r| !r["path"].as_str().unwrap().ends_with("manifest"))
    );
    assert_eq!(summary(&recs)["images"], imgs.len());
}

#[test]
fn status_gate() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let status = |word: Option<&str>, extra: &[&str]| {
        match word {
            Some(w) => fs::write(top.join("STATUS"), format!("{w}\n")).unwrap(),
            None => {
                let _ = fs::remove_file(top.join("STATUS"));
            }
        }
        let out = rl("rl-compose")
            .args(["info", s(&top), "--require", "finished"])
            .args(extra)
            .output()
            .unwrap();
        let recs = records(&out.stdout);
        let c = of_event(&recs, "compose")[0].clone();
        (
            out.status.code().unwrap(),
            c,
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, c, _) = status(Some("FINISHED"), &[]);
    assert_eq!(code, 0);
    assert_eq!(c["status"], "FINISHED");
    // without metadata the id comes from COMPOSE_ID
    assert_eq!(c["id"], "Rocky-9-updates-20251124.1");
    let (code, _, err) = status(Some("FINISHED_INCOMPLETE"), &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--allow-incomplete"), "{err}");
    assert_eq!(
        status(Some("FINISHED_INCOMPLETE"), &["--allow-incomplete"]).0,
        0
    );
    for word in ["DOOMED", "STARTED", "TERMINATED", "garbage"] {
        let (code, c, err) = status(Some(word), &["--allow-incomplete"]);
        assert_eq!(code, 1, "{word}");
        assert_eq!(c["status"], word);
        assert!(err.contains(word), "{err}");
    }
    let (code, c, err) = status(None, &["--allow-incomplete"]);
    assert_eq!(code, 1);
    assert_eq!(c["status"], Value::Null);
    assert!(err.contains("no STATUS"), "{err}");
    // without --require info only reports
    fs::write(top.join("STATUS"), "DOOMED\n").unwrap();
    let out = rl("rl-compose").args(["info", s(&top)]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no such compose");
    for sub in ["info", "repos", "images", "unsigned"] {
        let out = rl("rl-compose").args([sub, s(&missing)]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        records(&out.stdout);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{sub}: {err}");
    }
    // a directory that is not a compose, and a plain file
    let out = rl("rl-compose")
        .args(["repos", s(dir.path())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pungi compose"));
    put(&dir.path().join("file"), "x");
    let out = rl("rl-compose")
        .args(["info", s(&dir.path().join("file"))])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // corrupt and mistyped metadata, missing rpms.json
    let top = build_compose(dir.path());
    let out = rl("rl-compose")
        .args(["unsigned", s(&top)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rpms.json"));
    put(&top.join("compose/metadata/rpms.json"), "{\"header\": ");
    let out = rl("rl-compose")
        .args(["unsigned", s(&top)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    put(
        &top.join("compose/metadata/images.json"),
        r#"{"header":{"type":"productmd.rpms","version":"1.2"},"payload":{}}"#,
    );
    let out = rl("rl-compose").args(["images", s(&top)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("productmd.images"));
    // a symlink loop inside the compose does not hang the scan
    symlink("loop", top.join("compose/loop")).unwrap();
    let recs = compose_ok(&["repos", s(&top)]);
    assert_eq!(of_event(&recs, "repo").len(), 10);
    // bad revision for prepare is a usage error; unknown release line is rejected by clap
    let out = rl("rl-compose")
        .args(["prepare", s(&top), "--revision", ""])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rl("rl-compose")
        .args([
            "prepare",
            s(&top),
            "--revision",
            "9.7",
            "--release",
            "lookahead",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn locate_like_common() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let stable = build_compose(&root.join("9"));
    symlink(stable.file_name().unwrap(), root.join("9/latest-Rocky-9")).unwrap();
    let lh = root.join("9-LookAhead/Rocky-9.8-20251201.0");
    fs::create_dir_all(lh.join("compose")).unwrap();
    symlink(&lh, root.join("9-LookAhead/latest-Rocky-9")).unwrap();

    let recs = compose_ok(&["locate", "--major", "9", "--compose-root", s(root)]);
    let c = of_event(&recs, "compose")[0];
    assert_eq!(c["root"], s(&fs::canonicalize(&stable).unwrap()));
    assert_eq!(c["link"], s(&root.join("9/latest-Rocky-9")));
    assert_eq!(c["id"], "Rocky-9-updates-20251124.1");
    assert_eq!(c["status"], "FINISHED");
    assert_eq!(c["rev"], "9.7-RC2");
    let recs = compose_ok(&[
        "locate",
        "--major",
        "9",
        "--release",
        "lh",
        "--compose-root",
        s(root),
    ]);
    let c = of_event(&recs, "compose")[0];
    assert_eq!(c["root"], s(&fs::canonicalize(&lh).unwrap()));
    assert_eq!(c["id"], "Rocky-9.8-20251201.0");
    assert_eq!(c["compose_append"], "-LookAhead");
    // the path agrees with common_9's RELEASE_COMPOSE_ROOT
    if have_peer("bash") {
        let path = sh(
            &format!(
                "COMPOSE_ROOT={}; MAJOR=9; COMPOSE_APPEND=-LookAhead; SHORT=Rocky; \
                 printf %s \"${{COMPOSE_ROOT}}/${{MAJOR}}${{COMPOSE_APPEND}}/latest-${{SHORT}}-${{MAJOR}}\"",
                s(root)
            ),
            root,
        );
        assert_eq!(c["link"], String::from_utf8(path).unwrap());
    }
    // absent: Extras, and a dangling link for beta
    let out = rl("rl-compose")
        .args([
            "locate",
            "--major",
            "9",
            "--short",
            "Extras",
            "--compose-root",
            s(root),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("latest-Extras-9"), "{err}");
    fs::create_dir_all(root.join("9-beta")).unwrap();
    symlink("gone", root.join("9-beta/latest-Rocky-9")).unwrap();
    let out = rl("rl-compose")
        .args([
            "locate",
            "--major",
            "9",
            "--release",
            "beta",
            "--compose-root",
            s(root),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The latest-link name the scripts' sed would give.
fn sed(expr: &str, name: &str) -> String {
    let out = Command::new("sed")
        .args(["-E", expr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{name}\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

#[test]
fn prepare_twice_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let c = top.join("compose");
    // dry run: records, nothing changes
    let before = snapshot(&top);
    let dry = compose_ok(&["prepare", s(&top), "--revision", REV, "--dry-run"]);
    assert_eq!(snapshot(&top), before);
    assert!(
        dry.iter()
            .filter(|r| r["event"] != "start" && r["event"] != "summary")
            .all(|r| r["dry_run"] == true)
    );
    let first = compose_ok(&["prepare", s(&top), "--revision", REV]);
    // the dry run announced exactly what the real run did
    let strip = |recs: &[Value]| -> Vec<Value> {
        recs.iter()
            .filter(|r| r["event"] != "start" && r["event"] != "summary")
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("dry_run");
                r
            })
            .collect()
    };
    assert_eq!(strip(&dry), strip(&first));
    assert!(summary(&first)["changed"].as_u64().unwrap() > 10);

    // the layout the sync scripts publish
    let link = |p: &str| fs::read_link(c.join(p)).unwrap();
    assert!(c.join("isos/x86_64/Rocky-9.7-x86_64-boot.iso").is_file());
    assert!(
        c.join("isos/x86_64/Rocky-9.7-x86_64-boot.iso.manifest")
            .is_file()
    );
    assert!(c.join("isos/x86_64/Rocky-9.7-x86_64-minimal.iso").is_file());
    assert!(!c.join("BaseOS/x86_64/iso").exists());
    assert!(c.join("BaseOS/x86_64/os/repodata").is_dir());
    assert!(!c.join("Minimal").exists() && !c.join("Cloud").exists());
    for a in ["aarch64", "ppc64le", "s390x"] {
        assert!(c.join("isos").join(a).is_dir());
    }
    assert_eq!(
        link("isos/x86_64/Rocky-9-latest-x86_64-boot.iso"),
        Path::new("Rocky-9.7-x86_64-boot.iso")
    );
    assert_eq!(
        link("isos/x86_64/Rocky-9-latest-x86_64-dvd.iso"),
        Path::new("Rocky-9.7-x86_64-dvd.iso")
    );
    assert_eq!(
        link("isos/aarch64/Rocky-9-latest-aarch64-dvd.iso"),
        Path::new("Rocky-9.7-aarch64-dvd1.iso")
    );
    assert_eq!(
        link("isos/x86_64/Rocky-9-latest-x86_64-minimal.iso"),
        Path::new("Rocky-9.7-x86_64-minimal.iso")
    );
    assert!(!c.join("images/x86_64/images").exists());
    assert!(!c.join("images/x86_64/CHECKSUM").exists());
    assert!(!c.join("live/x86_64/iso").exists());
    assert!(!c.join("live/x86_64/CHECKSUM").exists());
    let vagrant = "Rocky-9-Vagrant-Libvirt-9.7-20251124.1.x86_64.box";
    assert!(c.join("images/x86_64").join(vagrant).is_file());

    // link names equal the scripts' sed expressions
    if have_peer("sed") {
        let image_sed = format!(r"s/-{REV}-[0-9]+\.[0-9]+/.latest/g ; s/\.oci//g");
        for f in fs::read_dir(c.join("images/x86_64")).unwrap() {
            let f = f.unwrap();
            if f.file_type().unwrap().is_symlink() {
                continue;
            }
            let name = f.file_name().into_string().unwrap();
            let want = sed(&image_sed, &name);
            assert_eq!(link(&format!("images/x86_64/{want}")), Path::new(&name));
        }
        let live_sed = format!(r"s/-{REV}-/-9-/g ; s/-20[0-9]+\.[0-9]+/-latest/g");
        let name = "Rocky-9.7-KDE-x86_64-20251124.1.iso";
        let want = sed(&live_sed, name);
        assert_eq!(want, "Rocky-9-KDE-x86_64-latest.iso");
        // main's older expression agrees on the published names
        assert_eq!(sed(r"s/9\.7/9/g ; s/[0-9]+\.[0-9]+/latest/g", name), want);
        assert_eq!(link(&format!("live/x86_64/{want}")), Path::new(name));
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo {vagrant_long} | sed 's/\\.vagrant\\..*\\(\\.box\\)/\\1/'",
                vagrant_long = "Rocky-9-Vagrant-Libvirt-9.7-20251124.1.x86_64.vagrant.libvirt.box"
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), vagrant);
    }

    // second run: nothing to do, and it says so
    let after = snapshot(&top);
    let out = rl("rl-compose")
        .args(["prepare", s(&top), "--revision", REV])
        .output()
        .unwrap();
    assert!(out.status.success());
    let second = records(&out.stdout);
    assert_eq!(second.len(), 2, "{second:?}");
    assert_eq!(summary(&second)["changed"], 0);
    assert_eq!(summary(&second)["unchanged"], 8);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to change"));
    assert_eq!(snapshot(&top), after);
    // a wrong link is corrected in place
    let l = c.join("isos/x86_64/Rocky-9-latest-x86_64-dvd.iso");
    fs::remove_file(&l).unwrap();
    symlink("elsewhere.iso", &l).unwrap();
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV]);
    let links = of_event(&recs, "symlink");
    assert!(of_event(&recs, "link").is_empty(), "link means a hard link");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0]["replaced"], true);
    assert_eq!(snapshot(&top), after);
}

#[test]
fn prepare_refuses_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let before = snapshot(&top);
    for word in ["DOOMED", "STARTED"] {
        fs::write(top.join("STATUS"), format!("{word}\n")).unwrap();
        let out = rl("rl-compose")
            .args(["prepare", s(&top), "--revision", REV])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{word}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    }
    fs::write(top.join("STATUS"), "FINISHED\n").unwrap();
    assert_eq!(snapshot(&top), before);
    if have_productmd() {
        productmd("write", &top.join("compose"));
        let out = rl("rl-compose")
            .args(["prepare", s(&top), "--revision", "10.1"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("10.1"));
    }
    // a name clash: the ISO stays where it is, Minimal is not removed
    let c = top.join("compose");
    put(&c.join("isos/x86_64/Rocky-9.7-x86_64-minimal.iso"), "other");
    let out = rl("rl-compose")
        .args(["prepare", s(&top), "--revision", REV])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error").len(), 1);
    assert_eq!(
        fs::read_to_string(c.join("Minimal/x86_64/iso/Rocky-9.7-x86_64-minimal.iso")).unwrap(),
        "Minimal/x86_64/iso/Rocky-9.7-x86_64-minimal.iso"
    );
    assert_eq!(
        fs::read_to_string(c.join("isos/x86_64/Rocky-9.7-x86_64-minimal.iso")).unwrap(),
        "other"
    );
    assert!(!c.join("Cloud").exists());
    // a regular file where a latest link belongs is not replaced
    put(
        &c.join("isos/x86_64/Rocky-9-latest-x86_64-boot.iso"),
        "keep",
    );
    let out = rl("rl-compose")
        .args(["prepare", s(&top), "--revision", REV, "--force"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        fs::read_to_string(c.join("isos/x86_64/Rocky-9-latest-x86_64-boot.iso")).unwrap(),
        "keep"
    );
}

#[test]
fn prepare_lookahead_drops_dated_isos() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let c = top.join("compose");
    put(
        &c.join("Minimal/x86_64/iso/Rocky-9.7-20251124.1-x86_64-boot.iso"),
        "dated",
    );
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV, "--release", "lh"]);
    let deleted: Vec<&str> = of_event(&recs, "delete")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert!(deleted.contains(&"Minimal/x86_64/iso/Rocky-9.7-20251124.1-x86_64-boot.iso"));
    assert!(
        !c.join("isos/x86_64/Rocky-9.7-20251124.1-x86_64-boot.iso")
            .exists()
    );
    assert!(c.join("isos/x86_64/Rocky-9.7-x86_64-minimal.iso").exists());
}

/// pungi writes a CHECKSUM in every iso/ directory; BaseOS and Minimal both move into
/// isos/<arch>, so the two would collide. The checksum step rebuilds CHECKSUM from the per-ISO
/// files, so prepare drops pungi's instead of refusing.
#[test]
fn prepare_drops_pungi_iso_checksums_that_would_collide() {
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let c = top.join("compose");
    put(&c.join("BaseOS/x86_64/iso/CHECKSUM"), "# pungi BaseOS\n");
    put(&c.join("Minimal/x86_64/iso/CHECKSUM"), "# pungi Minimal\n");
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV]);
    assert_eq!(summary(&recs)["conflicts"], 0);
    assert!(c.join("isos/x86_64/Rocky-9.7-x86_64-minimal.iso").exists());
    assert!(!c.join("isos/x86_64/CHECKSUM").exists());
    assert!(!c.join("Minimal").exists());
    let again = compose_ok(&["prepare", s(&top), "--revision", REV]);
    assert_eq!(summary(&again)["changed"], 0);
}

/// A tiny ISO with awkward names, made by xorriso.
fn make_iso(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    for name in [
        "b.txt",
        "a b.txt",
        "it's",
        "Zeta",
        "sub/ä",
        "sub/Upper",
        "sub/lower",
        "new\nline",
        ".treeinfo",
        "EFI/BOOT/BOOTX64.EFI",
    ] {
        put(&src.join(name), name);
    }
    let iso = dir.join("Rocky-9.7-x86_64-boot.iso");
    let out = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-o"])
        .arg(&iso)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    iso
}

#[test]
fn manifest_equals_the_xorriso_pipeline() {
    if !have_peer("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = make_iso(dir.path());
    let link = dir.path().join("Rocky-9-latest-x86_64-boot.iso");
    symlink(iso.file_name().unwrap(), &link).unwrap();
    let recs = compose_ok(&["manifest", s(&iso), s(&link)]);
    let m = of_event(&recs, "manifest");
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["outcome"], "written");
    for f in [&iso, &link] {
        let name = f.file_name().unwrap().to_str().unwrap();
        let want = sh(
            &format!(
                "LC_ALL=C; export LC_ALL; xorriso -dev '{name}' --find 2>/dev/null | tail -n+2 | tr -d \"'\" | cut -c2- | sort"
            ),
            dir.path(),
        );
        let got = fs::read(dir.path().join(format!("{name}.manifest"))).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        assert_eq!(got, want);
    }
    assert!(
        !fs::symlink_metadata(dir.path().join("Rocky-9-latest-x86_64-boot.iso.manifest"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // --collate locale sorts like the pipeline in the caller's locale
    let recs = run_ok(rl("rl-compose").env("LC_ALL", "C.UTF-8").args([
        "manifest",
        s(&iso),
        "--collate",
        "locale",
        "--dry-run",
    ]));
    assert_eq!(of_event(&recs, "manifest")[0]["outcome"], "unchanged");
    // second run: unchanged, same bytes, same mtime
    let mtime = fs::metadata(dir.path().join("Rocky-9.7-x86_64-boot.iso.manifest"))
        .unwrap()
        .modified()
        .unwrap();
    let recs = compose_ok(&["manifest", s(&iso)]);
    assert_eq!(of_event(&recs, "manifest")[0]["outcome"], "unchanged");
    assert_eq!(
        fs::metadata(dir.path().join("Rocky-9.7-x86_64-boot.iso.manifest"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    // not an ISO, missing file: error, no manifest written, the good one still done
    let junk = dir.path().join("junk.iso");
    fs::write(&junk, vec![0u8; 4096]).unwrap();
    let out = rl("rl-compose")
        .args([
            "manifest",
            s(&junk),
            s(&dir.path().join("missing.iso")),
            s(&iso),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error").len(), 2);
    assert_eq!(of_event(&recs, "manifest").len(), 1);
    assert!(!dir.path().join("junk.iso.manifest").exists());
    assert!(!dir.path().join("missing.iso.manifest").exists());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not an ISO 9660 image"), "{err}");
}

/// The treeinfoModder / treeinfoModderKickstart edit done by Python's ConfigParser (the
/// scripts' tool), on a copy: `kickstart` selects the kickstart paths and rewrite-if-present.
const CONFIGPARSER: &str = r#"
import sys
from configparser import ConfigParser
path, arch, tree = sys.argv[1], sys.argv[2], sys.argv[3]
sec = "variant-AppStream"
cp = ConfigParser()
cp.read(path)
pk = "../../../AppStream/%s/%s/Packages" % (arch, tree)
rp = "../../../AppStream/%s/%s/" % (arch, tree)
if sec in cp.sections():
    if tree == "kickstart":
        cp.set(sec, "packages", pk)
        cp.set(sec, "repository", rp)
        with open(path, "w") as f:
            cp.write(f)
else:
    cp.set("tree", "variants", "BaseOS,AppStream")
    cp.add_section(sec)
    for k, v in (("id", "AppStream"), ("name", "AppStream"), ("type", "variant"), ("uid", "AppStream"),
                 ("packages", pk), ("repository", rp)):
        cp.set(sec, k, v)
    with open(path, "w") as f:
        cp.write(f)
"#;

const PUNGI_TREEINFO: &str = "[checksums]\nimages/efiboot.img = sha256:1111\nimages/install.img = sha256:2222\nrepodata/repomd.xml = sha256:3333\n\n[general]\n; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.\n; WARNING.1 = Read productmd documentation for details about new format.\narch = x86_64\nfamily = Rocky Linux\nname = Rocky Linux 9.7\npackagedir = Packages\nplatforms = x86_64,xen\nrepository = .\ntimestamp = 1763000000\nvariant = BaseOS\nvariants = BaseOS\nversion = 9.7\n\n[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[images-x86_64]\nefiboot.img = images/efiboot.img\ninitrd = images/pxeboot/initrd.img\n\n[release]\nname = Rocky Linux\nshort = Rocky\nversion = 9.7\n\n[stage2]\nmainimage = images/install.img\n\n[tree]\narch = x86_64\nbuild_timestamp = 1763000000\nplatforms = x86_64,xen\nvariants = BaseOS\n\n[variant-BaseOS]\nid = BaseOS\nname = BaseOS\npackages = Packages\nrepository = .\ntype = variant\nuid = BaseOS\n\n";

fn configparser(path: &Path, tree: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(CONFIGPARSER)
        .arg(path)
        .arg("x86_64")
        .arg(tree)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn treeinfo_edit_matches_configparser() {
    if !have_peer("python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let os = dir.path().join("BaseOS/x86_64/os");
    let ks = dir.path().join("BaseOS/x86_64/kickstart");
    let peer = dir.path().join("peer");
    put(&os.join(".treeinfo"), PUNGI_TREEINFO);
    put(&peer.join("os"), PUNGI_TREEINFO);

    let recs = compose_ok(&["treeinfo", s(&os), "--add-variant", "AppStream"]);
    let t = of_event(&recs, "treeinfo");
    assert_eq!(t[0]["edit"], "added");
    assert_eq!(t[0]["outcome"], "written");
    configparser(&peer.join("os"), "os");
    let ours = fs::read(os.join(".treeinfo")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        fs::read_to_string(peer.join("os")).unwrap()
    );
    assert_eq!(fs::read(os.join(".treeinfo-pristine")).unwrap(), ours);

    // again: no duplicated section, nothing written
    let recs = compose_ok(&["treeinfo", s(&os)]);
    let t = of_event(&recs, "treeinfo");
    assert_eq!(
        (t[0]["edit"].as_str(), t[0]["outcome"].as_str()),
        (Some("present"), Some("unchanged"))
    );
    assert_eq!(t[1]["outcome"], "unchanged");
    assert_eq!(fs::read(os.join(".treeinfo")).unwrap(), ours);
    assert_eq!(
        String::from_utf8_lossy(&ours)
            .matches("[variant-AppStream]")
            .count(),
        1
    );

    // kickstart: the tree is a copy of os/ made after the os edit (a re-run of the script),
    // and a pristine pungi copy (first run)
    for (start, name) in [
        (String::from_utf8(ours.clone()).unwrap(), "ks-rerun"),
        (PUNGI_TREEINFO.to_string(), "ks-first"),
    ] {
        put(&ks.join(".treeinfo"), &start);
        put(&peer.join(name), &start);
        let recs = compose_ok(&["treeinfo", s(&ks.join(".treeinfo")), "--kickstart"]);
        configparser(&peer.join(name), "kickstart");
        let got = fs::read_to_string(ks.join(".treeinfo")).unwrap();
        assert_eq!(got, fs::read_to_string(peer.join(name)).unwrap(), "{name}");
        assert!(got.contains("repository = ../../../AppStream/x86_64/kickstart/\n"));
        assert_eq!(
            fs::read_to_string(ks.join(".treeinfo-pristine")).unwrap(),
            got
        );
        assert_eq!(of_event(&recs, "treeinfo")[0]["outcome"], "written");
        let recs = compose_ok(&["treeinfo", s(&ks), "--kickstart"]);
        assert_eq!(of_event(&recs, "treeinfo")[0]["outcome"], "unchanged");
        assert_eq!(fs::read_to_string(ks.join(".treeinfo")).unwrap(), got);
    }

    // dry run writes nothing
    put(&os.join(".treeinfo"), PUNGI_TREEINFO);
    let recs = compose_ok(&["treeinfo", s(&os), "--dry-run"]);
    assert_eq!(of_event(&recs, "treeinfo")[0]["dry_run"], true);
    assert_eq!(
        fs::read_to_string(os.join(".treeinfo")).unwrap(),
        PUNGI_TREEINFO
    );

    // bad input: missing, not a treeinfo, duplicate sections
    for (content, what) in [
        (None, "No such file"),
        (Some("just text\n"), "not a usable treeinfo"),
        (Some("[tree]\narch = x86_64\n[tree]\n"), "duplicate section"),
        (Some("[header]\nversion = 1.2\n"), "[tree]"),
    ] {
        let d = dir.path().join("bad");
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        if let Some(c) = content {
            fs::write(d.join(".treeinfo"), c).unwrap();
        }
        let out = rl("rl-compose")
            .args(["treeinfo", s(&d), "--arch", "x86_64"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(what), "{what}: {err}");
        if let Some(c) = content {
            assert_eq!(fs::read_to_string(d.join(".treeinfo")).unwrap(), c);
        }
        assert!(!d.join(".treeinfo-pristine").exists());
    }
}

#[test]
fn images_follow_prepare() {
    if !have_productmd() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    productmd("write", &top.join("compose"));
    let want: Value = serde_json::from_slice(&productmd("read", &top.join("compose"))).unwrap();
    compose_ok(&["prepare", s(&top), "--revision", REV]);
    let recs = compose_ok(&["images", s(&top)]);
    let imgs = of_event(&recs, "image");
    assert_eq!(imgs.len(), want["images"].as_array().unwrap().len());
    for im in imgs {
        assert_eq!(im["exists"], true, "{im}");
        let listed = im["metadata_path"].as_str().unwrap();
        let now = im["path"].as_str().unwrap();
        assert_eq!(
            Path::new(listed).file_name(),
            Path::new(now).file_name(),
            "{im}"
        );
        assert!(now.starts_with("isos/x86_64/") || now.starts_with("images/x86_64/"));
        assert!(top.join("compose").join(now).is_file());
    }
}

#[test]
fn manifest_from_upstream_records() {
    if !have_peer("xorriso") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let iso = make_iso(dir.path());
    let root = s(dir.path());
    let input = format!(
        "{{\"event\":\"start\",\"tool\":\"rl-compose\",\"version\":\"0\",\"schema\":1}}\n\
         {{\"event\":\"image\",\"root\":\"{root}\",\"path\":\"{}\"}}\n\
         {{\"event\":\"image\",\"root\":\"{root}\",\"path\":\"disk.qcow2\"}}\n\
         {{\"event\":\"error\",\"root\":\"{root}\",\"path\":\"x\",\"op\":\"read\",\"kind\":\"io.other\",\"message\":\"m\"}}\n\
         {{\"event\":\"summary\",\"tool\":\"rl-compose\"}}\n",
        iso.file_name().unwrap().to_str().unwrap()
    );
    let recs = run_ok(
        rl("rl-compose")
            .args(["manifest", "-", "--pass"])
            .write_stdin(input.clone()),
    );
    let events: Vec<&str> = recs.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["start", "manifest", "image", "error", "summary"]);
    assert_eq!(summary(&recs)["upstream_errors"], 1);
    assert!(
        dir.path()
            .join("Rocky-9.7-x86_64-boot.iso.manifest")
            .is_file()
    );
    // without --pass only our records and the upstream error remain
    let out = rl("rl-compose")
        .args(["manifest", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    let events: Vec<&str> = recs.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["start", "manifest", "error", "summary"]);
    assert_eq!(of_event(&recs, "manifest")[0]["outcome"], "unchanged");
    // garbage on stdin is an input error
    let out = rl("rl-compose")
        .args(["manifest", "-"])
        .write_stdin("not json\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn prepare_moves_odd_names() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let c = top.join("compose");
    let bad = OsStr::from_bytes(b"bad\xff name.qcow2");
    put(&c.join("images/x86_64/images").join(bad), "x");
    put(
        &c.join("BaseOS/x86_64/iso/with space\nand newline.txt"),
        "x",
    );
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV]);
    assert!(c.join("images/x86_64").join(bad).is_file());
    assert!(!c.join("images/x86_64/images").exists());
    assert!(c.join("isos/x86_64/with space\nand newline.txt").is_file());
    assert!(
        of_event(&recs, "move")
            .iter()
            .any(|r| r["path"]["bytes"].is_string())
    );
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV]);
    assert_eq!(summary(&recs)["changed"], 0);
}

#[test]
fn prepare_leaves_an_extras_compose_alone() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("Extras-9-20251124.0");
    fs::create_dir_all(top.join("compose/extras/x86_64/os/repodata")).unwrap();
    fs::create_dir_all(top.join("compose/plus/x86_64/os/repodata")).unwrap();
    put(&top.join("STATUS"), "FINISHED\n");
    let before = snapshot(&top);
    let recs = compose_ok(&["prepare", s(&top), "--revision", REV]);
    assert_eq!(summary(&recs)["changed"], 0);
    assert_eq!(snapshot(&top), before);
}

#[test]
fn unreadable_metadata_and_root_directory() {
    use std::os::unix::fs::PermissionsExt;
    let out = rl("rl-compose")
        .args(["prepare", "/", "--revision", REV])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pungi compose"));
    let out = rl("rl-compose").args(["manifest", "/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    if is_root() {
        return; // root reads files whatever their mode
    }
    let dir = tempfile::tempdir().unwrap();
    let top = build_compose(dir.path());
    let ci = top.join("compose/metadata/composeinfo.json");
    put(&ci, "{}");
    fs::set_permissions(&ci, fs::Permissions::from_mode(0o000)).unwrap();
    let out = rl("rl-compose").args(["info", s(&top)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error")[0]["kind"], "io.permission_denied");
}
