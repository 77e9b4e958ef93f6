//! `stage` and `publish`: the two flips of a release root's mode.
//!
//! Only the root's mode (and with `--group` its group) changes: its descendants keep their
//! ctimes, so the regenerated file list changes only in the root's line and in the `*` markers
//! below it, and mirrors fetch nothing they already have.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rl_core::stagestate::{self, Phase, StageRecord, Store};
use rl_core::{Record, Run, duration, nofollow};
use serde_json::{Value, json};

use crate::Counts;
use crate::args::{PublishArgs, StageArgs};
use crate::check;
use crate::root::{self, Root};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A time in whole seconds as the protocol writes times.
pub fn wire_secs(secs: Option<i64>) -> Value {
    match secs {
        Some(s) => json!({ "secs": s, "nanos": 0 }),
        None => Value::Null,
    }
}

fn tool_id() -> String {
    format!("rl-bitflip {}", env!("CARGO_PKG_VERSION"))
}

/// Reads the staging record; an unreadable one is reported and, when `tolerate`, treated as
/// absent (with a warning), else ends the action (`Err`).
fn read_record(run: &Run, root: &Root, tolerate: bool) -> Result<Option<(StageRecord, Store)>, ()> {
    match stagestate::read(root.fd.as_fd(), &root.path) {
        Ok(r) => Ok(r),
        Err(e) if tolerate && e.kind() == std::io::ErrorKind::InvalidData => {
            run.warn(&format!("{}: {e}; ignoring it", root.path.display()));
            Ok(None)
        }
        Err(e) => {
            run.error(&root.path, Path::new(""), "read_state", &e);
            Err(())
        }
    }
}

fn flip_record(action: &str, root: &Root, from: u32, to: u32, phase: Phase) -> Record {
    Record::new("flip")
        .at(&root.path, Path::new(""))
        .with("action", action)
        .with("from", format!("{from:04o}"))
        .with("to", format!("{to:04o}"))
        .with("state", phase.as_str())
}

/// `rl-bitflip stage ROOT`.
pub fn stage(run: &Run, a: &StageArgs) -> Counts {
    let mut counts = Counts::default();
    let root = match root::open(run, &a.root, "stage") {
        Ok(r) => r,
        Err(fail) => {
            counts.refused += u64::from(fail == root::Fail::Refused);
            return counts;
        }
    };
    counts.roots += 1;
    let Ok(existing) = read_record(run, &root, true) else {
        return counts;
    };
    let cur = root.perm();
    let target = (cur & 0o7000) | a.mode;
    if let Some((rec, _)) = &existing
        && rec.phase == Phase::Public
        && cur & 0o007 != 0
        && !a.force
    {
        counts.refused += 1;
        root::refuse(
            run,
            &root.path,
            "stage",
            "published",
            Some("force"),
            &format!(
                "rl-bitflip published this root {} ago; locking it again hides released content from every mirror, use --force to do it anyway",
                since(rec.published.unwrap_or(rec.staged))
            ),
        );
        return counts;
    }
    let gid_change = a.group.filter(|g| *g != root.stat.st_gid);
    let mode_change = target != cur;
    let changed = mode_change || gid_change.is_some();
    let kept = match &existing {
        Some((rec, _)) if rec.phase == Phase::Staged && !changed => Some(rec.staged),
        _ => None,
    };
    let staged = kept.unwrap_or_else(now);
    let record = StageRecord {
        phase: Phase::Staged,
        staged,
        published: None,
        mode: target,
        tool: tool_id(),
    };
    let same = existing.as_ref().is_some_and(|(r, s)| {
        r.phase == Phase::Staged && !changed && store_fits(*s, a.state.store())
    });
    let change = Change {
        gid: gid_change,
        mode: mode_change.then_some(target),
        record: (!same).then_some(&record),
        store: a.state.store(),
        dry_run: a.dry_run,
        record_first: true,
        previous: existing.as_ref(),
    };
    let Ok(written) = apply(run, &root, &change) else {
        return counts;
    };
    let store = written.or(existing.as_ref().map(|(_, s)| *s));
    if changed {
        counts.changed += 1;
    }
    let mut rec = flip_record("stage", &root, cur, target, Phase::Staged)
        .with("changed", changed)
        .with("gid", a.group.unwrap_or(root.stat.st_gid));
    if let Some(_g) = gid_change {
        rec = rec.with("from_gid", root.stat.st_gid);
    }
    rec = rec
        .with("staged_since", wire_secs(Some(staged)))
        .with("published_since", Value::Null)
        .with("store", store.map(Store::as_str));
    if a.dry_run {
        rec = rec.with("dry_run", true);
    }
    run.emit(&rec);
    if changed && !a.dry_run {
        remind_filelist(run, &root);
    }
    counts
}

