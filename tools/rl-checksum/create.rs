//! `rl-checksum create`: hash files and write <file>.CHECKSUM and the directory's CHECKSUM.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rl_core::checksum::entry;
use rl_core::fsx::{WriteOutcome, write_if_changed};
use rl_core::hash::FileDigest;
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
    let items = collect(args, run, &mut upstream_dry)?;
    // Records of a dry run name changes that never happened: a CHECKSUM for them would describe
    // a tree that does not exist (`rl-sync -n S/ P | rl-checksum create -`).
    if upstream_dry && !args.dry_run {
        rl_core::upstream::refuse_dry_upstream(run);
        return Ok(Record::new(""));
    }
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
        write_dir(args, run, dir, files, &mut counts);
    }
    Ok(Record::new("")
        .with("files", counts.files)
        .with("bytes", counts.bytes)
        .with("written", counts.written)
        .with("unchanged", counts.unchanged))
}

/// The files to hash; `upstream_dry` is set when an upstream record taken is a dry run's.
fn collect(args: &CreateArgs, run: &Run, upstream_dry: &mut bool) -> anyhow::Result<Vec<Named>> {
    let explicit = glob_set(&args.patterns)?;
    let dir_set = match &explicit {
        Some(s) => s.clone(),
        None => glob_set(&[DEFAULT_PATTERN.to_owned()])?.expect("default pattern"),
    };
    let keep = |n: &Named| matches(explicit.as_ref(), &n.name);
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
                    Ok(found) => items.extend(found),
                    Err(e) => run.error(&dir, Path::new(""), "list", &e),
                }
            }
            Ok(_) => {
                if let Some(n) = Named::split(target).filter(|n| keep(n)) {
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
    dir: &Path,
    files: &[(OsString, Option<FileDigest>)],
    counts: &mut Counts,
) {
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
            put(args, run, dir, &side, &content, 1, counts);
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
        match concat_side_files(dir, &fresh) {
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
        dir,
        args.combined_name.as_bytes(),
        &combined,
        entries,
        counts,
    );
}

/// `cat ./*.CHECKSUM` in the C locale: every `*.CHECKSUM` file of the directory (not hidden) in
/// byte order of names, with this run's side files taking the place of what is on disk.
fn concat_side_files(
    dir: &Path,
    fresh: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> io::Result<(Vec<u8>, usize)> {
    let mut all: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().into_vec();
        if name.starts_with(b".") || !name.ends_with(b".CHECKSUM") || name == b".CHECKSUM" {
            continue;
        }
        if fs::metadata(e.path()).is_ok_and(|m| m.is_file()) {
            all.insert(name, None);
        }
    }
    for (name, content) in fresh {
        all.insert(name.clone(), Some(content.clone()));
    }
    let mut out = Vec::new();
    let count = all.len();
    for (name, content) in all {
        match content {
            Some(c) => out.extend_from_slice(&c),
            None => out.extend_from_slice(&fs::read(dir.join(OsString::from_vec(name)))?),
        }
    }
    Ok((out, count))
}

/// Writes one CHECKSUM file (or, in a dry run, says what writing it would do).
fn put(
    args: &CreateArgs,
    run: &Run,
    dir: &Path,
    name: &[u8],
    content: &[u8],
    entries: usize,
    counts: &mut Counts,
) {
    let rel = PathBuf::from(OsString::from_vec(name.to_vec()));
    let path = dir.join(&rel);
    let outcome = if args.dry_run {
        match fs::read(&path) {
            Ok(old) if old == content => Ok(WriteOutcome::Unchanged),
            Ok(_) => Ok(WriteOutcome::Replaced),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(WriteOutcome::Created),
            Err(e) => Err(e),
        }
    } else {
        write_if_changed(&path, content)
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
