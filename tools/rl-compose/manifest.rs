//! `manifest`: `<iso>.manifest` exactly as the scripts make it,
//! `xorriso -dev F --find | tail -n+2 | tr -d "'" | cut -c2- | sort`.
//!
//! xorriso lists the tree (`'.'`, `'./a b'`, a quote inside a name as `'"'"'`); the pipeline
//! drops the first line, deletes every `'`, drops the first byte of each line (the `.`) and sorts.
//! We run `xorriso -indev F -find` (the same listing without opening F for writing), apply the
//! same byte transformations, and sort in C-locale byte order: the cron jobs that run the
//! scripts have no LANG (POSIX locale), and C.UTF-8 sorts the same. A manual run under
//! en_US.UTF-8 would have collated differently. The file is replaced atomically and only when
//! its bytes change.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use rl_core::beneath::Tree;
use rl_core::fsx::WriteOutcome;
use rl_core::{Record, Run, Status};

use crate::{TOOL, VERSION};

/// How the manifest lines are sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Collate {
    /// Byte order, as `LC_ALL=C sort` (and C.UTF-8) sorts.
    C,
    /// Whatever `sort` does in the caller's locale (runs the system `sort`).
    Locale,
}

/// The post-processing of the pipeline on xorriso's stdout (C-locale sort).
pub fn manifest_bytes(find_output: &[u8]) -> Vec<u8> {
    let body = find_output.strip_suffix(b"\n").unwrap_or(find_output);
    if body.is_empty() && find_output.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<Vec<u8>> = body
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|line| {
            let mut l: Vec<u8> = line.iter().copied().filter(|&b| b != b'\'').collect();
            if !l.is_empty() {
                l.remove(0);
            }
            l
        })
        .collect();
    lines.sort();
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.extend_from_slice(&l);
        out.push(b'\n');
    }
    out
}

/// Runs xorriso on one ISO and returns its `-find` listing.
fn xorriso_find(iso: &Path) -> io::Result<Vec<u8>> {
    let meta = fs::metadata(iso)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // An argument starting with '-' would be read as a command; an absolute path never is.
    let abs = if iso.is_absolute() {
        iso.to_path_buf()
    } else {
        std::env::current_dir()?.join(iso)
    };
    let out = Command::new("xorriso")
        .arg("-abort_on")
        .arg("FAILURE")
        .arg("-indev")
        .arg(&abs)
        .arg("-find")
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(e.kind(), "xorriso is not installed")
            } else {
                e
            }
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let last = stderr
            .lines()
            .rfind(|l| l.contains("FAILURE") || l.contains("SORRY"))
            .unwrap_or("xorriso failed");
        return Err(io::Error::other(format!("xorriso: {}", last.trim())));
    }
    if stderr.contains("No ISO 9660 image") || stderr.contains("Media status : is blank") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not an ISO 9660 image",
        ));
    }
    Ok(out.stdout)
}

fn manifest_path(iso: &Path) -> PathBuf {
    let mut name = iso.file_name().unwrap_or_default().to_os_string();
    name.push(".manifest");
    iso.with_file_name(name)
}

#[derive(Default)]
struct Counts {
    written: u64,
    unchanged: u64,
}

/// Lists one ISO and writes its manifest; failures become error records.
/// Sorts the lines with the system `sort` in the inherited locale.
fn locale_sort(bytes: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new("sort")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| io::Error::other("sort writer panicked"))??;
    if !out.status.success() {
        return Err(io::Error::other("sort failed"));
    }
    Ok(out.stdout)
}

fn one(run: &Run, iso: &Path, dry_run: bool, collate: Collate, counts: &mut Counts) {
    let (root, rel) = split(iso);
    let listing = match xorriso_find(iso) {
        Ok(l) => l,
        Err(e) => {
            run.error(&root, &rel, "list", &e);
            return;
        }
    };
    let mut bytes = manifest_bytes(&listing);
    if collate == Collate::Locale {
        bytes = match locale_sort(&bytes) {
            Ok(b) => b,
            Err(e) => {
                run.error(&root, &rel, "sort", &e);
                return;
            }
        };
    }
    let target = manifest_path(iso);
    let entries = bytes.iter().filter(|&&b| b == b'\n').count();
    let outcome = if dry_run {
        match fs::read(&target) {
            Ok(old) if old == bytes => "unchanged",
            _ => "written",
        }
    } else {
        // Below the root, nothing is followed: a directory swapped for a symlink is an error.
        let written = fs::canonicalize(&root)
            .and_then(|r| Tree::open(&r))
            .and_then(|t| t.write_if_changed(&manifest_path(&rel), &bytes));
        match written {
            Ok(WriteOutcome::Unchanged) => "unchanged",
            Ok(_) => "written",
            Err(e) => {
                run.error(&root, &manifest_path(&rel), "write", &e);
                return;
            }
        }
    };
    if outcome == "unchanged" {
        counts.unchanged += 1;
    } else {
        counts.written += 1;
    }
    let mut rec = Record::new("manifest")
        .at(&root, &manifest_path(&rel))
        .with_path("iso", &rel)
        .with("entries", entries)
        .with("size", bytes.len())
        .with("outcome", outcome);
    if dry_run {
        rec = rec.with("dry_run", true);
    }
    run.emit(&rec);
}

/// `manifest ISO…`, or `manifest -` over upstream records: those of `event` whose file ends in
/// `.iso` are taken, upstream errors passed through, others passed only with `pass`.
pub fn manifest(
    isos: &[PathBuf],
    dry_run: bool,
    collate: Collate,
    event: &str,
    pass: bool,
) -> Status {
    let run = Run::start(TOOL, VERSION);
    let mut counts = Counts::default();
    for iso in isos {
        if iso.as_os_str() != "-" {
            one(&run, iso, dry_run, collate, &mut counts);
            continue;
        }
        for rec in rl_core::upstream::stdin_records() {
            let rec = match rec {
                Ok(r) => r,
                Err(bad) => {
                    run.error_general("read", "input", &bad.to_string());
                    break;
                }
            };
            if rec.is_framing() {
                continue;
            }
            if rec.event() == "error" {
                run.pass_upstream_error(&rec.raw);
                continue;
            }
            let file = rec.full_path();
            let is_iso = file
                .as_ref()
                .and_then(|f| f.file_name())
                .is_some_and(|n| n.as_encoded_bytes().ends_with(b".iso"));
            match file {
                Some(f) if rec.event() == event && is_iso => {
                    one(&run, &f, dry_run, collate, &mut counts)
                }
                _ if pass => run.pass(&rec.raw),
                _ => {}
            }
        }
    }
    run.finish(
        Record::new("")
            .with("written", counts.written)
            .with("unchanged", counts.unchanged),
    )
}

/// An argument as (absolute directory, file name).
fn split(p: &Path) -> (PathBuf, PathBuf) {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = abs.file_name().map(PathBuf::from).unwrap_or_default();
    (dir, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_post_processing() {
        let out = b"'.'\n'./b'\n'./a b'\n'./it'\"'\"'s'\n'./A'\n";
        assert_eq!(manifest_bytes(out), b"/A\n/a b\n/b\n/it\"\"s\n");
        assert_eq!(manifest_bytes(b"'.'\n"), b"");
        assert_eq!(manifest_bytes(b""), b"");
    }
}
