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
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::path::{Path, PathBuf};

use crate::repodata::{self, Compression, Dep};
use crate::rpmvercmp::{Evr, flags, provide_matches};

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
        "armv7hl" => &[
            "armv7hl",
            "armv7l",
            "armv6l",
            "armv5tejl",
            "armv5tel",
            "armv5tl",
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
    /// saves the time of freeing a few hundred thousand small allocations (a fifth of a run).
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

struct Pkg {
    repo: usize,
    name: String,
    evr: Evr,
    arch: String,
    location: String,
    pkgid: String,
    /// Indexes into the interned requirement table.
    requires: Vec<u32>,
    installable: bool,
    available: bool,
    check: bool,
}

struct Provide {
    pkg: u32,
    flags: u8,
    evr: Evr,
}

/// Runs the closure check over `repos`.
pub fn check(repos: &[RepoInput], opts: &Options) -> Result<Outcome, RepoError> {
    let compat: HashSet<&str> = compatible_arches(&opts.base_arch).into_iter().collect();
    let any_check = repos.iter().any(|r| r.check);
    let mut pkgs: Vec<Pkg> = Vec::new();
    let mut provides: HashMap<String, Vec<Provide>> = HashMap::default();
    let mut primary_files: Vec<(String, u32)> = Vec::new();
    let mut summaries = Vec::new();
    let mut repomds = Vec::new();
    // Every distinct requirement once: most are shared by many packages.
    let mut dep_ids: HashMap<Dep, u32> = HashMap::default();

    // Each repository's primary.xml is read and parsed on its own thread (all started at once,
    // each a bounded queue of package batches ahead); this thread builds the index from the
    // batches in repository order. Parsing and indexing overlap, and so do repositories.
    let results: Result<(), RepoError> = std::thread::scope(|scope| {
        let mut queues: Vec<std::sync::mpsc::Receiver<Batch>> = Vec::new();
        for repo in repos {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(32);
            scope.spawn(move || read_primary(repo, &tx));
            queues.push(rx);
        }
        for (ri, (repo, rx)) in repos.iter().zip(queues).enumerate() {
            let check_repo = !any_check || repo.check;
            // This repository's requirement ids to global ones.
            let mut global: Vec<u32> = Vec::new();
            for batch in rx {
                let p = match batch {
                    Batch::Packages(v, fresh) => {
                        for d in fresh {
                            let next = dep_ids.len() as u32;
                            global.push(*dep_ids.entry(d).or_insert(next));
                        }
                        v
                    }
                    Batch::Done(res) => {
                        let (md, compression, count) = res?;
                        summaries.push(RepoSummary {
                            root: repo.root.clone(),
                            packages: count,
                            compression,
                            read_filelists: false,
                        });
                        repomds.push(md);
                        break;
                    }
                };
                for (p, local_ids) in p {
                    let idx = pkgs.len() as u32;
                    let installable = compat.contains(p.arch.as_str());
                    if installable {
                        for d in p.provides {
                            provides.entry(d.name).or_default().push(Provide {
                                pkg: idx,
                                flags: d.flags,
                                evr: d.evr,
                            });
                        }
                        // libsolv adds the package's own `name = EVR` provide.
                        provides.entry(p.name.clone()).or_default().push(Provide {
                            pkg: idx,
                            flags: flags::EQ,
                            evr: p.evr.clone(),
                        });
                        for f in p.files {
                            primary_files.push((f, idx));
                        }
                    }
                    let requires = local_ids.iter().map(|&l| global[l as usize]).collect();
                    pkgs.push(Pkg {
                        repo: ri,
                        name: p.name,
                        evr: p.evr,
                        arch: p.arch,
                        location: p.location,
                        pkgid: p.pkgid,
                        requires,
                        installable,
                        available: true,
                        check: check_repo,
                    });
                }
            }
        }
        Ok(())
    });
    results?;

    // Which packages count.
    if opts.newest {
        let latest = latest_per_name_arch(&pkgs, true);
        for (i, p) in pkgs.iter_mut().enumerate() {
            if !latest.contains(&(i as u32)) {
                p.available = false;
                p.check = false;
            }
        }
    }
    if opts.best {
        let latest = latest_per_name_arch(&pkgs, false);
        for (i, p) in pkgs.iter_mut().enumerate() {
            if !latest.contains(&(i as u32)) {
                p.available = false;
            }
        }
    }
    if !opts.arches.is_empty() {
        for p in pkgs.iter_mut() {
            if !opts.arches.contains(&p.arch) {
                p.check = false;
            }
        }
    }
    for p in pkgs.iter_mut() {
        if !p.installable {
            p.available = false;
        }
    }

    let mut deps: Vec<Dep> = Vec::new();
    deps.resize_with(dep_ids.len(), || Dep {
        name: String::new(),
        flags: 0,
        evr: Evr::default(),
    });
    for (d, id) in dep_ids {
        deps[id as usize] = d;
    }
    // Every distinct requirement of the checked packages once; only rich ones need parsing.
    let mut parsed: Vec<Option<Need>> = vec![None; deps.len()];
    let mut file_names: HashSet<String> = HashSet::default();
    let mut complete_files: HashSet<String> = HashSet::default();
    for p in pkgs.iter().filter(|p| p.check) {
        for &id in &p.requires {
            let slot = &mut parsed[id as usize];
            let d = &deps[id as usize];
            if slot.is_some() || skipped(&d.name) {
                continue;
            }
            *slot = Some(if d.name.starts_with('(') {
                match parse_rich(&d.name) {
                    Ok(r) => {
                        r.visit_names(&mut |n| {
                            if n.starts_with('/') {
                                file_names.insert(n.to_owned());
                            }
                        });
                        // `with`/`without` compare provider sets, so those need every
                        // package listing the path, not just one.
                        r.visit_set_files(false, &mut |n| {
                            complete_files.insert(n.to_owned());
                        });
                        Need::Rich(r)
                    }
                    Err(_) => Need::Bad,
                }
            } else {
                if d.name.starts_with('/') {
                    file_names.insert(d.name.clone());
                }
                Need::Simple
            });
        }
    }

    // File provides: primary's file lists first, then filelists.xml for what is still missing.
    let mut files: HashMap<String, Vec<u32>> = HashMap::default();
    for (f, idx) in primary_files {
        if file_names.contains(&f) {
            files.entry(f).or_default().push(idx);
        }
    }
    // Missing: no *available* package provides the path yet (an older version filtered out by
    // --newest or --best may list it while only filelists.xml shows the newer one does).
    let avail = |i: u32| pkgs[i as usize].available;
    let missing: HashSet<&str> = file_names
        .iter()
        .filter(|f| {
            let by_file = files
                .get(f.as_str())
                .is_some_and(|v| v.iter().any(|&i| avail(i)));
            let by_provide = provides
                .get(f.as_str())
                .is_some_and(|v| v.iter().any(|p| avail(p.pkg)));
            (!by_file && !by_provide) || complete_files.contains(f.as_str())
        })
        .map(String::as_str)
        .collect();
    // Per requirement: None = not needed or not decided yet, Some(satisfied).
    let mut verdict: Vec<Option<bool>> = vec![None; parsed.len()];
    if !missing.is_empty() {
        let mut by_id: Vec<HashMap<&str, u32>> = vec![HashMap::default(); repos.len()];
        for (i, p) in pkgs.iter().enumerate() {
            if p.installable {
                by_id[p.repo].insert(p.pkgid.as_str(), i as u32);
            }
        }
        // Most listed files cannot match: compare lengths before hashing.
        let mut lengths = vec![false; missing.iter().map(|f| f.len()).max().unwrap_or(0) + 1];
        for f in &missing {
            lengths[f.len()] = true;
        }
        // One thread per repository (they are independent); results joined in order.
        let (lengths, missing, by_id) = (&lengths, &missing, &by_id);
        let (files_ref, provides_ref, parsed_ref, pkgs_ref, deps_ref) =
            (&files, &provides, &parsed, &pkgs, &deps);
        let verdict_ref = &mut verdict;
        let per_repo: Vec<FilelistsResult> = std::thread::scope(|scope| {
            let handles: Vec<_> = repos
                .iter()
                .enumerate()
                .map(|(ri, repo)| {
                    let href = repomds[ri].href("filelists").map(str::to_owned);
                    scope.spawn(move || {
                        let Some(href) = href else {
                            return Ok(None);
                        };
                        let rel = PathBuf::from(&href);
                        let err = |error| RepoError {
                            root: repo.root.clone(),
                            path: rel.clone(),
                            op: "read-filelists",
                            error,
                        };
                        let mut found = Vec::new();
                        let (_, reader) =
                            repodata::open_metadata(&repo.root.join(&href)).map_err(err)?;
                        repodata::parse_filelists(reader, |pkgid, file| {
                            if file.len() < lengths.len()
                                && lengths[file.len()]
                                && missing.contains(file)
                                && let Some(&idx) = by_id[ri].get(pkgid)
                            {
                                found.push((file.to_owned(), idx));
                            }
                        })
                        .map_err(err)?;
                        Ok(Some(found))
                    })
                })
                .collect();
            // Meanwhile, decide every requirement that names no missing file.
            let index = Index {
                provides: provides_ref,
                files: files_ref,
            };
            decide(
                &index,
                deps_ref,
                parsed_ref,
                verdict_ref,
                |i| pkgs_ref[i as usize].available,
                |d, r| match r {
                    None => !missing.contains(d.name.as_str()),
                    Some(r) => !names_any(r, missing),
                },
            );
            handles
                .into_iter()
                .map(|h| h.join().expect("filelists reader thread"))
                .collect()
        });
        let mut found: Vec<(String, u32)> = Vec::new();
        for (ri, r) in per_repo.into_iter().enumerate() {
            if let Some(v) = r? {
                summaries[ri].read_filelists = true;
                found.extend(v);
            }
        }
        for (f, idx) in found {
            files.entry(f).or_default().push(idx);
        }
    }

    let index = Index {
        provides: &provides,
        files: &files,
    };
    decide(
        &index,
        &deps,
        &parsed,
        &mut verdict,
        |i| pkgs[i as usize].available,
        |_, _| true,
    );

    let mut order: Vec<u32> = (0..pkgs.len() as u32)
        .filter(|&i| pkgs[i as usize].check)
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&pkgs[a as usize], &pkgs[b as usize]);
        a.name
            .cmp(&b.name)
            .then_with(|| a.evr.cmp_full(&b.evr))
            .then_with(|| a.arch.cmp(&b.arch))
            .then_with(|| a.repo.cmp(&b.repo))
    });
    let mut unresolved = Vec::new();
    let mut broken = 0u64;
    for &i in &order {
        let p = &pkgs[i as usize];
        let mut reqs: Vec<String> = p
            .requires
            .iter()
            .filter(|&&id| verdict[id as usize] == Some(false))
            .map(|&id| match &parsed[id as usize] {
                Some(Need::Rich(r)) => r.to_string(),
                _ => deps[id as usize].to_string(),
            })
            .collect();
        reqs.sort();
        reqs.dedup();
        if !reqs.is_empty() {
            broken += 1;
        }
        let nevra = format!("{}-{}.{}", p.name, p.evr, p.arch);
        for r in reqs {
            unresolved.push(Unresolved {
                repo: p.repo,
                location: p.location.clone(),
                package: nevra.clone(),
                arch: p.arch.clone(),
                requires: r,
            });
        }
    }
    if opts.keep_index {
        std::mem::forget((pkgs, provides, files, deps, parsed, verdict));
    }
    Ok(Outcome {
        repos: summaries,
        checked: order.len() as u64,
        unresolved,
        broken_packages: broken,
    })
}

