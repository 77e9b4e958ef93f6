//! The staging record of a release root: when rl-bitflip locked it, and whether it has been
//! published since.
//!
//! # Where it is kept
//!
//! 1. Preferred: the extended attribute [`XATTR_NAME`] (`user.rl-bitflip.staged`) on the root
//!    directory itself. It adds no name to the tree, so no file list (create-filelist, `find`,
//!    rl-filelist) and no rsync without `-X` ever sees it, and it moves with the directory.
//! 2. Fallback, when the filesystem does not support user extended attributes (`ENOTSUP`, e.g.
//!    older NFS, tmpfs before Linux 6.6): the file [`state_file_path`] `<parent>/.<name>.rl-bitflip`
//!    beside the root, i.e. outside the released tree. It is written atomically with mode 0600:
//!    create-filelist skips entries that are not group-readable and an rsync daemon with
//!    `ignore nonreadable` does not serve it, but a plain `find . > fullfilelist` of the parent
//!    does list its name.
//!
//! A record in one place makes the other stale, so writing removes the other copy. Reading
//! prefers the extended attribute. Writing also removes the state file's temporaries left by a
//! killed earlier run (once their writer is gone, [`crate::fsx::is_stale_temp`]).
//!
//! # Format
//!
//! One compact JSON object:
//! `{"schema":1,"state":"staged","staged":1795301962,"published":null,"mode":"0750","tool":"rl-bitflip 0.1.0"}`
//! with times in whole seconds since the Unix epoch and the mode as four octal digits.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::fsx::AtomicFile;

/// The extended attribute holding the record.
pub const XATTR_NAME: &str = "user.rl-bitflip.staged";

/// The record's schema number.
pub const SCHEMA: u64 = 1;

/// Largest record accepted when reading (a record is under 200 bytes).
const MAX_LEN: usize = 4096;

/// Which state the record says the root is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Staged,
    Public,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Staged => "staged",
            Phase::Public => "public",
        }
    }
}

/// The staging record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRecord {
    pub phase: Phase,
    /// When the root was staged (seconds since the epoch).
    pub staged: i64,
    /// When it was published, once it was.
    pub published: Option<i64>,
    /// The permission bits set at the last change.
    pub mode: u32,
    /// `rl-bitflip VERSION` that wrote it.
    pub tool: String,
}

impl StageRecord {
    /// The JSON text stored.
    pub fn to_json(&self) -> String {
        json!({
            "schema": SCHEMA,
            "state": self.phase.as_str(),
            "staged": self.staged,
            "published": self.published,
            "mode": format!("{:04o}", self.mode),
            "tool": self.tool,
        })
        .to_string()
    }

    /// Parses the stored text. The error says what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
        if v["schema"].as_u64() != Some(SCHEMA) {
            return Err(format!("unknown schema {}", v["schema"]));
        }
        let phase = match v["state"].as_str() {
            Some("staged") => Phase::Staged,
            Some("public") => Phase::Public,
            _ => return Err(format!("unknown state {}", v["state"])),
        };
        let staged = v["staged"].as_i64().ok_or("no staging time")?;
        let published = match &v["published"] {
            Value::Null => None,
            p => Some(p.as_i64().ok_or("a publishing time that is not a number")?),
        };
        let mode = v["mode"]
            .as_str()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .filter(|m| *m <= 0o7777)
            .ok_or("no valid mode")?;
        let tool = v["tool"].as_str().unwrap_or_default().to_owned();
        Ok(StageRecord {
            phase,
            staged,
            published,
            mode,
            tool,
        })
    }
}

/// Where a record is (or is to be) kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The extended attribute, or the state file where the filesystem has no user xattrs.
    Auto,
    Xattr,
    File,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Auto => "auto",
            Store::Xattr => "xattr",
            Store::File => "file",
        }
    }
}

