//! BitTorrent v1 metainfo (`.torrent`, BEP 3 and BEP 12): choosing the content, hashing the
//! pieces in parallel, writing the metainfo, reading it back and verifying data against it.
//!
//! Content selection follows `torrenttools create` 0.6.2, which wrote the Rocky release torrents:
//! * a directory is always a multi-file torrent (even with one file), a file a single-file one;
//! * symlinks to files are followed (the torrent lists the link name with the target's size),
//!   symlinks to directories are not descended, broken links are skipped (and reported);
//! * files whose own name starts with `.` are skipped; hidden directories are still descended;
//! * an exclude pattern is a regular expression anchored at the start (`^(?:RE)`, not at the
//!   end) matched against the canonical target path joined with the entry's relative path, so
//!   `.*/CHECKSUM.asc` drops `DIR/CHECKSUM.asc` but keeps `DIR/NAME.iso.CHECKSUM.asc`;
//! * files are ordered by a plain byte compare of their whole relative path;
//! * the automatic piece length is `2^clamp(floor(log2(total)) - 9, 15, 24)` ([`auto_piece_length`]).
//!
//! Pieces are hashed with SHA-1 in parallel: the content is cut into runs of consecutive pieces,
//! and each worker reads its run sequentially with large positional reads (so the kernel's
//! read-ahead works) and hashes its pieces four at a time ([`crate::sha1_lanes`]). The info hash is the SHA-1 of the `info`
//! dictionary exactly as written in the file ([`crate::bencode`] keeps the raw span).

use std::cmp::Ordering as CmpOrdering;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use crate::bencode::{self, Value};
use crate::sha1_lanes::{self, LANES, Sha1Lanes};
use crate::walk::{self, WalkOptions};

/// Smallest and largest piece lengths accepted (torrenttools' range).
pub const MIN_PIECE_LENGTH: u64 = 16 * 1024;
pub const MAX_PIECE_LENGTH: u64 = 64 * 1024 * 1024;

/// Bytes of content one parallel task hashes at most (a run of consecutive pieces).
const TASK_BYTES: u64 = 64 << 20;
/// Bytes per read: small enough that the block is still in the CPU cache when SHA-1 reads it
/// (a large piece is hashed incrementally block by block), large enough that system calls
/// cost little; several small pieces are read at once.
const READ_BYTES: u64 = 256 << 10;

/// The piece length torrenttools (dottorrent) picks: `2^clamp(floor(log2(total)) - 9, 15, 24)`,
/// 32 KiB to 16 MiB, about 512 to 1024 pieces.
pub fn auto_piece_length(total: u64) -> u64 {
    let log2 = if total == 0 {
        0
    } else {
        63 - total.leading_zeros() as i64
    };
    let exp = (log2 - 9).clamp(15, 24);
    1u64 << exp
}

/// Whether `n` is an acceptable explicit piece length (a power of two in the accepted range).
pub fn valid_piece_length(n: u64) -> bool {
    n.is_power_of_two() && (MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&n)
}

/// Number of pieces for `total` bytes.
pub fn piece_count(total: u64, piece_length: u64) -> u64 {
    total.div_ceil(piece_length)
}

// ---------------------------------------------------------------------------------------------
// Content selection

/// One file of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentFile {
    /// Path inside the torrent (relative to the target directory; empty for a single file).
    pub rel: PathBuf,
    /// Path to read the data from (the link name for a symlink; opening follows it).
    pub source: PathBuf,
    /// Size in bytes (of the link target for a symlink).
    pub length: u64,
}

/// Why an entry of the target directory is not in the torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The file name starts with `.`.
    Hidden,
    /// An exclude pattern matched.
    Excluded,
    /// A symlink whose target does not exist (or a link loop).
    BrokenLink,
    /// A symlink to a directory (not descended, like torrenttools).
    LinkedDirectory,
    /// A FIFO, socket or device.
    Special,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Hidden => "hidden",
            SkipReason::Excluded => "excluded",
            SkipReason::BrokenLink => "broken_link",
            SkipReason::LinkedDirectory => "linked_directory",
            SkipReason::Special => "special_file",
        }
    }
}

/// What goes into one torrent.
#[derive(Debug, Clone)]
pub struct Content {
    /// The canonical target (symlinks resolved).
    pub root: PathBuf,
    /// The torrent's name (last component of the target as given).
    pub name: OsString,
    /// A single file rather than a directory.
    pub single: bool,
    /// The files, in torrent order.
    pub files: Vec<ContentFile>,
    /// Entries left out, with the reason.
    pub skipped: Vec<(PathBuf, SkipReason)>,
}

