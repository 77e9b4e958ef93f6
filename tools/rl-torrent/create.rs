//! `rl-torrent create`: one `.torrent` per target, written atomically and only when its bytes change.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rl_core::fsx;
use rl_core::hash::hex;
use rl_core::progress;
use rl_core::record::wire_path;
use rl_core::torrent::{self, Content, Excludes, HashOptions, Metainfo, SkipReason, Source};
use rl_core::walk::absolute;
use rl_core::{Record, Run, Status};

use crate::CreateArgs;
use crate::trackers;

const TOOL: &str = "rl-torrent";

struct Totals {
    torrents: u64,
    bytes: u64,
    pieces: u64,
}

/// What every torrent of a run carries besides its content: trackers, web seeds, the date.
struct Stamp {
    tiers: Vec<Vec<String>>,
    seeds: Vec<String>,
    date: Option<i64>,
}

/// The trackers (checked; none only with --no-tracker), web seeds and creation date of a run.
fn stamp(a: &CreateArgs) -> Result<Stamp, String> {
    let tiers = trackers::tiers(&a.announce)?;
    if tiers.is_empty() && !a.no_tracker {
        return Err("no tracker given: add -a URL (a torrent without one is found by DHT only), or --no-tracker".into());
    }
    let date = if a.no_date {
        None
    } else {
        Some(a.date.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        }))
    };
    Ok(Stamp {
        tiers,
        seeds: trackers::web_seeds(&a.web_seed)?,
        date,
    })
}

pub fn run(a: CreateArgs) -> Status {
    let run = Run::start(TOOL, env!("CARGO_PKG_VERSION"));
    let mut totals = Totals {
        torrents: 0,
        bytes: 0,
        pieces: 0,
    };
    let finish = |run: Run, t: &Totals| {
        run.finish(
            Record::new("")
                .with("torrents", t.torrents)
                .with("pieces", t.pieces)
                .with("bytes", t.bytes),
        )
    };
    let excludes = match Excludes::new(&a.exclude) {
        Ok(e) => e,
        Err(e) => {
            run.error_general("parse", "usage", &format!("invalid --exclude pattern: {e}"));
            return finish(run, &totals);
        }
    };
    let stamp = match stamp(&a) {
        Ok(s) => s,
        Err(msg) => {
            run.error_general("parse", "usage", &msg);
            return finish(run, &totals);
        }
    };
    let out_dir = match absolute(&a.output_dir) {
        Ok(p) => p,
        Err(e) => {
            run.error(&a.output_dir, Path::new(""), "resolve", &e);
            return finish(run, &totals);
        }
    };
    let out_real = canonical_lenient(&out_dir);
    let mut seen: HashSet<OsString> = HashSet::new();
    let mut one = |run: &Run, target: &Path| {
        let source = absolute(target).unwrap_or_else(|_| target.to_path_buf());
        if let Some((bytes, pieces)) = make_one(
            run,
            &a,
            &excludes,
            (&out_dir, &out_real),
            &source,
            &stamp,
            &mut seen,
        ) {
            totals.torrents += 1;
            totals.bytes += bytes;
            totals.pieces += pieces;
        }
    };
    if a.targets.len() == 1 && a.targets[0] == Path::new("-") {
        // Targets from upstream records (`rl-torrent scaffold … | rl-torrent create - …`).
        let mut tally = rl_core::upstream::Tally::default();
        for rec in rl_core::upstream::stdin_records() {
            if let Ok(up) = &rec {
                tally.saw(up);
                if up.event() == a.event {
                    tally.took();
                }
            }
            match rec {
                Err(bad) => {
                    run.error_general("read", "input.bad_record", &bad.to_string());
                    break;
                }
                Ok(up) if up.event() == "error" => run.pass_upstream_error(&up.raw),
                // A dry run's record names a directory that was never made: create nothing.
                Ok(up)
                    if up.event() == a.event
                        && !a.dry_run
                        && up.fields.get("dry_run") == Some(&serde_json::Value::Bool(true)) =>
                {
                    rl_core::upstream::refuse_dry_upstream(&run);
                    break;
                }
                Ok(up) if up.event() == a.event => match up.full_path() {
                    Some(p) => one(&run, &p),
                    None => run.error_general(
                        "read",
                        "input.bad_record",
                        &format!("stdin line {}: record has no root/path", up.line_no),
                    ),
                },
                Ok(up) if a.pass && !up.is_framing() => run.pass(&up.raw),
                Ok(_) => {}
            }
        }
        let takes = format!("{} records", a.event);
        if let Some(msg) = tally.nothing_usable(&takes, false) {
            run.error_general("read", "input.empty", &msg);
        }
    } else {
        for target in &a.targets {
            one(&run, target);
        }
    }
    finish(run, &totals)
}

