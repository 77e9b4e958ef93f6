//! RPM version comparison: `rpmvercmp` (segments, `~` sorts before everything, `^` after the
//! base version but before any further segment), EVR triples, and the way libsolv (and so dnf)
//! decides whether a versioned provide satisfies a versioned requirement.
//!
//! Written from rpm's documented rules (rpm.org "Version comparison") and checked against
//! `rpm --eval '%{lua: print(rpm.vercmp(a, b))}'`-style expectations in the unit tests.

use std::cmp::Ordering;
use std::fmt;

/// Compares two version (or release) strings the way rpm's `rpmvercmp` does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while let Some((&c, rest)) = one.split_first() {
            if !sep(c) {
                break;
            }
            one = rest;
        }
        while let Some((&c, rest)) = two.split_first() {
            if !sep(c) {
                break;
            }
            two = rest;
        }
        if one.is_empty() && two.is_empty() {
            return Ordering::Equal;
        }
        // Tilde sorts before everything, even the end of the string.
        if one.first() == Some(&b'~') || two.first() == Some(&b'~') {
            if one.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        // Caret sorts after the end of the string but before any other segment.
        if one.first() == Some(&b'^') || two.first() == Some(&b'^') {
            if one.is_empty() {
                return Ordering::Less;
            }
            if two.is_empty() {
                return Ordering::Greater;
            }
            if one.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if one.is_empty() || two.is_empty() {
            break;
        }
        let numeric = one[0].is_ascii_digit();
        let class = |c: &u8| {
            if numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let n1 = one.iter().take_while(|c| class(c)).count();
        let n2 = two.iter().take_while(|c| class(c)).count();
        let (s1, s2) = (&one[..n1], &two[..n2]);
        one = &one[n1..];
        two = &two[n2..];
        if s2.is_empty() {
            // Segments of different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let t1 = trim_zeros(s1);
            let t2 = trim_zeros(s2);
            t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2))
        } else {
            s1.cmp(s2)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// Epoch, version, release. A missing epoch counts as 0; a missing release (only in
/// dependencies) matches every release.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Evr {
    pub epoch: Option<u64>,
    pub version: String,
    pub release: Option<String>,
}

impl Evr {
    /// Parses `[E:]V[-R]`.
    pub fn parse(s: &str) -> Evr {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
                (Some(e.parse().unwrap_or(u64::MAX)), rest)
            }
            _ => (None, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_owned(), Some(r.to_owned())),
            None => (rest.to_owned(), None),
        };
        Evr {
            epoch,
            version,
            release,
        }
    }

    /// Builds one from the attributes of a repodata `<version>` or `<rpm:entry>` element
    /// (`epoch="0"` counts as no epoch, as libsolv does when it reads repodata).
    pub fn from_parts(epoch: Option<&str>, version: &str, release: Option<&str>) -> Evr {
        let epoch = epoch
            .filter(|e| !e.is_empty())
            .map(|e| e.parse().unwrap_or(u64::MAX))
            .filter(|&e| e != 0);
        Evr {
            epoch,
            version: version.to_owned(),
            release: release.filter(|r| !r.is_empty()).map(str::to_owned),
        }
    }

    /// A borrowed view.
    pub fn view(&self) -> EvrRef<'_> {
        EvrRef {
            epoch: self.epoch,
            version: &self.version,
            release: self.release.as_deref(),
        }
    }

    /// Full comparison (package ordering: newest wins).
    pub fn cmp_full(&self, other: &Evr) -> Ordering {
        self.view().cmp_full(&other.view())
    }
}

/// An [`Evr`] whose strings are borrowed (from a string table), compared the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvrRef<'a> {
    pub epoch: Option<u64>,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

impl EvrRef<'_> {
    /// Full comparison (package ordering: newest wins).
    pub fn cmp_full(&self, other: &EvrRef<'_>) -> Ordering {
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
    }

    /// Comparison for dependency matching (libsolv's "match release" mode): -1/0/1, or -2 when
    /// `self` has no release and the rest is equal, 2 when only `other` has none.
    fn cmp_match(&self, other: &EvrRef<'_>) -> i8 {
        let ord = self
            .epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(self.version, other.version));
        if ord != Ordering::Equal {
            return ord as i8;
        }
        match (self.release, other.release) {
            (Some(a), Some(b)) => rpmvercmp(a, b) as i8,
            (None, Some(_)) => -2,
            (Some(_), None) => 2,
            (None, None) => 0,
        }
    }
}

