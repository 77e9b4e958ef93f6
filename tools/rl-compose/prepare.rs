//! `prepare`: the pre-sync work the minor-release, lh and beta scripts do inside the compose,
//! as a plan computed from what is on disk and then carried out, so that a second run finds
//! nothing to do and `--dry-run` prints exactly what a real run would do.
//!
//! Steps (reference §1.1 step 2–3, §1.2 steps 1–4), all under `compose/`:
//! 1. (Rocky composes: those with BaseOS or Minimal) `mkdir isos/<arch>`; for BaseOS and Minimal, when `<V>/<arch>/iso/` holds an `.iso`, move
//!    everything in it to `isos/<arch>/` and remove the empty `iso/` (lh/beta first delete the
//!    dated `Rocky-<REV>-20*<arch>*.iso` of non-BaseOS variants); then the ISO latest links.
//! 2. `images/<arch>/images/*` → `images/<arch>/` (the old CHECKSUM deleted), vagrant boxes
//!    renamed, `.latest` links.
//! 3. `live/<arch>/iso/*` → `live/<arch>/` (the old CHECKSUM deleted), `-latest` links.
//! 4. `rm -rf Minimal Cloud` — skipped when one of their ISOs could not be moved.
//!
//! Differences from the scripts, on purpose: a move never replaces an existing file (a name
//! clash is an error and the file stays where it is), links are made or corrected atomically
//! instead of `ln -s` failing on re-runs, and the work stops at the first failure.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rl_core::beneath::Tree;
use rl_core::compose::Compose;
use rl_core::fsx;
use rl_core::release::{self, ReleaseType, Revision};
use rl_core::{Record, Run, Status};

use crate::read::open;
use crate::{Release, TOOL, VERSION};

/// What a directory entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ent {
    File,
    Dir,
    Link(PathBuf),
    Other,
}

/// One change to the compose.
#[derive(Debug, Clone)]
enum Action {
    Mkdir(PathBuf),
    Move {
        from: PathBuf,
        to: PathBuf,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    Delete(PathBuf),
    DeleteTree {
        path: PathBuf,
        files: u64,
    },
    Rmdir(PathBuf),
    Link {
        path: PathBuf,
        target: PathBuf,
        replace: bool,
    },
}

struct Planner<'a> {
    run: &'a Run,
    root: PathBuf,
    actions: Vec<Action>,
    unchanged: u64,
    conflicts: u64,
}

fn lstat_ent(p: &Path) -> Option<Ent> {
    let m = fs::symlink_metadata(p).ok()?;
    let ft = m.file_type();
    Some(if ft.is_symlink() {
        Ent::Link(fs::read_link(p).unwrap_or_default())
    } else if ft.is_dir() {
        Ent::Dir
    } else if ft.is_file() {
        Ent::File
    } else {
        Ent::Other
    })
}

