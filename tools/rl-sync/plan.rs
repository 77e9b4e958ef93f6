//! Planning: walk the source and the destination side by side (directories in parallel) and
//! decide, entry by entry, what `rsync -rlptDSHog [--delete] [--exclude …]` would change.
//! Nothing is written here.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::ffi::{CStr, OsStr};
use std::fs::{self, Metadata};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use rl_core::exclude::Filter;
use rl_core::fsx::is_temp_name;

/// Entry types rsync distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    File,
    Dir,
    Symlink,
    Special,
}

/// What the planner and the executor need of an entry's `lstat` (copied out of `Stat`: small,
/// `Copy`, and made without the allocations of `std::fs::DirEntry`).
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: u64,
    blocks: u64,
    mtime: i64,
    mtime_nsec: i64,
    rdev: u64,
    dev: u64,
    ino: u64,
}

const S_IFMT: u32 = 0o170000;

impl Meta {
    #[allow(clippy::unnecessary_cast)]
    fn from_stat(st: &rustix::fs::Stat) -> Self {
        Self {
            mode: st.st_mode as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            nlink: st.st_nlink as u64,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            mtime: st.st_mtime as i64,
            mtime_nsec: st.st_mtime_nsec as i64,
            rdev: st.st_rdev as u64,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        }
    }

    pub fn from_std(m: &Metadata) -> Self {
        Self {
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
            nlink: m.nlink(),
            size: m.len(),
            blocks: m.blocks(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            rdev: m.rdev(),
            dev: m.dev(),
            ino: m.ino(),
        }
    }

    /// `lstat` of a path.
    pub fn lstat(path: &Path) -> io::Result<Self> {
        fs::symlink_metadata(path).map(|m| Self::from_std(&m))
    }

    /// `lstat` of `name` in the open directory `dir`.
    fn statat(dir: &OwnedFd, name: &CStr) -> io::Result<Self> {
        rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| Self::from_stat(&st))
            .map_err(io::Error::from)
    }

    pub fn ty(&self) -> Ty {
        ty_of_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.ty() == Ty::Dir
    }
    pub fn is_device(&self) -> bool {
        let fmt = self.mode & S_IFMT;
        fmt == 0o060000 || fmt == 0o020000
    }
    pub fn mode(&self) -> u32 {
        self.mode
    }
    pub fn uid(&self) -> u32 {
        self.uid
    }
    pub fn gid(&self) -> u32 {
        self.gid
    }
    pub fn nlink(&self) -> u64 {
        self.nlink
    }
    pub fn len(&self) -> u64 {
        self.size
    }
    pub fn blocks(&self) -> u64 {
        self.blocks
    }
    pub fn mtime(&self) -> i64 {
        self.mtime
    }
    pub fn mtime_nsec(&self) -> i64 {
        self.mtime_nsec
    }
    pub fn rdev(&self) -> u64 {
        self.rdev
    }
    pub fn dev(&self) -> u64 {
        self.dev
    }
    pub fn ino(&self) -> u64 {
        self.ino
    }
    /// The mtime as a `SystemTime` (as `Metadata::modified`).
    pub fn modified(&self) -> SystemTime {
        let nsec = Duration::from_nanos(self.mtime_nsec as u64);
        if self.mtime >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(self.mtime as u64) + nsec
        } else {
            SystemTime::UNIX_EPOCH - Duration::from_secs(self.mtime.unsigned_abs()) + nsec
        }
    }
}

pub fn ty_of_mode(mode: u32) -> Ty {
    match mode & S_IFMT {
        0o120000 => Ty::Symlink,
        0o040000 => Ty::Dir,
        0o100000 => Ty::File,
        _ => Ty::Special,
    }
}