impl Content {
    pub fn total(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }
}

/// An error while selecting or hashing content: the path concerned and what went wrong.
#[derive(Debug)]
pub struct ContentError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// Exclude patterns with torrenttools' meaning (anchored at the start only).
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    set: Option<regex::bytes::RegexSet>,
}

impl Excludes {
    /// Compiles the patterns; an invalid one is an error naming it.
    pub fn new(patterns: &[String]) -> Result<Self, regex::Error> {
        if patterns.is_empty() {
            return Ok(Excludes { set: None });
        }
        let anchored: Vec<String> = patterns.iter().map(|p| format!("^(?:{p})")).collect();
        Ok(Excludes {
            set: Some(regex::bytes::RegexSet::new(anchored)?),
        })
    }

    /// Whether a (canonical, absolute) path is excluded.
    pub fn matches(&self, path: &Path) -> bool {
        self.set
            .as_ref()
            .is_some_and(|s| s.is_match(path.as_os_str().as_bytes()))
    }
}

/// Selects the content of `target` (a directory or a file), the way torrenttools does.
pub fn collect_content(target: &Path, excludes: &Excludes) -> Result<Content, ContentError> {
    let err = |path: &Path, error: io::Error| ContentError {
        path: path.to_path_buf(),
        error,
    };
    let root = fs::canonicalize(target).map_err(|e| err(target, e))?;
    let name = target
        .file_name()
        .or_else(|| root.file_name())
        .map(OsStr::to_os_string)
        .ok_or_else(|| {
            err(
                target,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "has no name to give the torrent",
                ),
            )
        })?;
    let meta = fs::metadata(&root).map_err(|e| err(target, e))?;
    if meta.is_file() {
        return Ok(Content {
            files: vec![ContentFile {
                rel: PathBuf::new(),
                source: root.clone(),
                length: meta.len(),
            }],
            root,
            name,
            single: true,
            skipped: Vec::new(),
        });
    }
    if !meta.is_dir() {
        return Err(err(
            target,
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "is neither a regular file nor a directory",
            ),
        ));
    }
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let opts = WalkOptions {
        skip_root: true,
        ..WalkOptions::default()
    };
    for entry in walk::walk(&root, &opts) {
        let entry = entry.map_err(|e| err(&root.join(&e.rel), e.error))?;
        let ft = entry.file_type;
        if ft.is_dir() {
            continue;
        }
        let (length, is_link_to_dir) = if ft.is_symlink() {
            match fs::metadata(&entry.path) {
                Ok(m) if m.is_file() => (m.len(), false),
                Ok(m) if m.is_dir() => (0, true),
                Ok(_) => {
                    skipped.push((entry.rel, SkipReason::Special));
                    continue;
                }
                // A dangling link or a link loop (ELOOP): nothing to read.
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) =>
                {
                    skipped.push((entry.rel, SkipReason::BrokenLink));
                    continue;
                }
                Err(e) => return Err(err(&entry.path, e)),
            }
        } else if ft.is_file() {
            (entry.metadata.len(), false)
        } else {
            skipped.push((entry.rel, SkipReason::Special));
            continue;
        };
        if is_link_to_dir {
            skipped.push((entry.rel, SkipReason::LinkedDirectory));
            continue;
        }
        if entry
            .path
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(b"."))
        {
            skipped.push((entry.rel, SkipReason::Hidden));
            continue;
        }
        if excludes.matches(&root.join(&entry.rel)) {
            skipped.push((entry.rel, SkipReason::Excluded));
            continue;
        }
        files.push(ContentFile {
            rel: entry.rel,
            source: entry.path,
            length,
        });
    }
    files.sort_by(|a, b| path_bytes_cmp(&a.rel, &b.rel));
    Ok(Content {
        root,
        name,
        single: false,
        files,
        skipped,
    })
}

/// torrenttools' order: a byte compare of the whole path string.
fn path_bytes_cmp(a: &Path, b: &Path) -> CmpOrdering {
    a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes())
}

// ---------------------------------------------------------------------------------------------
// Piece hashing

/// A file to read piece data from.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub length: u64,
}

/// A piece that could not be read: which file (index into the sources) and why.
#[derive(Debug)]
pub struct PieceError {
    pub file: usize,
    pub error: io::Error,
}

/// SHA-1 of a piece.
pub type PieceHash = [u8; 20];

/// A piece's hash, or why it could not be read.
pub type PieceResult = Result<PieceHash, PieceError>;

