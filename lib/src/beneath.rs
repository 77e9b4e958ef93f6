//! A tree below a root, reached only through directory descriptors: the one way every rl-* tool
//! changes a tree (rl-sync's copies, rl-compose prepare's moves, the CHECKSUM files, the lists).
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

use nix::fcntl::RenameFlags;
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;

use crate::fsx::{self, AtomicFile, WriteOutcome};
use crate::nofollow;

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

    /// The tree at `root`, its root opened now (so a later swap of `root` itself, or of a
    /// directory above it, changes nothing for this tree).
    pub fn open(root: &Path) -> io::Result<Tree> {
        let t = Tree::new(root);
        t.root()?;
        Ok(t)
    }

    /// The root's path as given (for messages and records).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root's descriptor, opened with `O_NOFOLLOW` the first time.
    pub fn root(&self) -> io::Result<Arc<OwnedFd>> {
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
        _ => Err(not_plain(rel)),
    }
}

/// The changes tools make, each one relative to the descriptor of its parent directory.
impl Tree {
    /// The open parent directory of `rel` and its last component (`rel` is not the root).
    pub fn parent_of(&self, rel: &Path) -> io::Result<(Arc<OwnedFd>, OsString)> {
        match self.place(rel)? {
            Place::In(dir, name) => Ok((dir, name)),
            Place::Root(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the root of the tree itself cannot be replaced",
            )),
        }
    }

    /// Makes directory `rel` and every missing one above it (mode 0755 less the umask), as
    /// `mkdir -p` would but never through a symlink; returns its descriptor.
    pub fn mkdir_all(&self, rel: &Path) -> io::Result<Arc<OwnedFd>> {
        let mut at = PathBuf::new();
        for c in rel.components() {
            let Component::Normal(name) = c else {
                return Err(not_plain(rel));
            };
            let parent = self.dir(&at)?;
            at.push(name);
            match nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.dir(rel)
    }

    /// Renames `from` to `to` unless `to` exists (`renameat2(RENAME_NOREPLACE)`, with a
    /// check-then-rename fallback on filesystems without it).
    pub fn rename_noreplace(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fdir, fname) = self.parent_of(from)?;
        let (tdir, tname) = self.parent_of(to)?;
        let (f, t) = (fname.as_os_str(), tname.as_os_str());
        let res = nix::fcntl::renameat2(
            fdir.as_fd(),
            f,
            tdir.as_fd(),
            t,
            RenameFlags::RENAME_NOREPLACE,
        );
        match res {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOSYS) => {
                if nofollow::stat_at(tdir.as_fd(), t).is_ok() {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                nix::fcntl::renameat(fdir.as_fd(), f, tdir.as_fd(), t)?;
            }
            Err(e) => return Err(e.into()),
        }
        // Descriptors cached under either name now stand for other paths.
        self.forget(from);
        self.forget(to);
        Ok(())
    }

    /// Removes the non-directory `rel`.
    pub fn unlink(&self, rel: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir)?;
        Ok(())
    }

    /// Removes the empty directory `rel`.
    pub fn rmdir(&self, rel: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        self.forget(rel);
        nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::RemoveDir)?;
        Ok(())
    }

    /// Removes `rel` and everything below it (`rm -rf`), entering only real directories: a
    /// symlink below it is removed as a link, never followed.
    pub fn remove_tree(&self, rel: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        let st = nofollow::stat_at(dir.as_fd(), &name)?;
        if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFDIR {
            return self.unlink(rel);
        }
        let fd = self.dir(rel)?;
        for child in nofollow::names(&fd)? {
            self.remove_tree(&rel.join(child))?;
        }
        self.rmdir(rel)
    }

    /// Makes `rel` a symlink to `target` atomically, replacing whatever non-directory was there.
    pub fn replace_symlink(&self, rel: &Path, target: &Path) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel)?;
        fsx::replace_symlink_at(&dir, &name, target)
    }

    /// Writes `bytes` to `rel` atomically unless it already holds them ([`fsx::write_if_changed`]).
    pub fn write_if_changed(&self, rel: &Path, bytes: &[u8]) -> io::Result<WriteOutcome> {
        let (dir, name) = self.parent_of(rel)?;
        fsx::write_if_changed_at(&dir, &name, bytes)
    }

    /// Starts an atomic replacement of `rel`.
    pub fn atomic_file(&self, rel: &Path) -> io::Result<AtomicFile> {
        let (dir, name) = self.parent_of(rel)?;
        AtomicFile::create_at(dir, &name)
    }

    /// The bytes of the regular file `rel` (`None`: missing, or not a regular file; never
    /// through a symlink).
    pub fn read_regular(&self, rel: &Path) -> io::Result<Option<Vec<u8>>> {
        let (dir, name) = self.parent_of(rel)?;
        fsx::read_regular_at(&dir, &name)
    }
}

