//! Which files may be linked to each other: util-linux hardlink's (2.38) default criteria and the
//! switches that relax or tighten them, the `-x`/`-i` path filter and the `-s`/`-S` size parser.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use regex::bytes::{Regex, RegexBuilder};

use crate::link::Snapshot;

/// The metadata criteria (util-linux `file_may_link_to`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Criteria {
    /// `-p`: ignore the mode word.
    pub ignore_mode: bool,
    /// `-o`: ignore owner and group.
    pub ignore_owner: bool,
    /// `-t`: ignore the modification time.
    pub ignore_time: bool,
    /// `-f`: require the same file name (basename).
    pub respect_name: bool,
    /// `-X`: require the same extended attributes.
    pub respect_xattrs: bool,
}

impl Criteria {
    /// Applies `-c` (content only): `-p -o -t`, and clears `-f` and `-X`, whatever the order of the
    /// flags (as util-linux does after parsing).
    pub fn content_only(mut self) -> Self {
        self.ignore_mode = true;
        self.ignore_owner = true;
        self.ignore_time = true;
        self.respect_name = false;
        self.respect_xattrs = false;
        self
    }
}

/// The part of an inode's metadata that must be equal for two files to be linked, besides the
/// device and size (always required) and the content. Fields ignored by the criteria are zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrKey {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Whole seconds: util-linux ignores nanoseconds.
    pub mtime: i64,
}

impl AttrKey {
    pub fn of(s: &Snapshot, c: &Criteria) -> Self {
        AttrKey {
            mode: if c.ignore_mode { 0 } else { s.mode },
            uid: if c.ignore_owner { 0 } else { s.uid },
            gid: if c.ignore_owner { 0 } else { s.gid },
            mtime: if c.ignore_time { 0 } else { s.mtime },
        }
    }
}

/// The `-x`/`-i` filter. util-linux 2.37+ matches each POSIX extended regex unanchored against
/// the file's absolute path; a file is skipped when (some `-x` matches and no `-i` matches), or
/// when only `-i` were given and none matches. Directories are always descended. As in POSIX
/// `regexec` without `REG_NEWLINE`, `.` also matches a newline. The patterns of each kind are
/// joined into one alternation, so a path is searched once per kind.
#[derive(Debug, Default)]
pub struct PathFilter {
    exclude: Option<Matcher>,
    include: Option<Matcher>,
}

/// How one kind of pattern is searched for.
#[derive(Debug)]
enum Matcher {
    Regex(Regex),
    /// The patterns reduce to plain strings (`.*\.xml.*` is "contains `.xml`"): one
    /// multi-string search (SIMD over the path) instead of a regex engine's automaton.
    Literals(aho_corasick::AhoCorasick),
}

impl Matcher {
    fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Matcher::Regex(r) => r.is_match(haystack),
            Matcher::Literals(a) => a.is_match(haystack),
        }
    }
}

impl PathFilter {
    /// Compiles the patterns; the error names the bad pattern.
    pub fn new(exclude: &[String], include: &[String]) -> Result<Self, String> {
        Ok(PathFilter {
            exclude: alternation(exclude)?,
            include: alternation(include)?,
        })
    }

    /// Whether the file at absolute path `abs` is considered.
    pub fn accepts(&self, abs: &Path) -> bool {
        let bytes = abs.as_os_str().as_bytes();
        let hit = |m: &Option<Matcher>| m.as_ref().is_some_and(|m| m.is_match(bytes));
        if self.exclude.is_some() {
            !hit(&self.exclude) || hit(&self.include)
        } else if self.include.is_some() {
            hit(&self.include)
        } else {
            true
        }
    }
}

/// Checks one pattern the way [`PathFilter`] compiles it.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    build(pattern).map(|_| ())
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

fn alternation(patterns: &[String]) -> Result<Option<Matcher>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for p in patterns {
        check_regex(p)?;
    }
    let joined: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
    let joined = joined.join("|");
    let full = build(&joined)?;
    Ok(Some(search_form(&joined).unwrap_or(Matcher::Regex(full))))
}

/// The same test as `pattern` (is there a match anywhere?) without the optional repetitions at
/// its ends: `.*\.xml.*` becomes `\.xml`. Sound for any pattern: an unanchored match of
/// `R{0,n} S T{0,m}` exists exactly when one of `S` does (a repetition with minimum 0 can always
/// match the empty string, and `S` sees the same haystack around it); the same holds inside an
/// alternation that starts or ends the pattern. When what remains is a small set of plain
/// strings (the toolkit's excludes are `.xml`, `.treeinfo`, `.discinfo`), they are searched for
/// as strings, not by the regex engine's automaton over every byte of every path.
/// `None` when the pattern does not parse as expected; the caller keeps the original.
fn search_form(pattern: &str) -> Option<Matcher> {
    let hir = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    let trimmed = trim_ends(&hir, true, true);
    if let Some(strings) = finite_strings(&trimmed) {
        return aho_corasick::AhoCorasick::new(strings)
            .ok()
            .map(Matcher::Literals);
    }
    build(&trimmed.to_string()).ok().map(Matcher::Regex)
}

