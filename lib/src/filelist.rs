//! The mirror file lists: `fullfiletimelist-*` (the format of quick-fedora-mirror's
//! `create-filelist`) and `fullfilelist` (the output of `find .`).
//!
//! # fullfiletimelist
//!
//! ```text
//! [Version]
//! 2
//!
//! [Files]
//! MODTIME\tTYPE\tSIZE\tPATH          one line per entry, post-order, directory-read order
//!
//! [Checksums SHA1]                   one section per algorithm (SHA1 MD5 SHA256 SHA512, or SHA1 only)
//! HEXDIGEST\tPATH                    sorted by path
//!
//! [End]
//! ```
//!
//! * MODTIME is `max(mtime, ctime)` of the `lstat`, truncated to whole seconds.
//! * TYPE is `l` (symlink), `d` (directory) or `f` (anything else), followed by `-` when the entry
//!   itself is not world-readable, else by `*` when it lies under a directory that is not
//!   world-readable.
//! * SIZE is the `lstat` size; PATH is relative to the scanned directory, raw bytes, no escaping.
//! * Skipped: the top-level names given to skip, `.~tmp~` and `.nfs*` at any depth (whole subtree),
//!   our own temporary files, entries whose target cannot be stat'ed (a line
//!   `Could not stat NAME.  Dangling symlink?` on stderr), and entries whose target is not
//!   group-readable (never entered).
//!
//! # fullfilelist
//!
//! `.` first, then every entry as `./PATH`, pre-order (a directory before its contents),
//! directory-read order, nothing filtered but our own temporary files. Like GNU find, a
//! directory of more than 10,000 entries is visited in inode order (per batch of 100,000) except
//! on NFS, tmpfs, CIFS and Lustre, where find keeps directory-read order.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, DirEntry, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::fsx::is_temp_name;

/// rsync's `--delay-updates` directory, skipped everywhere.
pub const RSYNC_TMP_DIR: &[u8] = b".~tmp~";
/// NFS silly-rename prefix, skipped everywhere.
pub const NFS_PREFIX: &[u8] = b".nfs";
/// The version line create-filelist writes (it means "version 3" since 2017, but stays 2).
pub const VERSION: &str = "2";

const S_IROTH: u32 = 0o004;
const S_IRGRP: u32 = 0o040;
/// Directories with at least this many entries are stat'ed in parallel.
const PARALLEL_MIN: usize = 16;

/// The base type of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
}

impl Kind {
    pub fn letter(self) -> u8 {
        match self {
            Kind::File => b'f',
            Kind::Dir => b'd',
            Kind::Link => b'l',
        }
    }
}

/// The permission marker after the base type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    /// `-`: the entry itself is not world-readable.
    Unreadable,
    /// `*`: the entry is under a directory that is not world-readable.
    Restricted,
}

/// One `[Files]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub modtime: i64,
    pub kind: Kind,
    pub marker: Marker,
    pub size: u64,
    /// Relative path, raw bytes, `/`-separated.
    pub path: Vec<u8>,
}

impl Entry {
    /// The TYPE field (`f`, `d-`, `l*`, …).
    pub fn type_field(&self) -> String {
        let mut s = String::with_capacity(2);
        s.push(self.kind.letter() as char);
        match self.marker {
            Marker::None => {}
            Marker::Unreadable => s.push('-'),
            Marker::Restricted => s.push('*'),
        }
        s
    }

    /// Writes the line, newline included.
    pub fn write_line(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut line = Vec::with_capacity(self.path.len() + 32);
        self.append_line(&mut line);
        out.write_all(&line)
    }

    /// Appends the line, newline included, to `line`.
    pub fn append_line(&self, line: &mut Vec<u8>) {
        push_decimal(line, self.modtime.unsigned_abs(), self.modtime < 0);
        line.push(b'\t');
        line.push(self.kind.letter());
        match self.marker {
            Marker::None => {}
            Marker::Unreadable => line.push(b'-'),
            Marker::Restricted => line.push(b'*'),
        }
        line.push(b'\t');
        push_decimal(line, self.size, false);
        line.push(b'\t');
        line.extend_from_slice(&self.path);
        line.push(b'\n');
    }