impl fmt::Display for EvrRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.epoch {
            write!(f, "{e}:")?;
        }
        f.write_str(self.version)?;
        if let Some(r) = self.release {
            write!(f, "-{r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

/// Relation flags as rpm and libsolv number them: a bit set of greater, equal, less.
pub mod flags {
    pub const GT: u8 = 1;
    pub const EQ: u8 = 2;
    pub const LT: u8 = 4;

    /// The repodata spelling (`EQ`, `LT`, `LE`, `GT`, `GE`) to bits; `None` for anything else.
    pub fn from_repodata(s: &str) -> Option<u8> {
        Some(match s {
            "EQ" => EQ,
            "LT" => LT,
            "LE" => LT | EQ,
            "GT" => GT,
            "GE" => GT | EQ,
            _ => return None,
        })
    }

    /// The operator as rpm prints it (`>=`).
    pub fn symbol(f: u8) -> &'static str {
        match f {
            GT => ">",
            EQ => "=",
            LT => "<",
            x if x == GT | EQ => ">=",
            x if x == LT | EQ => "<=",
            x if x == GT | LT => "!=",
            _ => "",
        }
    }

    /// An operator in a rich dependency or a spec line to bits.
    pub fn from_symbol(s: &str) -> Option<u8> {
        Some(match s {
            ">" => GT,
            "=" | "==" => EQ,
            "<" => LT,
            ">=" | "=>" => GT | EQ,
            "<=" | "=<" => LT | EQ,
            _ => return None,
        })
    }
}

/// Whether a provide `name pflags pevr` satisfies a requirement `name rflags revr` (names already
/// equal). Flags of 0 mean unversioned: an unversioned side matches everything.
pub fn provide_matches(pflags: u8, pevr: &Evr, rflags: u8, revr: &Evr) -> bool {
    provide_matches_ref(pflags, &pevr.view(), rflags, &revr.view())
}

/// [`provide_matches`] on borrowed EVRs.
pub fn provide_matches_ref(pflags: u8, pevr: &EvrRef<'_>, rflags: u8, revr: &EvrRef<'_>) -> bool {
    use flags::*;
    if pflags == 0 || rflags == 0 {
        return true;
    }
    if pflags == 7 || rflags == 7 {
        return true;
    }
    if pflags & rflags & (LT | GT) != 0 {
        return true;
    }
    match pevr.cmp_match(revr) {
        -2 => pflags & EQ != 0,
        -1 => rflags & LT != 0 || pflags & GT != 0,
        0 => rflags & pflags & EQ != 0,
        1 => rflags & GT != 0 || pflags & LT != 0,
        _ => rflags & EQ != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn vercmp_basics() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0", "2.0.1", Less),
            ("1.10", "1.9", Greater),
            ("1.001", "1.1", Equal),
            ("1.0a", "1.0", Greater),
            ("1a", "1", Greater),
            ("1.a", "1.1", Less),
            ("a", "1", Less),
            ("abc", "abd", Less),
            ("5.5p1", "5.5p10", Less),
            ("xyz.4", "xyz.4", Equal),
            ("1.0_1", "1.0.1", Equal),
            ("1+2", "1.2", Equal),
            ("20101121", "20101122", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn vercmp_tilde_and_caret() {
        for (a, b, want) in [
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git1", "1.0~rc1", Less),
            ("1.0~", "1.0", Less),
            ("2.0~rc1", "2.0~beta", Greater),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0~rc1^git1", "1.0", Less),
            ("1.0^20160101", "1.0^20160102", Less),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_parse_and_display() {
        let e = Evr::parse("1:2.0-3.el9");
        assert_eq!(e.epoch, Some(1));
        assert_eq!(e.version, "2.0");
        assert_eq!(e.release.as_deref(), Some("3.el9"));
        assert_eq!(e.to_string(), "1:2.0-3.el9");
        assert_eq!(Evr::parse("2.0").to_string(), "2.0");
        assert_eq!(
            Evr::from_parts(Some("0"), "1", Some("2")).to_string(),
            "1-2"
        );
        assert!(Evr::parse("1:1.0").cmp_full(&Evr::parse("5.0")) == Greater);
    }

    #[test]
    fn matching_like_libsolv() {
        use flags::*;
        let p = |s: &str| Evr::parse(s);
        // provide virt = 2.0~rc1
        assert!(provide_matches(
            EQ,
            &p("2.0~rc1-1"),
            GT | EQ,
            &p("2.0~beta")
        ));
        assert!(!provide_matches(EQ, &p("2.0~rc1-1"), GT | EQ, &p("2.0")));
        // release omitted in the requirement matches every release
        assert!(provide_matches(EQ, &p("1:1.0-1"), EQ, &p("1:1.0")));
        assert!(!provide_matches(EQ, &p("1:1.0-1"), EQ, &p("1:1.0-2")));
        assert!(!provide_matches(EQ, &p("1:1.0-1"), LT, &p("1:1.0")));
        assert!(provide_matches(EQ, &p("1:1.0-1"), LT, &p("2:0")));
        // epoch beats version
        assert!(provide_matches(EQ, &p("1:1.0-1"), GT | EQ, &p("5.0")));
        // unversioned provide satisfies a versioned requirement
        assert!(provide_matches(0, &Evr::default(), GT | EQ, &p("9")));
        // ranges in the same direction always overlap
        assert!(provide_matches(GT, &p("1"), GT, &p("5")));
    }
}
