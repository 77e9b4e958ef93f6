//! `rl-torrent scaffold`: step 1 of gen-torrents.sh — one `Rocky-X.Y-ARCH-VARIANT` directory per
//! existing ISO, holding symlinks to the arch directory's `CHECKSUM*` and the ISO with its side files
//! (`NAME.iso*`). A directory that already exists is left alone. Each new directory is filled under
//! a temporary name and renamed into place, so an interrupted run never leaves a half-made one.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use rl_core::fsx::temp_path_for;
use rl_core::record::wire_path;
use rl_core::walk::absolute;
use rl_core::{Record, Run, Status};

use crate::ScaffoldArgs;

const TOOL: &str = "rl-torrent";

fn plain_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && s != "." && s != ".." && !s.contains('\0')
}

/// The entries of `dir` a `{CHECKSUM*,NAME.iso*}` glob matches, in byte order.
fn side_files(dir: &Path, iso_name: &str) -> io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| {
            let b = n.as_bytes();
            b.starts_with(b"CHECKSUM") || b.starts_with(iso_name.as_bytes())
        })
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn make_dir(dest: &Path, arch_dir: &Path, names: &[OsString]) -> io::Result<()> {
    let tmp = temp_path_for(dest);
    fs::create_dir(&tmp)?;
    let fill = || -> io::Result<()> {
        for n in names {
            std::os::unix::fs::symlink(arch_dir.join(n), tmp.join(n))?;
        }
        if fs::symlink_metadata(dest).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "appeared while it was being made",
            ));
        }
        fs::rename(&tmp, dest)
    };
    let result = fill();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

pub fn run(a: ScaffoldArgs) -> Status {
    let run = Run::start(TOOL, env!("CARGO_PKG_VERSION"));
    let mut created = 0u64;
    let mut existing = 0u64;
    let finish = |run: Run, created: u64, existing: u64| {
        run.finish(
            Record::new("")
                .with("created", created)
                .with("existing", existing),
        )
    };
    for (what, values) in [
        ("--revision", std::slice::from_ref(&a.revision)),
        ("--arch", &a.arch[..]),
        ("--variant", &a.variant[..]),
    ] {
        if let Some(v) = values.iter().find(|v| !plain_name(v)) {
            run.error_general(
                "parse",
                "usage",
                &format!("{what} {v:?} is not a plain name (empty, or contains '/')"),
            );
            return finish(run, 0, 0);
        }
    }
    let isodir = absolute(&a.isodir).unwrap_or_else(|_| a.isodir.clone());
    match fs::metadata(&isodir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            run.error_with(
                &isodir,
                Path::new(""),
                "stat",
                "input.not_a_directory",
                "is not a directory",
            );
            return finish(run, 0, 0);
        }
        Err(e) => {
            run.error(&isodir, Path::new(""), "stat", &e);
            return finish(run, 0, 0);
        }
    }
    let into = absolute(&a.into).unwrap_or_else(|_| a.into.clone());
    if !a.dry_run
        && let Err(e) = fs::create_dir_all(&into)
    {
        run.error(&into, Path::new(""), "mkdir", &e);
        return finish(run, 0, 0);
    }
    for variant in &a.variant {
        for arch in &a.arch {
            let arch_dir = isodir.join(arch);
            let name = format!("Rocky-{}-{arch}-{variant}", a.revision);
            let iso_name = format!("{name}.iso");
            if !arch_dir.is_dir() || !arch_dir.join(&iso_name).is_file() {
                continue;
            }
            let dest = into.join(&name);
            let rel = PathBuf::from(&name);
            let mut rec = Record::new("scaffold")
                .at(&into, &rel)
                .with("iso", wire_path(&arch_dir.join(&iso_name)));
            if fs::symlink_metadata(&dest).is_ok() {
                existing += 1;
                run.emit(&rec.with("state", "exists"));
                continue;
            }
            let names = match side_files(&arch_dir, &iso_name) {
                Ok(n) => n,
                Err(e) => {
                    run.error(&isodir, Path::new(arch), "read", &e);
                    continue;
                }
            };
            let links: Vec<Value> = names.iter().map(|n| wire_path(Path::new(n))).collect();
            rec = rec.with("links", Value::Array(links));
            if a.dry_run {
                created += 1;
                run.emit(&rec.with("state", "created").with("dry_run", true));
                continue;
            }
            match make_dir(&dest, &arch_dir, &names) {
                Ok(()) => {
                    created += 1;
                    run.emit(&rec.with("state", "created"));
                }
                Err(e) => run.error(&into, &rel, "mkdir", &e),
            }
        }
    }
    finish(run, created, existing)
}