    /// The path as a `Path`.
    pub fn rel_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.path))
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[i..]);
}

/// `int(max(st_mtime, st_ctime))` as Python computes it (truncation toward zero).
pub fn modtime(meta: &Metadata) -> i64 {
    let m = (meta.mtime(), meta.mtime_nsec());
    let c = (meta.ctime(), meta.ctime_nsec());
    let (secs, nanos) = if c > m { c } else { m };
    if secs < 0 && nanos > 0 {
        secs + 1
    } else {
        secs
    }
}

/// A checksum algorithm of the `[Checksums …]` sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Sha1,
    Md5,
    Sha256,
    Sha512,
}

impl Algo {
    /// The section name (`SHA1`, `MD5`, …).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha1 => "SHA1",
            Algo::Md5 => "MD5",
            Algo::Sha256 => "SHA256",
            Algo::Sha512 => "SHA512",
        }
    }
}

/// The Fedora layout since 2024: four sections.
pub const ALL_ALGOS: [Algo; 4] = [Algo::Sha1, Algo::Md5, Algo::Sha256, Algo::Sha512];
/// The 2019 layout: SHA1 only.
pub const SHA1_ONLY: [Algo; 1] = [Algo::Sha1];

/// What a scan skips and which files it checksums.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Names skipped in the top directory only (`-s`, `-S`).
    pub skip_top: HashSet<Vec<u8>>,
    /// Relative paths skipped wherever they are (other roots' list files).
    pub skip_paths: HashSet<Vec<u8>>,
    /// Basenames whose files are checksummed (`repomd.xml` with `-c`, `-C NAME`).
    pub checksum_names: HashSet<Vec<u8>>,
    /// Skip our own temporary files (`.NAME.rl-tmp.*`).
    pub skip_temp: bool,
    /// Report paths that consumers cannot parse (not UTF-8, or holding a tab or newline) as
    /// errors ([`write_list`]).
    pub strict_names: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            skip_top: HashSet::new(),
            skip_paths: HashSet::new(),
            checksum_names: HashSet::new(),
            skip_temp: true,
            strict_names: false,
        }
    }
}

/// What a scan reports besides entries.
#[derive(Debug)]
pub enum Event {
    /// A listed entry.
    Entry(Entry),
    /// An entry skipped because it (or its target) could not be stat'ed.
    Dangling { path: Vec<u8>, name: Vec<u8> },
    /// A directory that could not be read (the list is incomplete).
    Error { path: Vec<u8>, error: io::Error },
}

fn join_rel(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() {
        name.to_vec()
    } else {
        let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
        p.extend_from_slice(parent);
        p.push(b'/');
        p.extend_from_slice(name);
        p
    }
}

/// Whether a name is skipped at any depth.
fn always_skipped(name: &[u8], skip_temp: bool) -> bool {
    name == RSYNC_TMP_DIR
        || name.starts_with(NFS_PREFIX)
        || (skip_temp && is_temp_name(OsStr::from_bytes(name)))
}

type Stat = io::Result<(Metadata, u32)>;

/// lstat, and for a symlink the target's mode (the target must exist).
fn stat_entry(entry: &DirEntry) -> Stat {
    let lmeta = entry.metadata()?;
    let target_mode = if lmeta.file_type().is_symlink() {
        fs::metadata(entry.path())?.mode()
    } else {
        lmeta.mode()
    };
    Ok((lmeta, target_mode))
}

/// Scans `root` the way create-filelist does, calling `sink` for every entry in output order.
/// Returns the relative paths of the files to checksum, in the order met.
pub fn scan(root: &Path, opts: &ScanOptions, sink: &mut dyn FnMut(Event)) -> Vec<Vec<u8>> {
    let mut sums = Vec::new();
    scan_dir(root, &[], true, false, opts, sink, &mut sums);
    sums
}