/// How a requirement of a checked package is evaluated.
#[derive(Clone)]
enum Need {
    /// A name, with or without a version: looked up as it is.
    Simple,
    /// A rich dependency, parsed.
    Rich(Req),
    /// A rich dependency that does not parse: provided by nothing.
    Bad,
}

/// Fills in the verdicts not yet decided of the requirements `which` selects.
fn decide(
    index: &Index<'_>,
    deps: &[Dep],
    parsed: &[Option<Need>],
    verdict: &mut [Option<bool>],
    available: impl Fn(u32) -> bool + Copy,
    which: impl Fn(&Dep, Option<&Req>) -> bool,
) {
    for ((slot, v), d) in parsed.iter().zip(verdict.iter_mut()).zip(deps) {
        if v.is_some() {
            continue;
        }
        match slot {
            None => {}
            Some(Need::Bad) => *v = Some(false),
            Some(Need::Simple) if which(d, None) => {
                *v = Some(index.satisfied_name(&d.name, d.flags, &d.evr, available))
            }
            Some(Need::Rich(r)) if which(d, Some(r)) => *v = Some(index.satisfied(r, available)),
            Some(_) => {}
        }
    }
}

/// Whether a requirement mentions one of `names`.
fn names_any(req: &Req, names: &HashSet<&str>) -> bool {
    let mut hit = false;
    req.visit_names(&mut |n| hit |= names.contains(n));
    hit
}

