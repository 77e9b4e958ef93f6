//! Bounds on what one XML token of repository metadata may cost in memory.
//!
//! quick-xml buffers a whole tag or text node before it hands it over, so a 4.5 MB gzip that
//! expands to one 1 GiB text node (or 1 GB of whitespace between two tags) would take that much
//! memory. Real repodata has no token near a megabyte: a package description is a few KB, a
//! file path at most PATH_MAX. [`MarkupGuard`] refuses a stretch of input without `<` or `>`
//! longer than [`MAX_TOKEN`], so memory follows the packages, not the input; [`check_text`]
//! bounds a text assembled from several pieces (CDATA sections, entity references).

use std::io::{self, BufRead, Read};

/// The longest tag, text node or whitespace run accepted, in bytes.
pub const MAX_TOKEN: usize = 8 << 20;

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "an XML tag or text longer than {} MiB: not repository metadata",
            MAX_TOKEN >> 20
        ),
    )
}

/// Fails when an element's text assembled so far is longer than [`MAX_TOKEN`].
pub fn check_text(len: usize) -> io::Result<()> {
    if len > MAX_TOKEN {
        Err(too_long())
    } else {
        Ok(())
    }
}

/// A reader that fails with `InvalidData` once more than [`MAX_TOKEN`] bytes pass without a `<`
/// or `>`. Each byte is looked at once (the part of a buffer already scanned is remembered until
/// it is consumed), with `memchr`'s vectorised search.
pub struct MarkupGuard<R> {
    inner: R,
    /// Bytes since the last `<` or `>`.
    since_markup: usize,
    /// Bytes at the front of the inner buffer already scanned.
    scanned: usize,
}

impl<R: BufRead> MarkupGuard<R> {
    pub fn new(inner: R) -> Self {
        MarkupGuard {
            inner,
            since_markup: 0,
            scanned: 0,
        }
    }
}

impl<R: BufRead> BufRead for MarkupGuard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let buf = self.inner.fill_buf()?;
        let new = &buf[self.scanned.min(buf.len())..];
        if !new.is_empty() {
            match memchr::memchr2(b'<', b'>', new) {
                None => self.since_markup += new.len(),
                Some(first) => {
                    if self.since_markup + first > MAX_TOKEN {
                        return Err(too_long());
                    }
                    let last = memchr::memrchr2(b'<', b'>', new).unwrap_or(first);
                    self.since_markup = new.len() - last - 1;
                }
            }
            if self.since_markup > MAX_TOKEN {
                return Err(too_long());
            }
            self.scanned = buf.len();
        }
        Ok(buf)
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.scanned = self.scanned.saturating_sub(amt);
    }
}

impl<R: BufRead> Read for MarkupGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = out.len().min(avail.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(input: impl Read) -> io::Result<u64> {
        let mut r = MarkupGuard::new(io::BufReader::with_capacity(4096, input));
        io::copy(&mut r, &mut io::sink())
    }

    #[test]
    fn long_runs_without_markup_fail_normal_xml_passes() {
        let normal = "<a>text</a>".repeat(1_000_000);
        assert_eq!(drain(normal.as_bytes()).unwrap(), normal.len() as u64);
        let at_limit = format!("<a>{}</a>", "x".repeat(MAX_TOKEN));
        assert!(drain(at_limit.as_bytes()).is_ok());
        let over = format!("<a>{}</a>", " ".repeat(MAX_TOKEN + 1));
        let e = drain(over.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("longer than 8 MiB"), "{e}");
        // A run with no markup at all, never ending.
        let endless = io::repeat(b'x').take((MAX_TOKEN as u64) * 2);
        assert!(drain(endless).is_err());
        assert!(check_text(MAX_TOKEN).is_ok() && check_text(MAX_TOKEN + 1).is_err());
    }
}