/// Who should own what we write.
#[derive(Debug, Clone, Copy)]
pub struct Owners {
    /// Whether owners are set at all (only root can).
    pub apply: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Owners {
    pub fn want(&self, src: &Meta) -> (Option<u32>, Option<u32>) {
        if !self.apply {
            return (None, None);
        }
        (
            Some(self.uid.unwrap_or(src.uid())),
            Some(self.gid.unwrap_or(src.gid())),
        )
    }
}

/// What the planner needs to know.
pub struct Ctx<'a> {
    pub src_root: PathBuf,
    pub dst_root: PathBuf,
    pub filter: &'a Filter,
    pub delete: bool,
    pub checksum: bool,
    pub owners: Owners,
    /// When set (publish order), directory creations and content-class changes are handed to
    /// this as soon as each directory is planned, instead of being kept in the plan: the scan
    /// and the copies overlap, and memory stays bounded by directory size.
    pub stream: Option<&'a (dyn Fn(&Action) + Sync)>,
}

/// Whether an action may run while the scan goes on (publish order): directory creations and
/// content files that do not need a directory removed first.
fn streamable(a: &Action) -> bool {
    match a.op {
        Op::Mkdir => true,
        Op::Copy { .. } | Op::Symlink { .. } | Op::Mknod { .. } | Op::Meta => {
            a.class == 0 && a.dst_ty != Some(Ty::Dir)
        }
        _ => false,
    }
}

/// One change.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create a directory (removing a non-directory in the way).
    Mkdir,
    /// Write a regular file (`update`: a file with other content was there).
    Copy { update: bool },
    /// Hard-link to the destination of `leader` (`-H`).
    Link { leader: PathBuf },
    /// Create or replace a symlink.
    Symlink { target: PathBuf, update: bool },
    /// Create a device, fifo or socket.
    Mknod { update: bool },
    /// Fix permissions / owner / group / mtime of an existing entry in place.
    Meta,
    /// Remove an entry (and its subtree) that the source does not have.
    Delete,
    /// Remove a temporary left by an interrupted run.
    StaleTemp,
}

#[derive(Debug, Clone)]
pub struct Action {
    pub rel: PathBuf,
    pub op: Op,
    pub src: Option<Meta>,
    /// What is at the destination now (type), if anything.
    pub dst_ty: Option<Ty>,
    /// Publish class: 0 content, 1 repodata, 2 repomd.xml, 3 .treeinfo/.discinfo,
    /// 4 CHECKSUM/torrents, 5 file lists.
    pub class: u8,
    /// What differed (size, mtime, perms, owner, group, checksum).
    pub changed: Vec<&'static str>,
}

impl Action {
    pub fn mutates_parent(&self) -> bool {
        !matches!(self.op, Op::Meta)
    }

    pub fn itemize(&self) -> String {
        let x = match self.src.as_ref().map(Meta::ty) {
            Some(Ty::Dir) => 'd',
            Some(Ty::Symlink) => 'L',
            Some(Ty::Special) => {
                if m_is_device(self.src.as_ref()) {
                    'D'
                } else {
                    'S'
                }
            }
            _ => 'f',
        };
        let (y, new) = match &self.op {
            Op::Delete | Op::StaleTemp => return "*deleting  ".to_owned(),
            Op::Mkdir => ('c', true),
            Op::Copy { update } => ('>', !update),
            Op::Link { .. } => ('h', self.dst_ty.is_none()),
            Op::Symlink { update, .. } | Op::Mknod { update } => ('c', !update),
            Op::Meta => ('.', false),
        };
        itemize_string(y, x, new, &self.changed)
    }
}

fn m_is_device(m: Option<&Meta>) -> bool {
    m.is_some_and(Meta::is_device)
}

/// rsync's 11-character `%i` string.
pub fn itemize_string(y: char, x: char, new: bool, changed: &[&str]) -> String {
    if new {
        return format!("{y}{x}+++++++++");
    }
    let mut s: Vec<char> = format!("{y}{x}.........").chars().collect();
    for c in changed {
        match *c {
            "checksum" => s[2] = 'c',
            "size" => s[3] = 's',
            "mtime" => s[4] = 't',
            "perms" => s[5] = 'p',
            "owner" => s[6] = 'o',
            "group" => s[7] = 'g',
            _ => {}
        }
    }
    s.into_iter().collect()
}

/// A source directory and what its destination needs.
#[derive(Debug, Clone)]
pub struct DirInfo {
    pub rel: PathBuf,
    pub src: Meta,
    pub new: bool,
    pub changed: Vec<&'static str>,
}

