//! Writing a list file: bytes go to a temporary beside the target while they are compared with
//! the current file; at the end the temporary is renamed over the target only if the bytes
//! differ, so an unchanged list keeps its mtime and a reader never sees a half-written list.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use rl_core::fsx::{self, AtomicFile, WriteOutcome};

/// A list being written to `target`.
///
/// While the new bytes equal the current file's, nothing is written anywhere: an unchanged list
/// creates no temporary, so the directory holding it keeps its mtime too (an outer root's list
/// names that directory). At the first difference the temporary is created, the identical prefix
/// copied into it from the current file, and writing goes on there.
pub struct ListOutput {
    target: PathBuf,
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

impl ListOutput {
    /// Starts a list. In dry-run mode nothing is created on disk.
    pub fn create(target: &Path, dry_run: bool) -> io::Result<Self> {
        Self::create_owned(target, dry_run, None)
    }

    /// Starts a list whose new file gets the owner `uid:gid` (`chown` before the rename).
    pub fn create_owned(
        target: &Path,
        dry_run: bool,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let existing = match fs::symlink_metadata(target) {
            Ok(m) if m.is_file() => Some(BufReader::with_capacity(1 << 16, File::open(target)?)),
            Ok(m) if m.is_dir() => {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "a directory is in the way of the list to write",
                ));
            }
            Ok(_) => None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut out = ListOutput {
            target: target.to_path_buf(),
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
        let mut f = AtomicFile::create(&self.target)?;
        f.set_permissions(0o644)?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(f.temp_path(), Some(uid), Some(gid))?;
        }
        if self.matched > 0 {
            let mut cur = File::open(&self.target)?.take(self.matched);
            let copied = io::copy(&mut cur, &mut f)?;
            if copied != self.matched {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the current list shrank while it was compared",
                ));
            }
        }
        self.file = Some(f);
        Ok(())
    }

    /// Renames the new list into place if it differs from the current one; with `backup`, the
    /// current one is first kept under that name (atomically). Without `commit` (an error
    /// happened) the temporary is removed and nothing changes.
    pub fn finish(mut self, backup: Option<&Path>, commit: bool) -> io::Result<WriteOutcome> {
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
                keep_old(&self.target, b)?;
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

/// Makes `old` a copy of `current` atomically: a hard link under a temporary name renamed over
/// `old` (a plain copy where hard links are not possible).
fn keep_old(current: &Path, old: &Path) -> io::Result<()> {
    fsx::replace_with(old, |tmp| {
        if fs::hard_link(current, tmp).is_err() {
            fs::copy(current, tmp)?;
        }
        Ok(())
    })
}

/// Removes temporaries a killed run left beside `target`: only those whose writer is gone
/// (`fsx::is_stale_temp`), since another run under another `--lock` may be writing them.
pub fn remove_stale_temps(target: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let mut prefix = b".".to_vec();
    prefix.extend_from_slice(name.as_bytes());
    prefix.extend_from_slice(fsx::TEMP_MARKER.as_bytes());
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let n = e.file_name();
        if n.as_bytes().starts_with(&prefix)
            && fsx::is_stale_temp(&n)
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_is_left_alone_and_changed_keeps_old() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("list");
        let old = d.path().join("list-old");
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"one").unwrap();
        assert_eq!(o.finish(Some(&old), true).unwrap(), WriteOutcome::Created);
        assert!(!old.exists());
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"one").unwrap();
        assert_eq!(o.finish(Some(&old), true).unwrap(), WriteOutcome::Unchanged);
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"on").unwrap();
        assert_eq!(o.finish(Some(&old), true).unwrap(), WriteOutcome::Replaced);
        assert_eq!(fs::read(&t).unwrap(), b"on");
        assert_eq!(fs::read(&old).unwrap(), b"one");
        // An uncommitted (failed) write leaves everything as it was.
        let mut o = ListOutput::create(&t, false).unwrap();
        o.write_all(b"half").unwrap();
        assert_eq!(o.finish(Some(&old), false).unwrap(), WriteOutcome::Replaced);
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
        remove_stale_temps(&t);
        assert!(!stale.exists());
        assert!(live.exists());
        assert!(d.path().join("other").exists());
    }
}
