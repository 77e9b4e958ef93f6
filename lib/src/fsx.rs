//! Safe file replacement.
//!
//! Every file an rl-* tool writes goes through [`AtomicFile`]: the bytes go to a temporary name in
//! the destination's own directory (so the rename never crosses a filesystem), the file is flushed
//! and `fsync`ed, renamed over the final name, and the directory is `fsync`ed. A reader of the final
//! name sees the old file or the new one, never a partial one; a crash or `kill -9` leaves at most a
//! temporary file, recognisable by [`is_temp_name`], which the next run removes or ignores.
//!
//! Fsync policy: the file before the rename (otherwise a crash after the rename could expose an
//! empty file under the final name on ext4/xfs), the directory after it (so the rename itself
//! survives a crash). Tools that replace thousands of files may choose [`Durability::Relaxed`],
//! which skips the directory fsync only; the file fsync always stays.
//!
//! # Temporaries
//!
//! One naming scheme for every tool: `.NAME.rl-tmp.PID-START.N`, where `PID` is the writing
//! process, `START` its start time (field 22 of `/proc/PID/stat`, clock ticks since boot) and `N`
//! a counter unique within the process. `NAME` is cut to 180 bytes, so the whole name stays well
//! within `NAME_MAX` (255). The pair PID + start time names one process for the life of the
//! machine's boot: a PID reused by another process has another start time. Names of the older form
//! `.NAME.rl-tmp.PID.N` (no start time) are still recognised; their owner is unknown beyond the PID.
//!
//! [`is_stale_temp`] is true only when the writer is gone: no process has that PID, or it is a
//! zombie, or the process with that PID started at another time (for the old form: only when no
//! process has that PID). A name that merely contains the marker but does not parse is never
//! stale. The rules every tool follows with them:
//!
//! * a temporary is never content: not copied, listed, checksummed or torrented;
//! * a tool removes stale temporaries of the files it writes, in the directories it writes into,
//!   on its next run ([`remove_stale_temps`]); only regular files, never a directory;
//! * a temporary whose writer lives is never removed, and an excluded (protected) one never is.
//!
//! Liveness is judged in the PID namespace of the tool that looks: writers in another container
//! or on another host sharing the tree (NFS) cannot be told apart from dead ones, so two writers
//! of one tree must run on one host and in one PID namespace.
//!
//! [`AtomicFile::commit`] removes its temporary on every failure (flush, fsync or rename:
//! `ENOSPC` included), as dropping an uncommitted [`AtomicFile`] does.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;

/// The marker in every temporary name rl-tools creates.
pub const TEMP_MARKER: &str = ".rl-tmp.";

/// How hard to insist that a replacement survives a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync the file, rename, fsync the directory.
    #[default]
    Full,
    /// fsync the file, rename.
    Relaxed,
}

/// Whether a file name is one of our temporaries (`.NAME.rl-tmp.PID-START.N`, or the older
/// `.NAME.rl-tmp.PID.N`).
pub fn is_temp_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(b".")
        && b.windows(TEMP_MARKER.len())
            .any(|w| w == TEMP_MARKER.as_bytes())
}

/// The process a temporary's name says wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TempOwner {
    pub pid: u32,
    /// Start time of the process (clock ticks since boot); `None` for the older name form.
    pub start: Option<u64>,
}

/// Where the last marker of a temporary name starts.
fn marker_at(b: &[u8]) -> Option<usize> {
    if !b.starts_with(b".") {
        return None;
    }
    b.windows(TEMP_MARKER.len())
        .rposition(|w| w == TEMP_MARKER.as_bytes())
}