/// A regular file with more than one link in the source (`-H` candidate).
#[derive(Debug, Clone)]
struct HlCand {
    rel: PathBuf,
    src: Meta,
    dst: Option<Meta>,
}

/// A failure met while planning.
#[derive(Debug)]
pub struct PlanError {
    pub rel: PathBuf,
    pub op: &'static str,
    pub root_is_dst: bool,
    pub error: io::Error,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub dirs: Vec<DirInfo>,
    pub errors: Vec<PlanError>,
    /// Source entries considered (after excludes).
    pub scanned: u64,
    /// Directories with a changed entry inside (their mtime moved).
    touched: Vec<PathBuf>,
    hl: Vec<HlCand>,
}

impl Plan {
    fn merge(&mut self, other: Plan) {
        self.actions.extend(other.actions);
        self.dirs.extend(other.dirs);
        self.errors.extend(other.errors);
        self.scanned += other.scanned;
        self.touched.extend(other.touched);
        self.hl.extend(other.hl);
    }

    /// Directories whose attributes must be (re)set at the end: new, changed, or with a changed
    /// entry inside (which moved their mtime).
    pub fn dirs_to_finish(&self) -> Vec<&DirInfo> {
        let touched: HashSet<&Path> = self
            .actions
            .iter()
            .filter(|a| a.mutates_parent())
            .map(|a| a.rel.parent().unwrap_or(Path::new("")))
            .chain(self.touched.iter().map(PathBuf::as_path))
            .collect();
        self.dirs
            .iter()
            .filter(|d| d.new || !d.changed.is_empty() || touched.contains(d.rel.as_path()))
            .collect()
    }
}

/// Publish class of a destination path (see [`Action::class`]).
pub fn class_of(rel: &Path) -> u8 {
    let name = rel.file_name().map(|n| n.as_bytes()).unwrap_or(b"");
    let in_repodata = rel.parent().is_some_and(|p| {
        p.components()
            .any(|c| c.as_os_str().as_bytes() == b"repodata")
    });
    if in_repodata {
        if name.starts_with(b"repomd.xml") {
            return 2;
        }
        return 1;
    }
    if name == b".treeinfo" || name == b".discinfo" || name == b"treeinfo" {
        return 3;
    }
    if name.starts_with(b"CHECKSUM") || name.ends_with(b".torrent") {
        return 4;
    }
    if name.starts_with(b"fullfilelist") || name.starts_with(b"fullfiletimelist") {
        return 5;
    }
    0
}

fn mtime_differs(a: &Meta, b: &Meta) -> bool {
    a.mtime() != b.mtime()
}

/// Attribute differences of an existing destination entry (rsync compares whole seconds).
fn attr_changes(ctx: &Ctx, src: &Meta, dst: &Meta, ty: Ty) -> Vec<&'static str> {
    let mut c = Vec::new();
    if mtime_differs(src, dst) {
        c.push("mtime");
    }
    if ty != Ty::Symlink && src.mode() & 0o7777 != dst.mode() & 0o7777 {
        c.push("perms");
    }
    let (uid, gid) = ctx.owners.want(src);
    if uid.is_some_and(|u| u != dst.uid()) {
        c.push("owner");
    }
    if gid.is_some_and(|g| g != dst.gid()) {
        c.push("group");
    }
    c
}

/// Whether a regular file certainly needs nothing without reading it: [`decide_file`] would
/// answer `Ok(None)` (never true with `--checksum`, which must compare contents).
fn file_up_to_date(ctx: &Ctx, src: &Meta, dst: Option<&Meta>) -> bool {
    !ctx.checksum
        && dst.is_some_and(|d| {
            d.ty() == Ty::File
                && d.len() == src.len()
                && !mtime_differs(src, d)
                && attr_changes(ctx, src, d, Ty::File).is_empty()
        })
}

