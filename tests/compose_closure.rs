//! rl-compose closure: real RPMs built with rpmbuild, metadata by createrepo_c, and the answer
//! compared with `dnf repoclosure` run on the same repositories (offline, as non-root, with a
//! temporary install root and cache).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::*;

/// Main fixture spec: an x86_64 package with noarch subpackages; plain, versioned (epochs,
/// tildes, carets), file and rich requirements, some of them broken.
const FIX_SPEC: &str = r#"
%global debug_package %{nil}
%global _build_id_links none
Name: fix
Version: 1.0
Release: 1
Summary: fixture
License: MIT
Requires: fix-lib >= 1:1.0
Requires: /usr/share/fix/data.txt
Requires: /usr/share/fix
Requires: /usr/share/fix/missing
Requires: (fix-lib or nothing-a)
Requires: (nothing-a or nothing-b)
Requires: (nothing-a or nothing-b or nothing-c)
Requires: (fix-lib and nothing-a)
Requires: (nothing-a and nothing-b)
Requires: (nothing-a if fix-lib)
Requires: (fix-lib if nothing-a)
Requires: (nothing-a if fix-lib else fix-lib)
Requires: (nothing-a if fix-lib else nothing-b)
Requires: (fix-lib with virt)
Requires: (fix-lib with snap)
Requires: (fix-lib without snap)
Requires: (fix-lib without virt)
Requires: (nothing-a or (nothing-b and nothing-c))
Requires: ((nothing-a or nothing-b) and nothing-c)
Requires: (nothing-a >= 1.0 or nothing-b < 2:3-4)
Requires: (  fix-lib   >=  1:0.9   with   virt  )
Requires: fix-lib >= 0:0.5
Requires: nothing-e >= 0:0.5
Requires: (/usr/share/fix/data.txt with fix)
Requires: (/usr/share/fix/data.txt without fix)
Requires: (/usr/bin/fixtool with fix-lib)
%description
x
%package lib
Summary: lib
Epoch: 1
Provides: virt = 2.0~rc1
Provides: libfix.so.1()(64bit)
Requires: libmissing.so.2()(64bit)
BuildArch: noarch
%description lib
x
%package caret
Summary: c
Version: 1.0^git1
Provides: snap = 1.0^git1
Provides: /usr/share/fix/data.txt
BuildArch: noarch
%description caret
x
%package need
Summary: n
Version: 2.0~beta1
Release: 3
Requires: virt >= 2.0~beta
Requires: virt >= 2.0
Requires: snap > 1.0
Requires: snap >= 1.0.1
Requires: fix-lib < 1:1.0
Requires: fix-lib < 2:0
Requires: fix-lib >= 5.0
Requires: fix-lib = 1:1.0-1
Requires: fix-lib = 1:1.0-2
Requires: fix-lib = 1:1.0
Requires: fix-caret > 1.0
Requires: fix-caret < 1.0.0
Requires: libfix.so.1()(64bit)
Requires: /usr/bin/fixtool
Requires: /usr/bin/nofixtool
Requires(pre): prereq-missing
Requires(post): /bin/sh-missing
BuildArch: noarch
%description need
x
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/fix
echo x > %{buildroot}/usr/bin/fixtool
echo x > %{buildroot}/usr/share/fix/data.txt
%files
/usr/bin/fixtool
%dir /usr/share/fix
/usr/share/fix/data.txt
%files lib
%files caret
%files need
"#;

/// Built for several arches and two versions: arch compatibility and --newest.
const MULTI_SPEC: &str = r#"
%global debug_package %{nil}
Name: multi
Version: %{ver}
Release: 1
Summary: m
License: MIT
Requires: arch-missing-%{_target_cpu}
Provides: multi-cap-%{_target_cpu}
Provides: mver = %{ver}
%description
x
%package dep
Summary: d
Requires: multi-cap-aarch64
Requires: multi-cap-i686
Requires: mver < 1.5
Requires: (multi-zz and multi-yy and multi-xx)
Requires: (multi-zz or (multi-yy or multi-xx))
Requires: (multi-zz with multi-yy)
Requires: (multi-zz without multi-yy)
Requires: (multi-zz if multi-yy else multi-xx)
%description dep
x
%files
%files dep
"#;