/// `h` without optional repetitions at its start (`start`) and end (`end`), looking into
/// concatenations and alternations (the parser lifts a common `.*` out of alternatives).
fn trim_ends(h: &regex_syntax::hir::Hir, start: bool, end: bool) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Hir, HirKind};
    let optional = |h: &Hir| matches!(h.kind(), HirKind::Repetition(r) if r.min == 0);
    match h.kind() {
        HirKind::Concat(parts) => {
            let mut parts: &[Hir] = parts;
            while start && parts.len() > 1 && optional(&parts[0]) {
                parts = &parts[1..];
            }
            while end && parts.len() > 1 && optional(&parts[parts.len() - 1]) {
                parts = &parts[..parts.len() - 1];
            }
            let last = parts.len() - 1;
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, p)| trim_ends(p, start && i == 0, end && i == last))
                .collect();
            Hir::concat(parts)
        }
        HirKind::Alternation(alts) => {
            Hir::alternation(alts.iter().map(|a| trim_ends(a, start, end)).collect())
        }
        HirKind::Repetition(r) if r.min == 0 && start && end => Hir::empty(),
        _ => h.clone(),
    }
}

/// The strings `h` matches when it is built only of literals, concatenation and alternation
/// (at most 64 of them), else `None`.
fn finite_strings(h: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    const MAX: usize = 64;
    match h.kind() {
        HirKind::Empty => Some(vec![Vec::new()]),
        HirKind::Literal(l) => Some(vec![l.0.to_vec()]),
        HirKind::Capture(c) => finite_strings(&c.sub),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(finite_strings(a)?);
                if all.len() > MAX {
                    return None;
                }
            }
            Some(all)
        }
        HirKind::Concat(parts) => {
            let mut acc = vec![Vec::new()];
            for p in parts {
                let next = finite_strings(p)?;
                if acc.len() * next.len() > MAX {
                    return None;
                }
                acc = acc
                    .iter()
                    .flat_map(|a| next.iter().map(move |b| [&a[..], &b[..]].concat()))
                    .collect();
            }
            Some(acc)
        }
        _ => None,
    }
}