/// Decides what a regular file needs. `Ok(None)`: up to date.
fn decide_file(
    ctx: &Ctx,
    rel: &Path,
    src: &Meta,
    dst: Option<&Meta>,
) -> io::Result<Option<Action>> {
    let mk = |op: Op, dst_ty: Option<Ty>, changed: Vec<&'static str>| Action {
        rel: rel.to_path_buf(),
        op,
        src: Some(*src),
        dst_ty,
        class: class_of(rel),
        changed,
    };
    let Some(d) = dst else {
        return Ok(Some(mk(Op::Copy { update: false }, None, vec![])));
    };
    let dty = d.ty();
    if dty != Ty::File {
        return Ok(Some(mk(Op::Copy { update: false }, Some(dty), vec![])));
    }
    let same = if ctx.checksum {
        d.len() == src.len()
            && rl_core::compare::files_equal(
                &ctx.src_root.join(rel),
                &ctx.dst_root.join(rel),
                None,
            )?
    } else {
        d.len() == src.len() && !mtime_differs(src, d)
    };
    let changes = attr_changes(ctx, src, d, Ty::File);
    if same {
        if changes.is_empty() {
            return Ok(None);
        }
        return Ok(Some(mk(Op::Meta, Some(dty), changes)));
    }
    let mut changed = Vec::new();
    if ctx.checksum {
        changed.push("checksum");
    }
    if d.len() != src.len() {
        changed.push("size");
    }
    changed.extend(changes);
    Ok(Some(mk(Op::Copy { update: true }, Some(dty), changed)))
}

/// Plans the whole transfer. `top`: `None` to sync the contents of `src_root` into `dst_root`
/// (source with a trailing slash), `Some(name)` to sync only `src_root/name` to `dst_root/name`.
pub fn plan(ctx: &Ctx, top: Option<&OsString>) -> Plan {
    let mut p = Plan::default();
    let root = Path::new("");
    let dst_meta = Meta::lstat(&ctx.dst_root);
    let dst_is_dir = matches!(&dst_meta, Ok(m) if m.is_dir());
    match top {
        None => {
            let src = match Meta::lstat(&ctx.src_root) {
                Ok(m) => m,
                Err(error) => {
                    p.errors.push(PlanError {
                        rel: PathBuf::new(),
                        op: "stat",
                        root_is_dst: false,
                        error,
                    });
                    return p;
                }
            };
            let mut info = DirInfo {
                rel: PathBuf::new(),
                src,
                new: !dst_is_dir,
                changed: vec![],
            };
            if let Ok(d) = &dst_meta
                && dst_is_dir
            {
                info.changed = attr_changes(ctx, &src, d, Ty::Dir);
            } else {
                let mk = Action {
                    rel: PathBuf::new(),
                    op: Op::Mkdir,
                    src: Some(src),
                    dst_ty: dst_meta.as_ref().ok().map(Meta::ty),
                    class: 0,
                    changed: vec![],
                };
                match ctx.stream {
                    Some(f) => f(&mk),
                    None => p.actions.push(mk),
                }
            }
            p.dirs.push(info);
            let sub = plan_dir(ctx, root, dst_is_dir, None, None);
            p.merge(sub);
        }
        Some(name) => {
            let sub = plan_dir(ctx, root, dst_is_dir, Some(name), None);
            p.merge(sub);
        }
    }
    resolve_hard_links(ctx, &mut p);
    p
}

/// The names of a directory's entries in one buffer (each NUL-terminated), sorted by bytes, with
/// the open directory they were read from (`None`: a single name given, not read).
#[derive(Default)]
struct Listing {
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    /// Start in `buf`, length without the NUL, type from `d_type` (`None`: not known).
    ents: Vec<(usize, usize, Option<Ty>)>,
}

impl Listing {
    fn single(name: &OsStr) -> Self {
        let mut buf = name.as_bytes().to_vec();
        buf.push(0);
        Self {
            fd: None,
            ents: vec![(0, buf.len() - 1, None)],
            buf,
        }
    }

    fn name(&self, i: usize) -> &[u8] {
        let (start, len, _) = self.ents[i];
        &self.buf[start..start + len]
    }

    fn cname(&self, i: usize) -> &CStr {
        let (start, len, _) = self.ents[i];
        CStr::from_bytes_with_nul(&self.buf[start..=start + len]).expect("a directory entry name")
    }

