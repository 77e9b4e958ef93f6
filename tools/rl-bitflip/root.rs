//! Opening a release root safely: never through a symlink, never `/`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::stat::FileStat;
use rl_core::nofollow;
use rl_core::{Record, Run, Status};

/// An open release root.
pub struct Root {
    /// Absolute path, as written in records.
    pub path: PathBuf,
    /// The directory, opened with `O_NOFOLLOW | O_DIRECTORY`.
    pub fd: OwnedFd,
    /// Its `fstat`.
    pub stat: FileStat,
}

impl Root {
    /// Permission bits, including setuid/setgid/sticky.
    pub fn perm(&self) -> u32 {
        self.stat.st_mode & 0o7777
    }
}

/// Writes a `refused` record and the stderr sentence, and raises the status to 3.
pub fn refuse(
    run: &Run,
    root: &Path,
    action: &str,
    reason: &str,
    over: Option<&str>,
    message: &str,
) {
    run.emit(
        &Record::new("refused")
            .at(root, Path::new(""))
            .with("action", action)
            .with("reason", reason)
            .with("override", over.map(|o| format!("--{o}")))
            .with("message", message),
    );
    eprintln!("{}: {}: {}", run.tool(), root.display(), message);
    run.raise(Status::Refused);
}

/// Why a root was not opened (the record and the stderr line are written already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fail {
    /// Refused as unsafe (status 3).
    Refused,
    /// An error (status 2).
    Error,
}

/// Opens `given` as a release root for `action`. A symlink and `/` are refused (status 3); a
/// missing path or a non-directory is an error (status 2).
pub fn open(run: &Run, given: &Path, action: &str) -> Result<Root, Fail> {
    let shown = std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
    let here = Path::new("");
    if given.as_os_str().is_empty() {
        run.error_with(
            &shown,
            here,
            "open",
            "io.invalid_input",
            "an empty path is not a release root",
        );
        return Err(Fail::Error);
    }
    let meta = match std::fs::symlink_metadata(given) {
        Ok(m) => m,
        Err(e) => {
            let msg = if e.kind() == io::ErrorKind::NotFound {
                "the release root does not exist".to_owned()
            } else {
                format!("cannot examine the release root: {e}")
            };
            run.error_with(&shown, here, "stat", rl_core::record::io_kind(&e), &msg);
            return Err(Fail::Error);
        }
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(given)
            .map(|t| format!(" (it points to {})", t.display()))
            .unwrap_or_default();
        refuse(
            run,
            &shown,
            action,
            "symlink",
            None,
            &format!(
                "the release root is a symbolic link{target}; rl-bitflip never follows one, so give the real directory (no flag overrides this)"
            ),
        );
        return Err(Fail::Refused);
    }
    if !meta.is_dir() {
        run.error_with(
            &shown,
            here,
            "stat",
            "io.not_a_directory",
            "the release root is not a directory",
        );
        return Err(Fail::Error);
    }
    let path = match std::fs::canonicalize(given) {
        Ok(p) => p,
        Err(e) => {
            run.error(&shown, here, "canonicalize", &e);
            return Err(Fail::Error);
        }
    };
    if path.parent().is_none() {
        refuse(
            run,
            &path,
            action,
            "filesystem_root",
            None,
            "refusing to treat / as a release root (no flag overrides this)",
        );
        return Err(Fail::Refused);
    }
    let fd = match nofollow::open_dir(&path) {
        Ok(fd) => fd,
        Err(e) => {
            run.error(&path, here, "open", &e);
            return Err(Fail::Error);
        }
    };
    let stat = match nofollow::stat_fd(fd.as_fd()) {
        Ok(s) => s,
        Err(e) => {
            run.error(&path, here, "stat", &e);
            return Err(Fail::Error);
        }
    };
    if stat.st_dev != meta.dev() || stat.st_ino != meta.ino() {
        run.error_with(
            &path,
            here,
            "open",
            "io.changed",
            "the release root was replaced while it was being opened; nothing was changed",
        );
        return Err(Fail::Error);
    }
    Ok(Root { path, fd, stat })
}
