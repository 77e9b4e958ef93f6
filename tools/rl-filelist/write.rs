//! `rl-filelist write`: every list of every root, in one locked run.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rl_core::filelist::{self, ScanOptions};
use rl_core::fsx::WriteOutcome;
use rl_core::{Record, Run, Status};

use crate::cli::WriteArgs;
use crate::output::{ListOutput, copy_at, open_current, remove_stale_temps};

/// The plain list `find .` writes.
pub const FULLFILELIST: &str = "fullfilelist";

/// One root of a run.
#[derive(Debug, Clone)]
pub struct Root {
    /// Absolute path.
    pub dir: PathBuf,
    /// The directory, opened when the run starts: lists are written through it, never by path.
    pub fd: Arc<OwnedFd>,
    pub name: String,
    pub aliases: Vec<String>,
}

impl Root {
    /// The path to scan: the open directory itself (`/proc/self/fd/N`), so the lists describe
    /// the directory they are written into even if its path is swapped during the run; the
    /// path when `/proc` is not mounted.
    pub fn scan_path(&self) -> PathBuf {
        let p = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        if p.is_dir() { p } else { self.dir.clone() }
    }

    pub fn timelist(&self) -> String {
        format!("fullfiletimelist-{}", self.name)
    }

    /// Every file name this root's run writes in its top directory.
    pub fn outputs(&self, fullfilelist: bool) -> Vec<String> {
        let mut v = vec![self.timelist(), format!("{}-old", self.timelist())];
        v.extend(self.aliases.iter().cloned());
        if fullfilelist {
            v.push(FULLFILELIST.to_owned());
        }
        v
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty() && !n.contains('/') && n != "." && n != ".."
}

/// Parses `DIR:NAME[:ALIAS,ALIAS…]` (the last one or two colons split; DIR may contain colons).
pub fn parse_root(spec: &str) -> Result<Root, String> {
    let bad = || format!("--root {spec:?}: expected DIR:NAME or DIR:NAME:ALIAS[,ALIAS…]");
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (dir, name, aliases): (String, &str, Vec<String>) = match parts.as_slice() {
        [name, dir] => ((*dir).to_owned(), *name, Vec::new()),
        [aliases, name, dir] if valid_name(name) && !dir.is_empty() => (
            (*dir).to_owned(),
            *name,
            aliases.split(',').map(str::to_owned).collect(),
        ),
        // The middle part is not a name: the directory itself contains a colon.
        [name, mid, dir] => (format!("{dir}:{mid}"), *name, Vec::new()),
        _ => return Err(bad()),
    };
    if dir.is_empty() || !valid_name(name) || aliases.iter().any(|a| !valid_name(a)) {
        return Err(bad());
    }
    let path = Path::new(&dir);
    if !path.is_dir() {
        return Err(format!("--root {spec:?}: {dir} is not a directory"));
    }
    let fd = std::fs::canonicalize(path)
        .and_then(|c| rl_core::nofollow::open_dir(&c))
        .map_err(|e| format!("--root {spec:?}: cannot open {dir}: {e}"))?;
    Ok(Root {
        dir: filelist::absolute(path),
        fd: Arc::new(fd),
        name: name.to_owned(),
        aliases,
    })
}

/// Reopens every root that lies inside another root of the run from the outermost one's
/// descriptor, without following a symlink on the way: a nested root swapped for a symlink
/// cannot lead the run's lists outside the outer tree (the outermost roots are taken as given).
fn open_nested(roots: &mut [Root]) -> Result<(), String> {
    for i in 0..roots.len() {
        let outer = roots
            .iter()
            .filter(|o| o.dir != roots[i].dir && roots[i].dir.starts_with(&o.dir))
            .min_by_key(|o| o.dir.components().count());
        let Some(outer) = outer else { continue };
        let rel = roots[i]
            .dir
            .strip_prefix(&outer.dir)
            .unwrap_or(Path::new(""));
        let fd = rl_core::beneath::open_dir_below(&outer.fd, rel).map_err(|e| {
            format!(
                "{}: not a directory below {} ({e})",
                roots[i].dir.display(),
                outer.dir.display()
            )
        })?;
        roots[i].fd = Arc::new(fd);
    }
    Ok(())
}

/// Relative paths (from `root`) of the outputs of every root inside `root` (itself included),
/// so no list ever lists a list this run writes.
fn skips_for(
    root: &Root,
    all: &[Root],
    fullfilelist: bool,
) -> (HashSet<Vec<u8>>, HashSet<Vec<u8>>) {
    let mut top = HashSet::new();
    let mut deep = HashSet::new();
    for other in all {
        let Ok(rel) = other.dir.strip_prefix(&root.dir) else {
            continue;
        };
        for out in other.outputs(fullfilelist) {
            if rel.as_os_str().is_empty() {
                top.insert(out.into_bytes());
            } else {
                let mut p = rel.as_os_str().as_bytes().to_vec();
                p.push(b'/');
                p.extend_from_slice(out.as_bytes());
                deep.insert(p);
            }
        }
    }
    (top, deep)
}

/// Groups root indices into waves: each wave holds the roots none of whose nested roots is still
/// to run.
fn waves(roots: &[Root]) -> Vec<Vec<usize>> {
    let inside =
        |inner: &Root, outer: &Root| inner.dir != outer.dir && inner.dir.starts_with(&outer.dir);
    let mut left: Vec<usize> = (0..roots.len()).collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        let (ready, rest): (Vec<usize>, Vec<usize>) = left
            .iter()
            .partition(|&&i| !left.iter().any(|&j| inside(&roots[j], &roots[i])));
        out.push(ready);
        left = rest;
    }
    out
}