/// The path with symlinks resolved in its longest existing ancestor (the rest may not exist yet).
fn canonical_lenient(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(cur) {
            return rest.iter().rev().fold(real, |acc, c| acc.join(c));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

fn make_one(
    run: &Run,
    a: &CreateArgs,
    excludes: &Excludes,
    (out_dir, out_real): (&Path, &Path),
    source: &Path,
    stamp: &Stamp,
    seen: &mut HashSet<OsString>,
) -> Option<(u64, u64)> {
    let content: Content = match torrent::collect_content(source, excludes) {
        Ok(c) => c,
        Err(e) => {
            run.error(&e.path, Path::new(""), "read", &e.error);
            return None;
        }
    };
    for (rel, reason) in &content.skipped {
        run.emit(
            &Record::new("skip")
                .at(source, rel)
                .with("reason", reason.as_str()),
        );
        if *reason == SkipReason::BrokenLink {
            run.warn(&format!(
                "{}: broken symbolic link left out of the torrent",
                source.join(rel).display()
            ));
        }
    }
    if !content.single && out_real.starts_with(&content.root) {
        run.error_with(
            source,
            Path::new(""),
            "create",
            "refused.output_inside_content",
            &format!(
                "refusing to write the torrent into the content it describes ({}); choose another --output-dir",
                out_dir.display()
            ),
        );
        run.raise(Status::Refused);
        return None;
    }
    let total = content.total();
    if total == 0 {
        let what = if content.files.is_empty() {
            "has no files to put in a torrent"
        } else {
            "holds only empty files; a torrent needs at least one byte"
        };
        run.error_with(source, Path::new(""), "create", "input.empty", what);
        return None;
    }
    let mut file_name = content.name.clone();
    file_name.push(".torrent");
    if !seen.insert(file_name.clone()) {
        run.error_with(
            source,
            Path::new(""),
            "create",
            "input.duplicate",
            &format!(
                "another target already makes {}; give directories with different names",
                PathBuf::from(&file_name).display()
            ),
        );
        return None;
    }
    let piece_length = a
        .piece_length
        .unwrap_or_else(|| torrent::auto_piece_length(total));
    let sources: Vec<Source> = content
        .files
        .iter()
        .map(|f| Source {
            path: f.source.clone(),
            length: f.length,
        })
        .collect();
    let bar = progress::bytes_bar(total, &content.name.to_string_lossy(), a.progress);
    let results = torrent::hash_pieces(
        &sources,
        piece_length,
        HashOptions {
            jobs: crate::jobs(a.jobs),
            strict_size: true,
        },
        &|n| bar.inc(n),
    );
    bar.finish_and_clear();
    let mut pieces = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(h) => pieces.push(h),
            Err(e) => {
                let f = &content.files[e.file];
                let rel = if content.single {
                    PathBuf::new()
                } else {
                    f.rel.clone()
                };
                run.error(source, &rel, "read", &e.error);
                return None;
            }
        }
    }
    let n_pieces = pieces.len() as u64;
    let info = torrent::info_for(&content, piece_length, pieces, a.private);
    let urls: usize = stamp.tiers.iter().map(Vec::len).sum();
    let meta = Metainfo {
        announce: stamp.tiers.first().and_then(|t| t.first()).cloned(),
        // mktorrent writes announce-list when there is more than one URL.
        announce_list: if urls > 1 {
            stamp.tiers.clone()
        } else {
            Vec::new()
        },
        url_list: stamp.seeds.clone(),
        comment: a.comment.clone().filter(|c| !c.is_empty()),
        created_by: Some(a.created_by.clone()).filter(|c| !c.is_empty()),
        creation_date: stamp.date,
        info,
    };
    let bytes = meta.encode();
    let info_hash = hex(&meta.info_hash());
    let out = out_dir.join(&file_name);
    let mut rec = Record::new("torrent")
        .at(out_dir, Path::new(&file_name))
        .with("source", wire_path(source))
        .with("name", wire_path(Path::new(&content.name)))
        .with("info_hash", info_hash)
        .with("piece_length", piece_length)
        .with("pieces", n_pieces)
        .with("size", total)
        .with("files", content.files.len() as u64);
    if a.dry_run {
        rec.set("dry_run", true);
    } else {
        match std::fs::create_dir_all(out_dir).and_then(|()| fsx::write_if_changed(&out, &bytes)) {
            Ok(outcome) => rec.set("written", outcome.as_str()),
            Err(e) => {
                run.error(out_dir, Path::new(&file_name), "write", &e);
                return None;
            }
        }
    }
    run.emit(&rec);
    Some((total, n_pieces))
}
