//! Removing a killed run's temporaries, with records: what every tool that writes files does in
//! the directories it writes into, before writing (see [`crate::fsx`] for the naming scheme and
//! when a temporary is stale).

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::fsx;
use crate::{Record, Run};

/// Removes the stale temporaries in `dir` that stand for a name `wanted` accepts, writing one
/// `delete` record (`"reason":"stale temporary"`, plus `"dry_run":true` when nothing is removed)
/// per temporary. A temporary that cannot be removed is a warning, not an error: it hides no
/// content and the run's own work goes on. Returns how many were (or would be) removed.
pub fn clean_stale_temps(
    run: &Run,
    dir: &Path,
    wanted: impl Fn(&OsStr) -> bool,
    dry_run: bool,
) -> usize {
    report(
        run,
        dir,
        fsx::remove_stale_temps(dir, wanted, dry_run),
        dry_run,
    )
}

/// [`clean_stale_temps`] in the open directory `fd` (shown as `dir` in records and messages).
pub fn clean_stale_temps_at(
    run: &Run,
    fd: &OwnedFd,
    dir: &Path,
    wanted: impl Fn(&OsStr) -> bool,
    dry_run: bool,
) -> usize {
    report(
        run,
        dir,
        fsx::remove_stale_temps_at(fd, wanted, dry_run),
        dry_run,
    )
}

type Found = std::io::Result<Vec<(std::ffi::OsString, std::io::Result<()>)>>;

fn report(run: &Run, dir: &Path, found: Found, dry_run: bool) -> usize {
    match found {
        Ok(found) => {
            let mut removed = 0;
            for (name, outcome) in found {
                if let Err(e) = outcome {
                    run.warn(&format!(
                        "{}: could not remove a stale temporary: {e}",
                        dir.join(&name).display()
                    ));
                    continue;
                }
                let mut r = Record::new("delete")
                    .at(dir, Path::new(&name))
                    .with("reason", "stale temporary");
                if dry_run {
                    r.set("dry_run", true);
                }
                run.emit(&r);
                removed += 1;
            }
            removed
        }
        // A directory that does not exist yet holds no temporaries.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            run.warn(&format!(
                "{}: could not look for stale temporaries: {e}",
                dir.display()
            ));
            0
        }
    }
}
