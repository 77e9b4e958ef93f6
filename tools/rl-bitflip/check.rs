//! The walk below a root: which entries stay hidden from the public after the flip, and the
//! `--recursive` repair that opens them.
//!
//! The public (an rsync daemon running as `nobody`, a web server) needs `o+r` on a file and `o+rx`
//! on a directory. create-filelist marks an entry without `o+r` with `-` and everything under a
//! directory without `o+r` with `*`; directories without `o+x` cannot be entered either.

use rl_core::Record;
use rl_core::Run;
use rl_core::nofollow::{self, Kind};

use crate::Counts;
use crate::root::Root;

/// What the public needs on an entry of this kind (`None`: nothing, a symlink's own mode is
/// meaningless).
fn needed(kind: Kind) -> Option<u32> {
    match kind {
        Kind::Dir => Some(0o005),
        Kind::File | Kind::Other => Some(0o004),
        Kind::Symlink => None,
    }
}

fn missing_text(missing: u32) -> &'static str {
    match missing {
        0o004 => "o+r",
        0o001 => "o+x",
        _ => "o+rx",
    }
}

/// Walks below `root`: without `repair`, a `hidden` record for every entry the public could not
/// read; with `repair`, a `chmod` record for each such entry after adding the missing bits
/// (unless `dry_run`). Symlinks are neither followed nor changed.
pub fn walk(run: &Run, root: &Root, repair: bool, dry_run: bool, counts: &mut Counts) {
    let mut visit = |e: &nofollow::Entry<'_>| {
        let Some(need) = needed(e.kind) else { return };
        let perm = e.perm();
        let missing = need & !perm;
        if missing == 0 {
            return;
        }
        if !repair {
            counts.hidden += 1;
            run.emit(
                &Record::new("hidden")
                    .at(&root.path, e.rel)
                    .with("kind", e.kind.as_str())
                    .with("mode", format!("{perm:04o}"))
                    .with("missing", missing_text(missing)),
            );
            return;
        }
        let to = perm | need;
        if !dry_run && let Err(err) = nofollow::chmod_at(e.parent, e.name, to) {
            run.error(&root.path, e.rel, "chmod", &err);
            return;
        }
        counts.chmod += 1;
        let mut rec = Record::new("chmod")
            .at(&root.path, e.rel)
            .with("kind", e.kind.as_str())
            .with("from", format!("{perm:04o}"))
            .with("to", format!("{to:04o}"));
        if dry_run {
            rec = rec.with("dry_run", true);
        }
        run.emit(&rec);
    };
    let mut on_error = |rel: &std::path::Path, op: &str, err: std::io::Error| {
        run.error(&root.path, rel, op, &err);
    };
    nofollow::walk(&root.fd, &mut visit, &mut on_error);
}