/// Runs `write`.
pub fn run(a: WriteArgs) -> Status {
    let mut roots = Vec::new();
    for spec in &a.roots {
        match parse_root(spec) {
            Ok(r) => roots.push(r),
            Err(m) => {
                eprintln!("rl-filelist: {m}");
                return Status::Error;
            }
        }
    }
    for (i, r) in roots.iter().enumerate() {
        if roots[..i]
            .iter()
            .any(|o| o.dir == r.dir && o.outputs(true).iter().any(|n| r.outputs(true).contains(n)))
        {
            eprintln!(
                "rl-filelist: two --root options write the same file in {}",
                r.dir.display()
            );
            return Status::Error;
        }
    }
    if let Err(m) = open_nested(&mut roots) {
        eprintln!("rl-filelist: {m}");
        return Status::Error;
    }
    let lock_path = a
        .lock
        .clone()
        .unwrap_or_else(|| rl_core::lock::default_dir().join("rl-filelist.lock"));
    let _lock = match rl_core::lock::lock_exclusive(&lock_path, !a.no_wait) {
        Ok(Some(l)) => l,
        Ok(None) => {
            eprintln!(
                "rl-filelist: another run holds the lock {}; refusing to wait (drop --no-wait to wait)",
                lock_path.display()
            );
            return Status::Refused;
        }
        Err(e) => {
            eprintln!(
                "rl-filelist: {}: cannot take the lock: {e}",
                lock_path.display()
            );
            return Status::Error;
        }
    };
    let run = Run::start("rl-filelist", env!("CARGO_PKG_VERSION"));
    let mut checksum_names: HashSet<Vec<u8>> = a
        .checksum_file
        .iter()
        .map(|n| n.as_bytes().to_vec())
        .collect();
    if a.checksum {
        checksum_names.insert(b"repomd.xml".to_vec());
    }
    let fullfile = !a.no_fullfilelist;
    let algos = a.checksum_sections.algos();
    let totals = std::sync::Mutex::new(Totals::default());

    // Roots run in waves: a root starts once every root nested inside it is done, so its list
    // sees the final state of their directories (their lists, and those directories' mtimes);
    // roots that do not nest run in parallel.
    for wave in waves(&roots) {
        std::thread::scope(|s| {
            for &i in &wave {
                let root = &roots[i];
                let (skip_top, skip_paths) = skips_for(root, &roots, fullfile);
                let opts = ScanOptions {
                    skip_top,
                    skip_paths,
                    checksum_names: checksum_names.clone(),
                    skip_temp: true,
                    strict_names: a.strict_names,
                };
                let (run, totals, a) = (&run, &totals, &a);
                s.spawn(move || {
                    let mut t = time_lists(run, root, &opts, algos, a);
                    if fullfile {
                        t.add(&find_list(run, root, a));
                    }
                    totals.lock().unwrap_or_else(|p| p.into_inner()).add(&t);
                });
            }
        });
    }
    let t = totals.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut summary = Record::new("")
        .with("roots", roots.len())
        .with("created", t.created)
        .with("replaced", t.replaced)
        .with("unchanged", t.unchanged)
        .with("entries", t.entries);
    if a.dry_run {
        summary.set("dry_run", true);
    }
    run.finish(summary)
}

#[derive(Default)]
struct Totals {
    created: u64,
    replaced: u64,
    unchanged: u64,
    entries: u64,
}

impl Totals {
    fn add(&mut self, o: &Totals) {
        self.created += o.created;
        self.replaced += o.replaced;
        self.unchanged += o.unchanged;
        self.entries += o.entries;
    }
    fn count(&mut self, outcome: WriteOutcome) {
        match outcome {
            WriteOutcome::Created => self.created += 1,
            WriteOutcome::Replaced => self.replaced += 1,
            WriteOutcome::Unchanged => self.unchanged += 1,
        }
    }
}