impl Planner<'_> {
    fn abs(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }

    /// The entries of a directory (names sorted), our temporaries left out.
    fn list(&self, rel: &Path) -> BTreeMap<OsString, Ent> {
        let mut out = BTreeMap::new();
        let dir = self.abs(rel);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return out,
            Err(e) => {
                self.run.error(&self.root, rel, "list", &e);
                return out;
            }
        };
        for entry in rd.flatten() {
            let name = entry.file_name();
            if fsx::is_temp_name(&name) {
                continue;
            }
            if let Some(ent) = lstat_ent(&entry.path()) {
                out.insert(name, ent);
            }
        }
        out
    }

    fn is_real_dir(&self, rel: &Path) -> bool {
        lstat_ent(&self.abs(rel)) == Some(Ent::Dir)
    }

    fn conflict(&mut self, rel: &Path, op: &str, msg: &str) {
        self.conflicts += 1;
        self.run
            .error_with(&self.root, rel, op, "io.already_exists", msg);
    }

    /// Moves every entry of `from_dir` into `to_dir` (whose entries are `present`) and removes
    /// `from_dir`; `skip` names are deleted instead. Returns whether everything moved.
    fn flatten(
        &mut self,
        from_dir: &Path,
        to_dir: &Path,
        present: &mut BTreeMap<OsString, Ent>,
        delete: &dyn Fn(&OsStr) -> bool,
    ) -> bool {
        let mut all = true;
        for (name, ent) in self.list(from_dir) {
            let from = from_dir.join(&name);
            if delete(&name) {
                self.actions.push(Action::Delete(from));
                continue;
            }
            if present.contains_key(&name) {
                let msg = format!(
                    "{} already exists; {} left in place",
                    to_dir.join(&name).display(),
                    from.display()
                );
                self.conflict(&from, "move", &msg);
                all = false;
                continue;
            }
            self.actions.push(Action::Move {
                from,
                to: to_dir.join(&name),
            });
            present.insert(name, ent);
        }
        if all {
            self.actions.push(Action::Rmdir(from_dir.to_path_buf()));
        }
        all
    }

    /// Makes `dir/link` a symlink to `target` unless it already is one.
    fn ensure_links(
        &mut self,
        dir: &Path,
        present: &BTreeMap<OsString, Ent>,
        wanted: &BTreeMap<String, String>,
    ) {
        for (link, target) in wanted {
            let rel = dir.join(link);
            match present.get(OsStr::new(link)) {
                None => self.actions.push(Action::Link {
                    path: rel,
                    target: target.into(),
                    replace: false,
                }),
                Some(Ent::Link(t)) if t == Path::new(target) => self.unchanged += 1,
                Some(Ent::Link(_)) => self.actions.push(Action::Link {
                    path: rel,
                    target: target.into(),
                    replace: true,
                }),
                Some(_) => {
                    let msg = format!(
                        "{} exists and is not a symlink; latest link to {target} not made",
                        rel.display()
                    );
                    self.conflict(&rel, "symlink", &msg);
                }
            }
        }
    }

    fn isos(&mut self, arches: &[String], rev: &Revision, rel_type: ReleaseType) -> bool {
        let mut minimal_ok = true;
        for arch in arches {
            let isodir = PathBuf::from("isos").join(arch);
            if !self.is_real_dir(&isodir) {
                self.actions.push(Action::Mkdir(isodir.clone()));
            }
            let mut present = self.list(&isodir);
            for x in release::ISO_TYPES {
                let src = PathBuf::from(x).join(arch).join("iso");
                if !self.is_real_dir(&src) {
                    continue;
                }
                let entries = self.list(&src);
                if !entries
                    .keys()
                    .any(|n| n.as_encoded_bytes().ends_with(b".iso"))
                {
                    // the script's `test -d iso && rmdir iso` succeeds only when it is empty
                    if entries.is_empty() {
                        self.actions.push(Action::Rmdir(src));
                    }
                    continue;
                }
                let dated = format!("Rocky-{rev}-20");
                let lh_or_beta = rel_type != ReleaseType::Stable && x != "BaseOS";
                let is_dated = |n: &OsStr| {
                    lh_or_beta
                        && n.to_str()
                            .and_then(|n| n.strip_prefix(dated.as_str()))
                            .and_then(|r| r.strip_suffix(".iso"))
                            .is_some_and(|mid| mid.contains(arch.as_str()))
                };
                // pungi's directory CHECKSUM is not moved: each iso/ has its own, they would
                // collide in isos/<arch>, and the checksum step rebuilds CHECKSUM from the
                // per-ISO files anyway (the toolkit's `mv` overwrote one with the other).
                let dropped = |n: &OsStr| is_dated(n) || n == "CHECKSUM";
                let all = self.flatten(&src, &isodir, &mut present, &dropped);
                if !all && x == "Minimal" {
                    minimal_ok = false;
                }
            }
            let mut wanted = BTreeMap::new();
            for (target, link) in release::iso_latest_links(rev, arch) {
                if present.get(OsStr::new(&target)) == Some(&Ent::File)
                    && !wanted.contains_key(&link)
                {
                    wanted.insert(link, target);
                }
            }
            self.ensure_links(&isodir, &present, &wanted);
        }
        minimal_ok
    }

    fn images(&mut self, rev: &Revision) {
        for (arch, ent) in self.list(Path::new("images")) {
            if ent != Ent::Dir {
                continue;
            }
            let dir = PathBuf::from("images").join(&arch);
            let mut present = self.list(&dir);
            let nested = dir.join("images");
            if present.get(OsStr::new("images")) == Some(&Ent::Dir) {
                present.remove(OsStr::new("images"));
                self.flatten(&nested, &dir, &mut present, &|n| n == "CHECKSUM");
                if present.get(OsStr::new("CHECKSUM")) == Some(&Ent::File) {
                    present.remove(OsStr::new("CHECKSUM"));
                    self.actions.push(Action::Delete(dir.join("CHECKSUM")));
                }
            }
            // vagrant boxes: X.vagrant.<provider>.box → X.box
            let names: Vec<String> = present
                .iter()
                .filter(|(_, e)| **e == Ent::File)
                .filter_map(|(n, _)| n.to_str().map(str::to_owned))
                .collect();
            for name in names {
                let short = release::vagrant_short_name(&name);
                if short == name {
                    continue;
                }
                if present.contains_key(OsStr::new(&short)) {
                    let msg = format!("{short} already exists; {name} not renamed");
                    self.conflict(&dir.join(&name), "rename", &msg);
                    continue;
                }
                self.actions.push(Action::Rename {
                    from: dir.join(&name),
                    to: dir.join(&short),
                });
                present.remove(OsStr::new(&name));
                present.insert(short.into(), Ent::File);
            }
            let mut wanted = BTreeMap::new();
            for (name, e) in &present {
                let Some(name) = name.to_str() else { continue };
                if *e != Ent::File || release::is_side_file(name) {
                    continue;
                }
                let link = release::image_latest_name(name, rev);
                if link != name && !wanted.contains_key(&link) {
                    wanted.insert(link, name.to_owned());
                }
            }
            self.ensure_links(&dir, &present, &wanted);
        }
    }

    fn live(&mut self, rev: &Revision) {
        for (arch, ent) in self.list(Path::new("live")) {
            if ent != Ent::Dir {
                continue;
            }
            let dir = PathBuf::from("live").join(&arch);
            let mut present = self.list(&dir);
            if present.get(OsStr::new("iso")) == Some(&Ent::Dir) {
                present.remove(OsStr::new("iso"));
                self.flatten(&dir.join("iso"), &dir, &mut present, &|n| n == "CHECKSUM");
                if present.get(OsStr::new("CHECKSUM")) == Some(&Ent::File) {
                    present.remove(OsStr::new("CHECKSUM"));
                    self.actions.push(Action::Delete(dir.join("CHECKSUM")));
                }
            }
            let mut wanted = BTreeMap::new();
            for (name, e) in &present {
                let Some(name) = name.to_str() else { continue };
                if *e != Ent::File || !name.ends_with(".iso") {
                    continue;
                }
                let link = release::live_latest_name(name, rev);
                if link != name && !wanted.contains_key(&link) {
                    wanted.insert(link, name.to_owned());
                }
            }
            self.ensure_links(&dir, &present, &wanted);
        }
    }

    fn nonrepo(&mut self, minimal_ok: bool) {
        for d in release::NONREPO_DIRS {
            let rel = PathBuf::from(d);
            match lstat_ent(&self.abs(&rel)) {
                None => {}
                Some(Ent::Dir) => {
                    if d == "Minimal" && !minimal_ok {
                        self.run
                            .warn("Minimal is kept: some of its ISOs could not be moved to isos/");
                        continue;
                    }
                    let files = rl_core::walk::walk(&self.abs(&rel), &Default::default())
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_type.is_dir())
                        .count() as u64;
                    self.actions.push(Action::DeleteTree { path: rel, files });
                }
                Some(_) => self.actions.push(Action::Delete(rel)),
            }
        }
    }
}

