//! Repository dependency closure: which packages have a requirement that nothing in a set of
//! repositories provides. The answer is the one `dnf repoclosure` gives, because the rules are
//! dnf's (dnf-plugins-core `repoclosure.py` on top of libsolv):
//!
//! * Every package of every repository is *available* to satisfy requirements; with `newest`
//!   only the highest EVR per (name, arch) in each repository is (and only those are checked);
//!   with `best` only the highest EVR per (name, arch) across all repositories is available.
//! * Packages whose architecture the base architecture cannot install (an aarch64 package on
//!   x86_64) are still checked but provide nothing; source packages provide nothing.
//! * Checked are the packages of the `check` repositories (all when none is marked), of the
//!   given architectures when any are given (noarch is then checked only if listed, as in dnf).
//! * `rpmlib(…)` and `solvable:…` requirements are skipped.
//! * A requirement is satisfied when some available package provides it: a name (and version
//!   range, compared as rpm does, a missing release matching every release), a file in the
//!   package's file list (primary.xml first; filelists.xml is read only for file requirements
//!   primary cannot answer), or a rich dependency evaluated as libsolv's `whatprovides` does:
//!   `and`, `or`, `if`, `unless` take the providers of either side (`if`/`unless` ignore the
//!   condition and add the `else` branch), `with` the packages providing both sides, `without`
//!   those providing the left but not the right side.
//!
//! Requirements print as rpm and dnf print them: `libb >= 1:1.0` (epoch 0 omitted), rich
//! dependencies normalised to `(a or b or c)`.

use std::collections::{HashMap as StdHashMap, HashSet as StdHashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use crate::repodata::{self, Compression, Dep};
use crate::rpmvercmp::{Evr, EvrRef, flags, provide_matches_ref};

/// A small multiplicative hasher (the "Fx" scheme rustc uses): the index hashes short strings
/// millions of times, where SipHash's DoS resistance buys nothing (the input is repodata we
/// were asked to read) and costs most of the run time.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;
type HashSet<K> = StdHashSet<K, BuildHasherDefault<FxHasher>>;

/// Operators of rpm's boolean (rich) dependencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    And,
    Or,
    If,
    Unless,
    Else,
    With,
    Without,
}

impl Op {
    fn from_word(w: &str) -> Option<Op> {
        Some(match w {
            "and" => Op::And,
            "or" => Op::Or,
            "if" => Op::If,
            "unless" => Op::Unless,
            "else" => Op::Else,
            "with" => Op::With,
            "without" => Op::Without,
            _ => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Op::And => "and",
            Op::Or => "or",
            Op::If => "if",
            Op::Unless => "unless",
            Op::Else => "else",
            Op::With => "with",
            Op::Without => "without",
        }
    }
}

/// A requirement: a simple (possibly versioned) name, or a rich dependency tree. Chains
/// (`a or b or c`) nest to the right, as libsolv stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    Simple {
        name: String,
        flags: u8,
        evr: Evr,
        /// The version text as written (rich dependencies print it back unchanged).
        evr_text: String,
    },
    Rich(Op, Box<Req>, Box<Req>),
}

impl Req {
    /// The requirement of a repodata entry: simple, or parsed when the name is `(…)`.
    pub fn from_dep(dep: &Dep) -> Result<Req, String> {
        if dep.name.starts_with('(') {
            parse_rich(&dep.name)
        } else {
            Ok(Req::Simple {
                name: dep.name.clone(),
                flags: dep.flags,
                evr: dep.evr.clone(),
                evr_text: dep.evr.to_string(),
            })
        }
    }

    fn visit_names<'a>(&'a self, f: &mut impl FnMut(&'a str)) {
        match self {
            Req::Simple { name, .. } => f(name),
            Req::Rich(_, a, b) => {
                a.visit_names(f);
                b.visit_names(f);
            }
        }
    }

    /// Calls `f` for every file name under a `with` or `without` operator.
    fn visit_set_files<'a>(&'a self, under: bool, f: &mut impl FnMut(&'a str)) {
        match self {
            Req::Simple { name, .. } => {
                if under && name.starts_with('/') {
                    f(name)
                }
            }
            Req::Rich(op, a, b) => {
                let under = under || matches!(op, Op::With | Op::Without);
                a.visit_set_files(under, f);
                b.visit_set_files(under, f);
            }
        }
    }

    fn fmt_inner(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Req::Simple {
                name,
                flags: fl,
                evr_text,
                ..
            } => {
                out.write_str(name)?;
                if *fl != 0 {
                    write!(out, " {} {}", flags::symbol(*fl), evr_text)?;
                }
                Ok(())
            }
            Req::Rich(op, a, b) => {
                if let Req::Rich(..) = **a {
                    out.write_str("(")?;
                    a.fmt_inner(out)?;
                    out.write_str(")")?;
                } else {
                    a.fmt_inner(out)?;
                }
                write!(out, " {} ", op.word())?;
                let chain = match **b {
                    Req::Rich(bop, ..) => {
                        (bop == *op && matches!(op, Op::And | Op::Or | Op::With))
                            || (bop == Op::Else && matches!(op, Op::If | Op::Unless))
                    }
                    Req::Simple { .. } => true,
                };
                if chain {
                    b.fmt_inner(out)
                } else {
                    out.write_str("(")?;
                    b.fmt_inner(out)?;
                    out.write_str(")")
                }
            }
        }
    }
}

impl fmt::Display for Req {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Req::Simple { .. } => self.fmt_inner(out),
            Req::Rich(..) => {
                out.write_str("(")?;
                self.fmt_inner(out)?;
                out.write_str(")")
            }
        }
    }
}

/// Parses a rich dependency `( … )`.
pub fn parse_rich(text: &str) -> Result<Req, String> {
    let mut p = RichParser {
        s: text.as_bytes(),
        i: 0,
    };
    p.ws();
    let r = p.group()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("unexpected text after rich dependency: {text}"));
    }
    Ok(r)
}

