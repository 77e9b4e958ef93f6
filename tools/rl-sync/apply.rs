//! Carrying out a plan: every file, link and node is made under a temporary name in its
//! destination directory, given its owner, permissions and mtime, then renamed into place.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, FileTimes, Permissions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags};
use rayon::prelude::*;
use rl_core::exclude::Filter;
use rl_core::fsx::temp_name_for;
use rl_core::nofollow;
use rl_core::{Record, Run};

use crate::plan::{Action, DirInfo, Meta, Op, Owners, Plan, Ty, itemize_string, ty_of_mode};
use rl_core::beneath::{Place, Tree};

/// The order changes are made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// New and changed files first, then repository metadata, then deletions.
    Publish,
    /// rsync's order: one directory after the other, deletions before each directory's files.
    Rsync,
}

#[derive(Default)]
pub struct Counters {
    pub mkdir: AtomicU64,
    pub copy: AtomicU64,
    pub update: AtomicU64,
    pub link: AtomicU64,
    pub symlink: AtomicU64,
    pub mknod: AtomicU64,
    pub meta: AtomicU64,
    pub delete: AtomicU64,
    pub bytes: AtomicU64,
    /// Metadata changes held back because an earlier file of the run failed.
    pub held: AtomicU64,
}

pub struct Exec<'a> {
    pub run: &'a Run,
    pub dst_root: PathBuf,
    pub filter: &'a Filter,
    pub owners: Owners,
    pub delete: bool,
    pub dry_run: bool,
    pub itemize: bool,
    pub fsync: bool,
    pub root: bool,
    pub counters: Counters,
    /// The trees as descriptors: every change goes through them (see `tree`).
    pub src: Tree,
    pub dst: Tree,
    /// Paths that failed in this run (scan or change), for holding back the metadata over them.
    pub failed: std::sync::Mutex<Vec<PathBuf>>,
    /// Why no deletion may be made (the deletion guard), when one stopped them.
    pub deletions_stopped: std::sync::OnceLock<crate::deletion_guard::Stop>,
}

/// Removes a temporary (a name in a directory we hold open) on drop unless disarmed.
struct TempGuard(Option<(Arc<OwnedFd>, OsString)>);

impl TempGuard {
    /// The temporary was renamed into place: nothing to remove.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some((dir, name)) = self.0.take() {
            let _ =
                nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

fn timespec(m: &Meta) -> TimeSpec {
    TimeSpec::new(m.mtime(), m.mtime_nsec())
}

fn nix_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from(e)
}

/// The temporary name beside `name` (`.NAME.rl-tmp.PID.N`).
fn temp_name(name: &OsStr) -> OsString {
    temp_name_for(name)
}

/// Sets owner, permissions (not on symlinks) and mtime of the entry at `place`, in that order,
/// never following a symlink.
fn set_attrs_at(
    place: &Place,
    owner: (Option<u32>, Option<u32>),
    mode: Option<u32>,
    m: &Meta,
) -> io::Result<()> {
    let (uid, gid) = (owner.0.map(Uid::from_raw), owner.1.map(Gid::from_raw));
    match place {
        Place::Root(fd) => {
            if uid.is_some() || gid.is_some() {
                nix::unistd::fchown(fd.as_fd(), uid, gid).map_err(nix_err)?;
            }
            if let Some(mode) = mode {
                nofollow::chmod_fd(fd.as_fd(), mode)?;
            }
            nix::sys::stat::futimens(fd.as_fd(), &TimeSpec::UTIME_OMIT, &timespec(m))
                .map_err(nix_err)
        }
        Place::In(dir, name) => {
            if uid.is_some() || gid.is_some() {
                nix::unistd::fchownat(
                    dir.as_fd(),
                    name.as_os_str(),
                    uid,
                    gid,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(nix_err)?;
            }
            if let Some(mode) = mode {
                nofollow::chmod_at(dir.as_fd(), name, mode)?;
            }
            set_mtime_at(dir.as_fd(), name, m)
        }
    }
}

fn set_mtime_at(dir: BorrowedFd<'_>, name: &OsStr, m: &Meta) -> io::Result<()> {
    nix::sys::stat::utimensat(
        dir,
        name,
        &TimeSpec::UTIME_OMIT,
        &timespec(m),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(nix_err)
}

/// The entries of an open directory with their types (`d_type`, else `fstatat`), without `.`/`..`.
fn list(dir: &OwnedFd) -> io::Result<Vec<(OsString, Ty)>> {
    let mut d = nix::dir::Dir::from_fd(dir.try_clone()?).map_err(nix_err)?;
    let mut out = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(nix_err)?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name).to_owned();
        let ty = match entry.file_type() {
            Some(nix::dir::Type::Directory) => Ty::Dir,
            Some(nix::dir::Type::File) => Ty::File,
            Some(nix::dir::Type::Symlink) => Ty::Symlink,
            Some(_) => Ty::Special,
            None => ty_of_mode(nofollow::stat_at(dir.as_fd(), &name)?.st_mode),
        };
        out.push((name, ty));
    }
    Ok(out)
}

