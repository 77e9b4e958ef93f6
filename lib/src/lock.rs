//! Whole-run lock files (`flock(2)`, like `flock -x LOCK`): one holder at a time, released when
//! the process ends however it ends, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    _lock: Flock<File>,
}

/// Takes an exclusive lock on `path` (created if missing). With `wait`, blocks until the lock is
/// free; without, returns `Ok(None)` when another process holds it. A lock file another user
/// created (0644 in a shared directory) is opened read-only: `flock` needs no write access, so
/// two operators share one lock.
pub fn lock_exclusive(path: &Path, wait: bool) -> io::Result<Option<LockGuard>> {
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
    {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && path.is_file() => {
            File::open(path)?
        }
        other => other?,
    };
    let arg = if wait {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockExclusiveNonblock
    };
    match Flock::lock(file, arg) {
        Ok(lock) => Ok(Some(LockGuard { _lock: lock })),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(io::Error::from(e)),
    }
}

/// Where lock files go by default: `$RL_LOCK_DIR` when set, else `/run/lock` (the FHS place,
/// shared by every user of the host), else `$XDG_RUNTIME_DIR`, else the temporary directory.
/// Locks serialise runs on one host: the SOP's compose host. `scripts/common` follows the same
/// order.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RL_LOCK_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let writable =
        |p: &Path| p.is_dir() && nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    let run_lock = Path::new("/run/lock");
    if writable(run_lock) {
        return run_lock.to_path_buf();
    }
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(p) if writable(&p) => p,
        _ => std::env::temp_dir(),
    }
}

/// The default lock of one tree for tool `tool`: `rl-sync-<16 hex of the path's SHA-256>.lock`
/// in [`default_dir`], so every run writing the same (canonical) tree takes the same lock.
pub fn for_tree(tool: &str, tree: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tree.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    default_dir().join(format!("{tool}-{hex}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock");
        let first = lock_exclusive(&p, false).unwrap();
        assert!(first.is_some());
        assert!(lock_exclusive(&p, false).unwrap().is_none());
        drop(first);
        assert!(lock_exclusive(&p, false).unwrap().is_some());
    }

    #[test]
    fn tree_locks_are_one_per_tree() {
        let a = for_tree("rl-sync", Path::new("/mnt/repos-production"));
        assert_eq!(a, for_tree("rl-sync", Path::new("/mnt/repos-production")));
        assert_ne!(a, for_tree("rl-sync", Path::new("/mnt/repos-staging")));
        assert!(a.starts_with(default_dir()));
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(lock_exclusive(Path::new("/nonexistent/dir/lock"), false).is_err());
    }
}