    /// Types `d_type` did not give are taken from `lstat`; entries that cannot be `lstat`ed are
    /// dropped (as `DirEntry::file_type` failing).
    fn resolve_unknown_types(&mut self) {
        let Some(fd) = &self.fd else { return };
        let mut ents = std::mem::take(&mut self.ents);
        ents.retain_mut(|e| {
            if e.2.is_none() {
                let name = CStr::from_bytes_with_nul(&self.buf[e.0..=e.0 + e.1]);
                e.2 = name
                    .ok()
                    .and_then(|n| Meta::statat(fd, n).ok())
                    .map(|m| m.ty());
            }
            e.2.is_some()
        });
        self.ents = ents;
    }
}

/// Where a directory to list is: its path (the top of the transfer), or its name inside an
/// open parent directory.
enum DirAt<'a> {
    Path(&'a Path),
    In(&'a OwnedFd, &'a OsStr),
}

impl<'a> DirAt<'a> {
    /// `name` in `parent` when there is one, else `path`.
    fn of(parent: Option<&'a OwnedFd>, name: &'a OsStr, path: &'a Path) -> Self {
        match parent {
            Some(fd) if !name.is_empty() => DirAt::In(fd, name),
            _ => DirAt::Path(path),
        }
    }
}

/// Reads a directory: its listing (sorted) and the error that ended the reading early, if any.
///
/// Below the top, a directory is opened relative to its parent's descriptor: the kernel looks up
/// one name instead of walking the whole path from the root again (a no-change re-run is mostly
/// name lookups), and `O_NOFOLLOW` means a directory swapped for a symlink mid-run is not entered.
fn list_dir(at: DirAt<'_>) -> io::Result<(Listing, Option<io::Error>)> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match at {
        DirAt::Path(path) => rustix::fs::open(path, flags, Mode::empty())?,
        DirAt::In(parent, name) => {
            rustix::fs::openat(parent, name, flags | OFlags::NOFOLLOW, Mode::empty())?
        }
    };
    let mut buf = Vec::new();
    let mut ents = Vec::new();
    let mut err = None;
    let mut space = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut rd = RawDir::new(&fd, &mut space);
    while let Some(e) = rd.next() {
        match e {
            Ok(e) => {
                let name = e.file_name().to_bytes_with_nul();
                if name == b".\0" || name == b"..\0" {
                    continue;
                }
                let ty = match e.file_type() {
                    FileType::Directory => Some(Ty::Dir),
                    FileType::RegularFile => Some(Ty::File),
                    FileType::Symlink => Some(Ty::Symlink),
                    FileType::Unknown => None,
                    _ => Some(Ty::Special),
                };
                ents.push((buf.len(), name.len() - 1, ty));
                buf.extend_from_slice(name);
            }
            Err(e) => {
                err = Some(e.into());
                break;
            }
        }
    }
    ents.sort_unstable_by(|a: &(usize, usize, Option<Ty>), b| {
        buf[a.0..a.0 + a.1].cmp(&buf[b.0..b.0 + b.1])
    });
    Ok((
        Listing {
            fd: Some(fd),
            buf,
            ents,
        },
        err,
    ))
}

/// The open source and destination directories a subdirectory is planned from.
#[derive(Clone, Copy)]
struct Parent<'a> {
    src: Option<&'a OwnedFd>,
    dst: Option<&'a OwnedFd>,
}

