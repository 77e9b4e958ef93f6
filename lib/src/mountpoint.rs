//! Whether a directory is the root of a filesystem.
//!
//! Tools that change a whole tree (rl-sync's destination, rl-hardlink's roots) refuse `/` and
//! mount points unless told otherwise: `rl-hardlink -n /` would otherwise compare every file of the
//! machine, and a sync into a mount point's root usually means a forgotten path component.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether `path` (existing, canonical) is the root of a filesystem: `/`, or a mount point (its
/// device differs from its parent's, or it is its own parent).
pub fn is_fs_root(path: &Path) -> bool {
    if path.parent().is_none() {
        return true;
    }
    let (Ok(me), Ok(parent)) = (fs::metadata(path), fs::metadata(path.join(".."))) else {
        return false;
    };
    me.dev() != parent.dev() || me.ino() == parent.ino()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_and_proc_are_roots_a_subdirectory_is_not() {
        assert!(is_fs_root(Path::new("/")));
        if Path::new("/proc/self").exists() {
            assert!(is_fs_root(Path::new("/proc")));
        }
        let d = tempfile::tempdir().unwrap();
        let sub = fs::canonicalize(d.path()).unwrap().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(!is_fs_root(&sub));
        assert!(!is_fs_root(&sub.join("missing")));
    }
}