/// Opens the directory `rel` below the open directory `dir`, one component at a time with
/// `O_NOFOLLOW`: a symlink anywhere on the way is an error, never a way out.
pub fn open_dir_below(dir: &OwnedFd, rel: &Path) -> io::Result<OwnedFd> {
    let mut fd = dir.try_clone()?;
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(name) => {
                fd = nofollow::open_dir_at(fd.as_fd(), name).map_err(|e| swapped(e, rel))?
            }
            _ => return Err(not_plain(rel)),
        }
    }
    Ok(fd)
}

fn not_plain(rel: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is not a plain relative path", rel.display()),
    )
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

    #[test]
    fn changes_below_a_swapped_directory_fail_and_touch_nothing_outside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f"), "keep").unwrap();
        let t = Tree::open(&root).unwrap();
        // Swapped before the first use of `a`.
        std::fs::rename(root.join("a"), root.join("a.old")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("a")).unwrap();
        let a = Path::new("a");
        assert!(t.write_if_changed(&a.join("f"), b"new").is_err());
        assert!(t.atomic_file(&a.join("g")).is_err());
        assert!(t.unlink(&a.join("f")).is_err());
        assert!(t.remove_tree(&a.join("f")).is_err());
        assert!(t.replace_symlink(&a.join("f"), Path::new("x")).is_err());
        assert!(
            t.rename_noreplace(&a.join("f"), Path::new("moved"))
                .is_err()
        );
        assert!(t.mkdir_all(&a.join("new/dir")).is_err());
        assert!(t.read_regular(&a.join("f")).is_err());
        assert_eq!(std::fs::read(outside.join("f")).unwrap(), b"keep");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
        // The symlink itself is an entry of the tree: removed as a link, never followed.
        t.remove_tree(a).unwrap();
        assert!(outside.join("f").exists());
    }

    #[test]
    fn operations_work_through_descriptors() {
        let d = tempfile::tempdir().unwrap();
        let t = Tree::open(d.path()).unwrap();
        t.mkdir_all(Path::new("x/y/z")).unwrap();
        assert_eq!(
            t.write_if_changed(Path::new("x/y/f"), b"1").unwrap(),
            WriteOutcome::Created
        );
        assert_eq!(
            t.write_if_changed(Path::new("x/y/f"), b"1").unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(t.read_regular(Path::new("x/y/f")).unwrap().unwrap(), b"1");
        t.replace_symlink(Path::new("x/l"), Path::new("y")).unwrap();
        assert!(
            t.read_regular(Path::new("x/l")).unwrap().is_none(),
            "a link is not read"
        );
        t.rename_noreplace(Path::new("x/y"), Path::new("w"))
            .unwrap();
        let e = t
            .rename_noreplace(Path::new("w"), Path::new("x"))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(d.path().join("w/f")).unwrap(), b"1");
        t.remove_tree(Path::new("x")).unwrap();
        t.unlink(Path::new("w/f")).unwrap();
        t.rmdir(Path::new("w/z")).unwrap();
        t.rmdir(Path::new("w")).unwrap();
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
