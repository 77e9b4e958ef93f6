//! Byte-for-byte comparison of two files: the final word wherever a digest is only a filter
//! (rl-hardlink before linking, rl-sync's `--checksum`).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Block size of the comparison reads.
const BLOCK: usize = 128 * 1024;

/// Whether `a` and `b` hold exactly the same bytes. With `expected_size`, files of any other
/// length are not equal (a file that grew or shrank since it was examined).
pub fn files_equal(a: &Path, b: &Path, expected_size: Option<u64>) -> io::Result<bool> {
    let mut fa = File::open(a)?;
    let mut fb = File::open(b)?;
    let mut ba = vec![0u8; BLOCK];
    let mut bb = vec![0u8; BLOCK];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        total += n as u64;
        if expected_size.is_some_and(|s| total > s) {
            return Ok(false);
        }
        if n < BLOCK {
            return Ok(expected_size.is_none_or(|s| total == s));
        }
    }
}

/// Fills `buf` as far as the file goes; the number of bytes read (less than `buf.len()` only at
/// the end of the file).
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn equal_different_and_resized() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
        let data = vec![7u8; BLOCK * 2 + 3];
        fs::write(&a, &data).unwrap();
        fs::write(&b, &data).unwrap();
        let mut last = data.clone();
        *last.last_mut().unwrap() = 8;
        fs::write(&c, &last).unwrap();
        assert!(files_equal(&a, &b, None).unwrap());
        assert!(files_equal(&a, &b, Some(data.len() as u64)).unwrap());
        assert!(!files_equal(&a, &b, Some(data.len() as u64 - 1)).unwrap());
        assert!(!files_equal(&a, &c, None).unwrap());
        fs::write(&c, &data[..BLOCK]).unwrap();
        assert!(!files_equal(&a, &c, None).unwrap(), "a prefix is not equal");
        fs::write(&a, b"").unwrap();
        fs::write(&b, b"").unwrap();
        assert!(files_equal(&a, &b, Some(0)).unwrap());
        assert!(files_equal(&a, &d.path().join("missing"), None).is_err());
    }
}
