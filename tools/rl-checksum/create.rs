//! `rl-checksum create`: hash files and write <file>.CHECKSUM and the directory's CHECKSUM.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use rl_core::beneath::Tree;
use rl_core::checksum::entry;
use rl_core::fsx::{self, WriteOutcome, is_temp_name};
use rl_core::hash::FileDigest;
use rl_core::nofollow;
use rl_core::{Record, Run};

use crate::cli::CreateArgs;
use crate::hashing::hash_all;
use crate::input::{Named, Wanted, files_in_dir, glob_set, matches, take_upstream};

/// The pattern for directories when none is given: the toolkit's `for file in *.iso`.
const DEFAULT_PATTERN: &str = "*.iso";

#[derive(Default)]
struct Counts {
    files: u64,
    bytes: u64,
    written: u64,
    unchanged: u64,
}

pub fn create(args: &CreateArgs, run: &Run) -> anyhow::Result<Record> {
    let mut upstream_dry = false;
    let mut bases = BTreeMap::new();
    let items = collect(args, run, &mut upstream_dry, &mut bases)?;
    // Records of a dry run name changes that never happened: a CHECKSUM for them would describe
    // a tree that does not exist (`rl-sync -n S/ P | rl-checksum create -`).
    if upstream_dry && !args.dry_run {
        rl_core::upstream::refuse_dry_upstream(run);
        return Ok(Record::new(""));
    }
    // Every directory written into is opened now, before the hashing: a directory swapped for a
    // symlink while files are hashed cannot redirect a CHECKSUM (see `open_dirs`).
    let dirs = open_dirs(&bases);
    let paths: Vec<PathBuf> = items.iter().map(Named::full).collect();
    let digests = hash_all(&paths, args.common.jobs, args.common.progress);

    let mut counts = Counts::default();
    let mut by_dir: BTreeMap<PathBuf, Vec<(OsString, Option<FileDigest>)>> = BTreeMap::new();
    for (item, digest) in items.iter().zip(digests) {
        let name = Path::new(&item.name);
        let digest = match digest {
            Ok(d) => {
                counts.files += 1;
                counts.bytes += d.size;
                let mut rec = Record::new("checksum")
                    .at(&item.dir, name)
                    .with("size", d.size)
                    .with("sha256", d.hex());
                if args.dry_run {
                    rec.set("dry_run", true);
                }
                run.emit(&rec);
                Some(d)
            }
            Err(e) => {
                run.error(&item.dir, name, "read", &e);
                None
            }
        };
        by_dir
            .entry(item.dir.clone())
            .or_default()
            .push((item.name.clone(), digest));
    }

    for (dir, files) in &by_dir {
        match &dirs[dir] {
            Ok(fd) => write_dir(args, run, (dir, fd), files, &mut counts),
            Err(e) => run.error(dir, Path::new(""), "open-dir", e),
        }
    }
    Ok(Record::new("")
        .with("files", counts.files)
        .with("bytes", counts.bytes)
        .with("written", counts.written)
        .with("unchanged", counts.unchanged))
}