struct Reader<'a> {
    files: &'a [Source],
    starts: &'a [u64],
    strict_size: bool,
    open: Option<(usize, File)>,
}

impl Reader<'_> {
    fn file(&mut self, idx: usize) -> Result<&File, PieceError> {
        if self.open.as_ref().is_none_or(|(i, _)| *i != idx) {
            self.open = None;
            let src = &self.files[idx];
            let pe = |error| PieceError { file: idx, error };
            let f = File::open(&src.path).map_err(pe)?;
            let meta = f.metadata().map_err(pe)?;
            if meta.is_dir() {
                return Err(pe(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                )));
            }
            if self.strict_size && meta.len() != src.length {
                return Err(pe(io::Error::other(format!(
                    "changed size while the torrent was made ({} bytes, expected {})",
                    meta.len(),
                    src.length
                ))));
            }
            self.open = Some((idx, f));
        }
        Ok(&self.open.as_ref().expect("just opened").1)
    }

    /// Fills `buf` with content bytes starting at content offset `off`.
    fn read_at(&mut self, mut off: u64, buf: &mut [u8]) -> Result<(), PieceError> {
        let mut idx = self.starts.partition_point(|&s| s <= off).saturating_sub(1);
        let mut done = 0usize;
        while done < buf.len() {
            let src_len = self.files[idx].length;
            let within = off - self.starts[idx];
            let take = (src_len.saturating_sub(within)).min((buf.len() - done) as u64) as usize;
            if take > 0 {
                let file = self.file(idx)?;
                file.read_exact_at(&mut buf[done..done + take], within)
                    .map_err(|e| {
                        let error = if e.kind() == io::ErrorKind::UnexpectedEof {
                            io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "is shorter than the torrent says",
                            )
                        } else {
                            e
                        };
                        PieceError { file: idx, error }
                    })?;
                done += take;
                off += take as u64;
            }
            idx += 1;
        }
        Ok(())
    }
}

/// Start offsets of each source in the concatenated content.
fn starts_of(files: &[Source]) -> Vec<u64> {
    let mut starts = Vec::with_capacity(files.len());
    let mut acc = 0u64;
    for f in files {
        starts.push(acc);
        acc += f.length;
    }
    starts
}

/// How pieces are hashed.
#[derive(Debug, Clone, Copy)]
pub struct HashOptions {
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Fail a piece when a file's size differs from the listed one (creating), or read what is
    /// there (verifying, where sizes are checked separately).
    pub strict_size: bool,
}