fn scan_dir(
    dir: &Path,
    rel: &[u8],
    top: bool,
    restricted: bool,
    opts: &ScanOptions,
    sink: &mut dyn FnMut(Event),
    sums: &mut Vec<Vec<u8>>,
) {
    let entries = match read_entries(dir) {
        Ok(e) => e,
        Err(error) => {
            sink(Event::Error {
                path: rel.to_vec(),
                error,
            });
            return;
        }
    };
    let entries: Vec<DirEntry> = entries
        .into_iter()
        .filter(|e| {
            let name = e.file_name();
            let name = name.as_bytes();
            !(always_skipped(name, opts.skip_temp) || top && opts.skip_top.contains(name))
        })
        .collect();
    let stats: Vec<Stat> = if entries.len() >= PARALLEL_MIN {
        entries.par_iter().map(stat_entry).collect()
    } else {
        entries.iter().map(stat_entry).collect()
    };
    for (dentry, stat) in entries.iter().zip(stats) {
        let name = dentry.file_name();
        let name = name.as_bytes();
        let path = join_rel(rel, name);
        if !opts.skip_paths.is_empty() && opts.skip_paths.contains(&path) {
            continue;
        }
        let (meta, target_mode) = match stat {
            Ok(s) => s,
            Err(_) => {
                sink(Event::Dangling {
                    path,
                    name: name.to_vec(),
                });
                continue;
            }
        };
        if target_mode & S_IRGRP == 0 {
            continue;
        }
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Link
        } else if ft.is_dir() {
            Kind::Dir
        } else {
            Kind::File
        };
        let world_readable = meta.mode() & S_IROTH != 0;
        let marker = if !world_readable {
            Marker::Unreadable
        } else if restricted {
            Marker::Restricted
        } else {
            Marker::None
        };
        if kind == Kind::Dir {
            scan_dir(
                &dentry.path(),
                &path,
                false,
                restricted || !world_readable,
                opts,
                sink,
                sums,
            );
        }
        if opts.checksum_names.contains(name) {
            sums.push(path.clone());
        }
        sink(Event::Entry(Entry {
            modtime: modtime(&meta),
            kind,
            marker,
            size: meta.len(),
            path,
        }));
    }
}

fn read_entries(dir: &Path) -> io::Result<Vec<DirEntry>> {
    fs::read_dir(dir)?.collect()
}

/// What [`find_walk`] leaves out.
#[derive(Debug, Clone, Copy, Default)]
pub struct FindFilter {
    /// Our own temporary files.
    pub skip_temp: bool,
    /// The contents of directories others cannot enter (no `r` or no `x` for others: a staged
    /// release root, 0750): the list then names only what a public mirror can see. The
    /// directory itself stays, as its name is visible in its parent.
    pub public_only: bool,
}

/// Walks `root` the way `find .` prints it: `.` first, then `./PATH` pre-order, directory-read
/// order (inode order for huge directories, as find does), symlinks not followed, less what
/// `filter` leaves out. `sink` gets each line without the newline; errors (unreadable
/// directory) go to `on_error`.
pub fn find_walk(
    root: &Path,
    filter: FindFilter,
    sink: &mut dyn FnMut(&[u8]),
    on_error: &mut dyn FnMut(&[u8], io::Error),
) {
    sink(b".");
    if filter.public_only && !public_dir(root) {
        return;
    }
    find_dir(root, b".", filter, sink, on_error);
}

/// Whether others may list and enter `dir` (`stat`: the root may be `/proc/self/fd/N`; entries
/// reach here only when they are directories, never symlinks).
fn public_dir(dir: &Path) -> bool {
    fs::metadata(dir).is_ok_and(|m| m.mode() & 0o005 == 0o005)
}

/// GNU find (gnulib fts) reads a directory in batches of this many entries…
const FTS_BATCH: usize = 100_000;
/// …and sorts a batch of more than this many by inode number, unless the directory is on a
/// filesystem where that does not help (NFS, tmpfs, CIFS, Lustre).
const FTS_INODE_SORT_THRESHOLD: usize = 10_000;