struct RichParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl RichParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err(&self, what: &str) -> String {
        format!(
            "bad rich dependency {:?}: {what} at offset {}",
            String::from_utf8_lossy(self.s),
            self.i
        )
    }

    /// `( term (op term)* )`
    fn group(&mut self) -> Result<Req, String> {
        if self.peek() != Some(b'(') {
            return Err(self.err("expected '('"));
        }
        self.i += 1;
        let mut terms = vec![self.term()?];
        let mut ops = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                None => return Err(self.err("missing ')'")),
                _ => {
                    let w = self.word();
                    let op = Op::from_word(&w).ok_or_else(|| self.err("unknown operator"))?;
                    ops.push(op);
                    terms.push(self.term()?);
                }
            }
        }
        let mut acc = terms.pop().expect("one term");
        while let Some(t) = terms.pop() {
            let op = ops.pop().expect("op per term");
            acc = Req::Rich(op, Box::new(t), Box::new(acc));
        }
        Ok(acc)
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && !self.s[self.i].is_ascii_whitespace()
            && self.s[self.i] != b')'
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn term(&mut self) -> Result<Req, String> {
        self.ws();
        if self.peek() == Some(b'(') {
            return self.group();
        }
        // A name; parentheses inside it must balance (`libfoo.so.1()(64bit)`).
        let start = self.i;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if c == b'(' {
                depth += 1;
            } else if c == b')' {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            } else if c.is_ascii_whitespace() && depth == 0 {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a name"));
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        let save = self.i;
        self.ws();
        let opstart = self.i;
        while matches!(self.peek(), Some(b'<' | b'>' | b'=')) {
            self.i += 1;
        }
        if self.i == opstart {
            self.i = save;
            return Ok(Req::Simple {
                name,
                flags: 0,
                evr: Evr::default(),
                evr_text: String::new(),
            });
        }
        let op = std::str::from_utf8(&self.s[opstart..self.i]).unwrap_or("");
        let fl = flags::from_symbol(op).ok_or_else(|| self.err("bad comparison operator"))?;
        self.ws();
        let evr_text = self.word();
        if evr_text.is_empty() {
            return Err(self.err("missing version"));
        }
        Ok(Req::Simple {
            name,
            flags: fl,
            evr: Evr::parse(&evr_text),
            evr_text,
        })
    }
}

/// Architectures a base architecture can install (libsolv's rpm arch policies), noarch included.
pub fn compatible_arches(base: &str) -> Vec<&'static str> {
    let list: &[&'static str] = match base {
        "x86_64" => &["x86_64", "i686", "i586", "i486", "i386"],
        "x86_64_v2" => &["x86_64_v2", "x86_64", "i686", "i586", "i486", "i386"],
        "x86_64_v3" => &[
            "x86_64_v3",
            "x86_64_v2",
            "x86_64",
            "i686",
            "i586",
            "i486",
            "i386",
        ],
        "x86_64_v4" => &[
            "x86_64_v4",
            "x86_64_v3",
            "x86_64_v2",
            "x86_64",
            "i686",
            "i586",
            "i486",
            "i386",
        ],
        "athlon" => &["athlon", "i686", "i586", "i486", "i386"],
        "i686" => &["i686", "i586", "i486", "i386"],
        "i586" => &["i586", "i486", "i386"],
        "aarch64" => &["aarch64"],
        "ppc64le" => &["ppc64le"],
        "ppc64" => &["ppc64", "ppc"],
        "s390x" => &["s390x", "s390"],
        "riscv64" => &["riscv64"],
        "i486" => &["i486", "i386"],
        // ARM as libsolv's policies: hard-float (`h`) and soft-float lines never mix.
        "armv8hcnl" => &[
            "armv8hcnl",
            "armv8hnl",
            "armv8hl",
            "armv7hnl",
            "armv7hl",
            "armv6hl",
        ],
        "armv8hnl" => &["armv8hnl", "armv8hl", "armv7hnl", "armv7hl", "armv6hl"],
        "armv8hl" => &["armv8hl", "armv7hl", "armv6hl"],
        "armv7hnl" => &["armv7hnl", "armv7hl", "armv6hl"],
        "armv7hl" => &["armv7hl", "armv6hl"],
        "armv6hl" => &["armv6hl"],
        "armv8l" => &[
            "armv8l",
            "armv7l",
            "armv6l",
            "armv5tejl",
            "armv5tel",
            "armv5tl",
            "armv5l",
            "armv4tl",
            "armv4l",
            "armv3l",
        ],
        "armv7l" => &[
            "armv7l",
            "armv6l",
            "armv5tejl",
            "armv5tel",
            "armv5tl",
            "armv5l",
            "armv4tl",
            "armv4l",
            "armv3l",
        ],
        "armv6l" => &[
            "armv6l",
            "armv5tejl",
            "armv5tel",
            "armv5tl",
            "armv5l",
            "armv4tl",
            "armv4l",
            "armv3l",
        ],
        "loongarch64" => &["loongarch64"],
        _ => &[],
    };
    let mut v = list.to_vec();
    if v.is_empty() {
        // Unknown base: only itself (leaked once per distinct name; a handful at most).
        v.push(Box::leak(base.to_owned().into_boxed_str()));
    }
    v.push("noarch");
    v
}

/// The multilib arches that compose tools check together with a base arch (pungi's
/// `get_valid_arches(arch, multilib=True)`), noarch included.
pub fn compose_arches(base: &str) -> Vec<&'static str> {
    compatible_arches(base)
}

/// One repository to read.
#[derive(Debug, Clone)]
pub struct RepoInput {
    /// The repository root (the directory holding `repodata/`).
    pub root: PathBuf,
    /// Whether its packages are checked (as `--check`); lookaside repositories only provide.
    pub check: bool,
}

/// Which packages count; mirrors `dnf repoclosure` options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check only packages of these arches (`--arch`, repeatable); empty = all.
    pub arches: Vec<String>,
    /// The architecture whose compatible arches may provide (dnf's system arch or `--forcearch`).
    pub base_arch: String,
    /// `--newest`: only the newest EVR per (name, arch) of each repository is available and checked.
    pub newest: bool,
    /// dnf's `best` option: only the newest per (name, arch) across repositories is available.
    pub best: bool,
    /// Leave the index allocated when returning: a command-line tool that exits right after
    /// saves the time of freeing it (the string table, the per-package and per-requirement
    /// arrays and the rich requirements parsed).
    pub keep_index: bool,
}

/// What was read from one repository.
#[derive(Debug, Clone)]
pub struct RepoSummary {
    pub root: PathBuf,
    pub packages: u64,
    pub compression: Compression,
    /// Whether filelists.xml had to be read.
    pub read_filelists: bool,
}