/// Hashes every piece of the concatenated `files`. Results are in piece order; a piece that could
/// not be read is an error naming the file. `progress` is called with byte counts as they are done.
///
/// Each worker hashes [`LANES`] pieces at once ([`crate::sha1_lanes`]): small pieces from one
/// read of several consecutive pieces, larger ones stripe by stripe, a block of each piece per
/// step, so what is being hashed stays in the CPU cache.
pub fn hash_pieces(
    files: &[Source],
    piece_length: u64,
    opts: HashOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<Result<PieceHash, PieceError>> {
    assert!(piece_length > 0, "piece length must be positive");
    let starts = starts_of(files);
    let total: u64 = files.iter().map(|f| f.length).sum();
    let n = piece_count(total, piece_length);
    if n == 0 {
        return Vec::new();
    }
    let lanes = LANES as u64;
    let jobs = opts.jobs.max(1) as u64;
    // Runs are whole numbers of lane groups, so every full group is hashed together.
    let max_task = (TASK_BYTES / piece_length).max(1).next_multiple_of(lanes);
    let per_task = n.div_ceil(jobs * 4).next_multiple_of(lanes).min(max_task);
    let tasks: Vec<(u64, u64)> = (0..n.div_ceil(per_task))
        .map(|t| (t * per_task, ((t + 1) * per_task).min(n)))
        .collect();
    let piece_range = |p: u64| (p * piece_length, ((p + 1) * piece_length).min(total));
    let work = |&(first, end): &(u64, u64)| -> Vec<Result<PieceHash, PieceError>> {
        let mut reader = Reader {
            files,
            starts: &starts,
            strict_size: opts.strict_size,
            open: None,
        };
        let mut out = Vec::with_capacity((end - first) as usize);
        if piece_length * lanes <= READ_BYTES {
            // Small pieces: read a run of them at once, hash them lanes at a time.
            let group = (READ_BYTES / piece_length).min(end - first);
            let mut buf = vec![0u8; (group * piece_length).min(total) as usize];
            let mut p = first;
            while p < end {
                let g_end = (p + group).min(end);
                let (off, stop) = (piece_range(p).0, piece_range(g_end - 1).1);
                let chunk = &mut buf[..(stop - off) as usize];
                match reader.read_at(off, chunk) {
                    Ok(()) => {
                        let pieces: Vec<&[u8]> = chunk.chunks(piece_length as usize).collect();
                        out.extend(sha1_lanes::digest_all(&pieces).into_iter().map(Ok));
                    }
                    // Find out which pieces of the run are unreadable, one at a time.
                    Err(_) => out.extend((p..g_end).map(|q| hash_one(&mut reader, piece_range(q)))),
                }
                progress(stop - off);
                p = g_end;
            }
            return out;
        }
        // Larger pieces: the same stripe of each of LANES consecutive full pieces per step.
        let stripe = piece_length.min(READ_BYTES) as usize;
        let mut buf = vec![0u8; stripe * LANES];
        let mut p = first;
        while p < end {
            let full_group = p + lanes <= end
                && piece_range(p + lanes - 1).1 - piece_range(p + lanes - 1).0 == piece_length;
            if !full_group {
                // The tail of the run (fewer pieces than lanes, or the short last piece).
                let range = piece_range(p);
                out.push(hash_one(&mut reader, range));
                progress(range.1 - range.0);
                p += 1;
                continue;
            }
            match hash_lanes(
                &mut reader,
                p * piece_length,
                piece_length,
                &mut buf,
                progress,
            ) {
                Ok(digests) => out.extend(digests.into_iter().map(Ok)),
                // Which of them failed, and why, one at a time.
                Err(_) => out.extend((p..p + lanes).map(|q| hash_one(&mut reader, piece_range(q)))),
            }
            p += lanes;
        }
        out
    };
    // Workers take the next run of pieces in content order, so together they move through the
    // data as one advancing window (friendly to read-ahead and to disks), not from far-apart places.
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Vec<PieceResult>>>> =
        Mutex::new((0..tasks.len()).map(|_| None).collect());
    let worker = || {
        loop {
            let t = next.fetch_add(1, AtomicOrdering::Relaxed);
            let Some(task) = tasks.get(t) else { break };
            let out = work(task);
            done.lock().unwrap_or_else(|p| p.into_inner())[t] = Some(out);
        }
    };
    let threads = (jobs as usize).min(tasks.len());
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(worker);
        }
        worker();
    });
    done.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flat_map(|v| v.expect("every task ran"))
        .collect()
}

/// SHA-1 of the content bytes `start..end`, read block by block.
fn hash_one(reader: &mut Reader<'_>, (start, end): (u64, u64)) -> PieceResult {
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; (end - start).min(READ_BYTES) as usize];
    let mut at = start;
    while at < end {
        let block = &mut buf[..(end - at).min(READ_BYTES) as usize];
        if let Err(e) = reader.read_at(at, block) {
            reader.open = None;
            return Err(e);
        }
        hasher.update(&*block);
        at += block.len() as u64;
    }
    Ok(hasher.finalize().into())
}

/// SHA-1 of [`LANES`] consecutive pieces of `piece_length` bytes from content offset `first`,
/// hashed together a stripe of each at a time (`buf` holds one stripe per lane).
fn hash_lanes(
    reader: &mut Reader<'_>,
    first: u64,
    piece_length: u64,
    buf: &mut [u8],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<[PieceHash; LANES], PieceError> {
    let stripe = (buf.len() / LANES) as u64;
    let mut lanes = Sha1Lanes::<LANES>::new();
    let mut at = 0;
    while at < piece_length {
        let take = (piece_length - at).min(stripe) as usize;
        for (lane, slot) in buf.chunks_mut(stripe as usize).enumerate() {
            let off = first + lane as u64 * piece_length + at;
            reader
                .read_at(off, &mut slot[..take])
                .inspect_err(|_| reader.open = None)?;
        }
        let mut parts = buf.chunks(stripe as usize).map(|slot| &slot[..take]);
        lanes.update(std::array::from_fn(|_| {
            parts.next().expect("one slot per lane")
        }));
        progress(take as u64 * LANES as u64);
        at += take as u64;
    }
    Ok(lanes.finalize())
}

// ---------------------------------------------------------------------------------------------
// Metainfo

/// One file of a multi-file torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components (bytes, as on disk).
    pub path: Vec<Vec<u8>>,
    pub length: u64,
}

impl FileEntry {
    /// The path relative to the content root.
    pub fn rel_path(&self) -> PathBuf {
        self.path.iter().map(|c| OsStr::from_bytes(c)).collect()
    }
}

