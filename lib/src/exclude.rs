//! rsync's exclude patterns (`--exclude`, `--exclude-from`), with rsync's meaning.
//!
//! A [`Filter`] is an ordered list of rules; the first rule that matches a path decides (an
//! exclude hides the entry, an include keeps it); no match keeps it. Paths are given relative to
//! the transfer root, `/`-separated, without a leading slash (`a/b/c`). Pattern rules, as in
//! rsync's man page (PATTERN MATCHING RULES):
//!
//! * `- PAT` / `+ PAT` prefixes choose exclude / include; a bare pattern is an exclude.
//! * A trailing `/` matches only directories; `dir/***` matches `dir` and everything below it.
//! * A leading `/` anchors the pattern at the transfer root (matched against the whole path).
//! * A pattern without `/` (not counting a trailing one) and without `**` is matched against the
//!   final path component only, at every depth. Any other pattern is matched against the
//!   trailing components of the path (`foo/bar` matches `x/foo/bar`).
//! * `*` matches any run of characters except `/`, `**` any run including `/`, `?` one
//!   character except `/`, `[…]` a character class (`!` or `^` negates, `a-z` ranges). A
//!   backslash escapes the next character when the pattern has wildcards; a pattern without
//!   wildcards is compared literally.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    include: bool,
    pattern: Vec<u8>,
    anchored: bool,
    dir_only: bool,
    wild: bool,
    basename_only: bool,
    with_contents: bool,
}

impl Rule {
    fn parse(include: bool, raw: &[u8]) -> Option<Rule> {
        let mut pat = raw;
        let mut with_contents = false;
        let mut dir_only = false;
        if pat.len() > 4 && pat.ends_with(b"/***") {
            with_contents = true;
            pat = &pat[..pat.len() - 4];
        } else if pat.len() > 1 && pat.ends_with(b"/") {
            dir_only = true;
            while pat.len() > 1 && pat.ends_with(b"/") {
                pat = &pat[..pat.len() - 1];
            }
        }
        let anchored = pat.starts_with(b"/");
        if anchored {
            pat = &pat[1..];
        }
        if pat.is_empty() {
            return None;
        }
        let wild = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
        let has_slash = pat.contains(&b'/');
        let has_double = pat.windows(2).any(|w| w == b"**");
        Some(Rule {
            include,
            pattern: pat.to_vec(),
            anchored,
            dir_only,
            wild,
            basename_only: !anchored && !has_slash && !has_double && !with_contents,
            with_contents,
        })
    }

    fn matches(&self, rel: &[u8], is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        if self.basename_only {
            let base = match rel.iter().rposition(|&c| c == b'/') {
                Some(i) => &rel[i + 1..],
                None => rel,
            };
            return self.match_one(base);
        }
        if self.anchored {
            return self.match_one(rel);
        }
        // Unanchored: try every suffix that starts at a component boundary.
        if self.match_one(rel) {
            return true;
        }
        rel.iter()
            .enumerate()
            .filter(|&(_, &c)| c == b'/')
            .any(|(i, _)| self.match_one(&rel[i + 1..]))
    }

    fn match_one(&self, text: &[u8]) -> bool {
        let hit = |t: &[u8]| {
            if self.wild {
                wildmatch(&self.pattern, t)
            } else {
                self.pattern == t
            }
        };
        if hit(text) {
            return true;
        }
        if self.with_contents {
            // `dir/***`: anything below a matching directory.
            return text
                .iter()
                .enumerate()
                .filter(|&(_, &c)| c == b'/')
                .any(|(i, _)| hit(&text[..i]));
        }
        false
    }
}

/// An ordered list of include/exclude rules (first match wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    rules: Vec<Rule>,
}

