//! `treeinfo`: common_9/common_10 `treeinfoModder` (os tree) and `treeinfoModderKickstart`
//! (kickstart tree) followed by the `.treeinfo-pristine` copy (`treeinfoSaver`), idempotent.
//!
//! The edit itself is [`rl_core::treeinfo::add_variant`]; the file is rewritten atomically (a
//! new inode, so a hard link shared with another tree is never edited through) and only when
//! its bytes change; `.treeinfo-pristine` is made equal to the result the same way.

use std::fs;
use std::path::{Path, PathBuf};

use rl_core::beneath::Tree;
use rl_core::fsx::WriteOutcome;
use rl_core::treeinfo::{Edit, Ini, add_variant};
use rl_core::{Record, Run, Status};

use crate::{TOOL, VERSION};

fn write(run: &Run, root: &Path, rel: &Path, bytes: &[u8], dry_run: bool) -> Option<&'static str> {
    let path = root.join(rel);
    if dry_run {
        return Some(match fs::read(&path) {
            Ok(old) if old == bytes => "unchanged",
            _ => "written",
        });
    }
    // Below the root, nothing is followed: a directory swapped for a symlink is an error.
    let written = fs::canonicalize(root)
        .and_then(|r| Tree::open(&r))
        .and_then(|t| t.write_if_changed(rel, bytes));
    match written {
        Ok(WriteOutcome::Unchanged) => Some("unchanged"),
        Ok(_) => Some("written"),
        Err(e) => {
            run.error(root, rel, "write", &e);
            None
        }
    }
}

pub fn treeinfo(
    tree: &Path,
    variant: &str,
    kickstart: bool,
    arch: Option<&str>,
    dry_run: bool,
) -> Status {
    let run = Run::start(TOOL, VERSION);
    let file: PathBuf = if tree.is_dir() {
        tree.join(".treeinfo")
    } else {
        tree.to_path_buf()
    };
    let root = fs::canonicalize(file.parent().unwrap_or(Path::new(".")))
        .unwrap_or_else(|_| file.parent().unwrap_or(Path::new(".")).to_path_buf());
    let name = PathBuf::from(file.file_name().unwrap_or_default());
    let mut pristine_name = name.as_os_str().to_os_string();
    pristine_name.push("-pristine");
    let pristine = PathBuf::from(pristine_name);
    let finish = |run: Run, written: u64| {
        let mut s = Record::new("").with("written", written);
        if dry_run {
            s = s.with("dry_run", true);
        }
        run.finish(s)
    };
    if variant.is_empty() || variant.contains(['/', '\n', ']']) {
        run.error_general(
            "parse",
            "usage",
            &format!("{variant:?} is not a variant name"),
        );
        return finish(run, 0);
    }
    let bytes = match fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            run.error(&root, &name, "read", &e);
            return finish(run, 0);
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        run.error_with(
            &root,
            &name,
            "parse",
            "format",
            "the file is not UTF-8 text",
        );
        return finish(run, 0);
    };
    let arch = match arch {
        Some(a) => a.to_owned(),
        None => match Ini::parse(&text)
            .ok()
            .and_then(|i| i.get("tree", "arch").map(str::to_owned))
        {
            Some(a) => a,
            None => {
                run.error_with(
                    &root,
                    &name,
                    "parse",
                    "format",
                    "no [tree] arch in the file; pass --arch",
                );
                return finish(run, 0);
            }
        },
    };
    let (new, edit) = match add_variant(&text, variant, &arch, kickstart) {
        Ok(r) => r,
        Err(msg) => {
            run.error_with(
                &root,
                &name,
                "parse",
                "format",
                &format!("not a usable treeinfo: {msg}"),
            );
            return finish(run, 0);
        }
    };
    let result = new.unwrap_or(text);
    let mut written = 0;
    let Some(outcome) = write(&run, &root, &name, result.as_bytes(), dry_run) else {
        return finish(run, 0);
    };
    written += u64::from(outcome == "written");
    let edit_name = match edit {
        Edit::Added => "added",
        Edit::PathsSet => "paths_set",
        Edit::Present => "present",
    };
    let mut rec = Record::new("treeinfo")
        .at(&root, &name)
        .with("variant", variant)
        .with("arch", arch.clone())
        .with("kickstart", kickstart)
        .with("edit", edit_name)
        .with("outcome", outcome);
    if dry_run {
        rec = rec.with("dry_run", true);
    }
    run.emit(&rec);
    let Some(outcome) = write(&run, &root, &pristine, result.as_bytes(), dry_run) else {
        return finish(run, written);
    };
    written += u64::from(outcome == "written");
    let mut rec = Record::new("treeinfo")
        .at(&root, &pristine)
        .with("pristine", true)
        .with("outcome", outcome);
    if dry_run {
        rec = rec.with("dry_run", true);
    }
    run.emit(&rec);
    finish(run, written)
}