fn list_record(
    root: &Root,
    name: &str,
    kind: &str,
    outcome: WriteOutcome,
    entries: u64,
    bytes: u64,
    dry: bool,
) -> Record {
    let mut r = Record::new("list")
        .at(&root.dir, Path::new(name))
        .with("kind", kind)
        .with("outcome", outcome.as_str())
        .with("entries", entries)
        .with("bytes", bytes);
    if dry {
        r.set("dry_run", true);
    }
    r
}

/// The -old list after the current one was written with `outcome`: the previous list when it
/// was replaced; on the first write (or a tree listed before -old was kept), a copy of the
/// current one, so the -old list exists from the first write on (a mirror client may name it in
/// its EXTRAFILES and fail when it is missing).
fn old_list(
    run: &Run,
    root: &Root,
    target: &OsStr,
    old: &OsStr,
    outcome: WriteOutcome,
    a: &WriteArgs,
) {
    let dry = a.dry_run;
    let first = outcome != WriteOutcome::Replaced
        && rl_core::nofollow::stat_at(root.fd.as_fd(), old).is_err();
    if outcome != WriteOutcome::Replaced && !first {
        return;
    }
    let rel = Path::new(old);
    if first
        && !dry
        && let Err(e) = first_old(&root.fd, target, old, a.chown)
    {
        run.error(&root.dir, rel, "write", &e);
        return;
    }
    let done = if first {
        WriteOutcome::Created
    } else {
        WriteOutcome::Replaced
    };
    let mut r = Record::new("list")
        .at(&root.dir, rel)
        .with("kind", "old")
        .with("outcome", done.as_str());
    if dry {
        r.set("dry_run", true);
    }
    run.emit(&r);
}

/// The first -old list: a copy of the current one (a copy, not a hard link: renaming a hard link
/// of the current list over -old later would do nothing and leave the temporary behind).
fn first_old(
    dir: &OwnedFd,
    target: &OsStr,
    old: &OsStr,
    chown: Option<(u32, u32)>,
) -> io::Result<()> {
    rl_core::fsx::replace_at(dir, old, |_, tmp| copy_at(dir, target, tmp, chown))
}

/// Writes fullfiletimelist-NAME (keeping -old) and its aliases for one root.
fn time_lists(
    run: &Run,
    root: &Root,
    opts: &ScanOptions,
    algos: &[filelist::Algo],
    a: &WriteArgs,
) -> Totals {
    let mut t = Totals::default();
    let name = root.timelist();
    let target = root.dir.join(&name);
    let old = format!("{name}-old");
    if !a.dry_run {
        for n in [&name, &old].into_iter().chain(&root.aliases) {
            remove_stale_temps(&root.fd, OsStr::new(n));
        }
        remove_stale_temps(&root.fd, OsStr::new(FULLFILELIST));
    }
    let mut out = match ListOutput::create_in(&root.fd, OsStr::new(&name), a.dry_run, a.chown) {
        Ok(o) => o,
        Err(e) => {
            run.error(&root.dir, Path::new(&name), "write", &e);
            return t;
        }
    };
    let scan = root.scan_path();
    let written = match filelist::write_list(&scan, opts, algos, &mut out, None, &mut |_| {}) {
        Ok(w) => w,
        Err(e) => {
            run.error(&root.dir, Path::new(&name), "write", &e);
            return t;
        }
    };
    for (p, e) in &written.errors {
        run.error(&root.dir, Path::new(OsStr::from_bytes(p)), "scan", e);
    }
    if !written.errors.is_empty() {
        run.warn(&format!(
            "{}: not replaced, because the scan was incomplete",
            target.display()
        ));
        let _ = out.finish(None, false);
        return t;
    }
    let bytes = out.bytes;
    let memory = out.memory.take();
    let backup = (!a.no_old).then_some(OsStr::new(&old));
    let outcome = match out.finish(backup, true) {
        Ok(o) => o,
        Err(e) => {
            run.error(&root.dir, Path::new(&name), "write", &e);
            return t;
        }
    };
    t.count(outcome);
    t.entries += written.entries;
    run.emit(&list_record(
        root,
        &name,
        "timelist",
        outcome,
        written.entries,
        bytes,
        a.dry_run,
    ));
    if !a.no_old {
        old_list(run, root, OsStr::new(&name), OsStr::new(&old), outcome, a);
    }
    for al in &root.aliases {
        let res = ListOutput::create_in(&root.fd, OsStr::new(al), a.dry_run, a.chown).and_then(
            |mut o| {
                match &memory {
                    Some(m) => o.write_all(m)?,
                    None => copy_into(&root.fd, OsStr::new(&name), &mut o)?,
                }
                let b = o.bytes;
                o.finish(None, true).map(|r| (r, b))
            },
        );
        match res {
            Ok((outcome, b)) => {
                t.count(outcome);
                let mut r = list_record(root, al, "alias", outcome, written.entries, b, a.dry_run);
                r.set("alias_of", name.as_str());
                run.emit(&r);
            }
            Err(e) => run.error(&root.dir, Path::new(al), "write", &e),
        }
    }
    t
}