/// Mirrors only see a flip through the regenerated file lists.
fn remind_filelist(run: &Run, root: &Root) {
    eprintln!(
        "{}: {}: mode changed; regenerate the file lists (rl-filelist) so mirrors see it",
        run.tool(),
        root.path.display()
    );
}

/// What a flip changes on the root.
struct Change<'a> {
    gid: Option<u32>,
    mode: Option<u32>,
    record: Option<&'a StageRecord>,
    store: Store,
    dry_run: bool,
    /// Write the record before the group and mode (stage) instead of after (publish).
    record_first: bool,
    /// The record the root had, put back if a change written first cannot be completed.
    previous: Option<&'a (StageRecord, Store)>,
}

fn report(run: &Run, root: &Root, op: &str, e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::Unsupported {
        run.error_with(
            &root.path,
            Path::new(""),
            op,
            "io.unsupported",
            &e.to_string(),
        );
    } else {
        run.error(&root.path, Path::new(""), op, e);
    }
}

/// Applies a change to the root. An unusable store is found before anything changes. The record
/// goes first when access narrows (stage: the intent is on disk before the lock, so a run killed in
/// between leaves a root that `status` still calls public and a re-run completes), last when it
/// widens (publish: a run killed after the chmod leaves a public root with a staged record, which
/// `status` calls public). When a later step fails, the earlier ones are put back (old group and
/// mode, the previous record), so a failed flip leaves the root as it was. Returns where the record
/// was written (`None`: not written, or a dry run).
fn apply(run: &Run, root: &Root, c: &Change<'_>) -> Result<Option<Store>, ()> {
    if c.record.is_some()
        && let Err(e) = stagestate::probe(root.fd.as_fd(), c.store)
    {
        report(run, root, "write_state", &e);
        return Err(());
    }
    if c.dry_run {
        return Ok(None);
    }
    let fd = root.fd.as_fd();
    let write_record = |run: &Run| -> Result<Option<Store>, ()> {
        let Some(record) = c.record else {
            return Ok(None);
        };
        stagestate::write(fd, &root.path, record, c.store)
            .map(Some)
            .map_err(|e| report(run, root, "write_state", &e))
    };
    let written = if c.record_first {
        write_record(run)?
    } else {
        None
    };
    let undo = |run: &Run| undo_change(run, root, c, written.is_some());
    if let Some(gid) = c.gid
        && let Err(e) = nofollow::chgrp_fd(fd, gid)
    {
        report(run, root, "chgrp", &e);
        undo(run);
        return Err(());
    }
    if let Some(mode) = c.mode
        && let Err(e) = nofollow::chmod_fd(fd, mode)
    {
        report(run, root, "chmod", &e);
        undo(run);
        return Err(());
    }
    if c.record_first {
        return Ok(written);
    }
    write_record(run).inspect_err(|()| undo(run))
}

/// Puts back what a failed [`apply`] changed: the group, the whole old mode (chown may clear
/// setgid), and the previous record when a new one was written first.
fn undo_change(run: &Run, root: &Root, c: &Change<'_>, record_written: bool) {
    let fd = root.fd.as_fd();
    if c.gid.is_some()
        && let Err(e) = nofollow::chgrp_fd(fd, root.stat.st_gid)
    {
        report(run, root, "chgrp", &e);
    }
    if let Err(e) = nofollow::chmod_fd(fd, root.perm()) {
        report(run, root, "chmod", &e);
    }
    if record_written
        && let Some((old, store)) = c.previous
        && let Err(e) = stagestate::write(fd, &root.path, old, *store)
    {
        report(run, root, "write_state", &e);
    }
}