/// A source package: its BuildRequires are checked like dnf does, it provides nothing.
const SRC_SPEC: &str = r#"
Name: srcdep
Version: 1
Release: 1
Summary: s
License: MIT
BuildRequires: missing-build-dep
BuildRequires: multi
%description
x
%files
"#;

/// Two repositories: `base` (lookaside) and `app` requiring from it.
const LOOK_SPEC: &str = r#"
%global debug_package %{nil}
Name: base
Version: 3
Release: 1
Summary: b
License: MIT
BuildArch: noarch
Provides: base-cap = 3
%description
x
%package -n app
Summary: a
Requires: base-cap >= 2
Requires: app-missing
%description -n app
x
%files
%files -n app
"#;

struct Fixture {
    /// fix*.rpm, gzip metadata.
    main: PathBuf,
    /// multi*.rpm for aarch64, i686, x86_64 (two versions), xz metadata.
    arch: PathBuf,
    base: PathBuf,
    app: PathBuf,
    root: PathBuf,
}

fn fixture() -> Option<&'static Fixture> {
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        if !have_peer("rpmbuild") || !have_peer("createrepo_c") {
            return None;
        }
        Some(build_fixture())
    })
    .as_ref()
}

fn rpmbuild(top: &Path, spec: &Path, target: &str, defines: &[&str]) {
    let mut cmd = Command::new("rpmbuild");
    cmd.arg("-bb")
        .arg("--quiet")
        .arg("--target")
        .arg(target)
        .arg("--define")
        .arg(format!("_topdir {}", top.display()));
    for d in defines {
        cmd.arg("--define").arg(d);
    }
    let out = cmd.arg(spec).output().expect("run rpmbuild");
    assert!(
        out.status.success(),
        "rpmbuild {}: {}",
        spec.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn createrepo(dir: &Path, extra: &[&str]) {
    let out = Command::new("createrepo_c")
        .arg("-q")
        .args(extra)
        .arg(dir)
        .output()
        .expect("run createrepo_c");
    assert!(
        out.status.success(),
        "createrepo_c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_rpms(from: &Path, to: &Path, prefix: &str) {
    std::fs::create_dir_all(to).unwrap();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(from.join("RPMS"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    if from.join("SRPMS").is_dir() {
        dirs.push(from.join("SRPMS"));
    }
    for dir in dirs {
        for rpm in std::fs::read_dir(dir).unwrap() {
            let rpm = rpm.unwrap().path();
            let name = rpm.file_name().unwrap().to_str().unwrap().to_owned();
            if name.starts_with(prefix) {
                std::fs::copy(&rpm, to.join(&name)).unwrap();
            }
        }
    }
}

fn build_fixture() -> Fixture {
    // Under target/tmp (cargo's per-project scratch space), rebuilt on every run: a static
    // fixture is never dropped, so a temporary directory would be left behind in /tmp.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("compose-closure-fixture");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let specs = root.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    for (name, text) in [
        ("fix.spec", FIX_SPEC),
        ("multi.spec", MULTI_SPEC),
        ("look.spec", LOOK_SPEC),
        ("srcdep.spec", SRC_SPEC),
    ] {
        std::fs::write(specs.join(name), text).unwrap();
    }
    let top = |n: &str| root.join("build").join(n);
    rpmbuild(&top("fix"), &specs.join("fix.spec"), "x86_64", &[]);
    for t in ["aarch64", "i686", "x86_64"] {
        rpmbuild(&top("multi"), &specs.join("multi.spec"), t, &["ver 1.0"]);
    }
    rpmbuild(
        &top("multi"),
        &specs.join("multi.spec"),
        "x86_64",
        &["ver 2.0"],
    );
    rpmbuild(&top("look"), &specs.join("look.spec"), "noarch", &[]);
    let out = Command::new("rpmbuild")
        .args(["-bs", "--quiet", "--define"])
        .arg(format!("_topdir {}", top("multi").display()))
        .arg(specs.join("srcdep.spec"))
        .output()
        .expect("run rpmbuild -bs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let main = root.join("repos/main");
    copy_rpms(&top("fix"), &main, "fix");
    createrepo(&main, &[]);
    let arch = root.join("repos/arch");
    copy_rpms(&top("multi"), &arch, "multi");
    copy_rpms(&top("multi"), &arch, "srcdep");
    createrepo(&arch, &["--general-compress-type=xz"]);
    let base = root.join("repos/base");
    copy_rpms(&top("look"), &base, "base");
    createrepo(&base, &[]);
    let app = root.join("repos/app");
    copy_rpms(&top("look"), &app, "app");
    createrepo(&app, &[]);
    Fixture {
        main,
        arch,
        base,
        app,
        root,
    }
}

type Answer = BTreeSet<(String, String)>;

/// `dnf repoclosure` over `repos` (id, path), offline and unprivileged; `extra` are
/// repoclosure options (`--check id`, `--arch a`, `--newest`, `--forcearch a`).
fn dnf_closure(repos: &[(&str, &Path)], extra: &[&str]) -> Answer {
    let tmp = tempfile::tempdir().unwrap();
    // Our --best is dnf's best option.
    let best = extra.contains(&"--best");
    let extra: Vec<&str> = extra.iter().copied().filter(|a| *a != "--best").collect();
    let mut cmd = Command::new("dnf");
    cmd.arg("-q")
        .arg(format!(
            "--installroot={}",
            tmp.path().join("root").display()
        ))
        .arg(format!(
            "--setopt=cachedir={}",
            tmp.path().join("cache").display()
        ))
        .arg("--setopt=reposdir=/nonexistent")
        .arg(if best {
            "--setopt=best=True"
        } else {
            "--setopt=best=False"
        })
        .arg("--releasever=9")
        .arg("--disableplugin=*")
        .arg("--enableplugin=repoclosure")
        .arg("repoclosure");
    for (id, path) in repos {
        cmd.arg(format!("--repofrompath={id},{}", path.display()))
            .arg("--repo")
            .arg(id);
    }
    let out = cmd.args(&extra).output().expect("run dnf");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut set = Answer::new();
    let mut pkg = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("package: ") {
            pkg = rest.split(" from ").next().unwrap().to_owned();
        } else if let Some(dep) = line.strip_prefix("    ") {
            set.insert((pkg.clone(), dep.to_owned()));
        }
    }
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "dnf repoclosure failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(code == Some(1), !set.is_empty(), "dnf status vs output");
    set
}

/// Runs rl-compose closure; returns records and exit code.
fn rl_closure(args: &[&std::ffi::OsStr]) -> (Vec<Value>, i32) {
    let out = rl("rl-compose")
        .arg("closure")
        .args(args)
        .output()
        .expect("run rl-compose");
    (records(&out.stdout), out.status.code().unwrap_or(-1))
}

fn answer(recs: &[Value]) -> Answer {
    of_event(recs, "unresolved")
        .into_iter()
        .map(|r| {
            (
                r["package"].as_str().unwrap().to_owned(),
                r["requires"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

fn pair(p: &str, r: &str) -> (String, String) {
    (p.to_owned(), r.to_owned())
}

#[test]
fn versioned_file_and_rich_requirements_match_dnf() {
    let Some(f) = fixture() else { return };
    let (recs, code) = rl_closure(&[os(&f.main), "--forcearch".as_ref(), "x86_64".as_ref()]);
    assert_eq!(code, 1);
    let ours = answer(&recs);
    // Independent of dnf: what rpm's rules say.
    for want in [
        pair("fix-lib-1:1.0-1.noarch", "libmissing.so.2()(64bit)"),
        pair("fix-need-2.0~beta1-3.noarch", "virt >= 2.0"),
        pair("fix-need-2.0~beta1-3.noarch", "snap >= 1.0.1"),
        pair("fix-need-2.0~beta1-3.noarch", "fix-lib < 1:1.0"),
        pair("fix-need-2.0~beta1-3.noarch", "fix-lib = 1:1.0-2"),
        pair("fix-need-2.0~beta1-3.noarch", "/usr/bin/nofixtool"),
        pair("fix-need-2.0~beta1-3.noarch", "prereq-missing"),
        pair("fix-1.0-1.x86_64", "/usr/share/fix/missing"),
        pair("fix-1.0-1.x86_64", "nothing-e >= 0.5"),
        pair("fix-1.0-1.x86_64", "(nothing-a or nothing-b or nothing-c)"),
        pair("fix-1.0-1.x86_64", "(nothing-a if fix-lib)"),
        pair("fix-1.0-1.x86_64", "(fix-lib with snap)"),
        pair("fix-1.0-1.x86_64", "(fix-lib without virt)"),
        pair("fix-1.0-1.x86_64", "(/usr/bin/fixtool with fix-lib)"),
    ] {
        assert!(ours.contains(&want), "missing {want:?} in {ours:#?}");
    }
    for not in [
        pair("fix-need-2.0~beta1-3.noarch", "virt >= 2.0~beta"),
        pair("fix-need-2.0~beta1-3.noarch", "snap > 1.0"),
        pair("fix-need-2.0~beta1-3.noarch", "fix-lib >= 5.0"),
        pair("fix-need-2.0~beta1-3.noarch", "fix-lib = 1:1.0"),
        pair("fix-need-2.0~beta1-3.noarch", "fix-caret < 1.0.0"),
        pair("fix-1.0-1.x86_64", "/usr/share/fix/data.txt"),
        pair("fix-1.0-1.x86_64", "/usr/share/fix"),
        pair("fix-1.0-1.x86_64", "(fix-lib and nothing-a)"),
        pair("fix-1.0-1.x86_64", "(fix-lib >= 1:0.9 with virt)"),
        // fix lists the file only in filelists.xml, fix-caret provides the path explicitly.
        pair("fix-1.0-1.x86_64", "(/usr/share/fix/data.txt with fix)"),
        pair("fix-1.0-1.x86_64", "(/usr/share/fix/data.txt without fix)"),
    ] {
        assert!(!ours.contains(&not), "unexpected {not:?}");
    }
    let unresolved = of_event(&recs, "unresolved");
    let one = unresolved
        .iter()
        .find(|r| r["package"] == "fix-lib-1:1.0-1.noarch")
        .unwrap();
    assert_eq!(one["root"], f.main.to_str().unwrap());
    assert_eq!(one["path"], "fix-lib-1.0-1.noarch.rpm");
    let s = summary(&recs);
    assert_eq!(s["unresolved"], ours.len() as u64);
    assert_eq!(s["broken_packages"], 3);
    assert_eq!(s["checked"], 4);
    let repo = &of_event(&recs, "repodata")[0];
    assert_eq!(repo["compression"], "gz");
    assert_eq!(
        repo["filelists"], true,
        "/usr/share/fix is only in filelists"
    );

    if have_peer("dnf") {
        let theirs = dnf_closure(&[("main", &f.main)], &["--forcearch", "x86_64"]);
        assert_eq!(ours, theirs);
    }
}

#[test]
fn arches_and_newest_match_dnf() {
    let Some(f) = fixture() else { return };
    let cases: &[&[&str]] = &[
        &["--forcearch", "x86_64"],
        &["--forcearch", "x86_64", "--newest"],
        &["--forcearch", "x86_64", "--arch", "x86_64"],
        &[
            "--forcearch",
            "x86_64",
            "--arch",
            "i686",
            "--arch",
            "noarch",
        ],
        &["--forcearch", "aarch64"],
        &["--forcearch", "x86_64", "--best"],
        &["--forcearch", "x86_64", "--best", "--newest"],
    ];
    let dnf = have_peer("dnf");
    for extra in cases {
        let mut args = vec![os(&f.arch)];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let (recs, code) = rl_closure(&args);
        let ours = answer(&recs);
        assert_eq!(code, if ours.is_empty() { 0 } else { 1 }, "{extra:?}");
        if dnf {
            let theirs = dnf_closure(&[("arch", &f.arch)], extra);
            assert_eq!(ours, theirs, "{extra:?}");
        }
    }
    // Without dnf, the facts the comparison rests on.
    let (recs, _) = rl_closure(&[os(&f.arch), "--forcearch".as_ref(), "x86_64".as_ref()]);
    let ours = answer(&recs);
    assert!(ours.contains(&pair("multi-dep-2.0-1.x86_64", "multi-cap-aarch64")));
    assert!(!ours.contains(&pair("multi-dep-2.0-1.x86_64", "multi-cap-i686")));
    assert!(!ours.contains(&pair("multi-dep-2.0-1.x86_64", "mver < 1.5")));
    assert!(ours.contains(&pair("multi-1.0-1.aarch64", "arch-missing-aarch64")));
    assert!(ours.contains(&pair(
        "multi-dep-2.0-1.x86_64",
        "(multi-zz or multi-yy or multi-xx)"
    )));
    assert!(ours.contains(&pair("srcdep-1-1.src", "missing-build-dep")));
    assert!(!ours.contains(&pair("srcdep-1-1.src", "multi")));
    assert_eq!(of_event(&recs, "repodata")[0]["compression"], "xz");
    let (recs, _) = rl_closure(&[
        os(&f.arch),
        "--forcearch".as_ref(),
        "x86_64".as_ref(),
        "--newest-only".as_ref(),
    ]);
    let newest = answer(&recs);
    assert!(!newest.iter().any(|(p, _)| p == "multi-dep-1.0-1.x86_64"));
    // Newest is per name.arch: the i686 1.0 build stays (and provides mver = 1.0).
    assert!(newest.iter().any(|(p, _)| p == "multi-dep-1.0-1.i686"));
    assert!(!newest.iter().any(|(_, r)| r == "mver < 1.5"));
}

#[test]
fn check_and_lookaside_match_dnf() {
    let Some(f) = fixture() else { return };
    let (recs, code) = rl_closure(&[os(&f.base), "--check".as_ref(), os(&f.app)]);
    assert_eq!(code, 1);
    let ours = answer(&recs);
    assert_eq!(
        ours,
        BTreeSet::from([pair("app-3-1.noarch", "app-missing")])
    );
    assert_eq!(summary(&recs)["checked"], 1);
    assert_eq!(summary(&recs)["repos"], 2);
    // Without the lookaside repository its provides are missing.
    let (recs, _) = rl_closure(&[os(&f.app)]);
    assert!(answer(&recs).contains(&pair("app-3-1.noarch", "base-cap >= 2")));
    // --check alone is enough (as dnf's --check with --repo of the same id).
    let (recs, code) = rl_closure(&["--check".as_ref(), os(&f.app)]);
    assert_eq!(code, 1);
    assert!(answer(&recs).contains(&pair("app-3-1.noarch", "base-cap >= 2")));
    // Checking only the lookaside: clean.
    let (recs, code) = rl_closure(&[os(&f.app), "--check".as_ref(), os(&f.base)]);
    assert_eq!(code, 0);
    assert!(answer(&recs).is_empty());
    if have_peer("dnf") {
        let theirs = dnf_closure(&[("base", &f.base), ("app", &f.app)], &["--check", "app"]);
        assert_eq!(ours, theirs);
        let theirs = dnf_closure(&[("base", &f.base), ("app", &f.app)], &["--check", "base"]);
        assert!(theirs.is_empty());
    }
}

#[test]
fn every_compression_gives_the_same_answer() {
    let Some(f) = fixture() else { return };
    let (recs, _) = rl_closure(&[os(&f.main), "--forcearch".as_ref(), "x86_64".as_ref()]);
    let want = answer(&recs);
    let tmp = tempfile::tempdir().unwrap();
    for kind in ["xz", "bz2", "zstd", "none"] {
        let repo = tmp.path().join(format!("repo {kind}"));
        std::fs::create_dir_all(&repo).unwrap();
        for e in std::fs::read_dir(&f.main).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rpm") {
                std::fs::copy(&p, repo.join(p.file_name().unwrap())).unwrap();
            }
        }
        match kind {
            "xz" | "bz2" => createrepo(&repo, &[&format!("--general-compress-type={kind}")]),
            _ => {
                // createrepo_c here cannot write zstd: recompress its gzip files in place (the
                // reader goes by magic bytes, not names), zstd in-process with ruzstd.
                createrepo(&repo, &[]);
                for e in std::fs::read_dir(repo.join("repodata")).unwrap() {
                    let p = e.unwrap().path();
                    if p.to_str().unwrap().ends_with(".xml.gz") {
                        let out = Command::new("gzip").arg("-dc").arg(&p).output().unwrap();
                        assert!(out.status.success());
                        let data = if kind == "zstd" {
                            ruzstd::encoding::compress_to_vec(
                                &out.stdout[..],
                                ruzstd::encoding::CompressionLevel::Fastest,
                            )
                        } else {
                            out.stdout
                        };
                        std::fs::write(&p, data).unwrap();
                    }
                }
            }
        }
        let (recs, code) = rl_closure(&[os(&repo), "--forcearch".as_ref(), "x86_64".as_ref()]);
        assert_eq!(code, 1, "{kind}");
        assert_eq!(answer(&recs), want, "{kind}");
        let expect = match kind {
            "zstd" => "zst",
            other => other,
        };
        assert_eq!(of_event(&recs, "repodata")[0]["compression"], expect);
    }
}

#[test]
fn compose_mode_checks_variants_together_per_arch() {
    let Some(f) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let compose = tmp.path().join("Rocky-9-20261122.0");
    let put = |variant: &str, arch: &str, from: &Path| {
        let dest = compose.join("compose").join(variant).join(arch).join("os");
        std::fs::create_dir_all(&dest).unwrap();
        let st = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", from.display()))
            .arg(&dest)
            .status()
            .unwrap();
        assert!(st.success());
    };
    put("BaseOS", "x86_64", &f.base);
    put("AppStream", "x86_64", &f.app);
    put("AppStream", "aarch64", &f.arch);
    std::fs::create_dir_all(compose.join("compose/BaseOS/source/tree")).unwrap();
    let (recs, code) = rl_closure(&["--compose".as_ref(), os(&compose)]);
    assert_eq!(code, 1);
    let un = of_event(&recs, "unresolved");
    let x86: BTreeSet<_> = un
        .iter()
        .filter(|r| r["tree_arch"] == "x86_64")
        .map(|r| {
            (
                r["package"].as_str().unwrap(),
                r["requires"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(x86, BTreeSet::from([("app-3-1.noarch", "app-missing")]));
    let app = un
        .iter()
        .find(|r| r["package"] == "app-3-1.noarch")
        .unwrap();
    assert_eq!(app["variant"], "AppStream");
    // aarch64 tree: aarch64 is the base arch there, so its own packages provide.
    let aarch: BTreeSet<_> = un
        .iter()
        .filter(|r| r["tree_arch"] == "aarch64")
        .map(|r| r["requires"].as_str().unwrap())
        .collect();
    assert!(aarch.contains("multi-cap-i686"));
    assert!(!aarch.contains("multi-cap-aarch64"));
    assert_eq!(of_event(&recs, "repodata").len(), 3);
    if have_peer("dnf") {
        let c = compose.join("compose");
        let theirs = dnf_closure(
            &[
                ("baseos", &c.join("BaseOS/x86_64/os")),
                ("appstream", &c.join("AppStream/x86_64/os")),
            ],
            &[
                "--forcearch",
                "x86_64",
                "--arch",
                "x86_64",
                "--arch",
                "i686",
                "--arch",
                "noarch",
            ],
        );
        let ours: Answer = x86
            .iter()
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect();
        assert_eq!(ours, theirs);
    }
    // A compose without any repository is an error.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(empty.join("compose")).unwrap();
    let (recs, code) = rl_closure(&["--compose".as_ref(), os(&empty)]);
    assert_eq!(code, 2);
    assert_eq!(of_event(&recs, "error").len(), 1);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    // Missing repository.
    let missing = tmp.path().join("no such repo");
    let out = rl("rl-compose")
        .arg("closure")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    let err = of_event(&recs, "error");
    assert_eq!(err.len(), 1);
    assert_eq!(err[0]["path"], "repodata/repomd.xml");
    assert_eq!(err[0]["op"], "read-repomd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"));

    // Corrupt repomd.xml, then a repomd naming a corrupt primary, then a truncated one.
    let repo = tmp.path().join("bad repo\nnewline");
    std::fs::create_dir_all(repo.join("repodata")).unwrap();
    std::fs::write(repo.join("repodata/repomd.xml"), "not xml at all <").unwrap();
    let out = rl("rl-compose").arg("closure").arg(&repo).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    records(&out.stdout);
    std::fs::write(
        repo.join("repodata/repomd.xml"),
        r#"<repomd><data type="primary"><location href="repodata/p.xml.gz"/></data></repomd>"#,
    )
    .unwrap();
    std::fs::write(repo.join("repodata/p.xml.gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let out = rl("rl-compose").arg("closure").arg(&repo).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "error")[0]["op"], "read-primary");
    std::fs::write(
        repo.join("repodata/p.xml.gz"),
        "<metadata><package><name>x</name>",
    )
    .unwrap();
    let out = rl("rl-compose").arg("closure").arg(&repo).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("primary") || msg.contains("XML"), "{msg}");

    // Unreadable primary (meaningless as root).
    if !is_root() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            repo.join("repodata/p.xml.gz"),
            std::fs::Permissions::from_mode(0o000),
        )
        .unwrap();
        let out = rl("rl-compose").arg("closure").arg(&repo).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let recs = records(&out.stdout);
        assert_eq!(of_event(&recs, "error")[0]["kind"], "io.permission_denied");
    }

    // Usage errors.
    let out = rl("rl-compose").arg("closure").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rl("rl-compose")
        .args(["closure", "x", "--compose", "y"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn empty_repository_and_paths_with_spaces() {
    let Some(f) = fixture() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty repo");
    std::fs::create_dir_all(&empty).unwrap();
    createrepo(&empty, &[]);
    let (recs, code) = rl_closure(&[os(&empty)]);
    assert_eq!(code, 0);
    assert_eq!(summary(&recs)["packages"], 0);
    // A repository given twice counts once (also as a file:// URL).
    let url = format!("file://{}", f.base.display());
    let (recs, _) = rl_closure(&[os(&f.base), url.as_ref(), os(&f.app)]);
    assert_eq!(summary(&recs)["repos"], 2);
    // Relative paths become absolute roots.
    let out = rl("rl-compose")
        .args(["closure", "base"])
        .current_dir(f.base.parent().unwrap())
        .output()
        .unwrap();
    let recs = records(&out.stdout);
    assert_eq!(
        of_event(&recs, "repodata")[0]["root"],
        f.base.to_str().unwrap()
    );
    assert!(f.root.is_absolute());
}

#[test]
fn repositories_from_upstream_records() {
    let Some(f) = fixture() else { return };
    let base = f.base.to_str().unwrap();
    let app = f.app.to_str().unwrap();
    let input = format!(
        "{{\"event\":\"start\",\"tool\":\"rl-compose\",\"version\":\"0\",\"schema\":1}}\n\
         {{\"event\":\"repo\",\"root\":\"{base}\",\"path\":\"\"}}\n\
         {{\"event\":\"other\",\"root\":\"/nonexistent\",\"path\":\"\"}}\n\
         {{\"event\":\"error\",\"root\":\"/x\",\"path\":\"y\",\"op\":\"read\",\"kind\":\"io.not_found\",\"message\":\"m\"}}\n\
         {{\"event\":\"repo\",\"root\":\"{app}\",\"path\":\"repodata\"}}\n"
    );
    let out = rl("rl-compose")
        .args(["closure", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    assert_eq!(of_event(&recs, "repodata").len(), 2);
    assert_eq!(of_event(&recs, "error").len(), 1, "upstream error passed");
    assert_eq!(
        answer(&recs),
        BTreeSet::from([pair("app-3-1.noarch", "app-missing")])
    );
    // A line that is not a record is an error.
    let out = rl("rl-compose")
        .args(["closure", "-"])
        .write_stdin("not json\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// gzip of `data` (gzip -9, from the system).
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .arg("-9c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run gzip");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A repository whose primary.xml.gz (1 MB) expands to 1 GiB of `fill` inside `<name>`: a gzip
/// member per MiB, which the multi-member decoder (as zcat) reads as one stream.
fn bomb_repo(dir: &Path, fill: u8) {
    let head = gzip(
        br#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm"><name>"#,
    );
    let mib = gzip(&vec![fill; 1 << 20]);
    let tail = gzip(b"</name><arch>x86_64</arch></package></metadata>\n");
    let mut primary = head;
    for _ in 0..1024 {
        primary.extend_from_slice(&mib);
    }
    primary.extend_from_slice(&tail);
    fs::create_dir_all(dir.join("repodata")).unwrap();
    fs::write(dir.join("repodata/primary.xml.gz"), primary).unwrap();
    fs::write(
        dir.join("repodata/repomd.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision><data type="primary"><location href="repodata/primary.xml.gz"/></data></repomd>
"#,
    )
    .unwrap();
}

#[test]
fn a_decompression_bomb_is_refused_within_a_small_memory_limit() {
    for fill in [b'a', b' '] {
        let dir = tempfile::tempdir().unwrap();
        bomb_repo(dir.path(), fill);
        // 400 MB of address space: enough for the tool, far from the 1 GiB the text would take.
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -v 400000 && exec timeout 60 "$0" closure "$1""#)
            .arg(bin_path("rl-compose"))
            .arg(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "fill {fill}: {err}");
        assert!(
            err.contains("longer than 8 MiB: not repository metadata"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
