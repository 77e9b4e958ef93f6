//! Carrying out a plan: every file, link and node is made under a temporary name in its
//! destination directory, given its owner, permissions and mtime, then renamed into place.

use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::stat::{Mode, SFlag, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use rayon::prelude::*;
use rl_core::exclude::Filter;
use rl_core::fsx::temp_path_for;
use rl_core::{Record, Run};

use crate::plan::{Action, DirInfo, Meta, Op, Owners, Plan, Ty, itemize_string, ty_of};

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
}

pub struct Exec<'a> {
    pub run: &'a Run,
    pub src_root: PathBuf,
    pub dst_root: PathBuf,
    pub filter: &'a Filter,
    pub owners: Owners,
    pub delete: bool,
    pub dry_run: bool,
    pub itemize: bool,
    pub fsync: bool,
    pub root: bool,
    pub counters: Counters,
}

/// Removes a temporary on drop unless disarmed.
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    /// The temporary was renamed into place: nothing to remove.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

fn timespec(m: &Meta) -> TimeSpec {
    TimeSpec::new(m.mtime(), m.mtime_nsec())
}

fn set_mtime_nofollow(path: &Path, m: &Meta) -> io::Result<()> {
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &TimeSpec::UTIME_OMIT,
        &timespec(m),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
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
            Err((op, e)) => self.run.error(&self.dst_root, &a.rel, op, &e),
        }
    }

    fn do_act(&self, a: &Action) -> Result<u64, (&'static str, io::Error)> {
        let dst = self.dst_root.join(&a.rel);
        let src = a
            .src
            .as_ref()
            .expect("source metadata for non-delete actions");
        match &a.op {
            Op::Mkdir => self.mkdir(&dst, src, a.dst_ty).map_err(|e| ("mkdir", e))?,
            Op::Copy { .. } => return self.copy_file(a, &dst, src),
            Op::Link { leader } => {
                let tmp = temp_path_for(&dst);
                fs::hard_link(self.dst_root.join(leader), &tmp).map_err(|e| ("link", e))?;
                let guard = TempGuard(Some(tmp.clone()));
                self.make_way(&a.rel, a.dst_ty).map_err(|e| ("delete", e))?;
                fs::rename(&tmp, &dst).map_err(|e| ("rename", e))?;
                // rename() is a no-op when both names are already the same inode.
                drop(guard);
            }
            Op::Symlink { target, .. } => {
                let tmp = temp_path_for(&dst);
                std::os::unix::fs::symlink(target, &tmp).map_err(|e| ("symlink", e))?;
                let guard = TempGuard(Some(tmp.clone()));
                self.set_attrs(&tmp, src, Ty::Symlink)
                    .map_err(|e| ("attrs", e))?;
                self.make_way(&a.rel, a.dst_ty).map_err(|e| ("delete", e))?;
                fs::rename(&tmp, &dst).map_err(|e| ("rename", e))?;
                guard.disarm();
            }
            Op::Mknod { .. } => {
                let tmp = temp_path_for(&dst);
                nix::sys::stat::mknod(
                    &tmp,
                    SFlag::from_bits_truncate(src.mode() & libc_ifmt()),
                    Mode::from_bits_truncate(0o600),
                    src.rdev(),
                )
                .map_err(|e| ("mknod", io::Error::from(e)))?;
                let guard = TempGuard(Some(tmp.clone()));
                self.set_attrs(&tmp, src, Ty::Special)
                    .map_err(|e| ("attrs", e))?;
                self.make_way(&a.rel, a.dst_ty).map_err(|e| ("delete", e))?;
                fs::rename(&tmp, &dst).map_err(|e| ("rename", e))?;
                guard.disarm();
            }
            Op::Meta => {
                let ty = src.ty();
                self.set_attrs(&dst, src, ty).map_err(|e| ("attrs", e))?;
            }
            Op::Delete | Op::StaleTemp => unreachable!("handled by act"),
        }
        Ok(0)
    }

    fn mkdir(&self, dst: &Path, src: &Meta, dst_ty: Option<Ty>) -> io::Result<()> {
        if dst_ty.is_some_and(|t| t != Ty::Dir) {
            fs::remove_file(dst)?;
        }
        match fs::create_dir(dst) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dst.is_dir() => {}
            Err(e) => return Err(e),
        }
        let (uid, gid) = self.owners.want(src);
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(dst, uid, gid)?;
        }
        // Final permissions now (readers see the directory as it will be), plus owner write
        // access when not root so the directory can be filled; the final pass sets it exactly.
        let mut mode = src.mode() & 0o7777;
        if !self.root {
            mode |= 0o700;
        }
        fs::set_permissions(dst, Permissions::from_mode(mode))
    }

    fn copy_file(
        &self,
        a: &Action,
        dst: &Path,
        src: &Meta,
    ) -> Result<u64, (&'static str, io::Error)> {
        let src_path = self.src_root.join(&a.rel);
        let mut inp = File::open(&src_path).map_err(|e| ("open", e))?;
        let tmp = temp_path_for(dst);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| ("create", e))?;
        let guard = TempGuard(Some(tmp.clone()));
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
        fs::rename(&tmp, dst).map_err(|e| ("rename", e))?;
        guard.disarm();
        Ok(n)
    }

    /// Sets owner, permissions (not on symlinks) and mtime of an existing path, in that order.
    fn set_attrs(&self, path: &Path, src: &Meta, ty: Ty) -> io::Result<()> {
        let (uid, gid) = self.owners.want(src);
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(path, uid, gid)?;
        }
        if ty != Ty::Symlink {
            fs::set_permissions(path, Permissions::from_mode(src.mode() & 0o7777))?;
        }
        set_mtime_nofollow(path, src)
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
            fs::remove_dir(self.dst_root.join(rel)).map_err(|e| {
                if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                    io::Error::new(
                        e.kind(),
                        "cannot delete non-empty directory to make way for a file (use --delete)",
                    )
                } else {
                    e
                }
            })
        }
    }

    /// Deletes `rel` and, for a directory, its contents first (excluded entries are protected
    /// and keep their directory). Returns whether `rel` is gone.
    fn delete_tree(&self, rel: &Path, ty: Ty, stale: bool) -> io::Result<bool> {
        let path = self.dst_root.join(rel);
        if ty == Ty::Dir {
            let mut names: Vec<(std::ffi::OsString, Ty)> = Vec::new();
            for e in fs::read_dir(&path)? {
                let e = e?;
                names.push((e.file_name(), ty_of(e.file_type()?)));
            }
            names.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
            let mut all_gone = true;
            for (name, cty) in names {
                let crel = rel.join(&name);
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
            if !self.dry_run {
                fs::remove_dir(&path)?;
            }
        } else if !self.dry_run {
            fs::remove_file(&path)?;
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

    /// Sets the final owner, permissions and mtime of directories, deepest first.
    fn finish_dirs(&self, dirs: &mut [&DirInfo]) {
        dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        for d in dirs.iter() {
            if !d.changed.is_empty() {
                self.counters.meta.fetch_add(1, Ordering::Relaxed);
                let mut r = self
                    .record("meta", &d.rel)
                    .with("changed", d.changed.clone());
                if self.itemize {
                    r.set("itemize", itemize_string('.', 'd', false, &d.changed));
                }
                if !self.dry_run
                    && let Err(e) = self.set_attrs(&self.dst_root.join(&d.rel), &d.src, Ty::Dir)
                {
                    self.run.error(&self.dst_root, &d.rel, "attrs", &e);
                    continue;
                }
                self.run.emit(&r);
            } else if !self.dry_run {
                // An existing directory whose owner and mode already match only needs its
                // mtime back (entries renamed into it moved it); a new one gets everything
                // (it was made writable for filling).
                let path = self.dst_root.join(&d.rel);
                let done = if d.new {
                    self.set_attrs(&path, &d.src, Ty::Dir)
                } else {
                    set_mtime_nofollow(&path, &d.src)
                };
                if let Err(e) = done {
                    self.run.error(&self.dst_root, &d.rel, "attrs", &e);
                }
            }
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
                    let first: Vec<&Action> = plan
                        .actions
                        .iter()
                        .filter(|a| {
                            a.class == class
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
                        .filter(|a| a.class == class && matches!(a.op, Op::Link { .. }))
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
                deletes.sort_by(|a, b| b.rel.cmp(&a.rel));
                for a in deletes {
                    self.act(a);
                }
                self.finish_dirs(&mut dirs);
            }
            Order::Rsync => {
                let mut all: Vec<&Action> = plan.actions.iter().collect();
                all.sort_by_cached_key(|a| rsync_key(a));
                for a in all {
                    self.act(a);
                }
                self.finish_dirs(&mut dirs);
            }
        }
    }
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