/// The file layout of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One file named like the torrent, of this length.
    Single(u64),
    /// A directory named like the torrent, holding these files in this order.
    Multi(Vec<FileEntry>),
}

/// The `info` dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub name: Vec<u8>,
    pub piece_length: u64,
    pub pieces: Vec<PieceHash>,
    pub private: bool,
    pub layout: Layout,
}

impl Info {
    /// Total content size.
    pub fn total(&self) -> u64 {
        match &self.layout {
            Layout::Single(n) => *n,
            Layout::Multi(files) => files.iter().map(|f| f.length).sum(),
        }
    }

    /// The bencoded dictionary: `files` or `length`, `name`, `piece length`, `pieces`, and
    /// `private` only when set — the keys mktorrent and torrenttools `--no-cross-seed` write.
    pub fn to_value(&self) -> Value {
        let mut d = std::collections::BTreeMap::new();
        match &self.layout {
            Layout::Single(n) => {
                d.insert(b"length".to_vec(), Value::Int(*n as i64));
            }
            Layout::Multi(files) => {
                let list = files
                    .iter()
                    .map(|f| {
                        let mut fd = std::collections::BTreeMap::new();
                        fd.insert(b"length".to_vec(), Value::Int(f.length as i64));
                        fd.insert(
                            b"path".to_vec(),
                            Value::List(f.path.iter().map(|c| Value::Bytes(c.clone())).collect()),
                        );
                        Value::Dict(fd)
                    })
                    .collect();
                d.insert(b"files".to_vec(), Value::List(list));
            }
        }
        d.insert(b"name".to_vec(), Value::Bytes(self.name.clone()));
        d.insert(
            b"piece length".to_vec(),
            Value::Int(self.piece_length as i64),
        );
        d.insert(b"pieces".to_vec(), Value::Bytes(self.pieces.concat()));
        if self.private {
            d.insert(b"private".to_vec(), Value::Int(1));
        }
        Value::Dict(d)
    }

    /// (first byte, end) of each file in the concatenated content, in order.
    pub fn file_ranges(&self) -> Vec<(u64, u64)> {
        match &self.layout {
            Layout::Single(n) => vec![(0, *n)],
            Layout::Multi(files) => {
                let mut acc = 0;
                files
                    .iter()
                    .map(|f| {
                        let r = (acc, acc + f.length);
                        acc += f.length;
                        r
                    })
                    .collect()
            }
        }
    }

    /// Indices of the (non-empty) files piece `index` covers.
    pub fn files_of_piece(&self, index: u64) -> Vec<usize> {
        let start = index * self.piece_length;
        let end = (start + self.piece_length).min(self.total());
        self.file_ranges()
            .iter()
            .enumerate()
            .filter(|(_, (a, b))| a < b && *a < end && *b > start)
            .map(|(i, _)| i)
            .collect()
    }
}

/// A whole metainfo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// The first tracker (`announce`).
    pub announce: Option<String>,
    /// Tiers of trackers (`announce-list`); written only when there are trackers.
    pub announce_list: Vec<Vec<String>>,
    /// Web seeds (BEP 19 `url-list`): one is written as a string, more as a list, as mktorrent.
    pub url_list: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the epoch.
    pub creation_date: Option<i64>,
    pub info: Info,
}

impl Metainfo {
    /// The bencoded file.
    pub fn encode(&self) -> Vec<u8> {
        let mut d = std::collections::BTreeMap::new();
        if let Some(a) = &self.announce {
            d.insert(b"announce".to_vec(), Value::str(a));
        }
        if !self.announce_list.is_empty() {
            let tiers = self
                .announce_list
                .iter()
                .map(|t| Value::List(t.iter().map(|u| Value::str(u)).collect()))
                .collect();
            d.insert(b"announce-list".to_vec(), Value::List(tiers));
        }
        if let Some(c) = &self.comment {
            d.insert(b"comment".to_vec(), Value::str(c));
        }
        match self.url_list.as_slice() {
            [] => {}
            [one] => {
                d.insert(b"url-list".to_vec(), Value::str(one));
            }
            many => {
                let seeds = many.iter().map(|u| Value::str(u)).collect();
                d.insert(b"url-list".to_vec(), Value::List(seeds));
            }
        }
        if let Some(c) = &self.created_by {
            d.insert(b"created by".to_vec(), Value::str(c));
        }
        if let Some(t) = self.creation_date {
            d.insert(b"creation date".to_vec(), Value::Int(t));
        }
        d.insert(b"info".to_vec(), self.info.to_value());
        Value::Dict(d).encode()
    }

