//! Reading file contents: a cheap filter digest (head and tail), a full digest for large groups,
//! the byte-for-byte comparison that decides every link, and extended attributes for `-X`.

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Bytes read from each end of a file for the filter digest.
pub const EDGE: u64 = 4096;

/// SHA-256 over the first and last [`EDGE`] bytes (the whole file when it is at most twice that),
/// prefixed by the length read. Only a filter: equal digests are always confirmed byte for byte.
/// The tail matters: same-size files often differ only near their end.
pub fn edge_digest(path: &Path, size: u64) -> io::Result<[u8; 32]> {
    let buf = edges(path, size)?;
    let mut hasher = Sha256::new();
    hasher.update((buf.len() as u64).to_le_bytes());
    hasher.update(&buf);
    Ok(hasher.finalize().into())
}

/// The bytes [`edge_digest`] hashes: the first and last [`EDGE`] bytes, or the whole file when it
/// is at most twice that. Two files of one size have equal edge digests exactly when these are
/// equal (up to a SHA-256 collision), so a pair is compared on them directly.
pub fn edges(path: &Path, size: u64) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = head(&f, size)?;
    if size > 2 * EDGE {
        buf.extend_from_slice(&tail(&f, size)?);
    }
    Ok(buf)
}

/// The first part of [`edges`]: the first [`EDGE`] bytes, or the whole file when `size` is at
/// most twice that (one byte more is asked for, so a file that grew since the scan differs).
pub fn head(f: &File, size: u64) -> io::Result<Vec<u8>> {
    let want = if size <= 2 * EDGE { 2 * EDGE + 1 } else { EDGE };
    read_from(f, 0, want.min(size + 1))
}

/// The second part of [`edges`] for files of more than 2 * [`EDGE`] bytes: the last `EDGE`.
pub fn tail(f: &File, size: u64) -> io::Result<Vec<u8>> {
    read_from(f, size - EDGE, EDGE)
}

/// Up to `len` bytes from offset `at` (fewer at the end of the file), by positional reads: no
/// seek, and no extra read to find the end when the file is as long as expected.
fn read_from(f: &File, at: u64, len: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match f.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// SHA-256 of the whole file (a filter for large groups of same-size candidates).
pub fn full_digest(path: &Path) -> io::Result<[u8; 32]> {
    Ok(to_array(&rl_core::hash::sha256_file(path)?.digest))
}

fn to_array(v: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let n = v.len().min(32);
    out[..n].copy_from_slice(&v[..n]);
    out
}

/// Whether two files hold exactly the same bytes; `size` is their expected size (a file that
/// grew or shrank since the scan is not equal).
pub fn files_equal(a: &Path, b: &Path, size: u64) -> io::Result<bool> {
    rl_core::compare::files_equal(a, b, Some(size))
}

/// The extended attributes of `path` itself (never a link target) as one comparable blob:
/// names sorted, each followed by its value.
pub fn xattr_blob(path: &Path) -> io::Result<Vec<u8>> {
    use rustix::fs::{lgetxattr, llistxattr};
    let mut names = vec![0u8; 1024];
    loop {
        match llistxattr(path, &mut names[..]) {
            Ok(n) => {
                names.truncate(n);
                break;
            }
            Err(rustix::io::Errno::RANGE) => {
                let need = llistxattr(path, &mut [0u8; 0][..])?;
                names.resize(need.max(names.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut list: Vec<&[u8]> = names.split(|b| *b == 0).filter(|n| !n.is_empty()).collect();
    list.sort_unstable();
    let mut blob = Vec::new();
    for name in list {
        let cname = std::ffi::OsStr::from_bytes(name);
        let mut value = vec![0u8; 256];
        let len = loop {
            match lgetxattr(path, cname, &mut value[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => {
                    let need = lgetxattr(path, cname, &mut [0u8; 0][..])?;
                    value.resize(need.max(value.len() * 2), 0);
                }
                Err(rustix::io::Errno::NODATA) => break 0, // removed meanwhile
                Err(e) => return Err(e.into()),
            }
        };
        blob.extend_from_slice(&(name.len() as u64).to_le_bytes());
        blob.extend_from_slice(name);
        blob.extend_from_slice(&(len as u64).to_le_bytes());
        blob.extend_from_slice(&value[..len]);
    }
    Ok(blob)
}