/// `<parent>/.<name>.rl-bitflip` for the root `<parent>/<name>` (an absolute, normalised path
/// other than `/`).
pub fn state_file_path(root: &Path) -> PathBuf {
    let name = root.file_name().unwrap_or_default();
    let mut file = OsString::from(".");
    file.push(name);
    file.push(".rl-bitflip");
    root.with_file_name(file)
}

fn is_unsupported(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::NOTSUP || e == rustix::io::Errno::OPNOTSUPP
}

fn corrupt(place: &str, why: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the staging record in {place} is unreadable: {why}"),
    )
}

/// Reads the record of the root open as `root_fd` at `root`: the extended attribute first, then
/// the state file. `Ok(None)` when there is none.
pub fn read(root_fd: BorrowedFd<'_>, root: &Path) -> io::Result<Option<(StageRecord, Store)>> {
    let mut buf = vec![0u8; MAX_LEN];
    match rustix::fs::fgetxattr(root_fd, XATTR_NAME, &mut buf[..]) {
        Ok(n) => {
            return StageRecord::from_json(&buf[..n])
                .map(|r| Some((r, Store::Xattr)))
                .map_err(|why| corrupt(&format!("the extended attribute {XATTR_NAME}"), why));
        }
        Err(e) if e == rustix::io::Errno::NODATA || is_unsupported(e) => {}
        Err(e) if e == rustix::io::Errno::RANGE => {
            return Err(corrupt(
                &format!("the extended attribute {XATTR_NAME}"),
                "too long".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let path = state_file_path(root);
    let file = match open_nofollow_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_LEN as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > MAX_LEN {
        return Err(corrupt(&path.display().to_string(), "too long".into()));
    }
    StageRecord::from_json(&bytes)
        .map(|r| Some((r, Store::File)))
        .map_err(|why| corrupt(&path.display().to_string(), why))
}

fn open_nofollow_read(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
}

fn unsupported(e: rustix::io::Errno) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "this filesystem does not support user extended attributes; use --state file ({e})"
        ),
    )
}

/// Checks, without changing anything, that `store` can be used on this root: `Store::Xattr`
/// fails on a filesystem without user extended attributes. Call it before changing the root, so
/// an unusable store does not leave a half-done flip.
pub fn probe(root_fd: BorrowedFd<'_>, store: Store) -> io::Result<()> {
    if store != Store::Xattr {
        return Ok(());
    }
    match rustix::fs::fgetxattr(root_fd, XATTR_NAME, &mut [0u8; 0][..]) {
        Err(e) if is_unsupported(e) => Err(unsupported(e)),
        _ => Ok(()),
    }
}

/// Writes the record where `store` says (for `Auto`: the extended attribute, else the state
/// file) and removes a copy left in the other place. Returns where it was written.
pub fn write(
    root_fd: BorrowedFd<'_>,
    root: &Path,
    record: &StageRecord,
    store: Store,
) -> io::Result<Store> {
    remove_stale_state_temps(root);
    let text = record.to_json();
    let written = match store {
        Store::Xattr | Store::Auto => {
            match rustix::fs::fsetxattr(
                root_fd,
                XATTR_NAME,
                text.as_bytes(),
                rustix::fs::XattrFlags::empty(),
            ) {
                Ok(()) => Store::Xattr,
                Err(e) if store == Store::Auto && is_unsupported(e) => {
                    write_file(root, &text)?;
                    Store::File
                }
                Err(e) if is_unsupported(e) => return Err(unsupported(e)),
                Err(e) => return Err(e.into()),
            }
        }
        Store::File => {
            write_file(root, &text)?;
            Store::File
        }
    };
    match written {
        Store::Xattr => match std::fs::remove_file(state_file_path(root)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
        _ => match rustix::fs::fremovexattr(root_fd.as_fd(), XATTR_NAME) {
            Err(e) if e != rustix::io::Errno::NODATA && !is_unsupported(e) => {
                return Err(e.into());
            }
            _ => {}
        },
    }
    Ok(written)
}

/// Removes the temporaries of the state file that a killed run left beside the root. Best
/// effort: they hold no record that counts (the state file is renamed into place or absent).
fn remove_stale_state_temps(root: &Path) {
    let state = state_file_path(root);
    let (Some(dir), Some(name)) = (state.parent(), state.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let _ = crate::fsx::remove_stale_temps(dir, |base| base == name, false);
}

fn write_file(root: &Path, text: &str) -> io::Result<()> {
    let mut f = AtomicFile::create(&state_file_path(root))?;
    f.set_permissions(0o600)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    fn rec() -> StageRecord {
        StageRecord {
            phase: Phase::Staged,
            staged: 1_795_301_962,
            published: None,
            mode: 0o750,
            tool: "rl-bitflip 0.1.0".into(),
        }
    }

    #[test]
    fn json_round_trips() {
        let r = rec();
        assert_eq!(
            r.to_json(),
            r#"{"schema":1,"state":"staged","staged":1795301962,"published":null,"mode":"0750","tool":"rl-bitflip 0.1.0"}"#
        );
        assert_eq!(StageRecord::from_json(r.to_json().as_bytes()).unwrap(), r);
        let p = StageRecord {
            phase: Phase::Public,
            published: Some(1_795_400_000),
            ..r
        };
        assert_eq!(StageRecord::from_json(p.to_json().as_bytes()).unwrap(), p);
    }

    #[test]
    fn corrupt_records_are_errors() {
        for bad in [
            &b"garbage"[..],
            br#"{"schema":2}"#,
            br#"{"schema":1,"state":"odd","staged":1,"mode":"0750"}"#,
            br#"{"schema":1,"state":"staged","mode":"0750"}"#,
            br#"{"schema":1,"state":"staged","staged":1,"mode":"99"}"#,
        ] {
            assert!(StageRecord::from_json(bad).is_err());
        }
    }

    #[test]
    fn state_file_is_beside_the_root() {
        assert_eq!(
            state_file_path(Path::new("/pub/rocky/9.6")),
            Path::new("/pub/rocky/.9.6.rl-bitflip")
        );
    }

    #[test]
    fn file_store_writes_0600_and_reads_back() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("9.6");
        std::fs::create_dir(&root).unwrap();
        let fd = crate::nofollow::open_dir(&root).unwrap();
        assert!(read(fd.as_fd(), &root).unwrap().is_none());
        assert_eq!(
            write(fd.as_fd(), &root, &rec(), Store::File).unwrap(),
            Store::File
        );
        let meta = std::fs::metadata(state_file_path(&root)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(read(fd.as_fd(), &root).unwrap(), Some((rec(), Store::File)));
        // Auto prefers the attribute where the filesystem has one, and then drops the file.
        let got = write(fd.as_fd(), &root, &rec(), Store::Auto).unwrap();
        if got == Store::Xattr {
            assert!(!state_file_path(&root).exists());
            assert_eq!(
                read(fd.as_fd(), &root).unwrap(),
                Some((rec(), Store::Xattr))
            );
        }
    }

    #[test]
    fn writing_removes_a_killed_runs_temporaries_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("9.6");
        std::fs::create_dir(&root).unwrap();
        // No process has a PID above 2^22; PID 1 lives.
        let stale = t.path().join("..9.6.rl-bitflip.rl-tmp.99999999-1.0");
        let live = t.path().join("..9.6.rl-bitflip.rl-tmp.1.0");
        let other = t.path().join(".9.7.rl-tmp.99999999-1.0");
        for f in [&stale, &live, &other] {
            std::fs::write(f, "{").unwrap();
        }
        let fd = crate::nofollow::open_dir(&root).unwrap();
        write(fd.as_fd(), &root, &rec(), Store::File).unwrap();
        assert!(!stale.exists());
        assert!(live.exists() && other.exists());
    }
}
