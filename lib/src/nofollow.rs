//! File-descriptor based tree access that never follows a symbolic link.
//!
//! Path-based `chmod -R` or a walk that re-opens `root/a/b` by name can be led out of the tree when
//! a directory is swapped for a symlink between the check and the change. Here every directory is
//! opened relative to its parent's descriptor with `O_NOFOLLOW | O_DIRECTORY`, every entry is
//! examined with `fstatat(…, AT_SYMLINK_NOFOLLOW)` and changed with
//! `fchmodat(…, AT_SYMLINK_NOFOLLOW)`, so a symlink is reported as a symlink and never entered or
//! changed. Entries are visited in byte order of their names, so output is deterministic.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, FileStat, Mode};

fn io_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from(e)
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

pub use crate::entry_kind::Kind;

/// Opens a directory by path without following a symlink in its last component
/// (`O_DIRECTORY | O_NOFOLLOW`): a symlink or a non-directory is an error (`ENOTDIR` or `ELOOP`).
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(path, DIR_FLAGS, Mode::empty()).map_err(io_err)
}

/// Opens the directory `name` inside `dir` without following a symlink.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    nix::fcntl::openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(io_err)
}

/// `fstat` of an open descriptor.
pub fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<FileStat> {
    nix::sys::stat::fstat(fd).map_err(io_err)
}

/// `lstat` of `name` inside `dir`.
pub fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<FileStat> {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io_err)
}

/// Sets the permission bits of an open descriptor.
pub fn chmod_fd(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(io_err)
}

/// Sets the permission bits of `name` inside `dir` with `AT_SYMLINK_NOFOLLOW`: a symlink is never
/// followed (the call fails on it rather than changing the link's target).
pub fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    nix::sys::stat::fchmodat(
        dir,
        name,
        Mode::from_bits_truncate(mode),
        FchmodatFlags::NoFollowSymlink,
    )
    .map_err(io_err)
}

/// Changes the group of an open descriptor.
pub fn chgrp_fd(fd: BorrowedFd<'_>, gid: u32) -> io::Result<()> {
    nix::unistd::fchown(fd, None, Some(nix::unistd::Gid::from_raw(gid))).map_err(io_err)
}

/// The names in an open directory, without `.` and `..`, sorted by bytes.
pub fn names(dir: &OwnedFd) -> io::Result<Vec<OsString>> {
    let mut d = Dir::from_fd(dir.try_clone()?).map_err(io_err)?;
    let mut out = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_owned());
        }
    }
    out.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(out)
}

/// One entry met by [`walk`].
pub struct Entry<'a> {
    /// The directory holding the entry (use it with [`chmod_at`]).
    pub parent: BorrowedFd<'a>,
    /// The entry's name in `parent`.
    pub name: &'a OsStr,
    /// Path relative to the walk's root (`a/b`).
    pub rel: &'a Path,
    /// The entry's lstat.
    pub stat: FileStat,
    pub kind: Kind,
}

impl Entry<'_> {
    /// The permission bits (`0o7777` part of the mode).
    pub fn perm(&self) -> u32 {
        self.stat.st_mode & 0o7777
    }
}

/// Walks everything below the open directory `root` in pre-order (a directory before its
/// contents), never following a symlink. `visit` sees each entry; `on_error` gets the relative
/// path, the operation (`stat`, `open`, `read_dir`) and the error, and the walk goes on.
pub fn walk(
    root: &OwnedFd,
    visit: &mut dyn FnMut(&Entry<'_>),
    on_error: &mut dyn FnMut(&Path, &str, io::Error),
) {
    walk_dir(root, Path::new(""), visit, on_error);
}

fn walk_dir(
    dir: &OwnedFd,
    rel: &Path,
    visit: &mut dyn FnMut(&Entry<'_>),
    on_error: &mut dyn FnMut(&Path, &str, io::Error),
) {
    let names = match names(dir) {
        Ok(n) => n,
        Err(e) => return on_error(rel, "read_dir", e),
    };
    for name in names {
        let child_rel: PathBuf = rel.join(&name);
        let stat = match stat_at(dir.as_fd(), &name) {
            Ok(s) => s,
            Err(e) => {
                on_error(&child_rel, "stat", e);
                continue;
            }
        };
        let kind = Kind::from_mode(stat.st_mode);
        visit(&Entry {
            parent: dir.as_fd(),
            name: &name,
            rel: &child_rel,
            stat,
            kind,
        });
        if kind == Kind::Dir {
            match open_dir_at(dir.as_fd(), &name) {
                Ok(sub) => walk_dir(&sub, &child_rel, visit, on_error),
                Err(e) => on_error(&child_rel, "open", e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn walk_is_sorted_and_does_not_follow_links() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), "x").unwrap();
        fs::write(root.join("a"), "x").unwrap();
        symlink(&outside, root.join("link")).unwrap();
        let fd = open_dir(&root).unwrap();
        let mut seen = Vec::new();
        walk(
            &fd,
            &mut |e| seen.push((e.rel.to_string_lossy().into_owned(), e.kind)),
            &mut |p, op, e| panic!("{p:?} {op} {e}"),
        );
        assert_eq!(
            seen,
            vec![
                ("a".into(), Kind::File),
                ("b".into(), Kind::Dir),
                ("b/c".into(), Kind::Dir),
                ("link".into(), Kind::Symlink),
            ]
        );
    }

    #[test]
    fn open_dir_refuses_symlink_and_file() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f"), "").unwrap();
        symlink(t.path(), t.path().join("l")).unwrap();
        // Linux says ENOTDIR (O_DIRECTORY is checked first) or ELOOP; either way it is refused.
        assert!(open_dir(&t.path().join("l")).is_err());
        assert!(open_dir(&t.path().join("f")).is_err());
    }

    #[test]
    fn chmod_at_changes_entry_not_link_target() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("target"), "").unwrap();
        fs::set_permissions(t.path().join("target"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(t.path().join("f"), "").unwrap();
        symlink(t.path().join("target"), t.path().join("l")).unwrap();
        let fd = open_dir(t.path()).unwrap();
        chmod_at(fd.as_fd(), OsStr::new("f"), 0o640).unwrap();
        let _ = chmod_at(fd.as_fd(), OsStr::new("l"), 0o644);
        let mode = |n: &str| fs::metadata(t.path().join(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("f"), 0o640);
        assert_eq!(mode("target"), 0o600);
    }
}