/// Whether fts would sort a large directory's entries by inode on this filesystem.
fn inode_sort_useful(dir: &Path) -> bool {
    const NFS: i64 = 0x6969;
    const TMPFS: i64 = 0x0102_1994;
    const CIFS: i64 = 0xFF53_4D42;
    const LUSTRE: i64 = 0x0BD0_0BD0;
    match nix::sys::statfs::statfs(dir) {
        Ok(st) => {
            // The field's C type differs between targets (`long`, `unsigned int`, …).
            #[allow(clippy::unnecessary_cast)]
            let t = st.filesystem_type().0 as i64;
            ![NFS, TMPFS, CIFS, LUSTRE].contains(&t)
        }
        Err(_) => true,
    }
}

fn find_dir(
    dir: &Path,
    shown: &[u8],
    filter: FindFilter,
    sink: &mut dyn FnMut(&[u8]),
    on_error: &mut dyn FnMut(&[u8], io::Error),
) {
    use std::os::unix::fs::DirEntryExt;
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            on_error(shown, e);
            return;
        }
    };
    let mut entries = Vec::new();
    for entry in rd {
        match entry {
            Ok(e) => entries.push(e),
            Err(e) => {
                on_error(shown, e);
                break;
            }
        }
    }
    if entries.len() > FTS_INODE_SORT_THRESHOLD && inode_sort_useful(dir) {
        for batch in entries.chunks_mut(FTS_BATCH) {
            if batch.len() > FTS_INODE_SORT_THRESHOLD {
                batch.sort_by_key(DirEntryExt::ino);
            }
        }
    }
    for entry in entries {
        let name = entry.file_name();
        if filter.skip_temp && is_temp_name(&name) {
            continue;
        }
        let line = join_rel(shown, name.as_bytes());
        sink(&line);
        let is_dir = match entry.file_type() {
            Ok(t) => t.is_dir(),
            Err(e) => {
                on_error(&line, e);
                false
            }
        };
        if is_dir && (!filter.public_only || public_dir(&entry.path())) {
            find_dir(&entry.path(), &line, filter, sink, on_error);
        }
    }
}

/// Writes `[Version]`, `2`, a blank line and `[Files]`.
pub fn write_header(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(b"[Version]\n2\n\n[Files]\n")
}

/// The digests of one checksummed file, in the order of the algorithms asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSums {
    pub path: Vec<u8>,
    pub hex: Vec<String>,
}