/// One requirement of one package that nothing provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Index into the repository list.
    pub repo: usize,
    /// The package's `location href`.
    pub location: String,
    /// `name-[E:]V-R.arch`.
    pub package: String,
    pub arch: String,
    /// As rpm prints it.
    pub requires: String,
    /// The requirement is a rich dependency that does not parse: not "nothing provides it" but
    /// broken metadata (libsolv rejects it too).
    pub malformed: bool,
}

/// The result of a closure check.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub repos: Vec<RepoSummary>,
    /// Packages whose requirements were checked.
    pub checked: u64,
    /// Sorted by package (name, EVR, arch), then requirement.
    pub unresolved: Vec<Unresolved>,
    /// Packages with at least one unresolved requirement.
    pub broken_packages: u64,
}

/// A failure to read one repository.
#[derive(Debug)]
pub struct RepoError {
    /// The repository root.
    pub root: PathBuf,
    /// The file, relative to the root (`repodata/repomd.xml`, …).
    pub path: PathBuf,
    /// What was being done (`read-repomd`, `read-primary`, `read-filelists`).
    pub op: &'static str,
    pub error: io::Error,
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.root.join(&self.path).display(),
            self.error
        )
    }
}

/// Interned strings: every distinct name, version and path once in one buffer, named by a
/// `u32`. The index then compares and looks up numbers, and reading a repository allocates
/// per distinct string at most (most names repeat), never per occurrence.
struct Strings {
    buf: String,
    /// (start, end) in `buf` per id.
    spans: Vec<(u32, u32)>,
    table: hashbrown::HashTable<u32>,
}

/// The id of `""` in every [`Strings`].
const EMPTY: u32 = 0;
/// No string (a missing release).
const NONE: u32 = u32::MAX;

fn hash_dep(d: &IDep) -> u64 {
    let mut h = FxHasher::default();
    d.hash(&mut h);
    fmix(h.finish())
}

/// murmur3's 64-bit finaliser: spreads every input bit over the low bits the table indexes by.
fn fmix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.write_usize(s.len());
    // The multiply leaves the low bits (the table's bucket index) depending on the first
    // bytes only ("cap1", "cap2", …): fold the high half down.
    fmix(h.finish())
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings {
            buf: String::with_capacity(1 << 20),
            spans: Vec::with_capacity(1 << 14),
            table: hashbrown::HashTable::with_capacity(1 << 14),
        };
        s.intern("");
        s
    }

    /// Room for `count` strings of `bytes` in all.
    fn reserve(&mut self, count: usize, bytes: usize) {
        self.buf.reserve(bytes);
        self.spans.reserve(count);
        let (buf, spans) = (&self.buf, &self.spans);
        self.table.reserve(count, |&id| {
            let (a, b) = spans[id as usize];
            hash_str(&buf[a as usize..b as usize])
        });
    }

    fn get(&self, id: u32) -> &str {
        let (a, b) = self.spans[id as usize];
        &self.buf[a as usize..b as usize]
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// The id of `s`, adding it when new.
    fn intern(&mut self, s: &str) -> u32 {
        let hash = hash_str(s);
        let (buf, spans) = (&self.buf, &self.spans);
        let at = |id: u32| {
            let (a, b) = spans[id as usize];
            &buf[a as usize..b as usize]
        };
        match self
            .table
            .entry(hash, |&id| at(id) == s, |&id| hash_str(at(id)))
        {
            hashbrown::hash_table::Entry::Occupied(o) => *o.get(),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let id = self.spans.len() as u32;
                let start = self.buf.len() as u32;
                self.buf.push_str(s);
                self.spans.push((start, self.buf.len() as u32));
                v.insert(id);
                id
            }
        }
    }

    /// Stores `s` without looking for an equal one (checksums, locations: each is unique).
    fn push(&mut self, s: &str) -> u32 {
        let id = self.spans.len() as u32;
        let start = self.buf.len() as u32;
        self.buf.push_str(s);
        self.spans.push((start, self.buf.len() as u32));
        id
    }

    /// The id of `s` if it was interned.
    fn find(&self, s: &str) -> Option<u32> {
        self.table
            .find(hash_str(s), |&id| self.get(id) == s)
            .copied()
    }

    fn evr(&self, e: IEvr) -> EvrRef<'_> {
        EvrRef {
            epoch: e.epoch,
            version: self.get(e.ver),
            release: (e.rel != NONE).then(|| self.get(e.rel)),
        }
    }

    fn ievr(&mut self, e: EvrRef<'_>) -> IEvr {
        IEvr {
            epoch: e.epoch,
            ver: self.intern(e.version),
            rel: e.release.map_or(NONE, |r| self.intern(r)),
        }
    }
}

/// An EVR as string ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct IEvr {
    epoch: Option<u64>,
    ver: u32,
    /// [`NONE`] when absent.
    rel: u32,
}

impl IEvr {
    const UNVERSIONED: IEvr = IEvr {
        epoch: None,
        ver: EMPTY,
        rel: NONE,
    };
}

/// A requirement as string ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct IDep {
    name: u32,
    flags: u8,
    evr: IEvr,
}

struct Pkg {
    repo: usize,
    name: u32,
    evr: IEvr,
    arch: u32,
    location: u32,
    pkgid: u32,
    /// Range of `Data::req_list`: ids into `Data::deps`.
    reqs: (u32, u32),
    installable: bool,
    available: bool,
    check: bool,
}

/// One provide of one package.
#[derive(Clone, Copy)]
struct IProv {
    name: u32,
    pkg: u32,
    flags: u8,
    evr: IEvr,
}

/// What was read from primary.xml (one repository's, or all of them merged).
struct Data {
    strings: Strings,
    pkgs: Vec<Pkg>,
    provides: Vec<IProv>,
    /// Every distinct requirement once (`rpmlib(…)` and `solvable:…` dropped: dnf skips them).
    deps: Vec<IDep>,
    /// `deps` indexes by value.
    dep_ids: hashbrown::HashTable<u32>,
    req_list: Vec<u32>,
    /// (path, package) of the files primary.xml lists.
    files: Vec<(u32, u32)>,
}

impl Data {
    fn new() -> Data {
        Data {
            strings: Strings::new(),
            pkgs: Vec::new(),
            provides: Vec::new(),
            deps: Vec::new(),
            dep_ids: hashbrown::HashTable::new(),
            req_list: Vec::new(),
            files: Vec::new(),
        }
    }

