//! A staged release root keeps its mode: rl-sync never widens it.
//!
//! Being staged is a property of the release root, not a mode the next copy overwrites (DESIGN
//! §5.9): `rl-bitflip stage` locks the root (750) and records it; a later sync from staging,
//! whose root is 755, must not reopen it during the embargo. Only `rl-bitflip publish` opens it.
//!
//! The destination root keeps its own permission bits when
//! * its staging record (see [`rl_core::stagestate`]) says `staged` (or cannot be read: in doubt,
//!   the root is not opened), or
//! * it lacks read or search access for others that the source root has (a root locked by hand,
//!   without a record).
//!
//! Only the mode is kept; mtime, owner and group are synced as usual (with `--chown`, give the
//! staging group to rl-bitflip stage --group too). `Exec::finish_dirs` (apply.rs) applies it.

use std::os::fd::BorrowedFd;
use std::path::Path;

use rl_core::stagestate::{self, Phase};

use crate::plan::Meta;

/// Others' read and search bits.
const OTHER_RX: u32 = 0o005;

/// Why the destination root keeps its mode (the `kept` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptMode {
    /// The destination root's permission bits, kept.
    pub mode: u32,
    /// The source root's permission bits, not applied.
    pub source_mode: u32,
    pub reason: &'static str,
}

/// Reason: rl-bitflip's staging record says staged.
pub const REASON_RECORD: &str = "staging record";
/// Reason: the staging record exists but cannot be read.
pub const REASON_UNREADABLE: &str = "unreadable staging record";
/// Reason: no record, but the destination root hides from others what the source shows.
pub const REASON_MODE: &str = "not readable by others";

/// Whether the destination root (open as `dst_fd` at `dst_root`) keeps its mode instead of taking
/// the source root's (`src`), and why.
pub fn kept_root_mode(dst_fd: BorrowedFd<'_>, dst_root: &Path, src: &Meta) -> Option<KeptMode> {
    let mode = rl_core::nofollow::stat_fd(dst_fd).ok()?.st_mode & 0o7777;
    let source_mode = src.mode() & 0o7777;
    if mode == source_mode {
        return None;
    }
    let kept = |reason| {
        Some(KeptMode {
            mode,
            source_mode,
            reason,
        })
    };
    match stagestate::read(dst_fd, dst_root) {
        Ok(Some((r, _))) if r.phase == Phase::Staged => return kept(REASON_RECORD),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return kept(REASON_UNREADABLE),
        _ => {}
    }
    if source_mode & OTHER_RX & !mode != 0 {
        return kept(REASON_MODE);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    fn kept(dst: &Path, src: &Path) -> Option<KeptMode> {
        let fd = rl_core::nofollow::open_dir(dst).unwrap();
        kept_root_mode(fd.as_fd(), dst, &Meta::lstat(src).unwrap())
    }

    fn dir_with_mode(parent: &Path, name: &str, mode: u32) -> std::path::PathBuf {
        let p = parent.join(name);
        std::fs::create_dir(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn a_root_hidden_from_others_keeps_its_mode() {
        let t = tempfile::tempdir().unwrap();
        let src = dir_with_mode(t.path(), "src", 0o755);
        let dst = dir_with_mode(t.path(), "dst", 0o750);
        assert_eq!(
            kept(&dst, &src),
            Some(KeptMode {
                mode: 0o750,
                source_mode: 0o755,
                reason: REASON_MODE
            })
        );
    }

    #[test]
    fn a_public_or_equal_root_takes_the_source_mode() {
        let t = tempfile::tempdir().unwrap();
        let src = dir_with_mode(t.path(), "src", 0o750);
        let dst = dir_with_mode(t.path(), "dst", 0o755);
        let same = dir_with_mode(t.path(), "same", 0o750);
        // Narrowing a public root is the source's business, not a widening.
        assert_eq!(kept(&dst, &src), None);
        assert_eq!(kept(&same, &src), None);
    }

    #[test]
    fn a_staging_record_keeps_the_mode_even_without_widening() {
        let t = tempfile::tempdir().unwrap();
        let src = dir_with_mode(t.path(), "src", 0o700);
        let dst = dir_with_mode(t.path(), "dst", 0o750);
        let fd = rl_core::nofollow::open_dir(&dst).unwrap();
        let rec = stagestate::StageRecord {
            phase: Phase::Staged,
            staged: 1,
            published: None,
            mode: 0o750,
            tool: "test".into(),
        };
        stagestate::write(fd.as_fd(), &dst, &rec, stagestate::Store::Auto).unwrap();
        assert_eq!(kept(&dst, &src).map(|k| k.reason), Some(REASON_RECORD));
    }
}