/// The writer named in a temporary's name, or `None` when the name is not one (or does not parse).
pub fn temp_owner(name: &OsStr) -> Option<TempOwner> {
    let b = name.as_bytes();
    let tail = std::str::from_utf8(&b[marker_at(b)? + TEMP_MARKER.len()..]).ok()?;
    let (who, n) = tail.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(n) {
        return None;
    }
    let (pid, start) = match who.split_once('-') {
        Some((pid, start)) if digits(start) => (pid, Some(start.parse().ok()?)),
        Some(_) => return None,
        None => (who, None),
    };
    if !digits(pid) {
        return None;
    }
    Some(TempOwner {
        pid: pid.parse().ok()?,
        start,
    })
}

/// The name a temporary stands for (`NAME` of `.NAME.rl-tmp.…`, cut to 180 bytes when longer).
pub fn temp_base(name: &OsStr) -> Option<&OsStr> {
    let b = name.as_bytes();
    temp_owner(name)?;
    Some(OsStr::from_bytes(&b[1..marker_at(b)?]))
}

/// Whether a temporary's writer is gone, so the temporary may be removed. False for names that
/// are not temporaries, and while the writer (same PID, same start time) lives.
pub fn is_stale_temp(name: &OsStr) -> bool {
    match temp_owner(name) {
        Some(owner) => !writer_alive(owner),
        None => false,
    }
}

fn writer_alive(owner: TempOwner) -> bool {
    match process_state(owner.pid) {
        // A zombie writes no more.
        Ok((state, _)) if state == b'Z' || state == b'X' => false,
        Ok((_, start)) => owner.start.is_none_or(|s| s == start),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        // /proc hidden or missing: the PID alone decides, and an unknown answer means alive.
        Err(_) => {
            let Ok(pid) = i32::try_from(owner.pid) else {
                return false;
            };
            !matches!(
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
                Err(nix::errno::Errno::ESRCH)
            )
        }
    }
}

/// State letter and start time (clock ticks since boot) of a process, from `/proc/PID/stat`.
fn process_state(pid: u32) -> io::Result<(u8, u64)> {
    if pid == 0 {
        return Err(io::ErrorKind::NotFound.into());
    }
    let stat = fs::read(format!("/proc/{pid}/stat"))?;
    parse_stat(&stat).ok_or_else(|| io::Error::other("unreadable /proc stat line"))
}

/// Fields after the command name (which may hold spaces and parentheses): state is field 3,
/// starttime field 22.
fn parse_stat(stat: &[u8]) -> Option<(u8, u64)> {
    let after = &stat[stat.iter().rposition(|&c| c == b')')? + 1..];
    let mut fields = std::str::from_utf8(after).ok()?.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

/// This process's owner tag: `PID-START`, or `PID` where `/proc` cannot tell the start time.
fn own_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id();
        match process_state(pid) {
            Ok((_, start)) => format!("{pid}-{start}"),
            Err(_) => pid.to_string(),
        }
    })
}

/// A temporary name beside `path` that no other process or thread uses.
pub fn temp_path_for(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or(OsStr::new("file"));
    path.with_file_name(temp_name_for(name))
}

/// A temporary name for `name`, in the same directory, that no other process or thread uses.
pub fn temp_name_for(name: &OsStr) -> OsString {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Keep the temporary's name short enough for NAME_MAX even when the final name is long:
    // 1 + 180 + 8 (marker) + 10 (PID) + 1 + 20 (start) + 1 + 20 (N) = 241 bytes at most.
    let mut short = name.as_bytes();
    if short.len() > 180 {
        short = &short[..180];
    }
    let mut tmp = OsString::from(".");
    tmp.push(OsStr::from_bytes(short));
    tmp.push(format!("{TEMP_MARKER}{}.{n}", own_tag()));
    tmp
}

/// Removes (or, with `dry_run`, only names) the stale temporaries in `dir` that stand for a name
/// `wanted` accepts: regular files only, never a directory, never one whose writer lives.
/// Returns each name (in byte order) with the outcome of its removal; `Err` only when `dir`
/// cannot be listed.
pub fn remove_stale_temps(
    dir: &Path,
    wanted: impl Fn(&OsStr) -> bool,
    dry_run: bool,
) -> io::Result<Vec<(OsString, io::Result<()>)>> {
    remove_stale_temps_at(&crate::nofollow::open_dir(dir)?, wanted, dry_run)
}

