//! Replacing a file by a hard link, atomically and only if nothing changed since it was compared.
//!
//! `link(survivor, dir/.NAME.rl-tmp.PID-START.N)` then `rename(temp, victim)`: the victim's name
//! always points at a complete file (the old one or the survivor), so an interrupted run never
//! leaves a name missing; a leftover temporary is recognised by `rl_core::fsx::is_temp_name`,
//! never linked, and removed by the next run once its writer is gone
//! (`rl_core::fsx::is_stale_temp`). Before the link and again just before the rename, the victim
//! (and the survivor) are `lstat`ed and must still be the same inode with the same size, mtime,
//! mode and owner as when they were compared; otherwise nothing is replaced.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rl_core::fsx::temp_path_for;

/// What must not have changed about a file between comparison and replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Snapshot {
    pub fn of(m: &fs::Metadata) -> Self {
        Snapshot {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
        }
    }

    /// From a raw `stat` (the scan's `fstatat`). The casts are identities on some targets only.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_stat(st: &rl_core::parwalk::Stat) -> Self {
        Snapshot {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as i64,
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
        }
    }

    /// The link count of a raw `stat` (its width differs between targets).
    #[allow(clippy::useless_conversion)]
    pub fn nlink_of(st: &rl_core::parwalk::Stat) -> u64 {
        u64::from(st.st_nlink)
    }

    /// `lstat`s `path` now.
    pub fn take(path: &Path) -> io::Result<Self> {
        fs::symlink_metadata(path).map(|m| Snapshot::of(&m))
    }
}

/// Why a replacement did not happen.
#[derive(Debug)]
pub enum LinkError {
    /// The victim or the survivor changed since they were compared; nothing was replaced.
    Changed(&'static str),
    /// The kernel refused: `op` is `link` or `rename`. The victim is untouched.
    Io(&'static str, io::Error),
}

/// Replaces `victim` by a hard link to `survivor`, if both still match their snapshots.
pub fn link_over(
    survivor: &Path,
    survivor_was: &Snapshot,
    victim: &Path,
    victim_was: &Snapshot,
) -> Result<(), LinkError> {
    check(
        survivor,
        survivor_was,
        "the file to keep changed since it was compared",
    )?;
    check(victim, victim_was, "the file changed since it was compared")?;
    let temp = temp_path_for(victim);
    fs::hard_link(survivor, &temp).map_err(|e| LinkError::Io("link", e))?;
    let result = check(victim, victim_was, "the file changed since it was compared")
        .and_then(|()| fs::rename(&temp, victim).map_err(|e| LinkError::Io("rename", e)));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn check(path: &Path, was: &Snapshot, why: &'static str) -> Result<(), LinkError> {
    match Snapshot::take(path) {
        Ok(now) if now == *was => Ok(()),
        Ok(_) => Err(LinkError::Changed(why)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(LinkError::Changed(why)),
        Err(e) => Err(LinkError::Io("stat", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "same").unwrap();
        fs::write(&b, "same").unwrap();
        (dir, a, b)
    }

    #[test]
    fn links_when_unchanged() {
        let (dir, a, b) = setup();
        let (sa, sb) = (Snapshot::take(&a).unwrap(), Snapshot::take(&b).unwrap());
        link_over(&a, &sa, &b, &sb).unwrap();
        assert_eq!(Snapshot::take(&b).unwrap().ino, sa.ino);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "no temp left");
    }

    #[test]
    fn changed_victim_is_not_replaced() {
        let (dir, a, b) = setup();
        let (sa, sb) = (Snapshot::take(&a).unwrap(), Snapshot::take(&b).unwrap());
        fs::write(&b, "other!").unwrap();
        let err = link_over(&a, &sa, &b, &sb).unwrap_err();
        assert!(matches!(err, LinkError::Changed(_)), "{err:?}");
        assert_eq!(fs::read(&b).unwrap(), b"other!");
        assert_ne!(Snapshot::take(&b).unwrap().ino, sa.ino);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn changed_survivor_or_vanished_victim_is_not_linked() {
        let (_dir, a, b) = setup();
        let (sa, sb) = (Snapshot::take(&a).unwrap(), Snapshot::take(&b).unwrap());
        filetime_touch(&a);
        assert!(matches!(
            link_over(&a, &sa, &b, &sb),
            Err(LinkError::Changed(_))
        ));
        let sa = Snapshot::take(&a).unwrap();
        fs::remove_file(&b).unwrap();
        assert!(matches!(
            link_over(&a, &sa, &b, &sb),
            Err(LinkError::Changed(_))
        ));
        assert!(!b.exists());
    }

    fn filetime_touch(p: &Path) {
        let f = fs::File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(12345))
            .unwrap();
    }
}