impl Filter {
    /// An empty filter: nothing is excluded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the filter has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Adds one `--exclude` argument. `- ` and `+ ` prefixes are honoured as rsync does.
    pub fn add(&mut self, pattern: &OsStr) {
        let b = pattern.as_bytes();
        let (include, pat) = if let Some(rest) = b.strip_prefix(b"+ ") {
            (true, rest)
        } else if let Some(rest) = b.strip_prefix(b"- ") {
            (false, rest)
        } else {
            (false, b)
        };
        if let Some(rule) = Rule::parse(include, pat) {
            self.rules.push(rule);
        }
    }

    /// Adds the patterns of an `--exclude-from` file: one per line, blank lines and lines
    /// starting with `#` or `;` ignored, trailing `\r` removed.
    pub fn add_lines(&mut self, text: &[u8]) {
        for line in text.split(|&c| c == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || line.starts_with(b"#") || line.starts_with(b";") {
                continue;
            }
            self.add(OsStr::from_bytes(line));
        }
    }

    /// Reads an `--exclude-from` file (`-` is stdin).
    pub fn add_file(&mut self, path: &Path) -> io::Result<()> {
        let text = if path == Path::new("-") {
            let mut v = Vec::new();
            io::Read::read_to_end(&mut io::stdin(), &mut v)?;
            v
        } else {
            std::fs::read(path)?
        };
        self.add_lines(&text);
        Ok(())
    }

    /// Whether `rel` (relative to the transfer root) is excluded.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        let b = rel.as_os_str().as_bytes();
        for rule in &self.rules {
            if rule.matches(b, is_dir) {
                return !rule.include;
            }
        }
        false
    }
}

/// rsync's wildcard match of a whole `text` against `pat` (see the module docs).
pub fn wildmatch(pat: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    while p < pat.len() {
        match pat[p] {
            b'*' => {
                let mut end = p;
                while end < pat.len() && pat[end] == b'*' {
                    end += 1;
                }
                let double = end - p >= 2;
                let rest = &pat[end..];
                if rest.is_empty() {
                    return double || !text[t..].contains(&b'/');
                }
                let mut k = t;
                loop {
                    if wildmatch(rest, &text[k..]) {
                        return true;
                    }
                    if k >= text.len() || (!double && text[k] == b'/') {
                        return false;
                    }
                    k += 1;
                }
            }
            b'?' => {
                if t >= text.len() || text[t] == b'/' {
                    return false;
                }
                p += 1;
                t += 1;
            }
            b'[' => match class_match(&pat[p..], text.get(t).copied()) {
                Some((true, used)) => {
                    p += used;
                    t += 1;
                }
                Some((false, _)) => return false,
                None => {
                    // No closing bracket: a literal '['.
                    if text.get(t) != Some(&b'[') {
                        return false;
                    }
                    p += 1;
                    t += 1;
                }
            },
            b'\\' if p + 1 < pat.len() => {
                if text.get(t) != Some(&pat[p + 1]) {
                    return false;
                }
                p += 2;
                t += 1;
            }
            c => {
                if text.get(t) != Some(&c) {
                    return false;
                }
                p += 1;
                t += 1;
            }
        }
    }
    t == text.len()
}