/// Carries out one action through the tree's descriptors: every component below the compose
/// root is opened with `O_NOFOLLOW`, so a directory swapped for a symlink during the run makes
/// the action fail instead of moving or deleting anything outside the compose.
fn execute(tree: &Tree, action: &Action) -> io::Result<()> {
    match action {
        Action::Mkdir(p) => tree.mkdir_all(p).map(drop),
        Action::Move { from, to } | Action::Rename { from, to } => tree.rename_noreplace(from, to),
        Action::Delete(p) => tree.unlink(p),
        Action::DeleteTree { path, .. } => tree.remove_tree(path),
        Action::Rmdir(p) => tree.rmdir(p),
        Action::Link { path, target, .. } => tree.replace_symlink(path, target),
    }
}

fn record(root: &Path, action: &Action) -> (Record, &'static str) {
    match action {
        Action::Mkdir(p) => (Record::new("mkdir").at(root, p), "dirs"),
        Action::Move { from, to } => (
            Record::new("move").at(root, to).with_path("from", from),
            "moved",
        ),
        Action::Rename { from, to } => (
            Record::new("rename").at(root, to).with_path("from", from),
            "renamed",
        ),
        Action::Delete(p) => (Record::new("delete").at(root, p), "deleted"),
        Action::DeleteTree { path, files } => (
            Record::new("delete")
                .at(root, path)
                .with("tree", true)
                .with("files", *files),
            "deleted",
        ),
        Action::Rmdir(p) => (Record::new("rmdir").at(root, p), "dirs"),
        Action::Link {
            path,
            target,
            replace,
        } => (
            // A symbolic link ("link" is a hard link in every tool's records).
            Record::new("symlink")
                .at(root, path)
                .with_path("target", target)
                .with("replaced", *replace),
            "symlinked",
        ),
    }
}

fn op_name(action: &Action) -> &'static str {
    match action {
        Action::Mkdir(_) => "mkdir",
        Action::Move { .. } => "move",
        Action::Rename { .. } => "rename",
        Action::Delete(_) | Action::DeleteTree { .. } => "delete",
        Action::Rmdir(_) => "rmdir",
        Action::Link { .. } => "symlink",
    }
}