    fn add_dep(&mut self, d: IDep) -> u32 {
        let deps = &self.deps;
        match self.dep_ids.entry(
            hash_dep(&d),
            |&id| deps[id as usize] == d,
            |&id| hash_dep(&deps[id as usize]),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => *o.get(),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let id = deps.len() as u32;
                v.insert(id);
                self.deps.push(d);
                id
            }
        }
    }

    /// Appends another repository's packages, re-numbering its strings and requirements.
    fn merge(&mut self, other: Data) {
        let map: Vec<u32> = (0..other.strings.len() as u32)
            .map(|id| self.strings.intern(other.strings.get(id)))
            .collect();
        let s = |id: u32| if id == NONE { NONE } else { map[id as usize] };
        let e = |v: IEvr| IEvr {
            epoch: v.epoch,
            ver: s(v.ver),
            rel: s(v.rel),
        };
        let dep_map: Vec<u32> = other
            .deps
            .iter()
            .map(|d| {
                self.add_dep(IDep {
                    name: s(d.name),
                    flags: d.flags,
                    evr: e(d.evr),
                })
            })
            .collect();
        let base = self.pkgs.len() as u32;
        for p in other.pkgs {
            let start = self.req_list.len() as u32;
            self.req_list.extend(
                other.req_list[p.reqs.0 as usize..p.reqs.1 as usize]
                    .iter()
                    .map(|&d| dep_map[d as usize]),
            );
            self.pkgs.push(Pkg {
                name: s(p.name),
                evr: e(p.evr),
                arch: s(p.arch),
                location: s(p.location),
                pkgid: s(p.pkgid),
                reqs: (start, self.req_list.len() as u32),
                ..p
            });
        }
        self.provides
            .extend(other.provides.into_iter().map(|p| IProv {
                name: s(p.name),
                pkg: p.pkg + base,
                flags: p.flags,
                evr: e(p.evr),
            }));
        self.files
            .extend(other.files.into_iter().map(|(f, p)| (s(f), p + base)));
    }

    fn req_ids(&self, p: &Pkg) -> &[u32] {
        &self.req_list[p.reqs.0 as usize..p.reqs.1 as usize]
    }

    /// A requirement as rpm prints it.
    fn dep_string(&self, d: &IDep) -> String {
        let name = self.strings.get(d.name);
        if d.flags == 0 {
            name.to_owned()
        } else {
            format!(
                "{name} {} {}",
                flags::symbol(d.flags),
                self.strings.evr(d.evr)
            )
        }
    }
}

/// Builds one repository's [`Data`] from primary.xml.
struct Reader {
    data: Data,
    repo: usize,
    check: bool,
    cur: Pkg,
}