/// Matches a `[…]` class at the start of `pat` against `c`: `Some((matched, pattern bytes
/// used))`, or `None` when the class is not closed.
fn class_match(pat: &[u8], c: Option<u8>) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let mut lo = *pat.get(i)?;
        if lo == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        if lo == b'\\' {
            i += 1;
            lo = *pat.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if pat.get(i) == Some(&b'-') && pat.get(i + 1).is_some_and(|&n| n != b']') {
            hi = pat[i + 1];
            if hi == b'\\' {
                hi = *pat.get(i + 2)?;
                i += 1;
            }
            i += 2;
        }
        if let Some(ch) = c
            && lo <= ch
            && ch <= hi
        {
            found = true;
        }
    }
    let Some(ch) = c else {
        return Some((false, i));
    };
    if ch == b'/' {
        return Some((false, i));
    }
    Some((found != negate, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pats: &[&str]) -> Filter {
        let mut f = Filter::new();
        for p in pats {
            f.add(OsStr::new(p));
        }
        f
    }

    fn ex(filter: &Filter, path: &str, dir: bool) -> bool {
        filter.is_excluded(Path::new(path), dir)
    }

    #[test]
    fn slash_free_literal_matches_basename_at_any_depth() {
        let fl = f(&["repodata"]);
        assert!(ex(&fl, "repodata", true));
        assert!(ex(&fl, "BaseOS/x86_64/os/repodata", true));
        assert!(ex(&fl, "a/repodata", false));
        assert!(!ex(&fl, "a/repodata2", false));
        assert!(
            !ex(&fl, "repodata/x", false),
            "contents are pruned by the walk"
        );
    }

    #[test]
    fn anchored_and_infix_slash() {
        let fl = f(&["/top"]);
        assert!(ex(&fl, "top", true));
        assert!(!ex(&fl, "a/top", true));
        let fl = f(&["foo/bar"]);
        assert!(ex(&fl, "foo/bar", false));
        assert!(ex(&fl, "x/foo/bar", false));
        assert!(!ex(&fl, "xfoo/bar", false));
        let fl = f(&["/a/*.rpm"]);
        assert!(ex(&fl, "a/x.rpm", false));
        assert!(!ex(&fl, "a/b/x.rpm", false));
    }

    #[test]
    fn trailing_slash_is_dir_only() {
        let fl = f(&["images/"]);
        assert!(ex(&fl, "x/images", true));
        assert!(!ex(&fl, "x/images", false));
    }

    #[test]
    fn wildcards() {
        assert!(wildmatch(b"*.xml", b"repomd.xml"));
        assert!(!wildmatch(b"*.xml", b"a/repomd.xml"));
        assert!(wildmatch(b"**.xml", b"a/repomd.xml"));
        assert!(wildmatch(b"a/**/c", b"a/b/x/c"));
        assert!(wildmatch(b"?bc", b"abc"));
        assert!(!wildmatch(b"?bc", b"/bc"));
        assert!(wildmatch(b"[a-c]x", b"bx"));
        assert!(!wildmatch(b"[!a-c]x", b"bx"));
        assert!(wildmatch(b"[^a-c]x", b"dx"));
        assert!(wildmatch(b"[]]", b"]"));
        assert!(wildmatch(b"\\*", b"*"));
        assert!(!wildmatch(b"\\*", b"a"));
        assert!(wildmatch(b"[ab", b"[ab"));
        assert!(wildmatch(b"*", b""));
        let fl = f(&["*.iso"]);
        assert!(ex(&fl, "isos/x86_64/Rocky.iso", false));
        let fl = f(&["CHECKSUM*"]);
        assert!(ex(&fl, "a/CHECKSUM.asc", false));
        let fl = f(&["**/os/*.treeinfo"]);
        assert!(ex(&fl, "BaseOS/x/os/a.treeinfo", false));
    }

    #[test]
    fn first_match_wins_and_includes() {
        let fl = f(&["+ keep.rpm", "*.rpm"]);
        assert!(!ex(&fl, "a/keep.rpm", false));
        assert!(ex(&fl, "a/drop.rpm", false));
        let fl = f(&["dir/***"]);
        assert!(ex(&fl, "x/dir", true));
        assert!(ex(&fl, "x/dir/y/z", false));
    }

    #[test]
    fn exclude_from_lines() {
        let mut fl = Filter::new();
        fl.add_lines(b"# comment\n; also\n\nMinimal\r\n- Cloud\n+ EULA\n");
        assert!(ex(&fl, "a/Minimal", true));
        assert!(ex(&fl, "Cloud", true));
        assert!(!ex(&fl, "EULA", false));
        assert_eq!(fl.rules.len(), 3);
    }

    #[test]
    fn non_utf8_names() {
        let mut fl = Filter::new();
        fl.add(OsStr::from_bytes(b"bad\xff*"));
        assert!(fl.is_excluded(Path::new(OsStr::from_bytes(b"d/bad\xffname")), false));
    }
}
