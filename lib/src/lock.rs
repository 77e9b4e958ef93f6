//! Whole-run lock files (`flock(2)`, like `flock -x LOCK`): one holder at a time, released when
//! the process ends however it ends, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held lock; dropping it releases the lock.
pub struct LockGuard {
    _lock: Flock<File>,
}

/// Takes an exclusive lock on `path` (created if missing). With `wait`, blocks until the lock is
/// free; without, returns `Ok(None)` when another process holds it.
pub fn lock_exclusive(path: &Path, wait: bool) -> io::Result<Option<LockGuard>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
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
    fn missing_directory_is_an_error() {
        assert!(lock_exclusive(Path::new("/nonexistent/dir/lock"), false).is_err());
    }
}
