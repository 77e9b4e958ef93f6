//! Parallel tree walking for tools that only need a set of entries, not an ordered stream.
//!
//! [`par_walk`] reads every directory below a root on the rayon thread pool and hands each
//! directory's entries to a callback, from several threads at once and in no particular order
//! (callers that need determinism sort what they collected). It is built for speed on big trees:
//!
//! * each directory is opened relative to its parent's descriptor (`openat`, `O_NOFOLLOW`), so no
//!   path is resolved twice;
//! * entry types come from `getdents` (`d_type`), so nothing is `stat`ed just to learn its type;
//!   the callback `lstat`s only the entries it needs, relative to the open directory
//!   ([`DirHandle::stat`]), and gets each entry's inode number for free (`d_ino`);
//! * symbolic links are reported as links and never followed; other filesystems are descended
//!   (callers that care compare [`DirHandle::dev`]).
//!
//! Use [`crate::walk`] when the order of entries matters (file lists, copies in name order).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

pub use rustix::fs::Stat;

pub use crate::entry_kind::Kind;

/// One entry of a directory (not the directory itself).
#[derive(Debug, Clone)]
pub struct DirItem {
    /// The entry's name.
    pub name: OsString,
    pub kind: Kind,
    /// Its inode number as the directory lists it (`d_ino`).
    pub ino: u64,
}

/// An open directory being walked.
#[derive(Debug)]
pub struct DirHandle {
    /// The directory stream owns the descriptor: reading it through `Dir::read_from` would open
    /// the directory a second time (`fcntl` + `openat(".")` + `close` per directory).
    dir: Dir,
    /// The device of the directory (`st_dev`); its entries live on it unless they are mount points.
    pub dev: u64,
}

impl DirHandle {
    /// `lstat` of an entry of this directory (never follows a symbolic link).
    pub fn stat(&self, name: &OsStr) -> io::Result<Stat> {
        Ok(rustix::fs::statat(
            self.fd()?,
            name,
            AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    fn fd(&self) -> rustix::io::Result<BorrowedFd<'_>> {
        self.dir.fd()
    }
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Walks `root` in parallel. `visit(rel_dir, dir, items)` is called once per directory read
/// (`rel_dir` relative to `root`, `""` for the root) with all its entries except `.` and `..`;
/// subdirectories are walked after their parent was visited. `on_error(rel, err)` is called for
/// every directory that cannot be opened or read (`rel` relative to `root`).
///
/// A `root` that is not a directory (or a symbolic link) is an error reported through `on_error`
/// with `rel` `""`.
pub fn par_walk<V, E>(root: &Path, visit: V, on_error: E)
where
    V: Fn(&Path, &DirHandle, Vec<DirItem>) + Sync,
    E: Fn(&Path, io::Error) + Sync,
{
    let ctx = Ctx {
        root,
        visit: &visit,
        on_error: &on_error,
    };
    rayon::scope(|scope| walk_dir(scope, &ctx, None, PathBuf::new()));
}

struct Ctx<'a, V, E> {
    root: &'a Path,
    visit: &'a V,
    on_error: &'a E,
}

fn walk_dir<'s, V, E>(
    scope: &rayon::Scope<'s>,
    ctx: &'s Ctx<'s, V, E>,
    parent: Option<Arc<DirHandle>>,
    rel_dir: PathBuf,
) where
    V: Fn(&Path, &DirHandle, Vec<DirItem>) + Sync,
    E: Fn(&Path, io::Error) + Sync,
{
    let opened = match &parent {
        None => rustix::fs::open(ctx.root, DIR_FLAGS, Mode::empty()),
        Some(p) => p.fd().and_then(|fd| {
            rustix::fs::openat(
                fd,
                rel_dir.file_name().unwrap_or_default(),
                DIR_FLAGS,
                Mode::empty(),
            )
        }),
    };
    drop(parent);
    let mut handle = match opened
        .and_then(|fd| rustix::fs::fstat(&fd).map(|st| (fd, st)))
        .and_then(|(fd, st)| Dir::new(fd).map(|dir| (dir, st)))
        .map_err(io::Error::from)
    {
        Ok((dir, st)) => DirHandle {
            dir,
            dev: st.st_dev,
        },
        Err(e) => {
            (ctx.on_error)(&rel_dir, e);
            return;
        }
    };
    let mut items = Vec::new();
    let mut subdirs = Vec::new();
    while let Some(entry) = handle.dir.read() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                (ctx.on_error)(&rel_dir, e.into());
                break;
            }
        };
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::Directory => Kind::Dir,
            FileType::RegularFile => Kind::File,
            FileType::Symlink => Kind::Symlink,
            FileType::Unknown => match handle.stat(name) {
                Ok(st) => Kind::from_mode(st.st_mode),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    (ctx.on_error)(&rel_dir.join(name), e);
                    continue;
                }
            },
            _ => Kind::Other,
        };
        if kind == Kind::Dir {
            subdirs.push(rel_dir.join(name));
        }
        items.push(DirItem {
            name: name.to_os_string(),
            kind,
            ino: entry.ino(),
        });
    }
    (ctx.visit)(&rel_dir, &handle, items);
    if subdirs.is_empty() {
        return;
    }
    let handle = Arc::new(handle);
    for sub in subdirs {
        let parent = Arc::clone(&handle);
        scope.spawn(move |s| walk_dir(s, ctx, Some(parent), sub));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;

    fn collect(root: &Path) -> (Vec<String>, Vec<String>) {
        let seen = Mutex::new(Vec::new());
        let errors = Mutex::new(Vec::new());
        par_walk(
            root,
            |dir, handle, items| {
                let mut seen = seen.lock().unwrap();
                for it in items {
                    let kind = match it.kind {
                        Kind::Dir => "d",
                        Kind::File => "f",
                        Kind::Symlink => "l",
                        Kind::Other => "o",
                    };
                    let st = handle.stat(&it.name).unwrap();
                    assert_eq!(st.st_ino, it.ino);
                    assert_eq!(st.st_dev, handle.dev);
                    seen.push(format!("{kind} {}", dir.join(&it.name).display()));
                }
            },
            |rel, e| {
                errors
                    .lock()
                    .unwrap()
                    .push(format!("{}: {:?}", rel.display(), e.kind()))
            },
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        (seen, errors.into_inner().unwrap())
    }

    #[test]
    fn walks_everything_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::write(root.join("a/b/c/f"), "x").unwrap();
        fs::write(root.join("top"), "y").unwrap();
        std::os::unix::fs::symlink(".", root.join("a/loop")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("dangling")).unwrap();
        let (seen, errors) = collect(root);
        assert_eq!(
            seen,
            [
                "d a",
                "d a/b",
                "d a/b/c",
                "f a/b/c/f",
                "f top",
                "l a/loop",
                "l dangling"
            ]
        );
        assert!(errors.is_empty());
        assert_eq!(
            fs::metadata(root.join("top")).unwrap().ino(),
            fs::symlink_metadata(root.join("top")).unwrap().ino()
        );
    }

    #[test]
    fn missing_root_and_symlink_root_are_reported() {
        let (seen, errors) = collect(Path::new("/nonexistent/rl/parwalk"));
        assert!(seen.is_empty());
        assert_eq!(errors, [": NotFound"]);
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("l")).unwrap();
        let (seen, errors) = collect(&dir.path().join("l"));
        assert!(seen.is_empty());
        assert_eq!(errors.len(), 1);
    }
}