/// Plans one directory (`rel`), then its subdirectories in parallel. `only`: consider just this
/// source name and delete nothing (the top of a source given without a trailing slash).
/// `parent`: the directories `rel` is listed in (`None` at the top).
fn plan_dir(
    ctx: &Ctx,
    rel: &Path,
    dst_is_dir: bool,
    only: Option<&OsString>,
    parent: Option<Parent<'_>>,
) -> Plan {
    let mut p = Plan::default();
    let src_dir = ctx.src_root.join(rel);
    let dst_dir = ctx.dst_root.join(rel);
    let name = rel.file_name().unwrap_or_default();
    // Entries are `lstat`ed relative to their directory's descriptor (no path walk from the root
    // for every entry); the names are kept in one buffer per directory, sorted.
    let mut src_list = match only {
        Some(n) => Listing::single(n),
        None => match list_dir(DirAt::of(parent.and_then(|p| p.src), name, &src_dir)) {
            Ok((l, err)) => {
                if let Some(error) = err {
                    p.errors.push(PlanError {
                        rel: rel.to_path_buf(),
                        op: "readdir",
                        root_is_dst: false,
                        error,
                    });
                }
                l
            }
            Err(error) => {
                p.errors.push(PlanError {
                    rel: rel.to_path_buf(),
                    op: "readdir",
                    root_is_dst: false,
                    error,
                });
                return p;
            }
        },
    };

    // The destination listing, sorted like the source one: both are walked side by side (no
    // hashing of every name); `kept[i]`: entry i has a source entry that is not excluded.
    let mut dst_list = Listing::default();
    if dst_is_dir {
        match list_dir(DirAt::of(parent.and_then(|p| p.dst), name, &dst_dir)) {
            // Like a `read_dir` iterator's `flatten()`: a failure part-way ends the listing.
            Ok((l, _)) => dst_list = l,
            Err(error) => p.errors.push(PlanError {
                rel: rel.to_path_buf(),
                op: "readdir",
                root_is_dst: true,
                error,
            }),
        }
        dst_list.resolve_unknown_types();
    }

    let mut kept = vec![false; dst_list.ents.len()];
    let mut cursor = 0;
    let mut subdirs: Vec<(PathBuf, bool)> = Vec::new();
    for i in 0..src_list.ents.len() {
        let name_bytes = src_list.name(i);
        let name = OsStr::from_bytes(name_bytes);
        let stat = match &src_list.fd {
            Some(fd) => Meta::statat(fd, src_list.cname(i)),
            None => Meta::lstat(&src_dir.join(name)),
        };
        let src = match stat {
            Ok(m) => m,
            Err(error) => {
                p.errors.push(PlanError {
                    rel: rel.join(name),
                    op: "stat",
                    root_is_dst: false,
                    error,
                });
                continue;
            }
        };
        let ty = src.ty();
        if !ctx.filter.is_empty() && ctx.filter.is_excluded(&rel.join(name), ty == Ty::Dir) {
            continue;
        }
        p.scanned += 1;
        // Source names are sorted and unique: the cursor only moves forward.
        while cursor < dst_list.ents.len() && dst_list.name(cursor) < name_bytes {
            cursor += 1;
        }
        let dst_idx =
            (cursor < dst_list.ents.len() && dst_list.name(cursor) == name_bytes).then_some(cursor);
        let dst = match (dst_idx, &dst_list.fd) {
            (Some(i), Some(fd)) => {
                kept[i] = true;
                Meta::statat(fd, dst_list.cname(i)).ok()
            }
            _ if only.is_some() => Meta::lstat(&dst_dir.join(name)).ok(),
            _ => None,
        };
        // The common case of a re-run, an up-to-date file, is settled without building its path.
        if ty == Ty::File && src.nlink() <= 1 && file_up_to_date(ctx, &src, dst.as_ref()) {
            continue;
        }
        let crel = rel.join(name);
        let dty = dst.as_ref().map(Meta::ty);
        match ty {
            Ty::Dir => {
                let exists = dty == Some(Ty::Dir);
                let changed = match &dst {
                    Some(d) if exists => attr_changes(ctx, &src, d, Ty::Dir),
                    _ => vec![],
                };
                if !exists {
                    p.actions.push(Action {
                        rel: crel.clone(),
                        op: Op::Mkdir,
                        src: Some(src),
                        dst_ty: dty,
                        class: 0,
                        changed: vec![],
                    });
                }
                p.dirs.push(DirInfo {
                    rel: crel.clone(),
                    src,
                    new: !exists,
                    changed,
                });
                subdirs.push((crel, exists));
            }
            Ty::File if src.nlink() > 1 => p.hl.push(HlCand {
                rel: crel,
                src,
                dst,
            }),
            Ty::File => match decide_file(ctx, &crel, &src, dst.as_ref()) {
                Ok(Some(a)) => p.actions.push(a),
                Ok(None) => {}
                Err(error) => p.errors.push(PlanError {
                    rel: crel,
                    op: "compare",
                    root_is_dst: false,
                    error,
                }),
            },
            Ty::Symlink => {
                let target = match fs::read_link(src_dir.join(name)) {
                    Ok(t) => t,
                    Err(error) => {
                        p.errors.push(PlanError {
                            rel: crel,
                            op: "readlink",
                            root_is_dst: false,
                            error,
                        });
                        continue;
                    }
                };
                let same_target = dty == Some(Ty::Symlink)
                    && fs::read_link(dst_dir.join(name)).ok().as_ref() == Some(&target);
                if same_target {
                    let changes = attr_changes(ctx, &src, dst.as_ref().unwrap(), Ty::Symlink);
                    if !changes.is_empty() {
                        p.actions.push(Action {
                            class: class_of(&crel),
                            rel: crel,
                            op: Op::Meta,
                            src: Some(src),
                            dst_ty: dty,
                            changed: changes,
                        });
                    }
                } else {
                    let update = dty == Some(Ty::Symlink);
                    p.actions.push(Action {
                        class: class_of(&crel),
                        rel: crel,
                        op: Op::Symlink { target, update },
                        src: Some(src),
                        dst_ty: dty,
                        changed: if update { vec!["checksum"] } else { vec![] },
                    });
                }
            }
            Ty::Special => {
                let same = dty == Some(Ty::Special)
                    && dst.as_ref().is_some_and(|d| {
                        d.mode() & 0o170000 == src.mode() & 0o170000 && d.rdev() == src.rdev()
                    });
                if same {
                    let changes = attr_changes(ctx, &src, dst.as_ref().unwrap(), Ty::Special);
                    if !changes.is_empty() {
                        p.actions.push(Action {
                            class: class_of(&crel),
                            rel: crel,
                            op: Op::Meta,
                            src: Some(src),
                            dst_ty: dty,
                            changed: changes,
                        });
                    }
                } else {
                    p.actions.push(Action {
                        class: class_of(&crel),
                        rel: crel,
                        op: Op::Mknod {
                            update: dty.is_some(),
                        },
                        src: Some(src),
                        dst_ty: dty,
                        changed: vec![],
                    });
                }
            }
        }
    }

    if only.is_none() {
        // Already in name order.
        let extra = (0..dst_list.ents.len())
            .filter(|&i| !kept[i])
            .filter_map(|i| Some((OsStr::from_bytes(dst_list.name(i)), dst_list.ents[i].2?)));
        for (name, ty) in extra {
            let crel = rel.join(name);
            let op = if is_temp_name(name) {
                Op::StaleTemp
            } else if ctx.delete && !ctx.filter.is_excluded(&crel, ty == Ty::Dir) {
                Op::Delete
            } else {
                continue;
            };
            p.actions.push(Action {
                rel: crel,
                op,
                src: None,
                dst_ty: Some(ty),
                class: 0,
                changed: vec![],
            });
        }
    }

    // Nothing of this directory's listing is needed below it but the open directories.
    let (src_fd, dst_fd) = (src_list.fd.take(), dst_list.fd.take());
    drop(src_list);
    drop(dst_list);
    drop(kept);
    if p.actions.iter().any(Action::mutates_parent) {
        p.touched.push(rel.to_path_buf());
    }
    if let Some(stream) = ctx.stream {
        let (now, later): (Vec<Action>, Vec<Action>) = p.actions.drain(..).partition(streamable);
        p.actions = later;
        for a in now.iter().filter(|a| matches!(a.op, Op::Mkdir)) {
            stream(a);
        }
        // Copies of one directory run in parallel, in chunks, so that a thread waiting here
        // does not pick up whole other directories and hold many listings at once.
        for chunk in now
            .iter()
            .filter(|a| !matches!(a.op, Op::Mkdir))
            .collect::<Vec<_>>()
            .chunks(64)
        {
            chunk.par_iter().for_each(|a| stream(a));
        }
        drop(now);
    }

    let here = Parent {
        src: src_fd.as_ref(),
        dst: dst_fd.as_ref(),
    };
    let children: Vec<Plan> = subdirs
        .par_iter()
        .map(|(r, exists)| plan_dir(ctx, r, *exists, None, Some(here)))
        .collect();
    for c in children {
        p.merge(c);
    }
    p
}