fn copy_into(dir: &OwnedFd, src: &OsStr, out: &mut ListOutput) -> io::Result<()> {
    let mut f = open_current(dir, src)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the list just written is gone"))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
    }
}

/// Writes fullfilelist as `find .` does.
fn find_list(run: &Run, root: &Root, a: &WriteArgs) -> Totals {
    let (dry_run, owner) = (a.dry_run, a.chown);
    let filter = filelist::FindFilter {
        skip_temp: true,
        public_only: !a.fullfilelist_all,
    };
    let mut t = Totals::default();
    let target = root.dir.join(FULLFILELIST);
    let mut out = match ListOutput::create_in(&root.fd, OsStr::new(FULLFILELIST), dry_run, owner) {
        Ok(o) => o,
        Err(e) => {
            run.error(&root.dir, Path::new(FULLFILELIST), "write", &e);
            return t;
        }
    };
    let mut lines = 0u64;
    let mut werr: Option<io::Error> = None;
    let mut errors = 0;
    filelist::find_walk(
        &root.scan_path(),
        filter,
        &mut |l| {
            lines += 1;
            if werr.is_none()
                && let Err(e) = out.write_all(l).and_then(|()| out.write_all(b"\n"))
            {
                werr = Some(e);
            }
        },
        &mut |p, e| {
            errors += 1;
            let rel = p.strip_prefix(b"./").unwrap_or(b"");
            run.error(&root.dir, Path::new(OsStr::from_bytes(rel)), "scan", &e);
        },
    );
    if let Some(e) = werr {
        run.error(&root.dir, Path::new(FULLFILELIST), "write", &e);
        let _ = out.finish(None, false);
        return t;
    }
    let bytes = out.bytes;
    match out.finish(None, errors == 0) {
        Ok(outcome) if errors == 0 => {
            t.count(outcome);
            run.emit(&list_record(
                root,
                FULLFILELIST,
                "fullfilelist",
                outcome,
                lines,
                bytes,
                dry_run,
            ));
        }
        Ok(_) => run.warn(&format!(
            "{}: not replaced, because the walk was incomplete",
            target.display()
        )),
        Err(e) => run.error(&root.dir, Path::new(FULLFILELIST), "write", &e),
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_specs() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().to_str().unwrap();
        let r = parse_root(&format!("{p}:rocky")).unwrap();
        assert_eq!(r.name, "rocky");
        assert!(r.aliases.is_empty());
        let r = parse_root(&format!(
            "{p}:rocky:fullfiletimelist,fullfiletimelist-rocky-linux"
        ))
        .unwrap();
        assert_eq!(
            r.aliases,
            ["fullfiletimelist", "fullfiletimelist-rocky-linux"]
        );
        assert!(parse_root(p).is_err());
        assert!(parse_root(&format!("{p}:")).is_err());
        assert!(parse_root(&format!("{p}:a/b")).is_err());
        assert!(parse_root("/nonexistent/x:rocky").is_err());
    }

    #[test]
    fn nested_roots_skip_each_others_outputs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("mirror/pub/rocky")).unwrap();
        let outer = parse_root(&format!("{}:rocky:fullfiletimelist", d.path().display())).unwrap();
        let inner = parse_root(&format!("{}/mirror/pub/rocky:rocky", d.path().display())).unwrap();
        let all = [outer.clone(), inner.clone()];
        let (top, deep) = skips_for(&outer, &all, true);
        assert!(top.contains(b"fullfiletimelist".as_slice()));
        assert!(top.contains(b"fullfilelist".as_slice()));
        assert!(deep.contains(b"mirror/pub/rocky/fullfiletimelist-rocky".as_slice()));
        let (top, deep) = skips_for(&inner, &all, true);
        assert!(top.contains(b"fullfiletimelist-rocky-old".as_slice()));
        assert!(deep.is_empty());
        let sig = parse_root(&format!("{}/mirror:sig", d.path().display())).unwrap();
        assert_eq!(
            waves(&[outer.clone(), inner.clone(), sig.clone()]),
            [vec![1], vec![2], vec![0]]
        );
        assert_eq!(waves(&[inner, outer]), [vec![0], vec![1]]);
    }
}