    /// SHA-1 of the encoded info dictionary.
    pub fn info_hash(&self) -> PieceHash {
        Sha1::digest(self.info.to_value().encode()).into()
    }
}

/// A metainfo file read back.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub meta: Metainfo,
    /// SHA-1 of the raw `info` bytes as they are in the file.
    pub info_hash: PieceHash,
    /// Keys of the info dictionary other than the standard ones (e.g. `cross_seed_entry`).
    pub extra_info_keys: Vec<String>,
}

/// Why a metainfo file is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetainfoError(pub String);

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MetainfoError {}

fn bad(msg: impl Into<String>) -> MetainfoError {
    MetainfoError(msg.into())
}

fn check_component(c: &[u8], what: &str) -> Result<(), MetainfoError> {
    if c.is_empty() || c == b"." || c == b".." || c.contains(&b'/') || c.contains(&0) {
        return Err(bad(format!(
            "{what} {:?} is not a safe path component",
            String::from_utf8_lossy(c)
        )));
    }
    Ok(())
}

fn non_negative(v: Option<&Value>, what: &str) -> Result<u64, MetainfoError> {
    let n = v
        .and_then(Value::as_int)
        .ok_or_else(|| bad(format!("{what} is missing or not an integer")))?;
    u64::try_from(n).map_err(|_| bad(format!("{what} is negative")))
}

