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

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Whether a file name is one of our temporaries (`.NAME.rl-tmp.PID.N`).
pub fn is_temp_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.starts_with(b".")
        && b.windows(TEMP_MARKER.len())
            .any(|w| w == TEMP_MARKER.as_bytes())
}

/// A temporary name beside `path` that no other process or thread uses.
pub fn temp_path_for(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().unwrap_or(OsStr::new("file"));
    // Keep the temporary's name short enough for NAME_MAX even when the final name is long.
    let mut short = name.as_bytes();
    if short.len() > 180 {
        short = &short[..180];
    }
    let mut tmp = OsString::from(".");
    tmp.push(OsStr::from_bytes(short));
    tmp.push(format!("{TEMP_MARKER}{}.{n}", std::process::id()));
    path.with_file_name(tmp)
}

/// A file being written under a temporary name, renamed over its final name by [`commit`].
/// Dropped without commit, the temporary is removed and the final name is untouched.
///
/// [`commit`]: AtomicFile::commit
pub struct AtomicFile {
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
    target: PathBuf,
    durability: Durability,
}

impl AtomicFile {
    /// Starts writing a replacement for `target` (mode 0644 less the umask unless
    /// [`set_permissions`](Self::set_permissions) is called).
    pub fn create(target: &Path) -> io::Result<Self> {
        let temp = temp_path_for(target);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)?;
        Ok(AtomicFile {
            file: Some(io::BufWriter::with_capacity(1 << 16, file)),
            temp,
            target: target.to_path_buf(),
            durability: Durability::Full,
        })
    }

    /// Chooses the fsync policy.
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }

    /// Sets the permissions the file will have under its final name.
    pub fn set_permissions(&self, mode: u32) -> io::Result<()> {
        fs::set_permissions(&self.temp, Permissions::from_mode(mode))
    }

    /// The temporary path (for tools that must set times or owners before the rename).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes, fsyncs and renames the file over its final name.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.file.take().expect("file present until commit");
        let file = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.target)?;
        if self.durability == Durability::Full {
            sync_parent(&self.target)?;
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
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Puts something new at `target` atomically: `create` makes it under a temporary name in the
/// same directory (a hard link, a symlink, a copy…), which is then renamed over `target`. On any
/// failure the temporary is removed and `target` is left as it was. For regular files written
/// byte by byte, use [`AtomicFile`].
pub fn replace_with(target: &Path, create: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let tmp = temp_path_for(target);
    let result = create(&tmp).and_then(|()| fs::rename(&tmp, target));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes `path` a symlink to `link_target` atomically, replacing whatever non-directory was there
/// (a reader sees the old entry or the new link, never no entry).
pub fn replace_symlink(link_target: &Path, path: &Path) -> io::Result<()> {
    replace_with(path, |tmp| std::os::unix::fs::symlink(link_target, tmp))
}

/// fsyncs the directory holding `path`, so a rename into it is durable.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
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
    let outcome = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == bytes.len() as u64 => {
            if fs::read(path)? == bytes {
                return Ok(WriteOutcome::Unchanged);
            }
            WriteOutcome::Replaced
        }
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "a directory is in the way of the file to write",
            ));
        }
        Ok(_) => WriteOutcome::Replaced,
        Err(e) if e.kind() == io::ErrorKind::NotFound => WriteOutcome::Created,
        Err(e) => return Err(e),
    };
    write_atomic(path, bytes)?;
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
            assert!(is_temp_name(f.temp_path().file_name().unwrap()));
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
    fn replace_with_links_over_and_cleans_up_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("latest");
        fs::write(&target, "a regular file").unwrap();
        replace_symlink(Path::new("release-9.7"), &target).unwrap();
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.7"));
        replace_symlink(Path::new("release-9.8"), &target).unwrap();
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.8"));
        // A failing create leaves the target and no temporary behind.
        let err = replace_with(&target, |tmp| {
            fs::write(tmp, "half")?;
            Err(io::Error::other("no"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_link(&target).unwrap(), Path::new("release-9.8"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A directory in the way is not replaced.
        fs::create_dir(dir.path().join("d")).unwrap();
        fs::write(dir.path().join("d/x"), "x").unwrap();
        assert!(replace_symlink(Path::new("t"), &dir.path().join("d")).is_err());
        assert!(dir.path().join("d/x").exists());
    }

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(OsStr::new(".CHECKSUM.rl-tmp.12.0")));
        assert!(!is_temp_name(OsStr::new("CHECKSUM")));
        let long = "x".repeat(250);
        let t = temp_path_for(Path::new(&long));
        assert!(t.file_name().unwrap().len() < 255);
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let err = write_atomic(Path::new("/nonexistent/rl/file"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
