//! `rl-torrent verify` (data on disk against a torrent) and `rl-torrent show` (the metainfo as a record).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use rl_core::hash::hex;
use rl_core::progress;
use rl_core::record::wire_path;
use rl_core::torrent::{self, HashOptions, Layout, Parsed};
use rl_core::walk::absolute;
use rl_core::{Record, Run, Status};

use crate::{ShowArgs, VerifyArgs};

const TOOL: &str = "rl-torrent";

/// Reads and checks a torrent file; on failure reports an error and returns None.
fn load(run: &Run, path: &Path) -> Option<Parsed> {
    let abs = absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = match std::fs::read(&abs) {
        Ok(b) => b,
        Err(e) => {
            run.error(&abs, Path::new(""), "read", &e);
            return None;
        }
    };
    match torrent::parse(&bytes) {
        Ok(p) => Some(p),
        Err(e) => {
            run.error_with(
                &abs,
                Path::new(""),
                "parse",
                "input.corrupt",
                &format!("not a usable torrent file: {e}"),
            );
            None
        }
    }
}

/// The torrent's files as (relative path, length).
fn file_list(p: &Parsed) -> Vec<(PathBuf, u64)> {
    match &p.meta.info.layout {
        Layout::Single(n) => vec![(PathBuf::from(OsStr::from_bytes(&p.meta.info.name)), *n)],
        Layout::Multi(files) => files.iter().map(|f| (f.rel_path(), f.length)).collect(),
    }
}

pub fn run_show(a: ShowArgs) -> Status {
    let run = Run::start(TOOL, env!("CARGO_PKG_VERSION"));
    let mut shown = 0u64;
    if let Some(p) = load(&run, &a.torrent) {
        let abs = absolute(&a.torrent).unwrap_or_else(|_| a.torrent.clone());
        let root = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
        let rel = PathBuf::from(abs.file_name().unwrap_or_default());
        let info = &p.meta.info;
        let files: Vec<Value> = file_list(&p)
            .iter()
            .map(|(path, len)| json!({"path": wire_path(path), "length": len}))
            .collect();
        let name_v = wire_path(Path::new(OsStr::from_bytes(&info.name)));
        let rec = Record::new("metainfo")
            .at(&root, &rel)
            .with("name", name_v)
            .with("info_hash", hex(&p.info_hash))
            .with("piece_length", info.piece_length)
            .with("pieces", info.pieces.len() as u64)
            .with("size", info.total())
            .with(
                "mode",
                if matches!(info.layout, Layout::Single(_)) {
                    "single"
                } else {
                    "multi"
                },
            )
            .with("private", info.private)
            .with("announce", p.meta.announce.clone())
            .with("announce_list", json!(p.meta.announce_list))
            .with("url_list", json!(p.meta.url_list))
            .with("comment", p.meta.comment.clone())
            .with("created_by", p.meta.created_by.clone())
            .with("creation_date", p.meta.creation_date)
            .with("extra_info_keys", json!(p.extra_info_keys))
            .with("files", Value::Array(files));
        run.emit(&rec);
        shown = 1;
    }
    run.finish(Record::new("").with("torrents", shown))
}

/// Counts over all torrents verified: pieces, bad pieces, missing files, size mismatches.
type Counts = (u64, u64, u64, u64);

pub fn run_verify(a: VerifyArgs) -> Status {
    let run = Run::start(TOOL, env!("CARGO_PKG_VERSION"));
    let mut counts: Counts = (0, 0, 0, 0);
    match &a.content {
        Some(content) => verify_one(&run, &a, &a.torrent, content, &mut counts),
        None if a.torrent == Path::new("-") => {
            let mut tally = rl_core::upstream::Tally::default();
            for rec in rl_core::upstream::stdin_records() {
                if let Ok(up) = &rec {
                    tally.saw(up);
                    // A dry run's records count as taken: the upstream run was not real.
                    if up.event() == "torrent" {
                        tally.took();
                    }
                }
                match rec {
                    Err(bad) => {
                        run.error_general("read", "input.bad_record", &bad.to_string());
                        break;
                    }
                    Ok(up) if up.event() == "error" => run.pass_upstream_error(&up.raw),
                    // A dry run wrote no file to verify.
                    Ok(up) if up.fields.get("dry_run") == Some(&Value::Bool(true)) => {}
                    Ok(up) if up.event() == "torrent" => {
                        let source = up
                            .fields
                            .get("source")
                            .and_then(rl_core::record::path_from_wire);
                        match (up.full_path(), source) {
                            (Some(t), Some(src)) => verify_one(&run, &a, &t, &src, &mut counts),
                            _ => run.error_general(
                                "read",
                                "input.bad_record",
                                &format!(
                                    "stdin line {}: torrent record has no root/path/source",
                                    up.line_no
                                ),
                            ),
                        }
                    }
                    Ok(_) => {}
                }
            }
            if let Some(msg) = tally.nothing_usable("torrent records", true) {
                run.error_general("read", "input.empty", &msg);
            }
        }
        None => run.error_general(
            "parse",
            "usage",
            "verify needs TORRENT DIR, or - to read torrent records from stdin",
        ),
    }
    run.finish(
        Record::new("")
            .with("pieces", counts.0)
            .with("bad_pieces", counts.1)
            .with("missing", counts.2)
            .with("size_mismatches", counts.3),
    )
}

