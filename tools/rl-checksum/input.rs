//! Which files a run works on: from directories and file arguments, or from upstream records.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rl_core::Run;
use rl_core::upstream::{Tally, Upstream, stdin_records};
use rl_core::walk::{absolute, is_safe_relative};

use crate::cli::UpstreamArgs;

/// A file named in a directory: the directory is the `root` of its records, the name its `path`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Named {
    pub dir: PathBuf,
    pub name: OsString,
}

impl Named {
    pub fn full(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Splits a path into its directory (made absolute) and file name.
    pub fn split(path: &Path) -> Option<Named> {
        let abs = absolute(path).ok()?;
        let name = abs.file_name()?.to_owned();
        let dir = abs.parent()?.to_path_buf();
        Some(Named { dir, name })
    }
}

/// Compiles shell globs; a bad glob is a usage error.
pub fn glob_set(patterns: &[String]) -> anyhow::Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        // `*` must not match a leading dot, like the shell's `*.iso`.
        let glob = Glob::new(p).map_err(|e| anyhow::anyhow!("bad --pattern {p:?}: {e}"))?;
        builder.add(glob);
    }
    Ok(Some(builder.build()?))
}

/// Whether a file name matches the patterns (any name when there are none). Like the shell's
/// `*.iso`, a pattern never matches a hidden name.
pub fn matches(set: Option<&GlobSet>, name: &OsString) -> bool {
    match set {
        None => true,
        Some(set) => !name.as_bytes().starts_with(b".") && set.is_match(Path::new(name)),
    }
}

/// The files of a directory whose names match, in byte order: regular files and symlinks (a
/// dangling or looping link is still listed so the hash step reports it, as `stat -L` would).
pub fn files_in_dir(dir: &Path, set: &GlobSet) -> std::io::Result<Vec<Named>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let ft = entry.file_type()?;
        if !(ft.is_file() || ft.is_symlink())
            || !matches(Some(set), &name)
            || is_checksum_file(&name)
        {
            continue;
        }
        if ft.is_symlink() && fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        out.push(Named {
            dir: dir.to_path_buf(),
            name,
        });
    }
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

/// CHECKSUM files and their signatures are never entries of a CHECKSUM file, even when the
/// pattern is `*` (the lh/beta image step checksums every file of a directory).
fn is_checksum_file(name: &OsString) -> bool {
    let n = name.as_bytes();
    n == b"CHECKSUM"
        || n.starts_with(b"CHECKSUM.")
        || n.ends_with(b".CHECKSUM")
        || n.ends_with(b".CHECKSUM.asc")
}

/// What a run reads from stdin: the events it takes by default, and whether it checks (a check
/// that took nothing fails) or works (nothing to do is fine after an upstream that did nothing).
pub struct Wanted<'a> {
    pub events: &'a [&'a str],
    pub checker: bool,
}

/// Reads upstream records from stdin and returns those taken (by event), passing the others
/// through when asked. Upstream errors are always passed through. A bad line is fatal, and so
/// is stdin with nothing usable (see [`Tally`]).
pub fn take_upstream(
    run: &Run,
    args: &UpstreamArgs,
    wanted: &Wanted<'_>,
) -> anyhow::Result<Vec<Upstream>> {
    let default_events = wanted.events;
    let mut taken = Vec::new();
    let mut tally = Tally::default();
    for rec in stdin_records() {
        let rec = rec.map_err(|e| anyhow::anyhow!("{e}"))?;
        tally.saw(&rec);
        if rec.event() == "error" {
            run.pass_upstream_error(&rec.raw);
            continue;
        }
        if rec.is_framing() {
            continue;
        }
        let wanted = if args.events.is_empty() {
            default_events.is_empty() || default_events.contains(&rec.event())
        } else {
            args.events.iter().any(|e| e == rec.event())
        };
        let usable = rec.root().is_some() && rec.path().is_some_and(|p| is_safe_relative(&p));
        if wanted && usable {
            tally.took();
            taken.push(rec);
        } else if args.pass {
            run.pass(&rec.raw);
        }
    }
    let takes = match (args.events.is_empty(), default_events.is_empty()) {
        (false, _) => format!("{} records", args.events.join(" or ")),
        (true, false) => format!("{} records", default_events.join(" or ")),
        (true, true) => "records with root and path".to_owned(),
    };
    if let Some(msg) = tally.nothing_usable(&takes, wanted.checker) {
        anyhow::bail!(msg);
    }
    Ok(taken)
}