/// Files found in one repository's filelists.xml (`None` when it has none).
type FilelistsResult = Result<Option<Vec<(String, u32)>>, RepoError>;

/// What a primary.xml reader thread sends.
enum Batch {
    /// Packages (their `requires` moved out) with requirement ids local to the repository,
    /// and the requirements first seen in this batch, in local id order.
    Packages(Vec<(repodata::Package, Vec<u32>)>, Vec<Dep>),
    Done(Result<(repodata::RepoMd, Compression, u64), RepoError>),
}

/// Packages per batch sent from a reader thread.
const BATCH: usize = 256;

/// Reads one repository's repomd.xml and primary.xml, sending packages in batches and then the
/// outcome. Stops sending (but finishes quietly) when the receiver is gone.
fn read_primary(repo: &RepoInput, tx: &std::sync::mpsc::SyncSender<Batch>) {
    let err = |path: &Path, op: &'static str, error: io::Error| RepoError {
        root: repo.root.clone(),
        path: path.to_path_buf(),
        op,
        error,
    };
    let result = (|| {
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
        let (compression, reader) = repodata::open_metadata(&repo.root.join(href))
            .map_err(|e| err(&primary_rel, "read-primary", e))?;
        let mut batch = Vec::with_capacity(BATCH);
        let mut fresh: Vec<Dep> = Vec::new();
        // Requirements interned here, off the indexing thread: most repeat.
        let mut local: HashMap<Dep, u32> = HashMap::default();
        let mut gone = false;
        let count = repodata::parse_primary(reader, |mut p| {
            if gone {
                return;
            }
            let ids = std::mem::take(&mut p.requires)
                .into_iter()
                .map(|d| {
                    let next = local.len() as u32;
                    *local.entry(d).or_insert_with_key(|d| {
                        fresh.push(d.clone());
                        next
                    })
                })
                .collect();
            batch.push((p, ids));
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                let deps = std::mem::take(&mut fresh);
                gone = tx.send(Batch::Packages(full, deps)).is_err();
            }
        })
        .map_err(|e| err(&primary_rel, "read-primary", e))?;
        if !batch.is_empty() || !fresh.is_empty() {
            let _ = tx.send(Batch::Packages(batch, fresh));
        }
        Ok((md, compression, count))
    })();
    let _ = tx.send(Batch::Done(result));
}