/// A file requirement as libsolv matches it: repeated slashes collapsed (`/usr//bin/x` is
/// `/usr/bin/x`); any other name as it is.
fn file_dep_name(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.starts_with('/') || !name.contains("//") {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl repodata::PrimarySink for Reader {
    fn expect_packages(&mut self, count: u64) {
        // Typical shares per package; growing from there costs a copy. Too large a count
        // spreads the hash tables over more pages, so it is capped near the largest real
        // repositories: a wrong count costs at most ~10 MB (7 MB measured for 999999999).
        let n = count.min(1 << 16) as usize;
        let d = &mut self.data;
        d.strings.reserve(8 * n, 64 * n);
        d.pkgs.reserve(n);
        d.provides.reserve(4 * n);
        d.deps.reserve(6 * n);
        d.dep_ids
            .reserve(6 * n, |&id| hash_dep(&d.deps[id as usize]));
        d.req_list.reserve(12 * n);
        d.files.reserve(2 * n);
    }
    fn start(&mut self) {
        let at = self.data.req_list.len() as u32;
        self.cur = Pkg {
            repo: self.repo,
            name: EMPTY,
            evr: IEvr::UNVERSIONED,
            arch: EMPTY,
            location: EMPTY,
            pkgid: EMPTY,
            reqs: (at, at),
            installable: false,
            available: true,
            check: self.check,
        };
    }
    fn name(&mut self, name: &str) {
        self.cur.name = self.data.strings.intern(name);
    }
    fn arch(&mut self, arch: &str) {
        self.cur.arch = self.data.strings.intern(arch);
    }
    fn version(&mut self, evr: EvrRef<'_>) {
        self.cur.evr = self.data.strings.ievr(evr);
    }
    fn pkgid(&mut self, id: &str) {
        self.cur.pkgid = self.data.strings.push(id);
    }
    fn location(&mut self, href: &str) {
        self.cur.location = self.data.strings.push(href);
    }
    fn provide(&mut self, e: repodata::EntryRef<'_>) {
        let strings = &mut self.data.strings;
        let p = IProv {
            name: strings.intern(e.name),
            pkg: self.data.pkgs.len() as u32,
            flags: e.flags,
            evr: if e.flags == 0 {
                IEvr::UNVERSIONED
            } else {
                strings.ievr(e.evr)
            },
        };
        self.data.provides.push(p);
    }
    fn require(&mut self, e: repodata::EntryRef<'_>) {
        if skipped(e.name) {
            return;
        }
        let strings = &mut self.data.strings;
        let d = IDep {
            name: strings.intern(&file_dep_name(e.name)),
            flags: e.flags,
            evr: if e.flags == 0 {
                IEvr::UNVERSIONED
            } else {
                strings.ievr(e.evr)
            },
        };
        let id = self.data.add_dep(d);
        self.data.req_list.push(id);
    }
    fn file(&mut self, path: &str) {
        let f = self.data.strings.intern(path);
        self.data.files.push((f, self.data.pkgs.len() as u32));
    }
    fn end(&mut self) {
        self.cur.reqs.1 = self.data.req_list.len() as u32;
        let p = std::mem::replace(
            &mut self.cur,
            Pkg {
                repo: self.repo,
                name: EMPTY,
                evr: IEvr::UNVERSIONED,
                arch: EMPTY,
                location: EMPTY,
                pkgid: EMPTY,
                reqs: (0, 0),
                installable: false,
                available: true,
                check: self.check,
            },
        );
        self.data.pkgs.push(p);
    }
}

/// filelists.xml, opened (and decompressing) in case it is needed.
type Filelists = Option<(PathBuf, io::Result<(Compression, repodata::ReadAhead)>)>;

/// What one primary.xml reader thread returns.
type PrimaryResult = Result<(repodata::RepoMd, Compression, u64, Data), RepoError>;

/// Reads one repository's repomd.xml and primary.xml into a [`Data`].
fn read_primary(repo: &RepoInput, ri: usize, check: bool) -> PrimaryResult {
    let err = |path: &Path, op: &'static str, error: io::Error| RepoError {
        root: repo.root.clone(),
        path: path.to_path_buf(),
        op,
        error,
    };
    let md_rel = Path::new("repodata/repomd.xml");
    let md = repodata::read_repomd(&repo.root).map_err(|e| err(md_rel, "read-repomd", e))?;
    let href = md.href("primary").ok_or_else(|| {
        err(
            md_rel,
            "read-repomd",
            io::Error::new(io::ErrorKind::InvalidData, "repomd.xml names no primary"),
        )
    })?;
    let primary_rel = PathBuf::from(href);
    let (compression, input) = repodata::open_metadata(&repo.root.join(href))
        .map_err(|e| err(&primary_rel, "read-primary", e))?;
    let mut reader = Reader {
        data: Data::new(),
        repo: ri,
        check,
        cur: Pkg {
            repo: ri,
            name: EMPTY,
            evr: IEvr::UNVERSIONED,
            arch: EMPTY,
            location: EMPTY,
            pkgid: EMPTY,
            reqs: (0, 0),
            installable: false,
            available: true,
            check,
        },
    };
    let count = repodata::scan_primary_threaded(input, &mut reader)
        .map_err(|e| err(&primary_rel, "read-primary", e))?;
    Ok((md, compression, count, reader.data))
}

/// Runs the closure check over `repos`.
pub fn check(repos: &[RepoInput], opts: &Options) -> Result<Outcome, RepoError> {
    let any_check = repos.iter().any(|r| r.check);
    // Each repository's primary.xml is read on its own thread, all at once: decompressed on a
    // second thread (a bounded queue of blocks ahead) and parsed on a third, while the first
    // interns what the parser found (repodata::scan_primary_threaded). The results are merged
    // in repository order.
    let results: Vec<PrimaryResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = repos
            .iter()
            .enumerate()
            .map(|(ri, repo)| {
                let check = !any_check || repo.check;
                scope.spawn(move || read_primary(repo, ri, check))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("primary reader thread"))
            .collect()
    });
    let mut summaries = Vec::new();
    let mut filelists: Vec<Filelists> = Vec::new();
    let mut all: Option<Data> = None;
    for (repo, res) in repos.iter().zip(results) {
        let (md, compression, count, data) = res?;
        // Start decompressing filelists.xml now, in case a file requirement needs it: the
        // decoder thread gets ahead while this thread classifies the requirements.
        filelists.push(md.href("filelists").map(|href| {
            (
                PathBuf::from(href),
                repodata::open_metadata(&repo.root.join(href)),
            )
        }));
        summaries.push(RepoSummary {
            root: repo.root.clone(),
            packages: count,
            compression,
            read_filelists: false,
        });
        match all.as_mut() {
            None => all = Some(data),
            Some(a) => a.merge(data),
        }
    }
    let mut data = all.unwrap_or_else(Data::new);

    // Which packages count.
    let compat: Vec<u32> = compatible_arches(&opts.base_arch)
        .into_iter()
        .filter_map(|a| data.strings.find(a))
        .collect();
    for p in data.pkgs.iter_mut() {
        p.installable = compat.contains(&p.arch);
    }
    if opts.newest {
        let latest = latest_per_name_arch(&data, true);
        for (i, p) in data.pkgs.iter_mut().enumerate() {
            if !latest.contains(&(i as u32)) {
                p.available = false;
                p.check = false;
            }
        }
    }
    if opts.best {
        let latest = latest_per_name_arch(&data, false);
        for (i, p) in data.pkgs.iter_mut().enumerate() {
            if !latest.contains(&(i as u32)) {
                p.available = false;
            }
        }
    }
    if !opts.arches.is_empty() {
        let wanted: Vec<u32> = opts
            .arches
            .iter()
            .filter_map(|a| data.strings.find(a))
            .collect();
        for p in data.pkgs.iter_mut() {
            if !wanted.contains(&p.arch) {
                p.check = false;
            }
        }
    }
    for p in data.pkgs.iter_mut() {
        if !p.installable {
            p.available = false;
        }
    }

    // Every distinct requirement of the checked packages once; only rich ones need parsing.
    let mut parsed: Vec<Option<Need>> = vec![None; data.deps.len()];
    let mut rich_files: Vec<(String, bool)> = Vec::new();
    let mut file_req: Vec<bool> = vec![false; data.strings.len()];
    for p in data.pkgs.iter().filter(|p| p.check) {
        for &id in data.req_ids(p) {
            let slot = &mut parsed[id as usize];
            if slot.is_some() {
                continue;
            }
            let d = data.deps[id as usize];
            let name = data.strings.get(d.name);
            *slot = Some(if name.starts_with('(') {
                match parse_rich(name) {
                    Ok(r) => {
                        r.visit_names(&mut |n| {
                            if n.starts_with('/') {
                                rich_files.push((n.to_owned(), false));
                            }
                        });
                        // `with`/`without` compare provider sets, so those need every
                        // package listing the path, not just one.
                        r.visit_set_files(false, &mut |n| rich_files.push((n.to_owned(), true)));
                        Need::Rich(Box::new(r))
                    }
                    Err(_) => Need::Bad,
                }
            } else {
                if name.starts_with('/') {
                    file_req[d.name as usize] = true;
                }
                Need::Simple
            });
        }
    }
    let mut complete_files: HashSet<u32> = HashSet::default();
    for (f, complete) in rich_files {
        let id = data.strings.intern(&f);
        if id as usize >= file_req.len() {
            file_req.resize(id as usize + 1, false);
        }
        file_req[id as usize] = true;
        if complete {
            complete_files.insert(id);
        }
    }
    let data = data;

    // File provides: primary's file lists first, then filelists.xml for what is still missing.
    let mut files: HashMap<u32, Vec<u32>> = HashMap::default();
    for &(f, idx) in &data.files {
        if file_req[f as usize] && data.pkgs[idx as usize].installable {
            files.entry(f).or_default().push(idx);
        }
    }
    // Missing: no *available* package provides the path yet (an older version filtered out by
    // --newest or --best may list it while only filelists.xml shows the newer one does).
    // Worked out without the provide index, so that filelists.xml is read while it is built.
    let avail = |i: u32| data.pkgs[i as usize].available;
    let mut provided = vec![false; file_req.len()];
    let own = data
        .pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name, i as u32));
    for (name, pkg) in data.provides.iter().map(|p| (p.name, p.pkg)).chain(own) {
        if file_req.get(name as usize) == Some(&true) && avail(pkg) {
            provided[name as usize] = true;
        }
    }
    let missing: HashMap<&str, u32> = file_req
        .iter()
        .enumerate()
        .filter(|&(_, &is)| is)
        .map(|(f, _)| f as u32)
        .filter(|&f| {
            let by_file = files.get(&f).is_some_and(|v| v.iter().any(|&i| avail(i)));
            (!by_file && !provided[f as usize]) || complete_files.contains(&f)
        })
        .map(|f| (data.strings.get(f), f))
        .collect();
    let mut missing_id = vec![false; data.strings.len()];
    for &f in missing.values() {
        missing_id[f as usize] = true;
    }
    // Per requirement: None = not needed or not decided yet, Some(satisfied).
    let mut verdict: Vec<Option<bool>> = vec![None; parsed.len()];
    let provides = if missing.is_empty() {
        drop(filelists); // stops their decompression
        ProvideIndex::build(&data)
    } else {
        // Most listed files cannot match: compare lengths before hashing.
        let mut lengths = vec![false; missing.keys().map(|f| f.len()).max().unwrap_or(0) + 1];
        for f in missing.keys() {
            lengths[f.len()] = true;
        }
        // One thread per repository (they are independent); results joined in order.
        let (lengths, missing) = (&lengths, &missing);
        let (files_ref, parsed_ref, data_ref, missing_id) = (&files, &parsed, &data, &missing_id);
        let verdict_ref = &mut verdict;
        let (per_repo, provides): (Vec<FilelistsResult>, ProvideIndex) =
            std::thread::scope(|scope| {
                let handles: Vec<_> = repos
                    .iter()
                    .zip(filelists)
                    .enumerate()
                    .map(|(ri, (repo, fl))| {
                        scope.spawn(move || {
                            let Some((rel, opened)) = fl else {
                                return Ok(None);
                            };
                            let err = |error| RepoError {
                                root: repo.root.clone(),
                                path: rel.clone(),
                                op: "read-filelists",
                                error,
                            };
                            let (_, reader) = opened.map_err(err)?;
                            let by_id: HashMap<&str, u32> = data_ref
                                .pkgs
                                .iter()
                                .enumerate()
                                .filter(|(_, p)| p.installable && p.repo == ri)
                                .map(|(i, p)| (data_ref.strings.get(p.pkgid), i as u32))
                                .collect();
                            let mut found = Vec::new();
                            repodata::scan_filelists(
                                reader,
                                |len| len < lengths.len() && lengths[len],
                                |pkgid, file| {
                                    if let Some(&f) = missing.get(file)
                                        && let Some(&idx) = by_id.get(pkgid)
                                    {
                                        found.push((f, idx));
                                    }
                                },
                            )
                            .map_err(err)?;
                            Ok(Some(found))
                        })
                    })
                    .collect();
                // Meanwhile, index the provides and decide every requirement that names no
                // missing file.
                let provides = ProvideIndex::build(data_ref);
                let index = Index {
                    strings: &data_ref.strings,
                    provides: &provides,
                    files: files_ref,
                };
                decide(
                    &index,
                    &data_ref.deps,
                    parsed_ref,
                    verdict_ref,
                    |i| data_ref.pkgs[i as usize].available,
                    |d, r| match r {
                        None => !missing_id[d.name as usize],
                        Some(r) => !names_any(r, missing),
                    },
                );
                let results = handles
                    .into_iter()
                    .map(|h| h.join().expect("filelists reader thread"))
                    .collect();
                (results, provides)
            });
        let mut found: Vec<(u32, u32)> = Vec::new();
        for (ri, r) in per_repo.into_iter().enumerate() {
            if let Some(v) = r? {
                summaries[ri].read_filelists = true;
                found.extend(v);
            }
        }
        for (f, idx) in found {
            files.entry(f).or_default().push(idx);
        }
        provides
    };

    let index = Index {
        strings: &data.strings,
        provides: &provides,
        files: &files,
    };
    decide(
        &index,
        &data.deps,
        &parsed,
        &mut verdict,
        |i| data.pkgs[i as usize].available,
        |_, _| true,
    );

    let pkgs = &data.pkgs;
    let st = &data.strings;
    let checked = pkgs.iter().filter(|p| p.check).count();
    // Only packages with an unresolved requirement are reported: sort just those.
    let mut order: Vec<u32> = (0..pkgs.len() as u32)
        .filter(|&i| {
            let p = &pkgs[i as usize];
            p.check
                && data
                    .req_ids(p)
                    .iter()
                    .any(|&id| verdict[id as usize] == Some(false))
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&pkgs[a as usize], &pkgs[b as usize]);
        st.get(a.name)
            .cmp(st.get(b.name))
            .then_with(|| st.evr(a.evr).cmp_full(&st.evr(b.evr)))
            .then_with(|| st.get(a.arch).cmp(st.get(b.arch)))
            .then_with(|| a.repo.cmp(&b.repo))
    });
    let broken = order.len() as u64;
    let mut unresolved = Vec::new();
    for &i in &order {
        let p = &pkgs[i as usize];
        let mut reqs: Vec<(String, bool)> = data
            .req_ids(p)
            .iter()
            .filter(|&&id| verdict[id as usize] == Some(false))
            .map(|&id| match &parsed[id as usize] {
                Some(Need::Rich(r)) => (r.to_string(), false),
                Some(Need::Bad) => (data.dep_string(&data.deps[id as usize]), true),
                _ => (data.dep_string(&data.deps[id as usize]), false),
            })
            .collect();
        reqs.sort();
        reqs.dedup();
        let nevra = format!("{}-{}.{}", st.get(p.name), st.evr(p.evr), st.get(p.arch));
        for (r, malformed) in reqs {
            unresolved.push(Unresolved {
                repo: p.repo,
                location: st.get(p.location).to_owned(),
                package: nevra.clone(),
                arch: st.get(p.arch).to_owned(),
                requires: r,
                malformed,
            });
        }
    }
    if opts.keep_index {
        std::mem::forget((data, provides, files, parsed, verdict));
    }
    Ok(Outcome {
        repos: summaries,
        checked: checked as u64,
        unresolved,
        broken_packages: broken,
    })
}

