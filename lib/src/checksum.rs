//! The CHECKSUM file format of Rocky Linux ISO directories.
//!
//! The toolkit writes, per ISO, with
//! `printf "# %s: %s bytes\n%s\n" F "$(stat -c %s F -L)" "$(sha256sum --tag F)"`:
//!
//! ```text
//! # Rocky-9.5-x86_64-boot.iso: 1048576 bytes
//! SHA256 (Rocky-9.5-x86_64-boot.iso) = 5891b5b5…
//! ```
//!
//! and the directory's `CHECKSUM` is the concatenation of the `*.CHECKSUM` files in name order.
//! The tag line is exactly `sha256sum --tag` (GNU coreutils): a name holding `\` or a newline gets a
//! leading `\` on the line and is written with `\\` and `\n` escapes. The comment line is printf'd
//! raw by the toolkit; [`entry`] writes it raw too, except that a newline in a name is written `\n`
//! so the comment stays one line (the toolkit would have produced a line `sha256sum -c` rejects).
//!
//! [`parse`] reads what `sha256sum --tag`, `sha256sum` (untagged) and pungi write: `#` comments in
//! column 0, CRLF line ends, blank lines; any other line is reported as malformed with its number.

use std::fmt;

/// One file's entry: the `# NAME: SIZE bytes` comment and the `SHA256 (NAME) = HEX` line.
pub fn entry(name: &[u8], size: u64, sha256_hex: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() * 2 + 100);
    out.extend_from_slice(b"# ");
    for &b in name {
        if b == b'\n' {
            out.extend_from_slice(b"\\n");
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(format!(": {size} bytes\n").as_bytes());
    out.extend_from_slice(&tag_line(name, sha256_hex));
    out.push(b'\n');
    out
}

/// The `sha256sum --tag` line for a name, without the line end.
pub fn tag_line(name: &[u8], sha256_hex: &str) -> Vec<u8> {
    let needs_escape = name.iter().any(|&b| b == b'\\' || b == b'\n');
    let mut out = Vec::with_capacity(name.len() + 80);
    if needs_escape {
        out.push(b'\\');
    }
    out.extend_from_slice(b"SHA256 (");
    for &b in name {
        match b {
            b'\\' if needs_escape => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.extend_from_slice(b") = ");
    out.extend_from_slice(sha256_hex.as_bytes());
    out
}

/// One checksum line of a CHECKSUM file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub line_no: usize,
    /// The file name as listed (unescaped), relative to the CHECKSUM file's directory.
    pub name: Vec<u8>,
    /// The digest, lowercase hex.
    pub sha256: String,
}

/// A line that is neither a comment, blank, nor a SHA-256 checksum line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line_no: usize,
    pub reason: &'static str,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line_no, self.reason)
    }
}

/// Parses a CHECKSUM file: the checksum lines, and the malformed ones with their numbers.
pub fn parse(content: &[u8]) -> (Vec<Line>, Vec<Malformed>) {
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    let mut rest = content;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let (raw, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() || raw.starts_with(b"#") {
            continue;
        }
        match parse_line(raw) {
            Ok((name, sha256)) => lines.push(Line {
                line_no,
                name,
                sha256,
            }),
            Err(reason) => bad.push(Malformed { line_no, reason }),
        }
    }
    (lines, bad)
}

fn parse_line(raw: &[u8]) -> Result<(Vec<u8>, String), &'static str> {
    let (escaped, body) = match raw.strip_prefix(b"\\") {
        Some(b) => (true, b),
        None => (false, raw),
    };
    if let Some(after) = body.strip_prefix(b"SHA256 (") {
        // The name ends at the last ") = ": a digest never contains ')'.
        let sep = find_last(after, b") = ").ok_or("tagged line without \") = \"")?;
        let name = &after[..sep];
        let digest = &after[sep + 4..];
        let digest = check_digest(digest)?;
        let name = if escaped {
            unescape(name)?
        } else {
            name.to_vec()
        };
        return Ok((name, digest));
    }
    let tag_len = body
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    if tag_len > 0 && body[tag_len..].starts_with(b" (") {
        return Err("checksum line for another algorithm than SHA256");
    }
    // Untagged: `HEX  NAME` (text mode) or `HEX *NAME` (binary mode).
    if body.len() > 66 && (body[64..66] == *b"  " || body[64..66] == *b" *") {
        let digest = check_digest(&body[..64])?;
        let name = &body[66..];
        let name = if escaped {
            unescape(name)?
        } else {
            name.to_vec()
        };
        if name.is_empty() {
            return Err("checksum line without a file name");
        }
        return Ok((name, digest));
    }
    Err("not a SHA256 checksum line")
}