/// Hashes the files (relative to `root`, symlinks followed) with every algorithm in one read,
/// in parallel over files. The result is sorted by path, as the sections are.
pub fn checksum_files(
    root: &Path,
    paths: &[Vec<u8>],
    algos: &[Algo],
) -> Vec<(Vec<u8>, io::Result<Vec<String>>)> {
    let mut out: Vec<(Vec<u8>, io::Result<Vec<String>>)> = paths
        .par_iter()
        .with_max_len(1)
        .map(|p| {
            let full = root.join(OsStr::from_bytes(p));
            (p.clone(), hash_file(&full, algos))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// All the digests of one file.
pub fn hash_file(path: &Path, algos: &[Algo]) -> io::Result<Vec<String>> {
    use sha2::Digest;
    let mut file = crate::hash::open_regular(path)?;
    let mut sha1 = sha1::Sha1::new();
    let mut md5 = md5::Md5::new();
    let mut sha256 = sha2::Sha256::new();
    let mut sha512 = sha2::Sha512::new();
    crate::hash::for_each_block(&mut file, &mut |block| {
        for a in algos {
            match a {
                Algo::Sha1 => sha1.update(block),
                Algo::Md5 => md5.update(block),
                Algo::Sha256 => sha256.update(block),
                Algo::Sha512 => sha512.update(block),
            }
        }
    })?;
    let mut done = (Some(sha1), Some(md5), Some(sha256), Some(sha512));
    Ok(algos
        .iter()
        .map(|a| match a {
            Algo::Sha1 => crate::hash::hex(&done.0.take().unwrap_or_default().finalize()),
            Algo::Md5 => crate::hash::hex(&done.1.take().unwrap_or_default().finalize()),
            Algo::Sha256 => crate::hash::hex(&done.2.take().unwrap_or_default().finalize()),
            Algo::Sha512 => crate::hash::hex(&done.3.take().unwrap_or_default().finalize()),
        })
        .collect())
}

/// Writes the checksum sections (each preceded by a blank line, written even when empty) and the
/// `[End]` trailer. `sums` is sorted by path; `hex[i]` belongs to `algos[i]`.
pub fn write_trailer(out: &mut dyn Write, algos: &[Algo], sums: &[FileSums]) -> io::Result<()> {
    for (i, algo) in algos.iter().enumerate() {
        write!(out, "\n[Checksums {}]\n", algo.name())?;
        for s in sums {
            out.write_all(s.hex[i].as_bytes())?;
            out.write_all(b"\t")?;
            out.write_all(&s.path)?;
            out.write_all(b"\n")?;
        }
    }
    out.write_all(b"\n[End]\n")
}

/// One `[Checksums ALGO]` section: the algorithm and its `(hexdigest, path)` rows.
pub type ChecksumSection = (String, Vec<(String, Vec<u8>)>);

/// A parsed fullfiletimelist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    /// The line after `[Version]`.
    pub version: String,
    pub files: Vec<Entry>,
    /// `(ALGO, [(hexdigest, path)])` in file order.
    pub checksums: Vec<ChecksumSection>,
    /// Whether `[End]` is one of the last two lines (quick-fedora-mirror's completeness test).
    pub complete: bool,
}

/// A parse failure: 1-based line number and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

fn parse_type(field: &[u8]) -> Option<(Kind, Marker)> {
    let kind = match field.first()? {
        b'f' => Kind::File,
        b'd' => Kind::Dir,
        b'l' => Kind::Link,
        _ => return None,
    };
    let marker = match &field[1..] {
        b"" => Marker::None,
        b"-" => Marker::Unreadable,
        b"*" => Marker::Restricted,
        _ => return None,
    };
    Some((kind, marker))
}

fn parse_num<T: std::str::FromStr>(field: &[u8]) -> Option<T> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Parses a fullfiletimelist with quick-fedora-mirror's rules: sections start at `[Name…]`
/// lines and end at the first blank line; `[Files]` rows are four tab-separated fields.
pub fn parse(bytes: &[u8]) -> Result<List, ParseError> {
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let err = |line: usize, message: &str| ParseError {
        line,
        message: message.to_owned(),
    };
    if lines.first() != Some(&&b"[Version]"[..]) {
        return Err(err(1, "not a file list: the first line is not [Version]"));
    }
    let mut list = List {
        complete: lines
            .iter()
            .rev()
            .take(2)
            .any(|l| *l == b"[End]".as_slice()),
        ..List::default()
    };
    #[derive(PartialEq)]
    enum Section {
        None,
        Version,
        Files,
        Checksums,
        Other,
    }
    let mut section = Section::None;
    let mut saw_files = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if line.is_empty() {
            section = Section::None;
            continue;
        }
        if line.starts_with(b"[") {
            if *line == b"[Version]".as_slice() {
                section = Section::Version;
            } else if *line == b"[Files]".as_slice() {
                section = Section::Files;
                saw_files = true;
            } else if let Some(rest) = line.strip_prefix(b"[Checksums ") {
                let name = rest
                    .strip_suffix(b"]")
                    .ok_or_else(|| err(n, "bad section"))?;
                list.checksums
                    .push((String::from_utf8_lossy(name).into_owned(), Vec::new()));
                section = Section::Checksums;
            } else {
                section = Section::Other;
            }
            continue;
        }
        match section {
            Section::Version => {
                list.version = String::from_utf8_lossy(line).into_owned();
            }
            Section::Files => {
                let mut f = line.splitn(4, |&b| b == b'\t');
                let (Some(t), Some(ty), Some(sz), Some(p)) =
                    (f.next(), f.next(), f.next(), f.next())
                else {
                    return Err(err(
                        n,
                        "a [Files] row has fewer than 4 tab-separated fields",
                    ));
                };
                let modtime = parse_num(t).ok_or_else(|| err(n, "bad MODTIME"))?;
                let (kind, marker) = parse_type(ty).ok_or_else(|| err(n, "bad TYPE"))?;
                let size = parse_num(sz).ok_or_else(|| err(n, "bad SIZE"))?;
                list.files.push(Entry {
                    modtime,
                    kind,
                    marker,
                    size,
                    path: p.to_vec(),
                });
            }
            Section::Checksums => {
                let Some(tab) = line.iter().position(|&b| b == b'\t') else {
                    return Err(err(n, "a checksum row has no tab"));
                };
                let hex = String::from_utf8_lossy(&line[..tab]).into_owned();
                if let Some(last) = list.checksums.last_mut() {
                    last.1.push((hex, line[tab + 1..].to_vec()));
                }
            }
            Section::None | Section::Other => {}
        }
    }
    if !saw_files {
        return Err(err(lines.len(), "no [Files] section"));
    }
    Ok(list)
}

/// Whether every consumer can parse a path: UTF-8 (scan-primary-mirror aborts otherwise) and no
/// tab or newline (every consumer splits on them).
pub fn parseable_name(path: &[u8]) -> bool {
    std::str::from_utf8(path).is_ok() && !path.iter().any(|&b| b == b'\t' || b == b'\n')
}

/// The result of [`write_list`].
#[derive(Debug, Default)]
pub struct Written {
    /// `[Files]` lines written.
    pub entries: u64,
    /// Entries skipped because they could not be stat'ed.
    pub dangling: u64,
    /// Directories that could not be read, or checksummed files that could not be read.
    pub errors: Vec<(Vec<u8>, io::Error)>,
}

/// Scans `root` and writes the whole fullfiletimelist to `out`; every entry line also goes to
/// `plain` (as `./PATH`, create-filelist's `-f`) and to `on_entry`. Dangling entries print
/// create-filelist's stderr line. Errors are collected, not fatal: the caller decides whether
/// the result may replace a previous list.
pub fn write_list(
    root: &Path,
    opts: &ScanOptions,
    algos: &[Algo],
    out: &mut dyn Write,
    mut plain: Option<&mut dyn Write>,
    on_entry: &mut dyn FnMut(&Entry),
) -> io::Result<Written> {
    let mut w = Written::default();
    write_header(out)?;
    let mut io_err: Option<io::Error> = None;
    let mut line = Vec::with_capacity(256);
    let sums = scan(root, opts, &mut |ev| {
        if io_err.is_some() {
            return;
        }
        match ev {
            Event::Entry(e) => {
                w.entries += 1;
                if opts.strict_names && !parseable_name(&e.path) {
                    w.errors.push((
                        e.path.clone(),
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "name is not UTF-8 or holds a tab or newline; list consumers cannot parse it",
                        ),
                    ));
                }
                line.clear();
                e.append_line(&mut line);
                if let Err(x) = out.write_all(&line) {
                    io_err = Some(x);
                    return;
                }
                if let Some(p) = plain.as_mut() {
                    let r = p
                        .write_all(b"./")
                        .and_then(|()| p.write_all(&e.path))
                        .and_then(|()| p.write_all(b"\n"));
                    if let Err(x) = r {
                        io_err = Some(x);
                        return;
                    }
                }
                on_entry(&e);
            }
            Event::Dangling { name, .. } => {
                w.dangling += 1;
                eprintln!(
                    "Could not stat {}.  Dangling symlink?",
                    String::from_utf8_lossy(&name)
                );
            }
            Event::Error { path, error } => w.errors.push((path, error)),
        }
    });
    if let Some(e) = io_err {
        return Err(e);
    }
    let mut good = Vec::new();
    if !algos.is_empty() {
        for (path, res) in checksum_files(root, &sums, algos) {
            match res {
                Ok(hex) => good.push(FileSums { path, hex }),
                Err(e) => w.errors.push((path, e)),
            }
        }
    }
    write_trailer(out, algos, &good)?;
    Ok(w)
}