/// Reads a v1 metainfo file, checking everything a verifier relies on.
pub fn parse(bytes: &[u8]) -> Result<Parsed, MetainfoError> {
    let doc = bencode::decode(bytes).map_err(|e| bad(format!("not valid bencode: {e}")))?;
    let top = &doc.value;
    if !matches!(top, Value::Dict(_)) {
        return Err(bad("the top level is not a dictionary"));
    }
    let info_v = top
        .get("info")
        .ok_or_else(|| bad("there is no info dictionary"))?;
    let Value::Dict(info_d) = info_v else {
        return Err(bad("info is not a dictionary"));
    };
    let span = doc.spans[&b"info".to_vec()].clone();
    let info_hash: PieceHash = Sha1::digest(&bytes[span]).into();

    let name = info_v
        .get("name")
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("info has no name"))?
        .to_vec();
    check_component(&name, "the name")?;
    let piece_length = non_negative(info_v.get("piece length"), "piece length")?;
    if piece_length == 0 {
        return Err(bad("piece length is zero"));
    }
    let blob = info_v
        .get("pieces")
        .and_then(Value::as_bytes)
        .ok_or_else(|| bad("info has no pieces"))?;
    if blob.len() % 20 != 0 {
        return Err(bad("pieces is not a multiple of 20 bytes long"));
    }
    let pieces: Vec<PieceHash> = blob
        .chunks_exact(20)
        .map(|c| c.try_into().expect("20 bytes"))
        .collect();
    let layout = match (info_v.get("files"), info_v.get("length")) {
        (Some(files), None) => {
            let list = files.as_list().ok_or_else(|| bad("files is not a list"))?;
            if list.is_empty() {
                return Err(bad("files is empty"));
            }
            let mut entries = Vec::with_capacity(list.len());
            for f in list {
                let length = non_negative(f.get("length"), "a file length")?;
                let comps = f
                    .get("path")
                    .and_then(Value::as_list)
                    .ok_or_else(|| bad("a file has no path list"))?;
                if comps.is_empty() {
                    return Err(bad("a file has an empty path"));
                }
                let mut path = Vec::with_capacity(comps.len());
                for c in comps {
                    let c = c
                        .as_bytes()
                        .ok_or_else(|| bad("a path component is not a string"))?;
                    check_component(c, "the path component")?;
                    path.push(c.to_vec());
                }
                entries.push(FileEntry { path, length });
            }
            Layout::Multi(entries)
        }
        (None, Some(_)) => Layout::Single(non_negative(info_v.get("length"), "length")?),
        _ => return Err(bad("info must have exactly one of files and length")),
    };
    let private = info_v.get("private").and_then(Value::as_int) == Some(1);
    let info = Info {
        name,
        piece_length,
        pieces,
        private,
        layout,
    };
    let want = piece_count(info.total(), piece_length);
    if info.pieces.len() as u64 != want {
        return Err(bad(format!(
            "has {} piece hashes but its {} bytes need {}",
            info.pieces.len(),
            info.total(),
            want
        )));
    }
    const KNOWN: [&str; 6] = [
        "files",
        "length",
        "name",
        "piece length",
        "pieces",
        "private",
    ];
    let extra_info_keys = info_d
        .keys()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .collect();
    let text = |k: &str| top.get(k).and_then(Value::as_text);
    let announce_list = top
        .get("announce-list")
        .and_then(Value::as_list)
        .map(|tiers| {
            tiers
                .iter()
                .filter_map(Value::as_list)
                .map(|t| t.iter().filter_map(Value::as_text).collect::<Vec<_>>())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let url_list = match top.get("url-list") {
        Some(v) if v.as_text().is_some() => v.as_text().into_iter().collect(),
        Some(v) => v
            .as_list()
            .map(|l| l.iter().filter_map(Value::as_text).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Ok(Parsed {
        meta: Metainfo {
            announce: text("announce"),
            announce_list,
            url_list,
            comment: text("comment"),
            created_by: text("created by"),
            creation_date: top.get("creation date").and_then(Value::as_int),
            info,
        },
        info_hash,
        extra_info_keys,
    })
}

/// Builds the metainfo for selected content from its piece hashes.
pub fn info_for(
    content: &Content,
    piece_length: u64,
    pieces: Vec<PieceHash>,
    private: bool,
) -> Info {
    let layout = if content.single {
        Layout::Single(content.total())
    } else {
        Layout::Multi(
            content
                .files
                .iter()
                .map(|f| FileEntry {
                    path: f.rel.iter().map(|c| c.as_bytes().to_vec()).collect(),
                    length: f.length,
                })
                .collect(),
        )
    };
    Info {
        name: content.name.as_bytes().to_vec(),
        piece_length,
        pieces,
        private,
        layout,
    }
}

/// The sources a torrent's data is read from, under `content` (the directory holding the files
/// of a multi-file torrent, or the file itself — or its directory — for a single-file one).
pub fn sources_under(info: &Info, content: &Path) -> Vec<Source> {
    match &info.layout {
        Layout::Single(n) => {
            let path = if content.is_dir() {
                content.join(OsStr::from_bytes(&info.name))
            } else {
                content.to_path_buf()
            };
            vec![Source { path, length: *n }]
        }
        Layout::Multi(files) => files
            .iter()
            .map(|f| Source {
                path: content.join(f.rel_path()),
                length: f.length,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_length_rule_matches_published_rocky_torrents() {
        assert_eq!(auto_piece_length(504_784_986), 512 << 10);
        assert_eq!(auto_piece_length(1_049_550_919), 1 << 20);
        assert_eq!(auto_piece_length(2_072_498_203), 2 << 20);
        assert_eq!(auto_piece_length(3_369_049_938), 4 << 20);
        assert_eq!(auto_piece_length(8_273_743_489), 8 << 20);
        assert_eq!(auto_piece_length(16_488_236_842), 16 << 20);
        assert_eq!(auto_piece_length(1), 32 << 10);
        assert_eq!(auto_piece_length(0), 32 << 10);
        assert!(valid_piece_length(1 << 22));
        assert!(!valid_piece_length(3 << 20));
        assert!(!valid_piece_length(1 << 10));
    }

    #[test]
    fn exclude_is_anchored_at_the_start_only() {
        let ex = Excludes::new(&[r".*\/CHECKSUM.asc".to_string()]).unwrap();
        assert!(ex.matches(Path::new("/d/R/CHECKSUM.asc")));
        assert!(!ex.matches(Path::new("/d/R/R.iso.CHECKSUM.asc")));
        assert!(ex.matches(Path::new("/d/R/CHECKSUMxasc.bak")));
        let ex = Excludes::new(&["CHECKSUM".to_string()]).unwrap();
        assert!(!ex.matches(Path::new("/d/CHECKSUM")));
        assert!(Excludes::new(&["(".to_string()]).is_err());
    }

    fn sources(dir: &Path, parts: &[&[u8]]) -> Vec<Source> {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let path = dir.join(format!("f{i}"));
                fs::write(&path, p).unwrap();
                Source {
                    path,
                    length: p.len() as u64,
                }
            })
            .collect()
    }

    #[test]
    fn pieces_span_files_and_match_a_serial_hash() {
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = vec![];
        let c: Vec<u8> = (0..1_800_001u32).map(|i| (i % 13) as u8).collect();
        let srcs = sources(dir.path(), &[&a, &b, &c]);
        let all = [a.clone(), c.clone()].concat();
        // Small pieces (several per read, hashed lanes at a time), pieces read one stripe per
        // lane (128 KiB), pieces of several stripes (512 KiB), and fewer pieces than lanes.
        let lengths = [16 << 10, 64 << 10, 128 << 10, 512 << 10, 1 << 20];
        for (jobs, pl) in [1, 2, 3].into_iter().flat_map(|j| lengths.map(|l| (j, l))) {
            let got = hash_pieces(
                &srcs,
                pl,
                HashOptions {
                    jobs,
                    strict_size: true,
                },
                &|_| {},
            );
            let want: Vec<PieceHash> = all
                .chunks(pl as usize)
                .map(|p| Sha1::digest(p).into())
                .collect();
            let got: Vec<PieceHash> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(got, want, "{jobs} jobs, piece length {pl}");
        }
    }

    #[test]
    fn an_unreadable_file_in_a_lane_group_fails_only_its_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let parts: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i + 1; 300_000]).collect();
        let mut srcs = sources(dir.path(), &[&parts[0], &parts[1], &parts[2]]);
        srcs[1].path = dir.path().join("gone");
        let pl: usize = 128 * 1024; // 7 pieces: one group of four, then three on their own
        let got = hash_pieces(
            &srcs,
            pl as u64,
            HashOptions {
                jobs: 1,
                strict_size: false,
            },
            &|_| {},
        );
        let all = parts.concat();
        let failed: Vec<usize> = (0..got.len()).filter(|&i| got[i].is_err()).collect();
        // File 1 covers bytes 300,000..600,000: pieces 2, 3 and 4.
        assert_eq!(failed, [2, 3, 4]);
        for (i, r) in got.iter().enumerate() {
            match r {
                Ok(h) => assert_eq!(
                    *h,
                    <PieceHash>::from(Sha1::digest(&all[i * pl..((i + 1) * pl).min(all.len())]))
                ),
                Err(e) => assert_eq!(e.file, 1),
            }
        }
    }

    #[test]
    fn unreadable_pieces_name_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut srcs = sources(dir.path(), &[&[1u8; 40_000], &[2u8; 40_000]]);
        srcs[1].path = dir.path().join("gone");
        let got = hash_pieces(
            &srcs,
            16 * 1024,
            HashOptions {
                jobs: 2,
                strict_size: false,
            },
            &|_| {},
        );
        assert_eq!(got.len(), 5);
        assert!(got[0].is_ok() && got[1].is_ok());
        assert_eq!(got[2].as_ref().unwrap_err().file, 1);
        assert_eq!(
            got[4].as_ref().unwrap_err().error.kind(),
            io::ErrorKind::NotFound
        );
    }

    fn sample() -> Metainfo {
        Metainfo {
            announce: Some("udp://t1/announce".into()),
            announce_list: vec![vec!["udp://t1/announce".into()], vec!["http://t2".into()]],
            url_list: vec!["http://seed.example/".into()],
            comment: Some("c".into()),
            created_by: Some("rl-torrent/0".into()),
            creation_date: Some(1_700_000_000),
            info: Info {
                name: b"Rocky".to_vec(),
                piece_length: 32768,
                pieces: vec![[7u8; 20]; 2],
                private: false,
                layout: Layout::Multi(vec![
                    FileEntry {
                        path: vec![b"CHECKSUM".to_vec()],
                        length: 10,
                    },
                    FileEntry {
                        path: vec![b"d".to_vec(), vec![0xff, b'x']],
                        length: 40000,
                    },
                ]),
            },
        }
    }

    #[test]
    fn metainfo_round_trips_with_raw_info_hash() {
        let m = sample();
        let bytes = m.encode();
        let p = parse(&bytes).unwrap();
        assert_eq!(p.meta, m);
        assert_eq!(p.info_hash, m.info_hash());
        assert!(p.extra_info_keys.is_empty());
        assert_eq!(m.info.files_of_piece(0), vec![0, 1]);
        assert_eq!(m.info.files_of_piece(1), vec![1]);
    }

    #[test]
    fn bad_metainfo_is_refused_with_a_reason() {
        let mut m = sample();
        m.info.pieces.pop();
        assert!(parse(&m.encode()).unwrap_err().0.contains("piece hashes"));
        let mut m = sample();
        if let Layout::Multi(f) = &mut m.info.layout {
            f[0].path = vec![b"..".to_vec()];
        }
        assert!(parse(&m.encode()).unwrap_err().0.contains("safe path"));
        assert!(parse(b"le").unwrap_err().0.contains("top level"));
        assert!(parse(b"d4:infoi1ee").unwrap_err().0.contains("info is not"));
        let good = sample().encode();
        assert!(parse(&good[..good.len() - 3]).is_err());
    }
}