/// The parent descriptor and name of a non-root place (the planner never changes the root
/// through these paths).
fn entry_of(place: &Place) -> io::Result<(Arc<OwnedFd>, OsString)> {
    match place {
        Place::In(dir, name) => Ok((dir.clone(), name.clone())),
        Place::Root(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the root of the tree cannot be replaced",
        )),
    }
}

fn is_sparse(m: &Meta) -> bool {
    m.len() > 0 && m.blocks() * 512 < m.len()
}

/// Copies only the data regions of a sparse file, so holes stay holes.
fn copy_sparse(inp: &File, out: &mut File, len: u64) -> io::Result<u64> {
    use nix::unistd::{Whence, lseek};
    let mut off: i64 = 0;
    let mut total = 0u64;
    let mut src = inp;
    while (off as u64) < len {
        let data = match lseek(inp, off, Whence::SeekData) {
            Ok(d) => d,
            Err(nix::errno::Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = lseek(inp, data, Whence::SeekHole).map_err(io::Error::from)?;
        src.seek(SeekFrom::Start(data as u64))?;
        out.seek(SeekFrom::Start(data as u64))?;
        total += io::copy(&mut src.take((hole - data) as u64), out)?;
        off = hole;
    }
    out.set_len(len)?;
    Ok(total)
}

impl Exec<'_> {
    fn record(&self, event: &str, rel: &Path) -> Record {
        let mut r = Record::new(event).at(&self.dst_root, rel);
        if self.dry_run {
            r.set("dry_run", true);
        }
        r
    }

    fn emit_action(&self, a: &Action, bytes: u64) {
        let (event, counter) = match &a.op {
            Op::Mkdir => ("mkdir", &self.counters.mkdir),
            Op::Copy { update: false } => ("copy", &self.counters.copy),
            Op::Copy { update: true } => ("update", &self.counters.update),
            Op::Link { .. } => ("link", &self.counters.link),
            Op::Symlink { .. } => ("symlink", &self.counters.symlink),
            Op::Mknod { .. } => ("mknod", &self.counters.mknod),
            Op::Meta => ("meta", &self.counters.meta),
            Op::Delete | Op::StaleTemp => ("delete", &self.counters.delete),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut r = self.record(event, &a.rel);
        match &a.op {
            Op::Copy { .. } => {
                self.counters.bytes.fetch_add(bytes, Ordering::Relaxed);
                r.set("size", a.src.as_ref().map_or(bytes, |m| m.len()));
            }
            Op::Link { leader } => r = r.with_path("target", leader),
            Op::Symlink { target, .. } => r = r.with_path("target", target),
            Op::StaleTemp => r.set("reason", "stale temporary"),
            _ => {}
        }
        if !a.changed.is_empty() {
            r.set("changed", a.changed.clone());
        }
        if self.itemize {
            r.set("itemize", a.itemize());
        }
        self.run.emit(&r);
    }

    /// Carries out one action and writes its record(s); errors become error records.
    pub fn act(&self, a: &Action) {
        if let Op::Delete | Op::StaleTemp = a.op {
            // A stale temporary is only ever planned for a regular file: unlink it, never a subtree.
            let ty = match a.op {
                Op::StaleTemp => Ty::File,
                _ => a.dst_ty.unwrap_or(Ty::File),
            };
            if let Err(e) = self.delete_tree(&a.rel, ty, matches!(a.op, Op::StaleTemp)) {
                self.run.error(&self.dst_root, &a.rel, "delete", &e);
            }
            return;
        }
        if self.dry_run {
            if !matches!(a.op, Op::Mkdir | Op::Meta)
                && let Err(e) = self.make_way(&a.rel, a.dst_ty)
            {
                self.run.error(&self.dst_root, &a.rel, "delete", &e);
                return;
            }
            let bytes = a.src.as_ref().map_or(0, |m| m.len());
            self.emit_action(a, bytes);
            return;
        }
        match self.do_act(a) {
            Ok(bytes) => self.emit_action(a, bytes),
            Err((op, e)) => {
                self.failed(&a.rel);
                self.run.error(&self.dst_root, &a.rel, op, &e);
            }
        }
    }

    fn do_act(&self, a: &Action) -> Result<u64, (&'static str, io::Error)> {
        let src = a
            .src
            .as_ref()
            .expect("source metadata for non-delete actions");
        if let Op::Mkdir = a.op {
            self.mkdir(&a.rel, src, a.dst_ty)
                .map_err(|e| ("mkdir", e))?;
            return Ok(0);
        }
        if let Op::Copy { .. } = a.op {
            return self.copy_file(a, src);
        }
        let place = self.dst.place(&a.rel).map_err(|e| ("open-dir", e))?;
        if let Op::Meta = a.op {
            self.set_attrs(&place, src, src.ty())
                .map_err(|e| ("attrs", e))?;
            return Ok(0);
        }
        let (dir, name) = entry_of(&place).map_err(|e| ("open-dir", e))?;
        let tmp = temp_name(&name);
        match &a.op {
            Op::Link { leader } => {
                let (ldir, lname) = entry_of(&self.dst.place(leader).map_err(|e| ("open-dir", e))?)
                    .map_err(|e| ("link", e))?;
                nix::unistd::linkat(
                    ldir.as_fd(),
                    lname.as_os_str(),
                    dir.as_fd(),
                    tmp.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| ("link", nix_err(e)))?;
            }
            Op::Symlink { target, .. } => {
                nix::unistd::symlinkat(target.as_path(), dir.as_fd(), tmp.as_os_str())
                    .map_err(|e| ("symlink", nix_err(e)))?;
            }
            Op::Mknod { .. } => {
                nix::sys::stat::mknodat(
                    dir.as_fd(),
                    tmp.as_os_str(),
                    SFlag::from_bits_truncate(src.mode() & libc_ifmt()),
                    Mode::from_bits_truncate(0o600),
                    src.rdev(),
                )
                .map_err(|e| ("mknod", nix_err(e)))?;
            }
            Op::Mkdir | Op::Copy { .. } | Op::Meta | Op::Delete | Op::StaleTemp => {
                unreachable!("handled above or by act")
            }
        }
        let guard = TempGuard(Some((dir.clone(), tmp.clone())));
        let temp = Place::In(dir.clone(), tmp.clone());
        match &a.op {
            Op::Symlink { .. } => self.set_attrs(&temp, src, Ty::Symlink),
            Op::Mknod { .. } => self.set_attrs(&temp, src, Ty::Special),
            _ => Ok(()),
        }
        .map_err(|e| ("attrs", e))?;
        self.make_way(&a.rel, a.dst_ty).map_err(|e| ("delete", e))?;
        nix::fcntl::renameat(dir.as_fd(), tmp.as_os_str(), dir.as_fd(), name.as_os_str())
            .map_err(|e| ("rename", nix_err(e)))?;
        // A hard link renamed over a name of the same inode leaves the temporary (rename is a
        // no-op then): the guard removes it; otherwise the temporary is gone.
        if matches!(a.op, Op::Link { .. }) {
            drop(guard);
        } else {
            guard.disarm();
        }
        Ok(0)
    }

    fn mkdir(&self, rel: &Path, src: &Meta, dst_ty: Option<Ty>) -> io::Result<()> {
        let mut mode = src.mode() & 0o7777;
        // Final permissions now (readers see the directory as it will be), plus owner write
        // access when not root so the directory can be filled; the final pass sets it exactly.
        if !self.root {
            mode |= 0o700;
        }
        let fd = if rel.as_os_str().is_empty() {
            // The destination root itself, named by the operator.
            match fs::create_dir(&self.dst_root) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            self.dst.dir(rel)?
        } else {
            let (dir, name) = entry_of(&self.dst.place(rel)?)?;
            if dst_ty.is_some_and(|t| t != Ty::Dir) {
                nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir)
                    .map_err(nix_err)?;
            }
            match nix::sys::stat::mkdirat(
                dir.as_fd(),
                name.as_os_str(),
                Mode::from_bits_truncate(0o700),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(nix_err(e)),
            }
            // Opened with O_NOFOLLOW: an existing name that is not a directory fails here.
            self.dst.dir(rel)?
        };
        let (uid, gid) = self.owners.want(src);
        if uid.is_some() || gid.is_some() {
            nix::unistd::fchown(fd.as_fd(), uid.map(Uid::from_raw), gid.map(Gid::from_raw))
                .map_err(nix_err)?;
        }
        nofollow::chmod_fd(fd.as_fd(), mode)
    }

    /// Opens the source file of `rel` through the source tree's descriptors, without following a
    /// symlink anywhere: a file swapped for a symlink after the scan is refused, never published.
    fn open_source(&self, rel: &Path) -> io::Result<File> {
        let (dir, name) = entry_of(&self.src.place(rel)?)?;
        let fd = nix::fcntl::openat(
            dir.as_fd(),
            name.as_os_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            nix::errno::Errno::ELOOP => io::Error::new(
                io::ErrorKind::InvalidData,
                "the source is a symlink now (it was a file when scanned): not copied",
            ),
            e => nix_err(e),
        })?;
        let file = File::from(fd);
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the source is no longer a regular file (it was when scanned): not copied",
            ));
        }
        Ok(file)
    }

    fn copy_file(&self, a: &Action, src: &Meta) -> Result<u64, (&'static str, io::Error)> {
        let mut inp = self.open_source(&a.rel).map_err(|e| ("open", e))?;
        let place = self.dst.place(&a.rel).map_err(|e| ("open-dir", e))?;
        let (dir, name) = entry_of(&place).map_err(|e| ("create", e))?;
        let tmp = temp_name(&name);
        let fd = nix::fcntl::openat(
            dir.as_fd(),
            tmp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| ("create", nix_err(e)))?;
        let mut out = File::from(fd);
        let guard = TempGuard(Some((dir.clone(), tmp.clone())));
        let n = if is_sparse(src) {
            copy_sparse(&inp, &mut out, src.len())
        } else {
            io::copy(&mut inp, &mut out)
        }
        .map_err(|e| ("copy", e))?;
        let (uid, gid) = self.owners.want(src);
        let attrs = || -> io::Result<()> {
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::fchown(&out, uid, gid)?;
            }
            out.set_permissions(Permissions::from_mode(src.mode() & 0o7777))?;
            out.set_times(FileTimes::new().set_modified(src.modified()))?;
            if self.fsync {
                out.sync_all()?;
            }
            Ok(())
        };
        attrs().map_err(|e| ("attrs", e))?;
        drop(out);
        self.make_way(&a.rel, a.dst_ty).map_err(|e| ("delete", e))?;
        nix::fcntl::renameat(dir.as_fd(), tmp.as_os_str(), dir.as_fd(), name.as_os_str())
            .map_err(|e| ("rename", nix_err(e)))?;
        guard.disarm();
        Ok(n)
    }

    /// Sets owner, permissions (not on symlinks) and mtime of an existing entry, in that order.
    fn set_attrs(&self, place: &Place, src: &Meta, ty: Ty) -> io::Result<()> {
        let mode = (ty != Ty::Symlink).then_some(src.mode() & 0o7777);
        set_attrs_at(place, self.owners.want(src), mode, src)
    }

    /// Removes a directory standing where a non-directory must go: its whole unprotected
    /// subtree with `--delete`, only an empty directory without (as rsync does).
    fn make_way(&self, rel: &Path, dst_ty: Option<Ty>) -> io::Result<()> {
        if dst_ty != Some(Ty::Dir) {
            return Ok(());
        }
        if self.dry_run && !self.delete {
            return Ok(());
        }
        if self.delete {
            if !self.delete_tree(rel, Ty::Dir, false)? {
                return Err(io::Error::new(
                    io::ErrorKind::DirectoryNotEmpty,
                    "cannot delete non-empty directory (it holds excluded entries)",
                ));
            }
            Ok(())
        } else {
            let (dir, name) = entry_of(&self.dst.place(rel)?)?;
            self.dst.forget(rel);
            nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::RemoveDir).map_err(
                |e| {
                    if e == nix::errno::Errno::ENOTEMPTY {
                        io::Error::new(
                            io::ErrorKind::DirectoryNotEmpty,
                            "cannot delete non-empty directory to make way for a file (use --delete)",
                        )
                    } else {
                        nix_err(e)
                    }
                },
            )
        }
    }

    /// Deletes `rel` and, for a directory, its contents first (excluded entries are protected
    /// and keep their directory). Returns whether `rel` is gone. Every entry is reached through
    /// its parent's descriptor: a directory swapped for a symlink is never entered.
    fn delete_tree(&self, rel: &Path, ty: Ty, stale: bool) -> io::Result<bool> {
        let (dir, name) = entry_of(&self.dst.place(rel)?)?;
        if ty == Ty::Dir {
            let fd = self.dst.dir(rel)?;
            let mut names = list(&fd)?;
            names.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
            let mut all_gone = true;
            for (cname, cty) in names {
                let crel = rel.join(&cname);
                if !stale && self.filter.is_excluded(&crel, cty == Ty::Dir) {
                    all_gone = false;
                    continue;
                }
                match self.delete_tree(&crel, cty, stale) {
                    Ok(gone) => all_gone &= gone,
                    Err(e) => {
                        self.run.error(&self.dst_root, &crel, "delete", &e);
                        all_gone = false;
                    }
                }
            }
            if !all_gone {
                return Ok(false);
            }
            self.dst.forget(rel);
            if !self.dry_run {
                nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::RemoveDir)
                    .map_err(nix_err)?;
            }
        } else if !self.dry_run {
            nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir)
                .map_err(nix_err)?;
        }
        self.counters.delete.fetch_add(1, Ordering::Relaxed);
        let mut r = self.record("delete", rel);
        if stale {
            r.set("reason", "stale temporary");
        }
        if self.itemize {
            r.set("itemize", "*deleting  ");
        }
        self.run.emit(&r);
        Ok(true)
    }

    /// The mode of the destination root when it is staged (no access for others: `rl-bitflip
    /// stage`) and the source's root would open it: a sync keeps it (only `rl-bitflip publish`
    /// opens a release), so a fix pushed during the embargo does not publish the release.
    /// See `staged.rs`: its staging record says staged, or it lacks o+r/o+x the source has.
    fn staged_root_mode(&self, src: &Meta) -> Option<crate::staged::KeptMode> {
        let fd = self.dst.dir(Path::new("")).ok()?;
        crate::staged::kept_root_mode(fd.as_fd(), &self.dst_root, src)
    }

    /// Sets the final owner, permissions and mtime of directories, deepest first.
    fn finish_dirs(&self, dirs: &mut [&DirInfo]) {
        dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        for d in dirs.iter() {
            let kept = if d.rel.as_os_str().is_empty() {
                self.staged_root_mode(&d.src)
            } else {
                None
            };
            let changed: Vec<&str> = d
                .changed
                .iter()
                .copied()
                .filter(|c| kept.is_none() || *c != "perms")
                .collect();
            if let Some(k) = kept {
                self.keep_staged_root(d, k);
            }
            let place = match self.dst.place(&d.rel) {
                Ok(p) => p,
                Err(e) => {
                    if !self.dry_run {
                        self.run.error(&self.dst_root, &d.rel, "attrs", &e);
                    }
                    continue;
                }
            };
            let mode = kept.map_or(d.src.mode() & 0o7777, |k| k.mode);
            if !changed.is_empty() {
                self.counters.meta.fetch_add(1, Ordering::Relaxed);
                let mut r = self.record("meta", &d.rel).with("changed", changed.clone());
                if self.itemize {
                    r.set("itemize", itemize_string('.', 'd', false, &changed));
                }
                if !self.dry_run
                    && let Err(e) =
                        set_attrs_at(&place, self.owners.want(&d.src), Some(mode), &d.src)
                {
                    self.run.error(&self.dst_root, &d.rel, "attrs", &e);
                    continue;
                }
                self.run.emit(&r);
            } else if !self.dry_run {
                // An existing directory whose owner and mode already match only needs its
                // mtime back (entries renamed into it moved it); a new one gets everything
                // (it was made writable for filling).
                let done = if d.new {
                    set_attrs_at(&place, self.owners.want(&d.src), Some(mode), &d.src)
                } else {
                    set_attrs_at(&place, (None, None), None, &d.src)
                };
                if let Err(e) = done {
                    self.run.error(&self.dst_root, &d.rel, "attrs", &e);
                }
            }
        }
    }

    /// Says that the staged root keeps its mode (a `kept` record) and why, on stderr too.
    fn keep_staged_root(&self, d: &DirInfo, k: crate::staged::KeptMode) {
        let mode = k.mode;
        let r = self
            .record("kept", &d.rel)
            .with("mode", format!("{mode:04o}"))
            .with("source_mode", format!("{:04o}", d.src.mode() & 0o7777))
            .with(
                "reason",
                "staged release root: only rl-bitflip publish opens it",
            )
            .with("cause", k.reason);
        self.run.emit(&r);
        self.run.warn(&format!(
            "{}: staged (mode {mode:04o}): its mode is kept; rl-bitflip publish opens it",
            self.dst_root.display()
        ));
    }

    /// Makes no deletion in this run, for the reason given.
    pub fn refuse_deletions(&self, stop: crate::deletion_guard::Stop) {
        let _ = self.deletions_stopped.set(stop);
    }

    /// Notes a path that failed in this run.
    pub fn failed(&self, rel: &Path) {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rel.to_path_buf());
    }

    /// Whether a metadata change waits: a path below what it describes failed in this run, so
    /// publishing it could name a file that is missing or old (the old metadata stays).
    fn is_held(&self, a: &Action) -> bool {
        if a.class == 0 || matches!(a.op, Op::Delete | Op::StaleTemp | Op::Mkdir) {
            return false;
        }
        let scope = metadata_scope(&a.rel, a.class);
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|f| f.starts_with(scope))
    }

    /// Writes a `held` record for every change of `class` that waits (none is made).
    fn hold(&self, plan: &Plan, class: u8) {
        let held: Vec<&Action> = plan
            .actions
            .iter()
            .filter(|a| a.class == class && self.is_held(a))
            .collect();
        if held.is_empty() {
            return;
        }
        if self
            .counters
            .held
            .fetch_add(held.len() as u64, Ordering::Relaxed)
            == 0
        {
            self.run.warn(
                "a file failed below repository metadata: that metadata was held back and the old one stays (fix the errors and run again)",
            );
        }
        for a in held {
            let r = self
                .record("held", &a.rel)
                .with("reason", "a file it describes failed in this run");
            self.run.emit(&r);
        }
    }

    /// Runs the whole plan in the chosen order.
    pub fn execute(&self, plan: &Plan, order: Order, pool: &rayon::ThreadPool) {
        let mut dirs = plan.dirs_to_finish();
        match order {
            Order::Publish => {
                for a in plan.actions.iter().filter(|a| matches!(a.op, Op::Mkdir)) {
                    self.act(a);
                }
                for class in 0..=5u8 {
                    // Metadata names the files of the classes before it: after a failure there,
                    // publishing it would name a file that is missing or old. The old metadata
                    // stays; the next run, after the cause is fixed, publishes it.
                    if class > 0 {
                        self.hold(plan, class);
                    }
                    let first: Vec<&Action> = plan
                        .actions
                        .iter()
                        .filter(|a| {
                            a.class == class
                                && !self.is_held(a)
                                && matches!(
                                    a.op,
                                    Op::Copy { .. }
                                        | Op::Symlink { .. }
                                        | Op::Mknod { .. }
                                        | Op::Meta
                                )
                        })
                        .collect();
                    pool.install(|| first.par_iter().for_each(|a| self.act(a)));
                    let links: Vec<&Action> = plan
                        .actions
                        .iter()
                        .filter(|a| {
                            a.class == class && !self.is_held(a) && matches!(a.op, Op::Link { .. })
                        })
                        .collect();
                    pool.install(|| links.par_iter().for_each(|a| self.act(a)));
                }
                let mut deletes: Vec<&Action> = plan
                    .actions
                    .iter()
                    .filter(|a| matches!(a.op, Op::Delete | Op::StaleTemp))
                    .collect();
                if self.run.errors() > 0
                    && !self.dry_run
                    && deletes.iter().any(|a| matches!(a.op, Op::Delete))
                {
                    self.run.warn(
                        "errors happened while copying: no deletions were made (fix the errors and run again)",
                    );
                    // Our own stale temporaries still go.
                    deletes.retain(|a| matches!(a.op, Op::StaleTemp));
                }
                if let Some(stop) = self.deletions_stopped.get() {
                    deletes.retain(|a| matches!(a.op, Op::StaleTemp));
                    stop.report(self.run);
                }
                deletes.sort_by(|a, b| b.rel.cmp(&a.rel));
                for a in deletes {
                    self.act(a);
                }
                self.finish_dirs(&mut dirs);
            }
            Order::Rsync => {
                let stopped = self.deletions_stopped.get();
                if let Some(stop) = stopped {
                    stop.report(self.run);
                }
                let mut all: Vec<&Action> = plan
                    .actions
                    .iter()
                    .filter(|a| stopped.is_none() || !matches!(a.op, Op::Delete))
                    .collect();
                all.sort_by_cached_key(|a| rsync_key(a));
                for a in all {
                    self.act(a);
                }
                self.finish_dirs(&mut dirs);
            }
        }
    }
}