/// Opens each directory to write into, below the tree it came from: the record's root for
/// upstream records (every component below it opened with `O_NOFOLLOW`), the directory itself
/// for the ones named on the command line.
fn open_dirs(bases: &BTreeMap<PathBuf, PathBuf>) -> BTreeMap<PathBuf, io::Result<Arc<OwnedFd>>> {
    let mut trees: BTreeMap<&Path, io::Result<Tree>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (dir, base) in bases {
        let tree = trees
            .entry(base)
            .or_insert_with(|| fs::canonicalize(base).and_then(|c| Tree::open(&c)));
        let fd = match tree {
            Ok(t) => t.dir(dir.strip_prefix(base).unwrap_or(Path::new(""))),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        out.insert(dir.clone(), fd);
    }
    out
}

/// The files to hash; `upstream_dry` is set when an upstream record taken is a dry run's;
/// `bases` gets, for each directory, the tree it is below.
fn collect(
    args: &CreateArgs,
    run: &Run,
    upstream_dry: &mut bool,
    bases: &mut BTreeMap<PathBuf, PathBuf>,
) -> anyhow::Result<Vec<Named>> {
    let explicit = glob_set(&args.patterns)?;
    let dir_set = match &explicit {
        Some(s) => s.clone(),
        None => glob_set(&[DEFAULT_PATTERN.to_owned()])?.expect("default pattern"),
    };
    // A temporary (of any writer) is never content, whatever names it.
    let keep = |n: &Named| !is_temp_name(&n.name) && matches(explicit.as_ref(), &n.name);
    let mut items = Vec::new();
    for target in &args.targets {
        if target.as_os_str() == "-" {
            for rec in take_upstream(
                run,
                &args.upstream,
                &Wanted {
                    events: &[],
                    checker: false,
                },
            )? {
                *upstream_dry |= rec.fields.get("dry_run") == Some(&serde_json::Value::Bool(true));
                let Some(full) = rec.full_path() else {
                    continue;
                };
                // Directories and other non-files among upstream records are not ours to hash.
                if fs::metadata(&full).is_ok_and(|m| !m.is_file()) {
                    continue;
                }
                if let Some(n) = Named::split(&full).filter(|n| keep(n)) {
                    let root = rec.root().and_then(|r| rl_core::walk::absolute(&r).ok());
                    let base = root.filter(|r| n.dir.starts_with(r));
                    bases
                        .entry(n.dir.clone())
                        .or_insert_with(|| base.unwrap_or_else(|| n.dir.clone()));
                    items.push(n);
                }
            }
            continue;
        }
        match fs::metadata(target) {
            Ok(m) if m.is_dir() => {
                let dir = rl_core::walk::absolute(target)?;
                match files_in_dir(&dir, &dir_set) {
                    Ok(found) if found.is_empty() => {
                        run.warn(&format!("{}: no file matches the pattern", dir.display()))
                    }
                    Ok(found) => {
                        bases.insert(dir.clone(), dir.clone());
                        items.extend(found)
                    }
                    Err(e) => run.error(&dir, Path::new(""), "list", &e),
                }
            }
            Ok(_) => {
                if let Some(n) = Named::split(target).filter(|n| keep(n)) {
                    bases.insert(n.dir.clone(), n.dir.clone());
                    items.push(n);
                }
            }
            Err(e) => match Named::split(target) {
                Some(n) => run.error(&n.dir, Path::new(&n.name), "stat", &e),
                None => run.error(target, Path::new(""), "stat", &e),
            },
        }
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// Writes the side files and the combined CHECKSUM of one directory.
fn write_dir(
    args: &CreateArgs,
    run: &Run,
    (dir, fd): (&Path, &Arc<OwnedFd>),
    files: &[(OsString, Option<FileDigest>)],
    counts: &mut Counts,
) {
    // A killed earlier run's temporaries of the files written here go first.
    let ours = |base: &std::ffi::OsStr| {
        base.as_bytes().ends_with(b".CHECKSUM") || base == args.combined_name.as_str()
    };
    rl_core::tempclean::clean_stale_temps_at(run, fd, dir, ours, args.dry_run);
    // Side files written (or, in a dry run, that would be written) in this run, by name.
    let mut fresh: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut own_entries = Vec::new();
    for (name, digest) in files {
        let Some(d) = digest else { continue };
        let content = entry(name.as_bytes(), d.size, &d.hex());
        own_entries.extend_from_slice(&content);
        if !args.no_side_files {
            let mut side = name.clone().into_vec();
            side.extend_from_slice(b".CHECKSUM");
            put(args, run, (dir, fd), &side, &content, 1, counts);
            fresh.insert(side, content);
        }
    }
    if args.no_combined {
        return;
    }
    if files.iter().any(|(_, d)| d.is_none()) {
        run.warn(&format!(
            "{}: not writing {} because a file in it could not be hashed",
            dir.display(),
            args.combined_name
        ));
        return;
    }
    let (combined, entries) = if args.no_side_files {
        (own_entries, files.len())
    } else {
        match concat_side_files(fd, &fresh) {
            Ok(c) => c,
            Err(e) => {
                run.error(dir, Path::new(""), "list", &e);
                return;
            }
        }
    };
    put(
        args,
        run,
        (dir, fd),
        args.combined_name.as_bytes(),
        &combined,
        entries,
        counts,
    );
}

/// `cat ./*.CHECKSUM` in the C locale: every `*.CHECKSUM` file of the directory (not hidden) in
/// byte order of names, with this run's side files taking the place of what is on disk. As
/// `cat`, a side file that is a symlink to a file is read through it.
fn concat_side_files(
    dir: &OwnedFd,
    fresh: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> io::Result<(Vec<u8>, usize)> {
    let mut all: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for name in nofollow::names(dir)? {
        let name = name.into_vec();
        if name.starts_with(b".") || !name.ends_with(b".CHECKSUM") || name == b".CHECKSUM" {
            continue;
        }
        all.insert(name, None);
    }
    for (name, content) in fresh {
        all.insert(name.clone(), Some(content.clone()));
    }
    let mut out = Vec::new();
    let mut count = 0;
    for (name, content) in all {
        match content {
            Some(c) => out.extend_from_slice(&c),
            None => match read_side_file(dir, OsStr::from_bytes(&name))? {
                Some(c) => out.extend_from_slice(&c),
                None => continue,
            },
        }
        count += 1;
    }
    Ok((out, count))
}

/// A side file's bytes (through a symlink, as `cat`); `None` when it is not a regular file.
fn read_side_file(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<Vec<u8>>> {
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
    let mut f = match fd {
        Ok(fd) => fs::File::from(fd),
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !f.metadata()?.is_file() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut f, &mut bytes)?;
    Ok(Some(bytes))
}

/// Writes one CHECKSUM file (or, in a dry run, says what writing it would do).
fn put(
    args: &CreateArgs,
    run: &Run,
    (dir, fd): (&Path, &Arc<OwnedFd>),
    name: &[u8],
    content: &[u8],
    entries: usize,
    counts: &mut Counts,
) {
    let rel = PathBuf::from(OsString::from_vec(name.to_vec()));
    let name = OsStr::from_bytes(name);
    let outcome = if args.dry_run {
        match fsx::read_regular_at(fd, name) {
            Ok(Some(old)) if old == content => Ok(WriteOutcome::Unchanged),
            Ok(_) if nofollow::stat_at(fd.as_fd(), name).is_ok() => Ok(WriteOutcome::Replaced),
            Ok(_) => Ok(WriteOutcome::Created),
            Err(e) => Err(e),
        }
    } else {
        fsx::write_if_changed_at(fd, name, content)
    };
    match outcome {
        Ok(o) => {
            if o == WriteOutcome::Unchanged {
                counts.unchanged += 1;
            } else {
                counts.written += 1;
            }
            let mut rec = Record::new("write")
                .at(dir, &rel)
                .with("outcome", o.as_str())
                .with("entries", entries);
            if args.dry_run {
                rec.set("dry_run", true);
            }
            run.emit(&rec);
        }
        Err(e) => run.error(dir, &rel, "write", &e),
    }
}