fn verify_one(run: &Run, a: &VerifyArgs, torrent_path: &Path, content: &Path, total: &mut Counts) {
    let mut counts: Counts = (0, 0, 0, 0);
    let errors_before = run.errors();
    let Some(p) = load(run, torrent_path) else {
        return;
    };
    let content = absolute(content).unwrap_or_else(|_| content.to_path_buf());
    if let Err(e) = std::fs::metadata(&content) {
        run.error(&content, Path::new(""), "stat", &e);
        return;
    }
    let info = &p.meta.info;
    let sources = torrent::sources_under(info, &content);
    let single = matches!(info.layout, Layout::Single(_));
    // Records name files relative to the content directory.
    let (root, rels): (PathBuf, Vec<PathBuf>) = if single {
        let path = &sources[0].path;
        (
            path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            vec![PathBuf::from(path.file_name().unwrap_or_default())],
        )
    } else {
        (
            content.clone(),
            file_list(&p).into_iter().map(|f| f.0).collect(),
        )
    };

    let mut absent: HashSet<usize> = HashSet::new();
    for (i, src) in sources.iter().enumerate() {
        match std::fs::metadata(&src.path) {
            Ok(m) if m.is_file() && m.len() == src.length => {}
            Ok(m) if m.is_file() => {
                counts.3 += 1;
                run.emit(
                    &Record::new("size_mismatch")
                        .at(&root, &rels[i])
                        .with("size", m.len())
                        .with("expected", src.length),
                );
            }
            Ok(_) => {
                absent.insert(i);
                counts.2 += 1;
                run.error_with(
                    &root,
                    &rels[i],
                    "stat",
                    "input.not_a_file",
                    "is not a regular file",
                );
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                absent.insert(i);
                counts.2 += 1;
                run.emit(
                    &Record::new("missing")
                        .at(&root, &rels[i])
                        .with("expected", src.length),
                );
            }
            Err(e) => {
                absent.insert(i);
                run.error(&root, &rels[i], "stat", &e);
            }
        }
    }

    if !single && absent.len() == sources.len() {
        let inner = content.join(OsStr::from_bytes(&info.name));
        if inner.is_dir() {
            run.warn(&format!(
                "none of the torrent's files is in {}; DIR is the content directory itself, did you mean {}?",
                content.display(),
                inner.display()
            ));
        }
    }
    let bar = progress::bytes_bar(info.total(), "verify", a.progress);
    let results = torrent::hash_pieces(
        &sources,
        info.piece_length,
        HashOptions {
            jobs: crate::jobs(a.jobs),
            strict_size: false,
        },
        &|n| bar.inc(n),
    );
    bar.finish_and_clear();
    counts.0 = results.len() as u64;
    let mut read_errors: HashSet<usize> = HashSet::new();
    for (i, r) in results.iter().enumerate() {
        let problem = match r {
            Ok(h) if *h == info.pieces[i] => continue,
            Ok(_) => None,
            Err(e) => {
                if absent.contains(&e.file) {
                    // Already reported as missing; count the piece, no record per piece.
                    counts.1 += 1;
                    continue;
                }
                if e.error.kind() != io::ErrorKind::UnexpectedEof && read_errors.insert(e.file) {
                    run.error(&root, &rels[e.file], "read", &e.error);
                }
                Some(e.error.to_string())
            }
        };
        counts.1 += 1;
        let idx = i as u64;
        let files: Vec<Value> = info
            .files_of_piece(idx)
            .iter()
            .map(|&f| wire_path(&rels[f]))
            .collect();
        let mut rec = Record::new("bad_piece")
            .at(&root, Path::new(""))
            .with("piece", idx)
            .with("offset", idx * info.piece_length)
            .with("files", Value::Array(files));
        if let Some(reason) = problem {
            rec.set("reason", reason);
        }
        run.emit(&rec);
    }
    if counts.1 == 0 && counts.2 == 0 && counts.3 == 0 && run.errors() == errors_before {
        let whole = if single {
            rels[0].as_path()
        } else {
            Path::new("")
        };
        run.emit(
            &Record::new("ok")
                .at(&root, whole)
                .with("info_hash", hex(&p.info_hash))
                .with("pieces", counts.0)
                .with("size", info.total()),
        );
    } else {
        run.raise(Status::Differs);
    }
    total.0 += counts.0;
    total.1 += counts.1;
    total.2 += counts.2;
    total.3 += counts.3;
}