/// [`remove_stale_temps`] in the open directory `dir`: each candidate is `lstat`ed and unlinked
/// relative to it, so nothing outside it is ever removed.
pub fn remove_stale_temps_at(
    dir: &OwnedFd,
    wanted: impl Fn(&OsStr) -> bool,
    dry_run: bool,
) -> io::Result<Vec<(OsString, io::Result<()>)>> {
    let mut found = Vec::new();
    for name in crate::nofollow::names(dir)? {
        if !temp_base(&name).is_some_and(&wanted) || !is_stale_temp(&name) {
            continue;
        }
        // Regular files only (an lstat: a symlink is not one); an unlink never removes a directory.
        let is_file = crate::nofollow::stat_at(dir.as_fd(), &name)
            .is_ok_and(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG);
        if !is_file {
            continue;
        }
        let outcome = if dry_run {
            Ok(())
        } else {
            match nix::unistd::unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                Err(nix::errno::Errno::ENOENT) => continue,
                other => other.map_err(io::Error::from),
            }
        };
        found.push((name, outcome));
    }
    Ok(found)
}

/// A file being written under a temporary name, renamed over its final name by [`commit`].
/// Dropped without commit, the temporary is removed and the final name is untouched.
///
/// Everything happens relative to one descriptor of the directory that holds the file, opened
/// once at [`create`](Self::create) (or handed in by [`create_at`](Self::create_at), from a
/// [`crate::beneath::Tree`]): a directory swapped for a symlink while the file is written cannot
/// send the temporary, the rename or the cleanup anywhere else.
///
/// [`commit`]: AtomicFile::commit
pub struct AtomicFile {
    file: Option<io::BufWriter<File>>,
    dir: Arc<OwnedFd>,
    temp: OsString,
    name: OsString,
    durability: Durability,
}

impl AtomicFile {
    /// Starts writing a replacement for `target` (mode 0644 less the umask unless
    /// [`set_permissions`](Self::set_permissions) is called). The directory is opened by path
    /// once, here; nothing after that resolves a path.
    pub fn create(target: &Path) -> io::Result<Self> {
        let (dir, name) = open_parent(target)?;
        Self::create_at(Arc::new(dir), name)
    }

    /// Starts writing a replacement for `name` inside the open directory `dir`.
    pub fn create_at(dir: Arc<OwnedFd>, name: &OsStr) -> io::Result<Self> {
        let temp = temp_name_for(name);
        let fd = nix::fcntl::openat(
            dir.as_fd(),
            temp.as_os_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )?;
        Ok(AtomicFile {
            file: Some(io::BufWriter::with_capacity(1 << 16, File::from(fd))),
            dir,
            temp,
            name: name.to_owned(),
            durability: Durability::Full,
        })
    }

    /// Chooses the fsync policy.
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    fn open_file(&self) -> &File {
        self.file
            .as_ref()
            .expect("file present until commit")
            .get_ref()
    }

    /// Sets the permissions the file will have under its final name.
    pub fn set_permissions(&self, mode: u32) -> io::Result<()> {
        self.open_file()
            .set_permissions(Permissions::from_mode(mode))
    }

    /// Gives the file the owner it will have under its final name (`fchown`).
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        std::os::unix::fs::fchown(self.open_file(), Some(uid), Some(gid))
    }

    /// The temporary's name in its directory.
    pub fn temp_name(&self) -> &OsStr {
        &self.temp
    }

    /// Flushes, fsyncs and renames the file over its final name. On any failure before the
    /// rename (a full disk at flush or fsync, a rename refused) the temporary is removed and the
    /// final name is left as it was.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.file.take().expect("file present until commit");
        let renamed = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(|file| file.sync_all())
            .and_then(|()| {
                nix::fcntl::renameat(
                    self.dir.as_fd(),
                    self.temp.as_os_str(),
                    self.dir.as_fd(),
                    self.name.as_os_str(),
                )
                .map_err(io::Error::from)
            });
        if let Err(e) = renamed {
            // The writer (and its descriptor) is closed by now; Drop no longer sees a file.
            unlink_quietly(&self.dir, &self.temp);
            return Err(e);
        }
        if self.durability == Durability::Full {
            nix::unistd::fsync(self.dir.as_fd())?;
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            unlink_quietly(&self.dir, &self.temp);
        }
    }
}

