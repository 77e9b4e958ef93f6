//! `rl-checksum verify`: check CHECKSUM entries (or upstream `checksum` records) against disk.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rl_core::checksum::parse;
use rl_core::record::wire_path;
use rl_core::walk::{absolute, is_safe_relative};
use rl_core::{Record, Run, Status};

use crate::cli::VerifyArgs;
use crate::hashing::hash_all;
use crate::input::{Wanted, take_upstream};

/// verify reads `checksum` records (a digest each) and `write` records (a CHECKSUM file each).
const VERIFY_TAKES: Wanted<'static> = Wanted {
    events: &["checksum", "write"],
    checker: true,
};

/// One expected digest: where it was listed, and the file it names.
struct Expectation {
    /// The CHECKSUM file and line it comes from (`None` for an upstream record).
    source: Option<(PathBuf, usize)>,
    dir: PathBuf,
    rel: PathBuf,
    sha256: String,
}

#[derive(Default)]
struct Counts {
    ok: u64,
    mismatch: u64,
    missing: u64,
    malformed: u64,
}

pub fn verify(args: &VerifyArgs, run: &Run) -> anyhow::Result<Record> {
    let mut counts = Counts::default();
    let mut expected = Vec::new();
    for list in &args.lists {
        if list.as_os_str() == "-" {
            for rec in take_upstream(run, &args.upstream, &VERIFY_TAKES)? {
                let (Some(root), Some(rel)) = (rec.root(), rec.path()) else {
                    continue;
                };
                match rec.fields.get("sha256").and_then(|v| v.as_str()) {
                    Some(sha) => expected.push(Expectation {
                        source: None,
                        dir: root,
                        rel,
                        sha256: sha.to_ascii_lowercase(),
                    }),
                    None => read_list(run, &root.join(rel), &mut expected, &mut counts),
                }
            }
        } else {
            read_list(run, list, &mut expected, &mut counts);
        }
    }

    // Like `sha256sum -c` ("no properly formatted checksum lines found"): a verify that has
    // nothing to compare must not pass.
    if expected.is_empty() && run.errors() == 0 && counts.malformed == 0 {
        anyhow::bail!("nothing to verify: the CHECKSUM files given list no file");
    }

    // Hash each distinct file once, even when several lists name it.
    let mut index: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut paths = Vec::new();
    for e in &expected {
        let full = e.dir.join(&e.rel);
        index.entry(full.clone()).or_insert_with(|| {
            paths.push(full);
            paths.len() - 1
        });
    }
    let digests = hash_all(&paths, args.common.jobs, args.common.progress);

    for e in &expected {
        let full = e.dir.join(&e.rel);
        let mut rec = match &digests[index[&full]] {
            Ok(d) if d.hex() == e.sha256 => {
                counts.ok += 1;
                Record::new("ok")
                    .at(&e.dir, &e.rel)
                    .with("size", d.size)
                    .with("sha256", d.hex())
            }
            Ok(d) => {
                counts.mismatch += 1;
                run.raise(Status::Differs);
                Record::new("mismatch")
                    .at(&e.dir, &e.rel)
                    .with("expected", e.sha256.clone())
                    .with("actual", d.hex())
                    .with("size", d.size)
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if args.ignore_missing {
                    continue;
                }
                counts.missing += 1;
                run.raise(Status::Differs);
                Record::new("missing").at(&e.dir, &e.rel)
            }
            Err(err) => {
                run.error(&e.dir, &e.rel, "read", err);
                continue;
            }
        };
        if let Some((list, line)) = &e.source {
            rec.set("list", wire_path(list));
            rec.set("line", *line);
        }
        run.emit(&rec);
    }
    Ok(Record::new("")
        .with("ok", counts.ok)
        .with("mismatch", counts.mismatch)
        .with("missing", counts.missing)
        .with("malformed", counts.malformed))
}

/// Reads one CHECKSUM file into expectations; malformed lines and unsafe names are errors.
fn read_list(run: &Run, list: &Path, out: &mut Vec<Expectation>, counts: &mut Counts) {
    let abs = absolute(list).unwrap_or_else(|_| list.to_path_buf());
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = PathBuf::from(abs.file_name().unwrap_or_default());
    let content = match fs::read(&abs) {
        Ok(c) => c,
        Err(e) => {
            run.error(&dir, &name, "read", &e);
            return;
        }
    };
    let (lines, malformed) = parse(&content);
    for m in &malformed {
        counts.malformed += 1;
        let message = format!("line {}: {}", m.line_no, m.reason);
        run.error_with(&dir, &name, "parse", "checksum.malformed", &message);
    }
    if lines.is_empty() && malformed.is_empty() {
        run.error_with(
            &dir,
            &name,
            "parse",
            "checksum.empty",
            "no checksum lines found",
        );
    }
    for line in lines {
        let rel = PathBuf::from(OsString::from_vec(line.name));
        if !is_safe_relative(&rel) || rel.as_os_str().is_empty() {
            let message = format!(
                "line {}: the file name {} leaves the directory of the CHECKSUM file",
                line.line_no,
                rel.display()
            );
            run.error_with(&dir, &name, "parse", "checksum.unsafe_name", &message);
            continue;
        }
        out.push(Expectation {
            source: Some((abs.clone(), line.line_no)),
            dir: dir.clone(),
            rel,
            sha256: line.sha256,
        });
    }
}
