//! The source and destination trees as directory descriptors, for every change rl-sync makes.
//!
//! A path rebuilt from the root (`dst/a/b/file`) follows whatever `a` and `b` are at that moment:
//! a directory swapped for a symlink during the run would lead every create, rename, chmod and
//! delete below it out of the tree. Here a directory is reached only by `openat` from the root,
//! one component at a time, with `O_NOFOLLOW | O_DIRECTORY`, and every change is made relative to
//! the descriptor of its parent (`openat`, `mkdirat`, `renameat`, `linkat`, `unlinkat`,
//! `fchownat`/`utimensat` with `AT_SYMLINK_NOFOLLOW`). A component that is no longer a directory
//! is an error for that path, never a write somewhere else. Descriptors of recently used
//! directories are kept (a bounded cache: a sync works directory by directory), so the walk from
//! the root is paid once per directory, not per file.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use rl_core::nofollow;

/// Directory descriptors kept at most; past it the cache starts over (each descriptor is one
/// open file: the default limit is 1,024).
const CACHE: usize = 256;

pub struct Tree {
    path: PathBuf,
    /// Opened on first use: the destination root may only be made by the run itself.
    root: std::sync::OnceLock<Arc<OwnedFd>>,
    cache: Mutex<HashMap<PathBuf, Arc<OwnedFd>>>,
}

/// Where an entry is: its parent directory's descriptor and its name, or the root itself.
pub enum Place {
    Root(Arc<OwnedFd>),
    In(Arc<OwnedFd>, OsString),
}

fn swapped(e: io::Error, rel: &Path) -> io::Error {
    // ELOOP: a symlink where a directory was; ENOTDIR: some other non-directory.
    match e.raw_os_error() {
        Some(nix::libc::ELOOP) | Some(nix::libc::ENOTDIR) => io::Error::new(
            e.kind(),
            format!(
                "{} is no longer a directory (replaced by a symlink or a file during the run): nothing below it is touched",
                rel.display()
            ),
        ),
        _ => e,
    }
}

impl Tree {
    /// The tree at `root` (canonical); nothing is opened yet.
    pub fn new(root: &Path) -> Tree {
        Tree {
            path: root.to_path_buf(),
            root: std::sync::OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The root's descriptor, opened with `O_NOFOLLOW` the first time.
    fn root(&self) -> io::Result<Arc<OwnedFd>> {
        if let Some(fd) = self.root.get() {
            return Ok(fd.clone());
        }
        let fd = Arc::new(nofollow::open_dir(&self.path)?);
        Ok(self.root.get_or_init(|| fd).clone())
    }

    /// The descriptor of directory `rel` ("" is the root), reached from the root.
    pub fn dir(&self, rel: &Path) -> io::Result<Arc<OwnedFd>> {
        if rel.as_os_str().is_empty() {
            return self.root();
        }
        if let Some(fd) = self.lock().get(rel) {
            return Ok(fd.clone());
        }
        let parent = self.dir(rel.parent().unwrap_or(Path::new("")))?;
        let name = last(rel)?;
        let fd =
            Arc::new(nofollow::open_dir_at(parent.as_fd(), name).map_err(|e| swapped(e, rel))?);
        let mut cache = self.lock();
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(rel.to_path_buf(), fd.clone());
        Ok(fd)
    }

    /// Where `rel` is.
    pub fn place(&self, rel: &Path) -> io::Result<Place> {
        if rel.as_os_str().is_empty() {
            return Ok(Place::Root(self.root()?));
        }
        let parent = self.dir(rel.parent().unwrap_or(Path::new("")))?;
        Ok(Place::In(parent, last(rel)?.to_owned()))
    }

    /// Forgets the descriptors of `rel` and everything below it (after it was deleted).
    pub fn forget(&self, rel: &Path) {
        self.lock().retain(|k, _| !k.starts_with(rel));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<OwnedFd>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The last component of a relative path (the planner never makes `..` or absolute ones).
fn last(rel: &Path) -> io::Result<&OsStr> {
    match rel.components().next_back() {
        Some(Component::Normal(n)) => Ok(n),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a plain relative path", rel.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_swapped_for_a_symlink_is_an_error_not_a_way_out() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::create_dir(d.path().join("outside")).unwrap();
        let t = Tree::new(&root);
        assert!(t.dir(Path::new("a/b")).is_ok());
        t.forget(Path::new("a"));
        std::fs::rename(root.join("a"), root.join("a.old")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), root.join("a")).unwrap();
        std::fs::create_dir(d.path().join("outside/b")).unwrap();
        let e = t.dir(Path::new("a/b")).unwrap_err();
        assert!(e.to_string().contains("a is no longer a directory"), "{e}");
        assert!(t.place(Path::new("a/x")).is_err());
        assert!(matches!(t.place(Path::new("")).unwrap(), Place::Root(_)));
    }
}