/// How a requirement of a checked package is evaluated.
#[derive(Clone)]
enum Need {
    /// A name, with or without a version: looked up as it is.
    Simple,
    /// A rich dependency, parsed (boxed: one slot per distinct requirement stays small).
    Rich(Box<Req>),
    /// A rich dependency that does not parse: provided by nothing.
    Bad,
}

/// Fills in the verdicts not yet decided of the requirements `which` selects.
fn decide(
    index: &Index<'_>,
    deps: &[IDep],
    parsed: &[Option<Need>],
    verdict: &mut [Option<bool>],
    available: impl Fn(u32) -> bool + Copy,
    which: impl Fn(&IDep, Option<&Req>) -> bool,
) {
    for ((slot, v), d) in parsed.iter().zip(verdict.iter_mut()).zip(deps) {
        if v.is_some() {
            continue;
        }
        match slot {
            None => {}
            Some(Need::Bad) => *v = Some(false),
            Some(Need::Simple) if which(d, None) => {
                let evr = index.strings.evr(d.evr);
                *v = Some(index.satisfied_id(d.name, d.flags, &evr, available))
            }
            Some(Need::Rich(r)) if which(d, Some(r)) => *v = Some(index.satisfied(r, available)),
            Some(_) => {}
        }
    }
}

/// Whether a requirement mentions one of `names`.
fn names_any(req: &Req, names: &HashMap<&str, u32>) -> bool {
    let mut hit = false;
    req.visit_names(&mut |n| hit |= names.contains_key(n));
    hit
}

