//! `rl-filelist diff OLD NEW`: what changed between two lists (or a list and a live tree).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rl_core::filelist::{self, Entry, Event, ScanOptions};
use rl_core::{Record, Run, Status};
use serde_json::json;

use crate::cli::DiffArgs;

/// Whether an entry is one of the file lists themselves (`fullfilelist*`, `fullfiletimelist*`),
/// which no list names: comparing a list with the tree it describes must not report them.
fn is_list_file(e: &Entry) -> bool {
    let name = e.path.rsplit(|&b| b == b'/').next().unwrap_or(&e.path);
    e.kind == filelist::Kind::File
        && (name.starts_with(b"fullfilelist") || name.starts_with(b"fullfiletimelist"))
}

/// Loads one side: a directory is scanned like create-filelist with no options (without the
/// list files unless `keep_lists`), a file parsed.
fn load(path: &Path, keep_lists: bool) -> Result<Vec<Entry>, String> {
    if path.is_dir() {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        filelist::scan(path, &ScanOptions::default(), &mut |ev| match ev {
            Event::Entry(e) => entries.push(e),
            Event::Dangling { .. } => {}
            Event::Error { path: p, error } => errors.push(format!(
                "{}: {error}",
                path.join(OsStr::from_bytes(&p)).display()
            )),
        });
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        if !keep_lists {
            entries.retain(|e| !is_list_file(e));
        }
        return Ok(entries);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = filelist::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    if !list.complete {
        return Err(format!(
            "{}: no [End] marker; the list is truncated or still being written",
            path.display()
        ));
    }
    Ok(list.files)
}

fn fields(e: &Entry) -> serde_json::Value {
    json!({"type": e.type_field(), "size": e.size, "modtime": e.modtime})
}

fn at(rec: Record, root: &Path, e: &Entry) -> Record {
    rec.at(root, Path::new(OsStr::from_bytes(&e.path)))
        .with("type", e.type_field())
        .with("size", e.size)
        .with("modtime", e.modtime)
}

/// Runs `diff`.
pub fn run(a: DiffArgs) -> Status {
    // The start record comes first even when an input cannot be read: every run is framed.
    let run = Run::start("rl-filelist", env!("CARGO_PKG_VERSION"));
    let (old, new) = match (load(&a.old, a.keep_lists), load(&a.new, a.keep_lists)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(m), _) | (_, Err(m)) => {
            run.error_general("read", "input.invalid", &m);
            return run.finish(Record::new(""));
        }
    };
    let root: PathBuf = if a.new.is_dir() {
        filelist::absolute(&a.new)
    } else {
        filelist::absolute(&a.new)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let old_by_path: HashMap<&[u8], &Entry> = old.iter().map(|e| (e.path.as_slice(), e)).collect();
    let new_paths: std::collections::HashSet<&[u8]> =
        new.iter().map(|e| e.path.as_slice()).collect();
    let (mut added, mut removed, mut changed, mut same) = (0u64, 0u64, 0u64, 0u64);
    for e in &new {
        match old_by_path.get(e.path.as_slice()) {
            None => {
                added += 1;
                run.emit(&at(Record::new("added"), &root, e));
            }
            Some(o) if *o != e => {
                changed += 1;
                run.emit(&at(Record::new("changed"), &root, e).with("old", fields(o)));
            }
            Some(_) => same += 1,
        }
    }
    for o in &old {
        if !new_paths.contains(o.path.as_slice()) {
            removed += 1;
            run.emit(&at(Record::new("removed"), &root, o));
        }
    }
    if added + removed + changed > 0 {
        run.raise(Status::Differs);
    }
    run.finish(
        Record::new("")
            .with("added", added)
            .with("removed", removed)
            .with("changed", changed)
            .with("same", same),
    )
}
