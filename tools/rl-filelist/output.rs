//! Writing a list file: bytes go to a temporary beside the target while they are compared with
//! the current file; at the end the temporary is renamed over the target only if the bytes
//! differ, so an unchanged list keeps its mtime and a reader never sees a half-written list.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use rl_core::fsx::{self, AtomicFile, WriteOutcome};

/// A list being written to `name` in an open directory.
///
/// While the new bytes equal the current file's, nothing is written anywhere: an unchanged list
/// creates no temporary, so the directory holding it keeps its mtime too (an outer root's list
/// names that directory). At the first difference the temporary is created, the identical prefix
/// copied into it from the current file, and writing goes on there. Every step goes through the
/// directory's descriptor, never a path: a root swapped for a symlink after it was opened does
/// not send a list anywhere else.
pub struct ListOutput {
    dir: Arc<OwnedFd>,
    name: OsString,
    existing: Option<BufReader<File>>,
    existed: bool,
    matched: u64,
    dry_run: bool,
    owner: Option<(u32, u32)>,
    file: Option<AtomicFile>,
    cmp_buf: Vec<u8>,
    /// Kept in memory only in dry-run mode (for alias comparison).
    pub memory: Option<Vec<u8>>,
    pub bytes: u64,
}

/// The current list `name` in `dir` (never through a symlink: one there is replaced, not read).
pub fn open_current(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<File>> {
    fsx::open_regular_at(dir, name)
}

impl ListOutput {
    /// Starts a list at `target` (its directory opened by path). In dry-run mode nothing is
    /// created on disk.
    pub fn create(target: &Path, dry_run: bool) -> io::Result<Self> {
        let dir = target.parent().filter(|p| !p.as_os_str().is_empty());
        let fd = fs::File::open(dir.unwrap_or(Path::new(".")))?;
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the list path names no file")
        })?;
        Self::create_in(&Arc::new(OwnedFd::from(fd)), name, dry_run, None)
    }

    /// Starts the list `name` in the open directory `dir`; its new file gets the owner
    /// `uid:gid` (`fchown` before the rename).
    pub fn create_in(
        dir: &Arc<OwnedFd>,
        name: &OsStr,
        dry_run: bool,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let existing = open_current(dir, name)?.map(|f| BufReader::with_capacity(1 << 16, f));
        let mut out = ListOutput {
            dir: dir.clone(),
            name: name.to_owned(),
            existed: existing.is_some(),
            existing,
            matched: 0,
            dry_run,
            owner,
            file: None,
            cmp_buf: Vec::new(),
            memory: dry_run.then(Vec::new),
            bytes: 0,
        };
        if !out.existed {
            out.diverge()?;
        }
        Ok(out)
    }

    /// Leaves comparison mode: creates the temporary and copies the identical prefix into it.
    fn diverge(&mut self) -> io::Result<()> {
        self.existing = None;
        if self.dry_run || self.file.is_some() {
            return Ok(());
        }
        let mut f = AtomicFile::create_at(self.dir.clone(), &self.name)?;
        f.set_permissions(0o644)?;
        if let Some((uid, gid)) = self.owner {
            f.chown(uid, gid)?;
        }
        if self.matched > 0 {
            let shrank = || {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the current list shrank while it was compared",
                )
            };
            let cur = open_current(&self.dir, &self.name)?.ok_or_else(shrank)?;
            let copied = io::copy(&mut cur.take(self.matched), &mut f)?;
            if copied != self.matched {
                return Err(shrank());
            }
        }
        self.file = Some(f);
        Ok(())
    }

    /// Renames the new list into place if it differs from the current one; with `backup`, the
    /// current one is first kept under that name (atomically, in the same directory). Without
    /// `commit` (an error happened) the temporary is removed and nothing changes.
    pub fn finish(mut self, backup: Option<&OsStr>, commit: bool) -> io::Result<WriteOutcome> {
        if let Some(r) = self.existing.as_mut() {
            let mut one = [0u8; 1];
            if r.read(&mut one)? == 0 {
                return Ok(WriteOutcome::Unchanged);
            }
            // The new list is a prefix of the current one.
            if commit {
                self.diverge()?;
            }
        }
        let outcome = if self.existed {
            WriteOutcome::Replaced
        } else {
            WriteOutcome::Created
        };
        // Without a commit, dropping `file` removes the temporary.
        if let Some(file) = self.file.take()
            && commit
        {
            if let (Some(b), true) = (backup, self.existed) {
                keep_old(&self.dir, &self.name, b)?;
            }
            file.commit()?;
        }
        Ok(outcome)
    }
}