/// Files found in one repository's filelists.xml (`None` when it has none): (path id, package).
type FilelistsResult = Result<Option<Vec<(u32, u32)>>, RepoError>;

/// dnf skips these (repoclosure.py; rpmlib() is provided by rpm itself).
fn skipped(name: &str) -> bool {
    name.starts_with("rpmlib(") || name.starts_with("solvable:")
}

/// The packages with the highest EVR per (name, arch), per repository or across all of them.
fn latest_per_name_arch(data: &Data, per_repo: bool) -> HashSet<u32> {
    let mut best: HashMap<(usize, u32, u32), Vec<u32>> = HashMap::default();
    let st = &data.strings;
    for (i, p) in data.pkgs.iter().enumerate() {
        let key = (if per_repo { p.repo } else { 0 }, p.name, p.arch);
        let slot = best.entry(key).or_default();
        match slot.first() {
            None => slot.push(i as u32),
            Some(&j) => match st.evr(p.evr).cmp_full(&st.evr(data.pkgs[j as usize].evr)) {
                std::cmp::Ordering::Greater => {
                    slot.clear();
                    slot.push(i as u32);
                }
                std::cmp::Ordering::Equal => slot.push(i as u32),
                std::cmp::Ordering::Less => {}
            },
        }
    }
    best.into_values().flatten().collect()
}

/// A provide in the index (its name is where it is filed).
#[derive(Clone, Copy)]
struct Provide {
    pkg: u32,
    flags: u8,
    evr: IEvr,
}

/// The provides of installable packages grouped by name id (one flat array, offsets per name).
struct ProvideIndex {
    starts: Vec<u32>,
    items: Vec<Provide>,
}

impl ProvideIndex {
    fn build(data: &Data) -> ProvideIndex {
        let n = data.strings.len();
        let installable = |p: u32| data.pkgs[p as usize].installable;
        // libsolv adds each package's own `name = EVR` provide.
        let own = data
            .pkgs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.installable)
            .map(|(i, p)| IProv {
                name: p.name,
                pkg: i as u32,
                flags: flags::EQ,
                evr: p.evr,
            });
        let all = || {
            data.provides
                .iter()
                .copied()
                .filter(|p| installable(p.pkg))
                .chain(own.clone())
        };
        let mut starts = vec![0u32; n + 1];
        for p in all() {
            starts[p.name as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut items = vec![
            Provide {
                pkg: 0,
                flags: 0,
                evr: IEvr::UNVERSIONED,
            };
            starts[n] as usize
        ];
        for p in all() {
            let at = &mut next[p.name as usize];
            items[*at as usize] = Provide {
                pkg: p.pkg,
                flags: p.flags,
                evr: p.evr,
            };
            *at += 1;
        }
        ProvideIndex { starts, items }
    }

    fn of(&self, name: u32) -> &[Provide] {
        match (
            self.starts.get(name as usize),
            self.starts.get(name as usize + 1),
        ) {
            (Some(&a), Some(&b)) => &self.items[a as usize..b as usize],
            _ => &[],
        }
    }
}

struct Index<'a> {
    strings: &'a Strings,
    provides: &'a ProvideIndex,
    files: &'a HashMap<u32, Vec<u32>>,
}

impl Index<'_> {
    /// Whether an available package provides `req` (simple requirements without building sets).
    fn satisfied(&self, req: &Req, available: impl Fn(u32) -> bool + Copy) -> bool {
        match req {
            Req::Simple {
                name,
                flags: fl,
                evr,
                ..
            } => self
                .strings
                .find(name)
                .is_some_and(|id| self.satisfied_id(id, *fl, &evr.view(), available)),
            Req::Rich(..) => self.what_provides(req).into_iter().any(available),
        }
    }

    /// Whether an available package provides `name [op evr]`.
    fn satisfied_id(
        &self,
        name: u32,
        fl: u8,
        evr: &EvrRef<'_>,
        available: impl Fn(u32) -> bool,
    ) -> bool {
        self.provides.of(name).iter().any(|p| {
            available(p.pkg) && provide_matches_ref(p.flags, &self.strings.evr(p.evr), fl, evr)
        }) || self
            .files
            .get(&name)
            .is_some_and(|v| v.iter().any(|&p| available(p)))
    }

    /// The installable packages providing `req`, sorted, as libsolv's `whatprovides`.
    fn what_provides(&self, req: &Req) -> Vec<u32> {
        match req {
            Req::Simple {
                name,
                flags: fl,
                evr,
                ..
            } => {
                let Some(id) = self.strings.find(name) else {
                    return Vec::new();
                };
                let evr = evr.view();
                let mut out: Vec<u32> = self
                    .provides
                    .of(id)
                    .iter()
                    .filter(|p| provide_matches_ref(p.flags, &self.strings.evr(p.evr), *fl, &evr))
                    .map(|p| p.pkg)
                    .collect();
                if let Some(f) = self.files.get(&id) {
                    out.extend(f);
                }
                out.sort_unstable();
                out.dedup();
                out
            }
            Req::Rich(op, a, b) => match op {
                Op::And | Op::Or => union(self.what_provides(a), self.what_provides(b)),
                Op::If | Op::Unless => {
                    let left = self.what_provides(a);
                    match &**b {
                        Req::Rich(Op::Else, _, otherwise) => {
                            union(left, self.what_provides(otherwise))
                        }
                        _ => left,
                    }
                }
                Op::With => {
                    let right: HashSet<u32> = self.what_provides(b).into_iter().collect();
                    let mut l = self.what_provides(a);
                    l.retain(|p| right.contains(p));
                    l
                }
                Op::Without => {
                    let right: HashSet<u32> = self.what_provides(b).into_iter().collect();
                    let mut l = self.what_provides(a);
                    l.retain(|p| !right.contains(p));
                    l
                }
                Op::Else => Vec::new(),
            },
        }
    }
}