fn unlink_quietly(dir: &OwnedFd, name: &OsStr) {
    let _ = nix::unistd::unlinkat(dir.as_fd(), name, UnlinkatFlags::NoRemoveDir);
}

/// The directory holding `path` (opened by path, `O_DIRECTORY`) and the last component.
fn open_parent(path: &Path) -> io::Result<(OwnedFd, &OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fd = nix::fcntl::open(
        parent,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok((fd, name))
}

/// Puts something new at `name` in the open directory `dir` atomically: `create` makes it under
/// the temporary name it is given, in `dir` (a hard link, a symlink…), which is then renamed over
/// `name`. On any failure the temporary is removed and `name` is left as it was.
pub fn replace_at(
    dir: &OwnedFd,
    name: &OsStr,
    create: impl FnOnce(BorrowedFd<'_>, &OsStr) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = temp_name_for(name);
    let result = create(dir.as_fd(), &tmp).and_then(|()| {
        nix::fcntl::renameat(dir.as_fd(), tmp.as_os_str(), dir.as_fd(), name)
            .map_err(io::Error::from)
    });
    if result.is_err() {
        unlink_quietly(dir, &tmp);
    }
    result
}

/// Makes `name` in `dir` a symlink to `link_target` atomically, replacing whatever
/// non-directory was there.
pub fn replace_symlink_at(dir: &OwnedFd, name: &OsStr, link_target: &Path) -> io::Result<()> {
    replace_at(dir, name, |d, tmp| {
        nix::unistd::symlinkat(link_target, d, tmp).map_err(io::Error::from)
    })
}

/// Opens the regular file `name` in `dir` for reading, `None` when there is none (missing, or a
/// symlink or special file, which is never followed or read). A directory is an error.
pub fn open_regular_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<File>> {
    let fd = match nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ELOOP) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let file = File::from(fd);
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "a directory is in the way of the file to write",
        ));
    }
    Ok(meta.is_file().then_some(file))
}

/// The bytes of the regular file `name` in `dir` ([`open_regular_at`]'s rules).
pub fn read_regular_at(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<Vec<u8>>> {
    let Some(mut file) = open_regular_at(dir, name)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(Some(bytes))
}

/// What [`write_if_changed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file did not exist and was created.
    Created,
    /// The file existed with other bytes and was replaced.
    Replaced,
    /// The file already held exactly these bytes; it was not touched (same mtime).
    Unchanged,
}

impl WriteOutcome {
    /// A lowercase word for records (`created`, `replaced`, `unchanged`).
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Created => "created",
            WriteOutcome::Replaced => "replaced",
            WriteOutcome::Unchanged => "unchanged",
        }
    }
}

/// Writes `bytes` to `path` atomically unless the file already holds exactly those bytes, so a
/// re-run changes no mtime and a mirror polling for changes sees none. A symlink at `path` is
/// replaced by a regular file, never written through.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<WriteOutcome> {
    let (dir, name) = open_parent(path)?;
    write_if_changed_at(&Arc::new(dir), name, bytes)
}