fn action_path(action: &Action) -> &Path {
    match action {
        Action::Mkdir(p) | Action::Delete(p) | Action::Rmdir(p) => p,
        Action::Move { to, .. } | Action::Rename { to, .. } => to,
        Action::DeleteTree { path, .. } | Action::Link { path, .. } => path,
    }
}

/// Refuses composes that are not finished or whose release does not match the revision.
fn gate(run: &Run, c: &Compose, rev: &Revision) -> bool {
    let status = c.status().ok().flatten();
    if !status.as_ref().is_some_and(|s| s.passes(true)) {
        let what = status.map_or("has no STATUS file".into(), |s| format!("is {s}"));
        eprintln!(
            "{TOOL}: {}: refusing to prepare: the compose {what} (FINISHED or FINISHED_INCOMPLETE \
             required; --force overrides)",
            c.top_or_compose().display()
        );
        run.raise(Status::Refused);
        return false;
    }
    if let Ok(Some(ci)) = c.composeinfo() {
        let version = ci.payload.release.version;
        let major = version.split('.').next().unwrap_or("");
        if major != rev.major() {
            eprintln!(
                "{TOOL}: {}: refusing to prepare: revision {rev} does not match the compose's \
                 release version {version} (--force overrides)",
                c.top_or_compose().display()
            );
            run.raise(Status::Refused);
            return false;
        }
    }
    true
}

pub fn prepare(dir: &Path, revision: &str, release: Release, dry_run: bool, force: bool) -> Status {
    let run = Run::start(TOOL, VERSION);
    let rev = match Revision::parse(revision) {
        Ok(r) => r,
        Err(msg) => {
            run.error_general("parse", "usage", &msg);
            return run.finish(Record::new("").with("changed", 0));
        }
    };
    let Some(c) = open(&run, dir) else {
        return run.finish(Record::new("").with("changed", 0));
    };
    // Opened before the plan is made, so the plan is carried out in the directory it was made
    // from, whatever happens to the path.
    let tree = match fs::canonicalize(&c.compose).and_then(|p| Tree::open(&p)) {
        Ok(t) => t,
        Err(e) => {
            run.error(&c.compose, Path::new(""), "open-dir", &e);
            return run.finish(Record::new("").with("changed", 0));
        }
    };
    if !force && !gate(&run, &c, &rev) {
        return run.finish(Record::new("").with("changed", 0));
    }
    let mut planner = Planner {
        run: &run,
        root: c.compose.clone(),
        actions: Vec::new(),
        unchanged: 0,
        conflicts: 0,
    };
    // ARCHES of common_X, plus any other arch that has ISOs.
    let mut arches: Vec<String> = rev
        .major()
        .parse::<u32>()
        .ok()
        .and_then(release::arches)
        .unwrap_or_default();
    for x in release::ISO_TYPES {
        for (arch, e) in planner.list(Path::new(x)) {
            let Ok(arch) = arch.into_string() else {
                continue;
            };
            if e == Ent::Dir
                && planner.is_real_dir(&Path::new(x).join(&arch).join("iso"))
                && !arches.contains(&arch)
            {
                arches.push(arch);
            }
        }
    }
    // The ISO step belongs to the Rocky compose only (Extras and Rocky-devel have neither
    // BaseOS nor Minimal, and the scripts do not make isos/ there).
    let has_iso_variants = release::ISO_TYPES
        .iter()
        .any(|x| planner.is_real_dir(Path::new(x)));
    let minimal_ok = if has_iso_variants {
        planner.isos(&arches, &rev, release.to_type())
    } else {
        true
    };
    planner.images(&rev);
    planner.live(&rev);
    planner.nonrepo(minimal_ok);

    let root = c.compose.clone();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut changed = 0u64;
    let mut stopped = false;
    for action in &planner.actions {
        if !dry_run && let Err(e) = execute(&tree, action) {
            run.error(&root, action_path(action), op_name(action), &e);
            run.warn("stopping at the first failure; run again once it is fixed");
            stopped = true;
            break;
        }
        let (mut rec, counter) = record(&root, action);
        if dry_run {
            rec = rec.with("dry_run", true);
        }
        run.emit(&rec);
        *counts.entry(counter).or_default() += 1;
        changed += 1;
    }
    if changed == 0 && !stopped && planner.conflicts == 0 {
        eprintln!(
            "{TOOL}: {}: already prepared; nothing to change",
            root.display()
        );
    }
    let mut summary = Record::new("")
        .with("changed", changed)
        .with("unchanged", planner.unchanged);
    for key in ["moved", "renamed", "symlinked", "deleted", "dirs"] {
        summary = summary.with(key, counts.get(key).copied().unwrap_or(0));
    }
    summary = summary.with("conflicts", planner.conflicts);
    if dry_run {
        summary = summary.with("dry_run", true);
    }
    run.finish(summary)
}
