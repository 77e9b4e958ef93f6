//! `rl-compose closure`: repository dependency closure from the repodata alone, with the answer
//! `dnf repoclosure` gives. The logic lives in `rl_core::closure`; this file is the command line
//! and the records.

use std::path::{Path, PathBuf};

use clap::Args;
use rl_core::closure::{self, Options, RepoInput};
use rl_core::{Record, Run, Status};

const AFTER_HELP: &str = "\
Examples:
  rl-compose closure /mnt/compose/9/latest-Rocky-9/compose/BaseOS/x86_64/os
  rl-compose closure BaseOS/x86_64/os AppStream/x86_64/os --check AppStream/x86_64/os --forcearch x86_64
  rl-compose closure --compose /mnt/compose/9/latest-Rocky-9 | jq -r 'select(.event==\"unresolved\") | .package'
  rl-compose repos /mnt/compose/9/latest-Rocky-9 --kind os --arch x86_64 | rl-compose closure - --forcearch x86_64

Rules (those of dnf repoclosure): every package of every repository may satisfy a requirement;
packages of the --check repositories are checked (all when none is given), only those of the
--arch architectures when given (noarch only if listed). Packages of architectures the base
architecture (--forcearch, default this machine's) cannot install are checked but provide
nothing. rpmlib() requirements are skipped. File requirements are looked up in primary.xml, then
in filelists.xml when primary cannot answer.

--compose DIR checks a pungi compose per architecture: for each arch, the os repositories of every
variant (compose/<Variant>/<arch>/os) together, with that arch as the base architecture and its
compatible arches (multilib i686 on x86_64, noarch) checked.

Events:
  start       first record
  repodata    a repository read: root, path \"\", packages, compression of primary, filelists
              (whether filelists.xml was read); tree_arch and variant with --compose
  unresolved  one per (package, requirement) nothing provides: root (repository), path (the
              package's location in it), package (name-[E:]V-R.arch, as dnf prints it),
              requires (as rpm prints it); tree_arch and variant with --compose
  error       a repository could not be read (missing repodata, corrupt metadata)
  summary     repos, packages, checked, unresolved, broken_packages, errors, elapsed

";

/// Check that every requirement of a set of repositories is provided (dnf repoclosure).
#[derive(Args, Debug, Clone)]
#[command(after_long_help = format!("{AFTER_HELP}{}", rl_core::cli::EXIT_STATUS))]
pub struct ClosureArgs {
    /// Repository roots (directories holding repodata/); all of them provide. `-` reads
    /// upstream records from stdin and takes root/path of each --event record as a repository.
    #[arg(
        value_name = "REPO",
        required_unless_present_any = ["compose", "check"],
        conflicts_with = "compose"
    )]
    pub repos: Vec<PathBuf>,

    /// With `-`: the upstream event naming a repository.
    #[arg(long, value_name = "NAME", default_value = "repo")]
    pub event: String,

    /// Check only the packages of this repository (repeatable); the others are lookaside
    /// repositories that only provide. Added to the repositories when not among them.
    #[arg(long, value_name = "REPO", conflicts_with = "compose")]
    pub check: Vec<PathBuf>,

    /// Check only packages of this architecture (repeatable; noarch only when listed), as dnf's --arch.
    #[arg(long = "arch", value_name = "ARCH")]
    pub arches: Vec<String>,

    /// Base architecture deciding which packages can provide (dnf's --forcearch); default: this machine's.
    #[arg(long, value_name = "ARCH")]
    pub forcearch: Option<String>,

    /// Only the newest version of each name.arch per repository is checked and provides (dnf's --newest).
    #[arg(long, alias = "newest", overrides_with = "all_versions")]
    pub newest_only: bool,

    /// Every version is checked and provides (the default, as dnf repoclosure).
    #[arg(long, overrides_with = "newest_only")]
    pub all_versions: bool,

    /// Only the newest version of each name.arch across all repositories provides (dnf's best=True).
    #[arg(long)]
    pub best: bool,

    /// Check a pungi compose (its root or its compose/ directory) per architecture.
    #[arg(long, value_name = "DIR")]
    pub compose: Option<PathBuf>,
}

