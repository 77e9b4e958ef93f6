//! Streaming SHA-256 and SHA-1 over files, and parallel hashing of many files.
//!
//! The RustCrypto `sha2`/`sha1` crates pick the CPU's SHA instructions (SHA-NI on x86_64, the ARMv8
//! crypto extensions on aarch64) at run time, which makes one core several times faster than GNU
//! `sha256sum`. Files are read in large blocks so the hash, not the read loop, sets the pace; many
//! files are hashed in parallel with one file per task, so a huge ISO never holds up the small
//! files beside it.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Read block size: large enough that syscalls cost little next to hashing.
pub const BLOCK: usize = 1 << 20;

/// Whether this CPU has SHA instructions that the hashers use.
pub fn hardware_sha_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("sha2")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses lowercase or uppercase hexadecimal of an exact length in bytes.
pub fn parse_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != len * 2 || !text.is_ascii() {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The digest of a file and the number of bytes hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub size: u64,
    pub digest: Vec<u8>,
}

impl FileDigest {
    pub fn hex(&self) -> String {
        hex(&self.digest)
    }
}

fn stream<D: Digest>(reader: &mut impl Read) -> io::Result<FileDigest> {
    stream_with::<D>(reader, &|_| {})
}

fn stream_with<D: Digest>(
    reader: &mut impl Read,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<FileDigest> {
    let mut hasher = D::new();
    let size = for_each_block(reader, &mut |block| {
        hasher.update(block);
        progress(block.len() as u64);
    })?;
    Ok(FileDigest {
        size,
        digest: hasher.finalize().to_vec(),
    })
}

/// Reads everything `reader` yields in [`BLOCK`]-sized reads and hands each block to `f`;
/// returns the number of bytes read. The one read loop behind every digest here and in the file
/// formats that need several digests of one file in one pass.
pub fn for_each_block(reader: &mut impl Read, f: &mut dyn FnMut(&[u8])) -> io::Result<u64> {
    thread_local! {
        // One read buffer per thread, reused: zeroing 1 MiB for every small file costs more
        // than hashing it.
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; BLOCK]);
    }
    BUF.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => read_blocks(reader, &mut buf, f),
        // Re-entered on the same thread (a callback that reads another file): a fresh buffer.
        Err(_) => read_blocks(reader, &mut vec![0u8; BLOCK], f),
    })
}

fn read_blocks(
    reader: &mut impl Read,
    buf: &mut [u8],
    f: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
    let mut size = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f(&buf[..n]);
        size += n as u64;
    }
}

/// SHA-256 of everything a reader yields.
pub fn sha256_reader(reader: &mut impl Read) -> io::Result<FileDigest> {
    stream::<Sha256>(reader)
}

/// SHA-1 of everything a reader yields.
pub fn sha1_reader(reader: &mut impl Read) -> io::Result<FileDigest> {
    stream::<Sha1>(reader)
}

/// SHA-256 of a file (symlinks followed). A directory is an error, not an empty digest.
pub fn sha256_file(path: &Path) -> io::Result<FileDigest> {
    let mut file = open_regular(path)?;
    sha256_reader(&mut file)
}

/// SHA-256 of a file, calling `progress` with the number of bytes after each block (for a
/// progress bar shared by parallel hashers).
pub fn sha256_file_progress(
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> io::Result<FileDigest> {
    let mut file = open_regular(path)?;
    stream_with::<Sha256>(&mut file, progress)
}

/// SHA-1 of a file (symlinks followed).
pub fn sha1_file(path: &Path) -> io::Result<FileDigest> {
    let mut file = open_regular(path)?;
    sha1_reader(&mut file)
}

/// Opens a file for reading its content (symlinks followed); a directory is an error.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    Ok(file)
}

/// SHA-256 of many files in parallel; results in input order. One file per task, so a large file
/// occupies one core while the others go on with the rest.
pub fn sha256_files(paths: &[PathBuf]) -> Vec<io::Result<FileDigest>> {
    paths
        .par_iter()
        .with_max_len(1)
        .map(|p| sha256_file(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let empty = sha256_reader(&mut &b""[..]).unwrap();
        assert_eq!(
            empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let abc = sha256_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(
            abc.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(abc.size, 3);
        let sha1 = sha1_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(sha1.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn large_input_spans_blocks() {
        let data = vec![b'a'; BLOCK * 2 + 17];
        let d = sha256_reader(&mut &data[..]).unwrap();
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(d.digest, Sha256::digest(&data).to_vec());
    }

    #[test]
    fn files_in_parallel_keep_order_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "abc").unwrap();
        let missing = dir.path().join("missing");
        let out = sha256_files(&[a.clone(), missing, dir.path().to_path_buf()]);
        assert_eq!(
            out[0].as_ref().unwrap().hex(),
            sha256_file(&a).unwrap().hex()
        );
        assert_eq!(out[1].as_ref().unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(
            out[2].as_ref().unwrap_err().kind(),
            io::ErrorKind::IsADirectory
        );
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(parse_hex("00ABff", 3).unwrap(), vec![0, 0xab, 0xff]);
        assert!(parse_hex("00ab", 3).is_none());
        assert!(parse_hex("zz", 1).is_none());
    }

    #[test]
    fn reports_hardware_support_without_panicking() {
        let _ = hardware_sha_available();
    }
}