/// dnf skips these (repoclosure.py; rpmlib() is provided by rpm itself).
fn skipped(name: &str) -> bool {
    name.starts_with("rpmlib(") || name.starts_with("solvable:")
}

/// The packages with the highest EVR per (name, arch), per repository or across all of them.
fn latest_per_name_arch(pkgs: &[Pkg], per_repo: bool) -> HashSet<u32> {
    let mut best: HashMap<(usize, &str, &str), Vec<u32>> = HashMap::default();
    for (i, p) in pkgs.iter().enumerate() {
        let key = (
            if per_repo { p.repo } else { 0 },
            p.name.as_str(),
            p.arch.as_str(),
        );
        let slot = best.entry(key).or_default();
        match slot.first() {
            None => slot.push(i as u32),
            Some(&j) => match p.evr.cmp_full(&pkgs[j as usize].evr) {
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

struct Index<'a> {
    provides: &'a HashMap<String, Vec<Provide>>,
    files: &'a HashMap<String, Vec<u32>>,
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
            } => self.satisfied_name(name, *fl, evr, available),
            Req::Rich(..) => self.what_provides(req).into_iter().any(available),
        }
    }

    /// Whether an available package provides `name [op evr]`.
    fn satisfied_name(
        &self,
        name: &str,
        fl: u8,
        evr: &Evr,
        available: impl Fn(u32) -> bool,
    ) -> bool {
        self.provides.get(name).is_some_and(|v| {
            v.iter()
                .any(|p| available(p.pkg) && provide_matches(p.flags, &p.evr, fl, evr))
        }) || self
            .files
            .get(name)
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
                let mut out: Vec<u32> = self
                    .provides
                    .get(name)
                    .map(|v| {
                        v.iter()
                            .filter(|p| provide_matches(p.flags, &p.evr, *fl, evr))
                            .map(|p| p.pkg)
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(f) = self.files.get(name) {
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

    fn index_with(items: &[(&str, u32, &str)]) -> HashMap<String, Vec<Provide>> {
        let mut m: HashMap<String, Vec<Provide>> = HashMap::default();
        for (name, pkg, evr) in items {
            m.entry(name.to_string()).or_default().push(Provide {
                pkg: *pkg,
                flags: if evr.is_empty() { 0 } else { flags::EQ },
                evr: Evr::parse(evr),
            });
        }
        m
    }

    #[test]
    fn rich_semantics() {
        let provides = index_with(&[("a", 1, "1.0-1"), ("b", 2, ""), ("c", 1, ""), ("c", 3, "")]);
        let files = HashMap::default();
        let ix = Index {
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