/// Parses a size like util-linux: a number with an optional suffix K, M, G, T, P, E (powers of
/// 1024, also written KiB, MiB, …) or KB, MB, … (powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("invalid size {text:?}: expected a number"));
    }
    let number: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("invalid size {text:?}: number too large"))?;
    let suffix = t[digits..].trim();
    let (letter, rest) = match suffix.chars().next() {
        None => return Ok(number),
        Some(c) => (c.to_ascii_uppercase(), &suffix[c.len_utf8()..]),
    };
    let exp = match "KMGTPE".find(letter) {
        Some(i) => i as u32 + 1,
        None => return Err(format!("invalid size {text:?}: unknown suffix {suffix:?}")),
    };
    let base: u64 = match rest {
        "" | "iB" | "ib" => 1024,
        "B" | "b" => 1000,
        _ => return Err(format!("invalid size {text:?}: unknown suffix {suffix:?}")),
    };
    base.checked_pow(exp)
        .and_then(|m| number.checked_mul(m))
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolkit_excludes_match_anywhere_in_the_path() {
        let f = PathFilter::new(
            &[
                r".*\.xml.*".into(),
                r".*\.treeinfo".into(),
                r".*\.discinfo".into(),
            ],
            &[],
        )
        .unwrap();
        assert!(!f.accepts(Path::new("/r/BaseOS/x86_64/os/repodata/abc-primary.xml.gz")));
        assert!(!f.accepts(Path::new("/r/a/.treeinfo")));
        assert!(!f.accepts(Path::new("/r/a/foo.treeinfo.bak")));
        assert!(!f.accepts(Path::new("/r/foo.xml.d/plain")));
        assert!(f.accepts(Path::new("/r/Packages/a/a.rpm")));
        assert!(f.accepts(Path::new("/r/xml/treeinfo")));
        // The toolkit's patterns are plain strings once their `.*` ends are trimmed.
        assert!(matches!(f.exclude, Some(Matcher::Literals(_))));
    }

    #[test]
    fn patterns_that_are_not_plain_strings_keep_the_regex() {
        let f = PathFilter::new(&[r".*\.x[mn]l.*".into(), r"^/r/a".into()], &[]).unwrap();
        assert!(matches!(f.exclude, Some(Matcher::Regex(_))));
        assert!(!f.accepts(Path::new("/r/b/c.xnl")));
        assert!(!f.accepts(Path::new("/r/a/c")));
        assert!(f.accepts(Path::new("/s/r/a/c")));
        // `.*` alone matches every path, as a plain (empty) string too.
        let all = PathFilter::new(&[".*".into()], &[]).unwrap();
        assert!(!all.accepts(Path::new("/anything")));
        // A pattern with a newline in a literal, and case as written.
        let nl = PathFilter::new(&["a\nb".into(), "XML".into()], &[]).unwrap();
        assert!(!nl.accepts(Path::new("/r/a\nb")));
        assert!(nl.accepts(Path::new("/r/a.xml")));
        assert!(!nl.accepts(Path::new("/r/a.XML")));
        // A required repetition is not optional: 'x+' needs an x.
        let plus = PathFilter::new(&["x+".into()], &[]).unwrap();
        assert!(plus.accepts(Path::new("/r/a")));
        assert!(!plus.accepts(Path::new("/r/ax")));
        // Alternatives sharing a prefix, a capture group, and a bounded repetition at the end.
        let mixed = PathFilter::new(
            &[
                r"(?:ab|ac).*".into(),
                r"(q\.z)".into(),
                r"k{0,3}\.iso".into(),
            ],
            &[],
        )
        .unwrap();
        for (path, excluded) in [
            ("/r/ab", true),
            ("/r/ac", true),
            ("/r/ad", false),
            ("/r/q.z", true),
            ("/r/qaz", false),
            ("/r/x.iso", true),
            ("/r/x.img", false),
        ] {
            assert_eq!(!mixed.accepts(Path::new(path)), excluded, "{path}");
        }
    }

    #[test]
    fn include_overrides_exclude_and_alone_is_a_whitelist() {
        let f = PathFilter::new(&["treeinfo$".into()], &[r"b\.treeinfo".into()]).unwrap();
        assert!(f.accepts(Path::new("/r/b.treeinfo")));
        assert!(!f.accepts(Path::new("/r/a.treeinfo")));
        assert!(f.accepts(Path::new("/r/other")));
        let w = PathFilter::new(&[], &[r"\.rpm$".into()]).unwrap();
        assert!(w.accepts(Path::new("/r/a.rpm")));
        assert!(!w.accepts(Path::new("/r/a.iso")));
        // Unanchored, not basename-anchored: '^f' does not match /x/f1.
        let a = PathFilter::new(&["^f".into()], &[]).unwrap();
        assert!(a.accepts(Path::new("/x/f1")));
        // '.' matches a newline, as in POSIX regexec.
        let n = PathFilter::new(&["a.b".into()], &[]).unwrap();
        assert!(!n.accepts(Path::new("/x/a\nb")));
    }

    #[test]
    fn optional_ends_are_trimmed_without_changing_matches() {
        let f = PathFilter::new(&[r".*\.xml.*".into(), r"a*b|x?.*c.*$".into()], &[]).unwrap();
        let xml = PathFilter::new(&[r".*\.xml.*".into()], &[]).unwrap();
        assert!(matches!(xml.exclude, Some(Matcher::Literals(_))));
        for (path, hit) in [
            ("/r/a.xml.gz", true),
            ("/r/a.xml", true),
            ("/r/axml", false),
            ("/r/b", true),
            ("/r/c", true),
            ("/r/d", false),
            ("/r/\u{0}\n.xml", true),
        ] {
            assert_eq!(!f.accepts(Path::new(path)), hit, "{path}");
        }
        // Anchors and other assertions inside stay: '^f' still does not match /x/f1.
        let a = PathFilter::new(&["^f.*".into(), r".*\bq$".into()], &[]).unwrap();
        assert!(a.accepts(Path::new("/x/f1")));
        assert!(!a.accepts(Path::new("/x/q")));
        assert!(a.accepts(Path::new("/x/aq")));
    }

    #[test]
    fn bad_regex_is_an_error() {
        let e = PathFilter::new(&["(".into()], &[]).unwrap_err();
        assert!(e.contains("invalid regular expression"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("10").unwrap(), 10);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("4KB").unwrap(), 4000);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("3Q").is_err());
        assert!(parse_size("99999999999E").is_err());
    }

    #[test]
    fn content_only_clears_name_and_xattrs() {
        let c = Criteria {
            respect_name: true,
            respect_xattrs: true,
            ..Default::default()
        }
        .content_only();
        assert!(c.ignore_mode && c.ignore_owner && c.ignore_time);
        assert!(!c.respect_name && !c.respect_xattrs);
    }
}