/// [`write_if_changed`] for `name` in the open directory `dir`.
pub fn write_if_changed_at(
    dir: &Arc<OwnedFd>,
    name: &OsStr,
    bytes: &[u8],
) -> io::Result<WriteOutcome> {
    let outcome = match read_regular_at(dir, name)? {
        Some(old) if old == bytes => return Ok(WriteOutcome::Unchanged),
        Some(_) => WriteOutcome::Replaced,
        None => match nix::sys::stat::fstatat(dir.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(_) => WriteOutcome::Replaced,
            Err(nix::errno::Errno::ENOENT) => WriteOutcome::Created,
            Err(e) => return Err(e.into()),
        },
    };
    let mut f = AtomicFile::create_at(dir.clone(), name)?;
    f.write_all(bytes)?;
    f.commit()?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_replaces_and_drop_discards() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        fs::write(&target, "old").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
            assert!(is_temp_name(f.temp_name()));
            // Dropped without commit.
        }
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary removed"
        );
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_if_changed_leaves_identical_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("list");
        assert_eq!(
            write_if_changed(&target, b"a").unwrap(),
            WriteOutcome::Created
        );
        let before = fs::metadata(&target).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            write_if_changed(&target, b"a").unwrap(),
            WriteOutcome::Unchanged
        );
        assert_eq!(fs::metadata(&target).unwrap().modified().unwrap(), before);
        assert_eq!(
            write_if_changed(&target, b"b").unwrap(),
            WriteOutcome::Replaced
        );
        assert_eq!(fs::read(&target).unwrap(), b"b");
    }

    #[test]
    fn symlink_is_replaced_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        write_if_changed(&link, b"new").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"keep");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn replace_at_links_over_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("latest");
        let fd = crate::nofollow::open_dir(dir.path()).unwrap();
        let latest = OsStr::new("latest");
        fs::write(&target, "a regular file").unwrap();
        replace_symlink_at(&fd, latest, Path::new("release-9.7")).unwrap();
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.7"));
        replace_symlink_at(&fd, latest, Path::new("release-9.8")).unwrap();
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.8"));
        // A failing create leaves the target and no temporary behind.
        let err = replace_at(&fd, latest, |d, tmp| {
            nix::unistd::symlinkat("half", d, tmp)?;
            Err(io::Error::other("no"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.8"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A directory in the way is not replaced.
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/x"), "x").unwrap();
        assert!(replace_symlink_at(&fd, OsStr::new("d"), Path::new("t")).is_err());
        assert!(dir.path().join("d/x").exists());
    }

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(OsStr::new(".CHECKSUM.rl-tmp.12.0")));
        assert!(!is_temp_name(OsStr::new("CHECKSUM")));
        let long = "x".repeat(250);
        let t = temp_path_for(Path::new(&long));
        assert!(t.file_name().unwrap().len() < 255);
        // With the longest PID, start time and counter the name still fits NAME_MAX.
        let worst = format!(
            ".{}{TEMP_MARKER}{}-{}.{}",
            &long[..180],
            u32::MAX,
            u64::MAX,
            u64::MAX
        );
        assert!(worst.len() <= 255, "{}", worst.len());
    }

    fn name(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    fn own_start() -> u64 {
        process_state(std::process::id()).unwrap().1
    }

    #[test]
    fn own_temporaries_carry_pid_and_start_time_and_are_not_stale() {
        let t = temp_path_for(Path::new("/x/CHECKSUM"));
        let n = t.file_name().unwrap();
        let owner = temp_owner(n).unwrap();
        assert_eq!(owner.pid, std::process::id());
        assert_eq!(owner.start, Some(own_start()));
        assert_eq!(temp_base(n), Some(name("CHECKSUM")));
        assert!(!is_stale_temp(n), "our own temporary is live: {n:?}");
    }

    #[test]
    fn stale_only_when_the_writer_is_gone() {
        let pid = std::process::id();
        let start = own_start();
        // Same PID, another start time: the PID was reused, the writer is gone.
        assert!(is_stale_temp(name(&format!(
            ".f.rl-tmp.{pid}-{}.0",
            start + 1
        ))));
        assert!(!is_stale_temp(name(&format!(".f.rl-tmp.{pid}-{start}.7"))));
        // Old form: owner unknown beyond the PID.
        assert!(!is_stale_temp(name(&format!(".f.rl-tmp.{pid}.0"))));
        // No process can have a PID above the kernel's limit (2^22).
        assert!(is_stale_temp(name(".f.rl-tmp.99999999.0")));
        assert!(is_stale_temp(name(".f.rl-tmp.99999999-5.0")));
        // A dead (reaped) child.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let cpid = child.id();
        let cstart = process_state(cpid).map(|s| s.1).unwrap_or(0);
        child.wait().unwrap();
        assert!(is_stale_temp(name(&format!(".f.rl-tmp.{cpid}-{cstart}.0"))));
        // Names that do not parse are never stale: not ours to judge.
        for odd in [
            ".f.rl-tmp.",
            ".f.rl-tmp.abc.0",
            ".f.rl-tmp.99999999",
            ".f.rl-tmp.99999999-.0",
            ".f.rl-tmp.99999999.0x",
            "f.rl-tmp.99999999.0",
        ] {
            assert!(!is_stale_temp(name(odd)), "{odd}");
        }
        // The last marker decides: a temporary of a temporary's name.
        let nested = format!(".a.rl-tmp.99999999.0.rl-tmp.{pid}-{start}.1");
        assert!(!is_stale_temp(name(&nested)));
        assert_eq!(temp_base(name(&nested)), Some(name("a.rl-tmp.99999999.0")));
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = b"42 (a b) c)) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1 2\n";
        assert_eq!(parse_stat(line), Some((b'S', 123456)));
        assert_eq!(parse_stat(b"42 (x) S 1"), None);
    }

    #[test]
    fn remove_stale_temps_takes_only_stale_regular_files_it_is_asked_for() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        let pid = std::process::id();
        let stale = ".CHECKSUM.rl-tmp.99999999-1.0";
        let live = format!(".CHECKSUM.rl-tmp.{pid}-{}.0", own_start());
        let other = ".list.rl-tmp.99999999-1.0";
        let dir = ".x.CHECKSUM.rl-tmp.99999999-1.0";
        for f in [stale, live.as_str(), other, "CHECKSUM"] {
            fs::write(p.join(f), "x").unwrap();
        }
        fs::create_dir(p.join(dir)).unwrap();
        fs::write(p.join(dir).join("inside"), "x").unwrap();
        let ends = |b: &OsStr| b.as_bytes().ends_with(b"CHECKSUM");
        let names = |dry| -> Vec<OsString> {
            let found = remove_stale_temps(p, ends, dry).unwrap();
            found
                .into_iter()
                .map(|(n, r)| r.map(|()| n).unwrap())
                .collect()
        };
        assert_eq!(names(true), vec![stale]);
        assert!(p.join(stale).exists(), "dry run removes nothing");
        assert_eq!(names(false), vec![stale]);
        assert!(!p.join(stale).exists());
        for kept in [live.as_str(), other, "CHECKSUM", dir] {
            assert!(p.join(kept).exists(), "{kept} kept");
        }
    }

    #[test]
    fn failed_commit_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        fs::write(&target, "old").unwrap();
        // A writer whose flush fails: the buffered bytes go to a read-only descriptor (EBADF),
        // as they would hit ENOSPC on a full disk.
        let mut f = AtomicFile::create(&target).unwrap();
        let ro = File::open(dir.path().join(&f.temp)).unwrap();
        f.file = Some(io::BufWriter::with_capacity(1 << 16, ro));
        f.write_all(b"buffered").unwrap();
        assert!(f.commit().is_err());
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary removed"
        );
        // A rename that fails: a non-empty directory stands at the final name.
        let blocked = dir.path().join("d");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), "x").unwrap();
        let mut f = AtomicFile::create(&blocked).unwrap();
        f.write_all(b"new").unwrap();
        assert!(f.commit().is_err());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "temporary removed"
        );
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let err = AtomicFile::create(Path::new("/nonexistent/rl/file"))
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