fn union(mut a: Vec<u32>, b: Vec<u32>) -> Vec<u32> {
    a.extend(b);
    a.sort_unstable();
    a.dedup();
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_rich_deps_like_libsolv() {
        for (input, want) in [
            ("(a or b)", "(a or b)"),
            ("(  a   or   b  )", "(a or b)"),
            ("(a or b or c)", "(a or b or c)"),
            ("(a or (b or c))", "(a or b or c)"),
            ("((a or b) or c)", "((a or b) or c)"),
            ("((a or b) and c)", "((a or b) and c)"),
            ("(a or (b and c))", "(a or (b and c))"),
            ("(a if b else c)", "(a if b else c)"),
            ("(a >= 1.0 or b < 2:3-4)", "(a >= 1.0 or b < 2:3-4)"),
            (
                "(libfoo.so.1()(64bit) with b)",
                "(libfoo.so.1()(64bit) with b)",
            ),
            (
                "(foo(x86-64) >= 1 without bar)",
                "(foo(x86-64) >= 1 without bar)",
            ),
        ] {
            let r = parse_rich(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), want, "{input}");
        }
        for bad in ["(a or", "(a xor b)", "(a >= )", "a or b", "(a) junk"] {
            assert!(parse_rich(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arch_policy() {
        assert!(compatible_arches("x86_64").contains(&"i686"));
        assert!(compatible_arches("x86_64").contains(&"noarch"));
        assert!(!compatible_arches("x86_64").contains(&"aarch64"));
        assert_eq!(compatible_arches("aarch64"), vec!["aarch64", "noarch"]);
    }

    #[test]
    fn string_table_interns_once_and_spreads_similar_names() {
        let mut s = Strings::new();
        let a = s.intern("cap1");
        let b = s.intern("cap2");
        assert_ne!(a, b);
        assert_eq!(s.intern("cap1"), a);
        assert_eq!((s.get(a), s.get(b), s.get(EMPTY)), ("cap1", "cap2", ""));
        assert_eq!((s.find("cap2"), s.find("cap3")), (Some(b), None));
        // The table indexes by the low bits: names differing only at the end must differ there.
        let low: HashSet<u64> = (0..4096)
            .map(|i| hash_str(&format!("cap{i}")) & 0xfff)
            .collect();
        assert!(low.len() > 2000, "{}", low.len());
        for i in 0..20_000 {
            let id = s.intern(&format!("libp{i}.so.1()(64bit)"));
            assert_eq!(s.get(id), format!("libp{i}.so.1()(64bit)"));
        }
        assert_eq!(
            s.find("libp19999.so.1()(64bit)").map(|id| s.get(id)),
            Some("libp19999.so.1()(64bit)")
        );
    }

    /// Packages 0..=3 (named `pkg0`…), all installable, providing `items` (name, package, EVR).
    fn data_with(items: &[(&str, u32, &str)]) -> Data {
        let mut d = Data::new();
        for i in 0..4 {
            let name = d.strings.intern(&format!("pkg{i}"));
            d.pkgs.push(Pkg {
                repo: 0,
                name,
                evr: IEvr::UNVERSIONED,
                arch: EMPTY,
                location: EMPTY,
                pkgid: EMPTY,
                reqs: (0, 0),
                installable: true,
                available: true,
                check: true,
            });
        }
        for (name, pkg, evr) in items {
            let e = Evr::parse(evr);
            let p = IProv {
                name: d.strings.intern(name),
                pkg: *pkg,
                flags: if evr.is_empty() { 0 } else { flags::EQ },
                evr: d.strings.ievr(e.view()),
            };
            d.provides.push(p);
        }
        d
    }

    #[test]
    fn file_requirements_collapse_repeated_slashes() {
        assert_eq!(file_dep_name("/usr//bin///x"), "/usr/bin/x");
        assert_eq!(file_dep_name("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(file_dep_name("libc.so.6()(64bit)"), "libc.so.6()(64bit)");
    }

    #[test]
    fn arm_policies_keep_hard_and_soft_float_apart() {
        let hl = compatible_arches("armv7hl");
        assert_eq!(hl, ["armv7hl", "armv6hl", "noarch"]);
        let l = compatible_arches("armv7l");
        assert!(l.contains(&"armv5tel") && !l.contains(&"armv7hl"));
        assert!(compatible_arches("armv8hl").contains(&"armv7hl"));
    }

    #[test]
    fn rich_semantics() {
        let data = data_with(&[("a", 1, "1.0-1"), ("b", 2, ""), ("c", 1, ""), ("c", 3, "")]);
        let provides = ProvideIndex::build(&data);
        let files = HashMap::default();
        let ix = Index {
            strings: &data.strings,
            provides: &provides,
            files: &files,
        };
        let wp = |s: &str| ix.what_provides(&parse_rich(s).unwrap());
        assert_eq!(wp("(a and zz)"), vec![1]);
        assert_eq!(wp("(zz or b)"), vec![2]);
        assert_eq!(wp("(zz if a)"), Vec::<u32>::new());
        assert_eq!(wp("(a if zz)"), vec![1]);
        assert_eq!(wp("(zz if a else b)"), vec![2]);
        assert_eq!(wp("(a with c)"), vec![1]);
        assert_eq!(wp("(b with c)"), Vec::<u32>::new());
        assert_eq!(wp("(c without a)"), vec![3]);
        assert_eq!(wp("(a >= 2 or b)"), vec![2]);
        assert_eq!(wp("(a >= 1 with a < 2)"), vec![1]);
    }
}
