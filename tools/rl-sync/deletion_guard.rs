//! How many deletions a run may make: rsync's `--max-delete N`, and a default share of the
//! destination above which deletions are refused.
//!
//! `rl-sync --delete almost-empty/ /mnt/repos-production/…/9.7/` (a wrong or half-made source)
//! would delete most of a release. A sync that would remove more than 25% of the destination's
//! entries (and more than a handful) makes no deletion and exits 3 unless `--force-delete`; with
//! `--max-delete N`, more than N makes no deletion and exits 25 as rsync does. Copies and updates
//! still happen: they add or replace files, and the old metadata keeps naming what is there.
//! rsync deletes up to N and then stops; rl-sync deletes none, so a stopped run is not half done.

use std::path::Path;

use rl_core::{Record, Run, Status};

use crate::Args;
use crate::plan::{Op, Plan, Ty};

/// Deletions refused below this many entries, whatever their share (tiny trees).
const SMALL: u64 = 10;

/// Why deletions were stopped.
#[derive(Debug)]
pub struct Stop {
    deletions: u64,
    status: Status,
    message: String,
}

impl Stop {
    /// The `refused` record, the sentence on stderr and the exit status.
    pub fn report(&self, run: &Run) {
        eprintln!("rl-sync: refused: {}", self.message);
        run.emit(
            &Record::new("refused")
                .with("reason", self.message.as_str())
                .with("kind", "deletions")
                .with("deletions", self.deletions),
        );
        run.raise(self.status);
    }
}

/// Entries a delete removes: the entry, and everything below a directory.
fn count_deleted(dst: &Path, rel: &Path, ty: Option<Ty>) -> u64 {
    if ty != Some(Ty::Dir) {
        return 1;
    }
    walkdir::WalkDir::new(dst.join(rel))
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .count() as u64
}

/// A stop when this plan's deletions exceed `--max-delete` or the allowed share.
pub fn check(plan: &Plan, dst: &Path, args: &Args) -> Option<Stop> {
    if !args.delete && args.max_delete.is_none() {
        return None;
    }
    let deletes = plan.actions.iter().filter(|a| matches!(a.op, Op::Delete));
    let deletions: u64 = deletes.map(|a| count_deleted(dst, &a.rel, a.dst_ty)).sum();
    if deletions == 0 {
        return None;
    }
    if let Some(max) = args.max_delete
        && deletions > max
    {
        return Some(Stop {
            deletions,
            status: Status::MaxDelete,
            message: format!(
                "the sync would delete {deletions} entries, more than --max-delete {max}: no deletion was made"
            ),
        });
    }
    // What the destination holds: the source entries already there, plus what would go.
    let created = plan
        .actions
        .iter()
        .filter(|a| a.dst_ty.is_none() && !matches!(a.op, Op::Delete | Op::StaleTemp))
        .count() as u64;
    let total = plan.scanned.saturating_sub(created) + deletions;
    let share = 100.0 * deletions as f64 / total.max(1) as f64;
    if args.force_delete || deletions <= SMALL || share <= args.max_delete_share {
        return None;
    }
    Some(Stop {
        deletions,
        status: Status::Refused,
        message: format!(
            "the sync would delete {deletions} of the destination's {total} entries ({share:.0}%, more than {}%): no deletion was made; check the source, or use --force-delete",
            args.max_delete_share
        ),
    })
}