/// Whether a record kept in `have` satisfies the store asked for.
fn store_fits(have: Store, want: Store) -> bool {
    want == Store::Auto || want == have
}

fn since(secs: i64) -> String {
    duration::format(std::time::Duration::from_secs(
        now().saturating_sub(secs).max(0) as u64,
    ))
}

/// `rl-bitflip publish ROOT`.
pub fn publish(run: &Run, a: &PublishArgs) -> Counts {
    let mut counts = Counts::default();
    let root = match root::open(run, &a.root, "publish") {
        Ok(r) => r,
        Err(fail) => {
            counts.refused += u64::from(fail == root::Fail::Refused);
            return counts;
        }
    };
    counts.roots += 1;
    let Ok(existing) = read_record(run, &root, a.force || a.adopt) else {
        return counts;
    };
    let cur = root.perm();
    let target = (cur & 0o7000) | a.mode;
    let already_public = cur & 0o005 == 0o005;
    let staged_rec = existing
        .as_ref()
        .filter(|(r, _)| r.phase == Phase::Staged)
        .map(|(r, _)| r);
    // The time the lock began, for the minimum-age check.
    let mut staged_at = staged_rec.map(|r| r.staged);
    if !already_public && !a.force {
        if staged_at.is_none() {
            if !a.adopt {
                counts.refused += 1;
                let why = match &existing {
                    Some(_) => {
                        "rl-bitflip published this root before and someone locked it again by hand"
                    }
                    None => "rl-bitflip did not stage this root (it has no staging record)",
                };
                root::refuse(
                    run,
                    &root.path,
                    "publish",
                    "not_staged",
                    Some("adopt"),
                    &format!(
                        "{why}; use --adopt to publish it with its age counted from its last change, or --force"
                    ),
                );
                return counts;
            }
            staged_at = Some(root.stat.st_ctime);
        }
        let age = now().saturating_sub(staged_at.unwrap_or(0)).max(0) as u64;
        if age < a.min_age.as_secs() {
            counts.refused += 1;
            root::refuse(
                run,
                &root.path,
                "publish",
                "too_early",
                Some("force"),
                &format!(
                    "the root was staged {} ago, less than the minimum age of {}; use --force to publish it now",
                    duration::format(std::time::Duration::from_secs(age)),
                    duration::format(a.min_age)
                ),
            );
            return counts;
        }
    }
    let mode_change = target != cur;
    let published = match &existing {
        Some((r, _)) if r.phase == Phase::Public && !mode_change => r.published,
        _ => None,
    }
    .unwrap_or_else(now);
    let staged = staged_at
        .or(existing.as_ref().map(|(r, _)| r.staged))
        .unwrap_or(root.stat.st_ctime);
    let record = StageRecord {
        phase: Phase::Public,
        staged,
        published: Some(published),
        mode: target,
        tool: tool_id(),
    };
    let same = existing.as_ref().is_some_and(|(r, s)| {
        r.phase == Phase::Public && !mode_change && store_fits(*s, a.state.store())
    });
    let change = Change {
        gid: None,
        mode: mode_change.then_some(target),
        record: (!same).then_some(&record),
        store: a.state.store(),
        dry_run: a.dry_run,
        record_first: false,
        previous: existing.as_ref(),
    };
    let Ok(written) = apply(run, &root, &change) else {
        return counts;
    };
    let store = written.or(existing.as_ref().map(|(_, s)| *s));
    if mode_change {
        counts.changed += 1;
    }
    let mut rec = flip_record("publish", &root, cur, target, Phase::Public)
        .with("changed", mode_change)
        .with("gid", root.stat.st_gid)
        .with("staged_since", wire_secs(Some(staged)))
        .with("published_since", wire_secs(Some(published)))
        .with("store", store.map(Store::as_str));
    if a.dry_run {
        rec = rec.with("dry_run", true);
    }
    run.emit(&rec);
    if mode_change && !a.dry_run {
        remind_filelist(run, &root);
    }
    if !a.no_check {
        check::walk(run, &root, a.recursive, a.dry_run, &mut counts);
        if counts.hidden > 0 {
            run.warn(&format!(
                "{}: {} entries below the root stay hidden from the public (see the hidden records); publish --recursive repairs them",
                root.path.display(),
                counts.hidden
            ));
        }
    }
    counts
}