fn check_digest(d: &[u8]) -> Result<String, &'static str> {
    if d.len() != 64 {
        return Err("SHA256 digest is not 64 hexadecimal digits");
    }
    if !d.iter().all(u8::is_ascii_hexdigit) {
        return Err("SHA256 digest holds a character that is not hexadecimal");
    }
    Ok(String::from_utf8_lossy(d).to_ascii_lowercase())
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn unescape(name: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(name.len());
    let mut it = name.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                _ => return Err("unknown escape in file name"),
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn entry_matches_the_toolkit_printf() {
        let e = entry(b"Rocky-9.5-x86_64-boot.iso", 6, H);
        assert_eq!(
            String::from_utf8(e).unwrap(),
            format!(
                "# Rocky-9.5-x86_64-boot.iso: 6 bytes\nSHA256 (Rocky-9.5-x86_64-boot.iso) = {H}\n"
            )
        );
    }

    #[test]
    fn escapes_like_sha256sum_tag() {
        assert_eq!(
            tag_line(b"sp ace.iso", H),
            format!("SHA256 (sp ace.iso) = {H}").into_bytes()
        );
        assert_eq!(
            tag_line(b"a\\b.iso", H),
            format!("\\SHA256 (a\\\\b.iso) = {H}").into_bytes()
        );
        assert_eq!(
            tag_line(b"nl\nx.iso", H),
            format!("\\SHA256 (nl\\nx.iso) = {H}").into_bytes()
        );
        let e = entry(b"nl\nx", 1, H);
        assert_eq!(e.iter().filter(|&&b| b == b'\n').count(), 2);
    }

    #[test]
    fn parse_round_trips_every_form() {
        let mut f = Vec::new();
        for name in [
            &b"plain.iso"[..],
            b"sp ace.iso",
            b"a\\b.iso",
            b"nl\nx.iso",
            b"bad\xff",
        ] {
            f.extend(entry(name, 1, H));
        }
        f.extend(format!("{H}  untagged name\r\n{H} *binary\n\n").as_bytes());
        let (lines, bad) = parse(&f);
        assert!(bad.is_empty(), "{bad:?}");
        let names: Vec<&[u8]> = lines.iter().map(|l| l.name.as_slice()).collect();
        assert_eq!(
            names,
            [
                &b"plain.iso"[..],
                b"sp ace.iso",
                b"a\\b.iso",
                b"nl\nx.iso",
                b"bad\xff",
                b"untagged name",
                b"binary"
            ]
        );
        assert_eq!(lines[1].line_no, 4);
        assert!(lines.iter().all(|l| l.sha256 == H));
    }

    #[test]
    fn malformed_lines_are_named() {
        let text = format!(
            "# ok\nSHA256 (a) = {}\nSHA256 (b) = {}zz\nhello\nSHA1 (c) = abc\nSHA256 (d) = {}\nSHA256 (e = {H}\n",
            &H[..63],
            &H[..62],
            H.to_uppercase()
        );
        let (lines, bad) = parse(text.as_bytes());
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].name, b"d");
        assert_eq!(lines[0].sha256, H);
        let nos: Vec<usize> = bad.iter().map(|m| m.line_no).collect();
        assert_eq!(nos, [2, 3, 4, 5, 7]);
        assert!(bad[3].reason.contains("another algorithm"));
    }

    #[test]
    fn truncated_file_reports_the_cut_line() {
        let full = entry(b"x.iso", 3, H);
        let cut = &full[..full.len() - 10];
        let (lines, bad) = parse(cut);
        assert!(lines.is_empty());
        assert_eq!(
            bad,
            [Malformed {
                line_no: 2,
                reason: "SHA256 digest is not 64 hexadecimal digits"
            }]
        );
    }
}