/// The machine's architecture as rpm names it.
fn machine_arch() -> String {
    match std::env::consts::ARCH {
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le".into(),
        "loongarch64" => "loongarch64".into(),
        other => other.into(),
    }
}

/// An absolute path; a `file://` URL (as dnf's --repofrompath takes) means its path.
fn absolute(p: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let bytes = p.as_os_str().as_bytes();
    let p = match bytes.strip_prefix(b"file://") {
        Some(rest) => Path::new(std::ffi::OsStr::from_bytes(rest)),
        None => p,
    };
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// One set of repositories checked together (the whole command line, or one compose arch).
struct Set {
    repos: Vec<RepoInput>,
    opts: Options,
    /// (tree_arch, variant per repo) in compose mode.
    compose: Option<(String, Vec<String>)>,
}

#[derive(Default)]
struct Totals {
    repos: u64,
    packages: u64,
    checked: u64,
    unresolved: u64,
    broken: u64,
}

/// Runs `rl-compose closure`.
pub fn run(args: &ClosureArgs) -> Status {
    let run = Run::start("rl-compose", env!("CARGO_PKG_VERSION"));
    let base = args.forcearch.clone().unwrap_or_else(machine_arch);
    let sets = match &args.compose {
        Some(dir) => match compose_sets(&run, dir, args) {
            Some(s) => s,
            None => return run.finish(Record::new("")),
        },
        None => {
            let mut repos: Vec<RepoInput> = Vec::new();
            let add = |root: PathBuf, repos: &mut Vec<RepoInput>| {
                if !repos.iter().any(|r| r.root == root) {
                    repos.push(RepoInput { root, check: false });
                }
            };
            for p in &args.repos {
                if p.as_os_str() == "-" {
                    if !upstream_repos(&run, &args.event, &mut |root| add(root, &mut repos)) {
                        return run.finish(Record::new(""));
                    }
                } else {
                    add(absolute(p), &mut repos);
                }
            }
            for p in &args.check {
                let root = absolute(p);
                match repos.iter_mut().find(|r| r.root == root) {
                    Some(r) => r.check = true,
                    None => repos.push(RepoInput { root, check: true }),
                }
            }
            vec![Set {
                repos,
                opts: Options {
                    arches: args.arches.clone(),
                    base_arch: base,
                    newest: args.newest_only,
                    best: args.best,
                    keep_index: true,
                },
                compose: None,
            }]
        }
    };
    let mut t = Totals::default();
    for set in &sets {
        check_set(&run, set, &mut t);
    }
    if t.unresolved > 0 {
        run.raise(Status::Differs);
    }
    run.finish(
        Record::new("")
            .with("repos", t.repos)
            .with("packages", t.packages)
            .with("checked", t.checked)
            .with("unresolved", t.unresolved)
            .with("broken_packages", t.broken),
    )
}

/// Reads upstream records from stdin; each `event` record's root/path is a repository.
/// Upstream errors pass through. False after a bad input line (reported).
fn upstream_repos(run: &Run, event: &str, add: &mut dyn FnMut(PathBuf)) -> bool {
    let mut tally = rl_core::upstream::Tally::default();
    for rec in rl_core::upstream::stdin_records() {
        if let Ok(rec) = &rec {
            tally.saw(rec);
            if rec.event() == event {
                tally.took();
            }
        }
        match rec {
            Ok(rec) if rec.event() == "error" => run.pass_upstream_error(&rec.raw),
            Ok(rec) if rec.event() == event => match rec.full_path() {
                Some(p) => {
                    // A record naming the repodata/ directory itself means its parent.
                    let p = absolute(&p);
                    match p.parent() {
                        Some(parent)
                            if p.ends_with("repodata") && p.join("repomd.xml").is_file() =>
                        {
                            add(parent.to_path_buf())
                        }
                        _ => add(p),
                    }
                }
                None => run.error_general(
                    "read-stdin",
                    "input.bad_record",
                    &format!(
                        "stdin line {}: a {event} record without root/path",
                        rec.line_no
                    ),
                ),
            },
            Ok(_) => {}
            Err(bad) => {
                run.error_general("read-stdin", "input.bad_record", &bad.to_string());
                return false;
            }
        }
    }
    // A closure over no repository checked nothing: it must not pass.
    if let Some(msg) = tally.nothing_usable(&format!("{event} records (repositories)"), true) {
        run.error_general("read-stdin", "input.empty", &msg);
        return false;
    }
    true
}

fn tag(mut rec: Record, set: &Set, repo: usize) -> Record {
    if let Some((arch, variants)) = &set.compose {
        rec = rec
            .with("tree_arch", arch.as_str())
            .with("variant", variants[repo].as_str());
    }
    rec
}

fn check_set(run: &Run, set: &Set, t: &mut Totals) {
    let outcome = match closure::check(&set.repos, &set.opts) {
        Ok(o) => o,
        Err(e) => {
            run.error(&e.root, &e.path, e.op, &e.error);
            return;
        }
    };
    for (i, r) in outcome.repos.iter().enumerate() {
        run.emit(&tag(
            Record::new("repodata")
                .at(&r.root, Path::new(""))
                .with("packages", r.packages)
                .with("compression", r.compression.name())
                .with("filelists", r.read_filelists),
            set,
            i,
        ));
        t.repos += 1;
        t.packages += r.packages;
    }
    for u in &outcome.unresolved {
        run.emit(&tag(
            Record::new("unresolved")
                .at(&set.repos[u.repo].root, Path::new(&u.location))
                .with("package", u.package.as_str())
                .with("requires", u.requires.as_str()),
            set,
            u.repo,
        ));
    }
    t.checked += outcome.checked;
    t.unresolved += outcome.unresolved.len() as u64;
    t.broken += outcome.broken_packages;
}

/// The per-arch repository sets of a pungi compose: `compose/<Variant>/<arch>/os` with repodata.
fn compose_sets(run: &Run, dir: &Path, args: &ClosureArgs) -> Option<Vec<Set>> {
    let dir = absolute(dir);
    let top = if dir.join("compose").is_dir() {
        dir.join("compose")
    } else {
        dir.clone()
    };
    let variants = match sorted_dirs(&top) {
        Ok(v) => v,
        Err(e) => {
            run.error(&top, Path::new(""), "read-compose", &e);
            return None;
        }
    };
    let mut by_arch: Vec<(String, Vec<RepoInput>, Vec<String>)> = Vec::new();
    for variant in variants {
        let vdir = top.join(&variant);
        let Ok(arches) = sorted_dirs(&vdir) else {
            continue;
        };
        for arch in arches {
            if arch == "source" || arch == "src" {
                continue;
            }
            let os = vdir.join(&arch).join("os");
            if !rl_core::repodata::repomd_path(&os).is_file() {
                continue;
            }
            let slot = match by_arch.iter().position(|(a, ..)| *a == arch) {
                Some(i) => i,
                None => {
                    by_arch.push((arch.clone(), Vec::new(), Vec::new()));
                    by_arch.len() - 1
                }
            };
            by_arch[slot].1.push(RepoInput {
                root: os,
                check: true,
            });
            by_arch[slot].2.push(variant.clone());
        }
    }
    if by_arch.is_empty() {
        run.error_with(
            &top,
            Path::new(""),
            "read-compose",
            "not_found",
            "no <Variant>/<arch>/os repositories with repodata found in this compose",
        );
        return None;
    }
    by_arch.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        by_arch
            .into_iter()
            .map(|(arch, repos, variants)| {
                let base = args.forcearch.clone().unwrap_or_else(|| arch.clone());
                let arches = if args.arches.is_empty() {
                    closure::compose_arches(&base)
                        .into_iter()
                        .map(String::from)
                        .collect()
                } else {
                    args.arches.clone()
                };
                Set {
                    repos,
                    opts: Options {
                        arches,
                        base_arch: base,
                        newest: args.newest_only,
                        best: args.best,
                        keep_index: true,
                    },
                    compose: Some((arch, variants)),
                }
            })
            .collect(),
    )
}

fn sorted_dirs(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir()
            && let Some(name) = e.file_name().to_str()
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}