/// Groups `-H` candidates by source inode: the first path (in transfer order) is copied like any
/// file, the others become hard links to it unless they already share its destination inode.
fn resolve_hard_links(ctx: &Ctx, p: &mut Plan) {
    let cands = std::mem::take(&mut p.hl);
    let mut groups: HashMap<(u64, u64), Vec<HlCand>> = HashMap::new();
    for c in cands {
        groups
            .entry((c.src.dev(), c.src.ino()))
            .or_default()
            .push(c);
    }
    let mut groups: Vec<Vec<HlCand>> = groups.into_values().collect();
    for g in &mut groups {
        g.sort_by(|a, b| a.rel.cmp(&b.rel));
    }
    groups.sort_by(|a, b| a[0].rel.cmp(&b[0].rel));
    for g in groups {
        let class = g.iter().map(|c| class_of(&c.rel)).max().unwrap_or(0);
        let leader = &g[0];
        let act = match decide_file(ctx, &leader.rel, &leader.src, leader.dst.as_ref()) {
            Ok(a) => a,
            Err(error) => {
                p.errors.push(PlanError {
                    rel: leader.rel.clone(),
                    op: "compare",
                    root_is_dst: false,
                    error,
                });
                continue;
            }
        };
        let leader_ino = match &act {
            Some(Action {
                op: Op::Copy { .. },
                ..
            }) => None,
            _ => leader.dst.as_ref().map(|d| (d.dev(), d.ino())),
        };
        if let Some(mut a) = act {
            a.class = class;
            p.actions.push(a);
        }
        for f in &g[1..] {
            let linked =
                leader_ino.is_some() && f.dst.as_ref().map(|d| (d.dev(), d.ino())) == leader_ino;
            if linked {
                continue;
            }
            p.actions.push(Action {
                rel: f.rel.clone(),
                op: Op::Link {
                    leader: leader.rel.clone(),
                },
                src: Some(f.src),
                dst_ty: f.dst.as_ref().map(Meta::ty),
                class,
                changed: vec![],
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subdirectory_is_listed_through_its_parent_and_never_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        fs::write(dir.path().join("real/b"), "b").unwrap();
        fs::write(dir.path().join("real/a"), "a").unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        let (top, err) = list_dir(DirAt::Path(dir.path())).unwrap();
        assert!(err.is_none());
        let parent = top.fd.as_ref().unwrap();
        let (real, _) = list_dir(DirAt::In(parent, OsStr::new("real"))).unwrap();
        let names: Vec<&[u8]> = (0..real.ents.len()).map(|i| real.name(i)).collect();
        assert_eq!(names, [&b"a"[..], b"b"]);
        // A directory swapped for a symlink while the tree is planned is not entered.
        assert!(list_dir(DirAt::In(parent, OsStr::new("link"))).is_err());
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(Path::new("BaseOS/x/os/Packages/a.rpm")), 0);
        assert_eq!(
            class_of(Path::new("BaseOS/x/os/repodata/p-primary.xml.gz")),
            1
        );
        assert_eq!(class_of(Path::new("BaseOS/x/os/repodata/repomd.xml")), 2);
        assert_eq!(class_of(Path::new("BaseOS/x/os/.treeinfo")), 3);
        assert_eq!(class_of(Path::new("isos/x/CHECKSUM")), 4);
        assert_eq!(class_of(Path::new("a.torrent")), 4);
        assert_eq!(class_of(Path::new("fullfiletimelist-rocky")), 5);
        assert_eq!(class_of(Path::new("repodata")), 0);
    }

    #[test]
    fn itemize_strings() {
        assert_eq!(itemize_string('>', 'f', true, &[]), ">f+++++++++");
        assert_eq!(
            itemize_string('>', 'f', false, &["size", "mtime"]),
            ">f.st......"
        );
        assert_eq!(itemize_string('.', 'd', false, &["mtime"]), ".d..t......");
    }
}