/// The absolute form of a path given on the command line (no symlink resolution).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn list_of(root: &Path, opts: &ScanOptions, algos: &[Algo]) -> (String, Written) {
        let mut out = Vec::new();
        let w = write_list(root, opts, algos, &mut out, None, &mut |_| {}).unwrap();
        (String::from_utf8_lossy(&out).into_owned(), w)
    }

    fn mt(p: &Path) -> i64 {
        modtime(&fs::symlink_metadata(p).unwrap())
    }

    #[test]
    fn empty_tree_has_all_sections() {
        let d = tempfile::tempdir().unwrap();
        let (text, _) = list_of(d.path(), &ScanOptions::default(), &ALL_ALGOS);
        assert_eq!(
            text,
            "[Version]\n2\n\n[Files]\n\n[Checksums SHA1]\n\n[Checksums MD5]\n\n\
             [Checksums SHA256]\n\n[Checksums SHA512]\n\n[End]\n"
        );
        let (old, _) = list_of(d.path(), &ScanOptions::default(), &SHA1_ONLY);
        assert_eq!(
            old,
            "[Version]\n2\n\n[Files]\n\n[Checksums SHA1]\n\n[End]\n"
        );
    }

    #[test]
    fn types_markers_skips_and_post_order() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("pub/repodata")).unwrap();
        fs::write(r.join("pub/repodata/repomd.xml"), "abc").unwrap();
        fs::write(r.join("pub/secret"), "x").unwrap();
        fs::set_permissions(r.join("pub/secret"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(r.join("pub/hidden"), "x").unwrap();
        fs::set_permissions(r.join("pub/hidden"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(r.join("pub"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::create_dir(r.join(".~tmp~")).unwrap();
        fs::write(r.join(".~tmp~/x"), "").unwrap();
        fs::write(r.join(".nfs0001"), "").unwrap();
        fs::write(r.join("a.nfs"), "").unwrap();
        fs::write(r.join(".list.rl-tmp.1.0"), "").unwrap();
        symlink("pub", r.join("link")).unwrap();
        symlink("nowhere", r.join("dangling")).unwrap();
        let opts = ScanOptions {
            checksum_names: [b"repomd.xml".to_vec()].into_iter().collect(),
            ..ScanOptions::default()
        };
        let (text, w) = list_of(r, &opts, &ALL_ALGOS);
        assert_eq!(w.dangling, 1);
        let files: Vec<&str> = text.lines().skip(4).take_while(|l| !l.is_empty()).collect();
        let names: Vec<String> = files
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                format!("{} {}", f[1], f[3])
            })
            .collect();
        // Post-order: the directory after its contents; the order among siblings is readdir's.
        let pos = |n: &str| names.iter().position(|x| x == n).unwrap_or(usize::MAX);
        assert!(pos("f* pub/repodata/repomd.xml") < pos("d* pub/repodata"));
        assert!(pos("d* pub/repodata") < pos("d- pub"));
        assert!(pos("f- pub/secret") < pos("d- pub"));
        assert!(names.contains(&"l link".to_string()));
        assert!(names.contains(&"f a.nfs".to_string()));
        assert_eq!(names.len(), 6, "{names:?}");
        let line = files.iter().find(|l| l.ends_with("\tlink")).unwrap();
        assert_eq!(*line, format!("{}\tl\t3\tlink", mt(&r.join("link"))));
        assert!(text.contains(
            "\n[Checksums SHA1]\na9993e364706816aba3e25717850c26c9cd0d89d\tpub/repodata/repomd.xml\n"
        ));
        assert!(text.contains("\n[Checksums MD5]\n900150983cd24fb0d6963f7d28e17f72\t"));
        assert!(text.ends_with("\n\n[End]\n"));
        // The parser reads back what the writer wrote.
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.version, "2");
        assert!(parsed.complete);
        assert_eq!(parsed.files.len(), 6);
        assert_eq!(parsed.checksums.len(), 4);
        assert_eq!(parsed.checksums[3].0, "SHA512");
        assert_eq!(parsed.checksums[0].1[0].1, b"pub/repodata/repomd.xml");
    }

    #[test]
    fn strict_names_flags_what_consumers_cannot_parse() {
        assert!(parseable_name(b"a b/c"));
        assert!(!parseable_name(b"a\tb"));
        assert!(!parseable_name(b"a\nb"));
        assert!(!parseable_name(b"bad\xff"));
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(OsStr::from_bytes(b"bad\xff")), "").unwrap();
        let opts = ScanOptions {
            strict_names: true,
            ..ScanOptions::default()
        };
        let (_, w) = list_of(d.path(), &opts, &SHA1_ONLY);
        assert_eq!(w.errors.len(), 1);
        let (_, w) = list_of(d.path(), &ScanOptions::default(), &SHA1_ONLY);
        assert!(w.errors.is_empty());
    }

    #[test]
    fn top_level_skips_only_at_top() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("list"), "").unwrap();
        fs::write(d.path().join("sub/list"), "").unwrap();
        let opts = ScanOptions {
            skip_top: [b"list".to_vec()].into_iter().collect(),
            ..ScanOptions::default()
        };
        let (text, _) = list_of(d.path(), &opts, &SHA1_ONLY);
        assert!(text.contains("\tsub/list\n"));
        assert!(!text.contains("\tlist\n"));
    }

    #[test]
    fn parse_rejects_garbage_and_spots_truncation() {
        assert!(parse(b"hello\n").is_err());
        assert!(parse(b"[Version]\n2\n\n[Files]\nx\tf\t1\n").is_err());
        assert!(parse(b"[Version]\n2\n\n[Files]\n1\tq\t1\ta\n").is_err());
        let cut = parse(b"[Version]\n2\n\n[Files]\n1\tf\t1\ta b\n").unwrap();
        assert!(!cut.complete);
        assert_eq!(cut.files[0].path, b"a b");
    }

    #[test]
    fn lines_format_numbers_like_python() {
        let mut e = Entry {
            modtime: 0,
            kind: Kind::Dir,
            marker: Marker::Unreadable,
            size: 4096,
            path: b"a b".to_vec(),
        };
        let mut out = Vec::new();
        e.write_line(&mut out).unwrap();
        assert_eq!(out, b"0\td-\t4096\ta b\n");
        e.modtime = -12;
        e.marker = Marker::Restricted;
        e.size = u64::MAX;
        out.clear();
        e.write_line(&mut out).unwrap();
        assert_eq!(out, b"-12\td*\t18446744073709551615\ta b\n");
    }

    #[test]
    fn modtime_is_newer_of_mtime_and_ctime() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, "").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let meta = fs::metadata(&f).unwrap();
        assert_eq!(meta.mtime(), 1000);
        assert_eq!(modtime(&meta), meta.ctime());
    }

    #[test]
    fn find_walk_is_pre_order_with_dot_first() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/b"), "").unwrap();
        let mut lines = Vec::new();
        find_walk(
            d.path(),
            FindFilter {
                skip_temp: true,
                public_only: false,
            },
            &mut |l| lines.push(String::from_utf8(l.to_vec()).unwrap()),
            &mut |_, e| panic!("{e}"),
        );
        assert_eq!(lines, [".", "./a", "./a/b"]);
        // Public only: a directory others cannot enter is named, its contents are not.
        fs::create_dir(d.path().join("staged")).unwrap();
        fs::write(d.path().join("staged/secret.rpm"), "").unwrap();
        fs::set_permissions(d.path().join("staged"), fs::Permissions::from_mode(0o750)).unwrap();
        let mut public = Vec::new();
        let filter = FindFilter {
            skip_temp: true,
            public_only: true,
        };
        find_walk(
            d.path(),
            filter,
            &mut |l| public.push(String::from_utf8(l.to_vec()).unwrap()),
            &mut |_, e| panic!("{e}"),
        );
        public.sort();
        assert_eq!(public, [".", "./a", "./a/b", "./staged"]);
    }
}