impl Write for ListOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if let Some(r) = self.existing.as_mut() {
            self.cmp_buf.resize(data.len(), 0);
            let mut got = 0;
            while got < data.len() {
                let n = r.read(&mut self.cmp_buf[got..])?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            if got == data.len() && self.cmp_buf[..got] == *data {
                self.matched += data.len() as u64;
            } else {
                self.diverge()?;
            }
        }
        if self.existing.is_none()
            && let Some(f) = self.file.as_mut()
        {
            f.write_all(data)?;
        }
        if let Some(m) = self.memory.as_mut() {
            m.extend_from_slice(data);
        }
        self.bytes += data.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Makes `old` a copy of `current` (both in `dir`) atomically: a hard link under a temporary
/// name renamed over `old` (a plain copy where hard links are not possible).
fn keep_old(dir: &OwnedFd, current: &OsStr, old: &OsStr) -> io::Result<()> {
    fsx::replace_at(dir, old, |d, tmp| {
        let linked = nix::unistd::linkat(d, current, d, tmp, nix::fcntl::AtFlags::empty());
        if linked.is_err() {
            copy_at(dir, current, tmp, None)?;
        }
        Ok(())
    })
}

/// Copies the regular file `from` to the new file `to`, both in `dir` (mode 0644, owner
/// `owner` when given).
pub fn copy_at(
    dir: &OwnedFd,
    from: &OsStr,
    to: &OsStr,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let mut src = open_current(dir, from)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the list to copy is gone"))?;
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        to,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    let mut out = File::from(fd);
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&out, Some(uid), Some(gid))?;
    }
    io::copy(&mut src, &mut out)?;
    out.sync_all()
}

/// Removes temporaries a killed run left of `name` in `dir`: only those whose writer is gone
/// (`fsx::is_stale_temp`), since another run under another `--lock` may be writing them.
pub fn remove_stale_temps(dir: &OwnedFd, name: &OsStr) {
    let _ = fsx::remove_stale_temps_at(dir, |base| base == name, false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_is_left_alone_and_changed_keeps_old() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("list");
        let old = d.path().join("list-old");
        let old_name = Some(OsStr::new("list-old"));
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"one").unwrap();
        assert_eq!(o.finish(old_name, true).unwrap(), WriteOutcome::Created);
        assert!(!old.exists());
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"one").unwrap();
        assert_eq!(o.finish(old_name, true).unwrap(), WriteOutcome::Unchanged);
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"on").unwrap();
        assert_eq!(o.finish(old_name, true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"on");
        assert_eq!(fs::read(&old).unwrap(), b"one");
        // An uncommitted (failed) write leaves everything as it was.
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"half").unwrap();
        assert_eq!(o.finish(old_name, false).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"on");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }

    #[test]
    fn no_temporary_while_bytes_match_and_divergence_keeps_the_prefix() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("list");
        fs::write(&t, b"abcdef").unwrap();
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"abc").unwrap();
        assert_eq!(
            fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary yet"
        );
        o.write_all(b"XYZ").unwrap();
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
        assert_eq!(o.finish(None, true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"abcXYZ");
        // The new list is a prefix of the current one: replaced, not unchanged.
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"abc").unwrap();
        assert_eq!(o.finish(None, true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"abc");
        // Longer than the current one.
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"abc").unwrap();
        o.write_all(b"d").unwrap();
        assert_eq!(o.finish(None, true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"abcd");
        // Dry run: outcomes only.
        let mut o = ListOutput::create(&t, true).unwrap();
        o.write_all(b"zz").unwrap();
        assert_eq!(o.finish(None, true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"abcd");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temporaries_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("list");
        // No process has a PID above 2^22: that writer is gone. Ours lives.
        let stale = d.path().join(".list.rl-tmp.99999999-1.0");
        fs::write(&stale, "half").unwrap();
        let live = fsx::temp_path_for(&t);
        fs::write(&live, "being written").unwrap();
        fs::write(d.path().join("other"), "").unwrap();
        let fd = rl_core::nofollow::open_dir(d.path()).unwrap();
        remove_stale_temps(&fd, OsStr::new("list"));
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(d.path().join("other").exists());
    }
}