/// What a metadata file describes: a repository (the directory holding `repodata/`), the
/// directory of a `.treeinfo` or CHECKSUM, or the whole tree for the file lists (class 5).
fn metadata_scope(rel: &Path, class: u8) -> &Path {
    if class >= 5 {
        return Path::new("");
    }
    let mut scope = rel.parent().unwrap_or(Path::new(""));
    for anc in rel.ancestors().skip(1) {
        if anc.file_name().is_some_and(|n| n == "repodata") {
            scope = anc.parent().unwrap_or(Path::new(""));
            break;
        }
    }
    scope
}

fn libc_ifmt() -> u32 {
    0o170000
}

/// rsync's order: name order within a directory, a directory's deletions before its entries,
/// hard links after the file they link to.
fn rsync_key(a: &Action) -> Vec<(u8, Vec<u8>)> {
    let comps: Vec<Vec<u8>> = a
        .rel
        .components()
        .map(|c| c.as_os_str().as_bytes().to_vec())
        .collect();
    let n = comps.len();
    let mut key: Vec<(u8, Vec<u8>)> = Vec::with_capacity(n + 1);
    for (i, c) in comps.into_iter().enumerate() {
        let tag = if i + 1 == n && matches!(a.op, Op::Delete | Op::StaleTemp) {
            0
        } else {
            1
        };
        key.push((tag, c));
    }
    if matches!(a.op, Op::Link { .. }) {
        key.insert(0, (2, Vec::new()));
    }
    key
}
