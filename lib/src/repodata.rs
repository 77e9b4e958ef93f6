//! RPM repository metadata as createrepo_c writes it: `repodata/repomd.xml`, and streaming
//! readers for `primary.xml` and `filelists.xml` in any compression createrepo_c offers (gzip,
//! xz, zstd, bzip2, or none; detected from the file's magic bytes, not its name).
//!
//! The readers never hold a whole file: they hand each `<package>` to a callback as soon as its
//! closing tag is read, so memory follows what the caller keeps, not the file size.
//!
//! Errors are `io::Error`s (`InvalidData` for malformed XML or compressed data) so callers can
//! report them like any other read failure.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};

use crate::rpmvercmp::{Evr, EvrRef, flags};
use crate::xml_guard::{MarkupGuard, check_text};

/// One metadata file named in `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The `type` attribute: `primary`, `filelists`, `other`, `primary_db`, …
    pub kind: String,
    /// `location href`, relative to the repository root (e.g. `repodata/…-primary.xml.gz`).
    pub href: String,
}

/// What `repomd.xml` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoMd {
    pub revision: Option<String>,
    pub data: Vec<DataFile>,
}

impl RepoMd {
    /// The href of one metadata type.
    pub fn href(&self, kind: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|d| d.kind == kind)
            .map(|d| d.href.as_str())
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn xml_err(e: impl std::fmt::Display) -> io::Error {
    invalid(format!("malformed XML: {e}"))
}

/// The path of `repodata/repomd.xml` under a repository root.
pub fn repomd_path(repo: &Path) -> PathBuf {
    repo.join("repodata").join("repomd.xml")
}

/// Reads `repo/repodata/repomd.xml`.
pub fn read_repomd(repo: &Path) -> io::Result<RepoMd> {
    let file = File::open(repomd_path(repo))?;
    parse_repomd(BufReader::new(file))
}

/// Parses a `repomd.xml` document.
pub fn parse_repomd<R: BufRead>(input: R) -> io::Result<RepoMd> {
    let mut reader = quick_xml::Reader::from_reader(MarkupGuard::new(input));
    let mut buf = Vec::new();
    let mut md = RepoMd::default();
    let mut kind: Option<String> = None;
    let mut in_revision = false;
    let mut saw_root = false;
    loop {
        match reader.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"repomd" => saw_root = true,
                b"data" => kind = attr(&e, b"type")?,
                b"revision" => in_revision = true,
                b"location" => location(&e, &kind, &mut md)?,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == b"location" => {
                location(&e, &kind, &mut md)?;
            }
            Event::Text(t) if in_revision => {
                md.revision = Some(t.decode().map_err(xml_err)?.trim().to_owned());
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"data" => kind = None,
                b"revision" => in_revision = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(invalid("not a repomd.xml document (no <repomd> element)"));
    }
    Ok(md)
}

fn location(e: &BytesStart<'_>, kind: &Option<String>, md: &mut RepoMd) -> io::Result<()> {
    if let (Some(kind), Some(href)) = (kind, attr(e, b"href")?) {
        md.data.push(DataFile {
            kind: kind.clone(),
            href,
        });
    }
    Ok(())
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> io::Result<Option<String>> {
    for a in e.attributes() {
        let a = a.map_err(xml_err)?;
        if a.key.local_name().as_ref() == name {
            return Ok(Some(a.unescape_value().map_err(xml_err)?.into_owned()));
        }
    }
    Ok(None)
}

/// Compression of a metadata file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    /// Recognises the magic bytes at the start of a file.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }

    /// Lowercase name for records.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gz",
            Compression::Xz => "xz",
            Compression::Zstd => "zst",
            Compression::Bzip2 => "bz2",
        }
    }
}

/// Opens a metadata file and decompresses it on the fly (see [`decompress`]).
pub fn open_metadata(path: &Path) -> io::Result<(Compression, ReadAhead)> {
    let mut raw = BufReader::with_capacity(1 << 16, File::open(path)?);
    let kind = Compression::sniff(raw.fill_buf()?);
    Ok((kind, ReadAhead::spawn(decoder(kind, raw)?)))
}

/// Wraps a reader in the decoder for `kind`. Decompression runs on its own thread, a bounded
/// queue of blocks ahead of the reader (at most [`AHEAD`] blocks of [`BLOCK`] bytes), so parsing
/// and decompressing overlap on two cores while memory stays bounded.
pub fn decompress<R: BufRead + Send + 'static>(
    kind: Compression,
    raw: R,
) -> io::Result<Box<dyn BufRead + Send>> {
    Ok(Box::new(ReadAhead::spawn(decoder(kind, raw)?)))
}

fn decoder<R: BufRead + Send + 'static>(
    kind: Compression,
    raw: R,
) -> io::Result<Box<dyn Read + Send>> {
    Ok(match kind {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(raw, true)),
        Compression::Zstd => {
            let dec = ruzstd::decoding::StreamingDecoder::new(raw)
                .map_err(|e| invalid(format!("bad zstd data: {e}")))?;
            Box::new(ZstdFrames(dec))
        }
        Compression::Bzip2 => Box::new(bzip2_rs::DecoderReader::new(raw)),
    })
}

/// Size of one decompressed block handed from the decoder thread to the parser.
pub const BLOCK: usize = 1 << 16;
/// How many blocks the decoder thread may run ahead.
pub const AHEAD: usize = 16;

/// The reading end of a decoder thread. Blocks go back to the thread once read, so a file is
/// decompressed into the same few blocks over and over (no fresh pages to fault in).
pub struct ReadAhead {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ReadAhead {
    /// Starts the decoder thread.
    fn spawn(inner: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
        let (back, back_rx) = std::sync::mpsc::sync_channel(AHEAD + 2);
        std::thread::spawn(move || pump(inner, &tx, &back_rx));
        ReadAhead {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

/// Decompresses `inner` into blocks sent on `tx` until the end, an error or the reader is gone.
fn pump(
    mut inner: Box<dyn Read + Send>,
    tx: &std::sync::mpsc::SyncSender<io::Result<Vec<u8>>>,
    back: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut block = back.try_recv().unwrap_or_default();
        block.resize(BLOCK, 0);
        let mut filled = 0;
        let result = loop {
            match inner.read(&mut block[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == block.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        block.truncate(filled);
        let last = filled < BLOCK;
        if filled > 0 && tx.send(Ok(block)).is_err() {
            return; // the reader is gone
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
            return;
        }
        if last {
            return;
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = buf.len().min(avail.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.cur.len() && !self.done {
            self.next_block()?;
        }
        Ok(&self.cur[self.pos..])
    }

    #[inline]
    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.cur.len());
    }
}

impl ReadAhead {
    #[cold]
    fn next_block(&mut self) -> io::Result<()> {
        while self.pos == self.cur.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    let used = std::mem::replace(&mut self.cur, block);
                    let _ = self.back.try_send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(())
    }
}

/// Maps the zstd decoder's errors to `InvalidData`.
struct ZstdFrames<R: Read>(ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>);

impl<R: Read> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| invalid(format!("bad zstd data: {e}")))
    }
}

/// One dependency entry (`<rpm:entry name=… flags=… epoch=… ver=… rel=…/>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dep {
    /// The name, or the whole rich dependency `(a or b)`.
    pub name: String,
    /// Relation bits ([`flags`]); 0 when unversioned.
    pub flags: u8,
    pub evr: Evr,
}

impl std::fmt::Display for Dep {
    /// As rpm and dnf print it: `name`, or `name >= [E:]V[-R]` (epoch 0 omitted).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if self.flags != 0 {
            write!(f, " {} {}", flags::symbol(self.flags), self.evr)?;
        }
        Ok(())
    }
}

/// One `<package>` of primary.xml, with what a dependency check needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub arch: String,
    /// Epoch 0 is stored as `None`.
    pub evr: Evr,
    /// The `pkgid` checksum (links primary to filelists).
    pub pkgid: String,
    /// `location href`, relative to the repository root.
    pub location: String,
    pub provides: Vec<Dep>,
    /// `requires` entries, `pre="1"` ones included.
    pub requires: Vec<Dep>,
    /// The files primary.xml lists (createrepo_c puts only `/etc/*`, `*bin/*` and a few others there).
    pub files: Vec<String>,
}

impl Package {
    /// `name-[E:]V-R.arch`, epoch only when non-zero: how dnf prints a package.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }
}

/// One dependency entry as [`scan_primary`] reports it: borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub name: &'a str,
    /// Relation bits ([`flags`]); 0 when unversioned (the EVR fields are then empty).
    pub flags: u8,
    pub evr: EvrRef<'a>,
}

impl EntryRef<'_> {
    /// An owned copy.
    pub fn to_dep(&self) -> Dep {
        Dep {
            name: self.name.to_owned(),
            flags: self.flags,
            evr: Evr {
                epoch: self.evr.epoch,
                version: self.evr.version.to_owned(),
                release: self.evr.release.map(str::to_owned),
            },
        }
    }
}

/// What [`scan_primary`] reports, in document order, for each `<package>`: `start`, then the
/// fields as they come (any may be missing), then `end`. Strings are borrowed for the call only,
/// so a sink keeps what it needs without the parser allocating per field.
pub trait PrimarySink {
    /// The `packages` count the document announces (before any package), to size tables by.
    fn expect_packages(&mut self, _count: u64) {}
    fn start(&mut self);
    fn name(&mut self, name: &str);
    fn arch(&mut self, arch: &str);
    fn version(&mut self, evr: EvrRef<'_>);
    /// The `pkgid="YES"` checksum (or the first checksum when none is marked).
    fn pkgid(&mut self, id: &str);
    fn location(&mut self, href: &str);
    fn provide(&mut self, entry: EntryRef<'_>);
    /// `requires` entries, `pre="1"` ones included.
    fn require(&mut self, entry: EntryRef<'_>);
    fn file(&mut self, path: &str);
    fn end(&mut self);
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Provides,
    Requires,
}

#[derive(Clone, Copy, PartialEq)]
enum TextOf {
    None,
    Name,
    Arch,
    Checksum,
    File,
}

/// Streams primary.xml, calling `each` once per package. Returns the number of packages.
pub fn parse_primary<R: BufRead>(input: R, each: impl FnMut(Package)) -> io::Result<u64> {
    struct Build<F> {
        pkg: Package,
        each: F,
    }
    impl<F: FnMut(Package)> PrimarySink for Build<F> {
        fn start(&mut self) {
            self.pkg = Package::default();
        }
        fn name(&mut self, name: &str) {
            self.pkg.name = name.to_owned();
        }
        fn arch(&mut self, arch: &str) {
            self.pkg.arch = arch.to_owned();
        }
        fn version(&mut self, evr: EvrRef<'_>) {
            self.pkg.evr = Evr {
                epoch: evr.epoch,
                version: evr.version.to_owned(),
                release: evr.release.map(str::to_owned),
            };
        }
        fn pkgid(&mut self, id: &str) {
            self.pkg.pkgid = id.to_owned();
        }
        fn location(&mut self, href: &str) {
            self.pkg.location = href.to_owned();
        }
        fn provide(&mut self, entry: EntryRef<'_>) {
            self.pkg.provides.push(entry.to_dep());
        }
        fn require(&mut self, entry: EntryRef<'_>) {
            self.pkg.requires.push(entry.to_dep());
        }
        fn file(&mut self, path: &str) {
            self.pkg.files.push(path.to_owned());
        }
        fn end(&mut self) {
            (self.each)(std::mem::take(&mut self.pkg));
        }
    }
    scan_primary(
        input,
        &mut Build {
            pkg: Package::default(),
            each,
        },
    )
}

/// Streams primary.xml into `sink`. Returns the number of packages.
pub fn scan_primary<R: BufRead>(input: R, sink: &mut impl PrimarySink) -> io::Result<u64> {
    let mut scratch = Scratch::default();
    scan(input, sink, |sink, provides, e| {
        let entry = scratch.entry(e)?;
        if provides {
            sink.provide(entry);
        } else {
            sink.require(entry);
        }
        Ok(())
    })
}

/// [`scan_primary`] with dependency entries handed to `entry` as tags (`true` for provides).
fn scan<R: BufRead, S: PrimarySink>(
    input: R,
    sink: &mut S,
    mut entry: impl FnMut(&mut S, bool, &BytesStart<'_>) -> io::Result<()>,
) -> io::Result<u64> {
    let mut reader = quick_xml::Reader::from_reader(MarkupGuard::new(input));
    let mut buf = Vec::with_capacity(4096);
    let mut in_pkg = false;
    let mut have_pkgid = false;
    let mut section = Section::None;
    let mut text_of = TextOf::None;
    let mut text = String::new();
    let mut pkgid_checksum = false;
    let mut count = 0u64;
    let mut saw_root = false;
    let mut scratch = Scratch::default();
    loop {
        let ev = reader.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                match e.local_name().as_ref() {
                    b"entry" if in_pkg && section != Section::None => {
                        entry(sink, section == Section::Provides, e)?
                    }
                    b"file" if !empty => text_of = TextOf::File,
                    b"metadata" => {
                        saw_root = true;
                        let announced = e
                            .attributes()
                            .with_checks(false)
                            .flatten()
                            .find(|a| a.key.local_name().as_ref() == b"packages")
                            .and_then(|a| std::str::from_utf8(&a.value).ok()?.parse().ok());
                        if let Some(n) = announced {
                            sink.expect_packages(n);
                        }
                    }
                    b"package" => {
                        in_pkg = true;
                        have_pkgid = false;
                        section = Section::None;
                        sink.start();
                    }
                    b"name" if !empty => text_of = TextOf::Name,
                    b"arch" if !empty => text_of = TextOf::Arch,
                    b"checksum" if !empty => {
                        text_of = TextOf::Checksum;
                        pkgid_checksum = e.attributes().with_checks(false).flatten().any(|a| {
                            a.key.local_name().as_ref() == b"pkgid" && *a.value == *b"YES"
                        });
                    }
                    b"version" if in_pkg => sink.version(scratch.evr(e)?),
                    b"location" => {
                        if in_pkg && let Some(h) = attr(e, b"href")? {
                            sink.location(&h);
                        }
                    }
                    b"provides" if !empty => section = Section::Provides,
                    b"requires" if !empty => section = Section::Requires,
                    b"conflicts" | b"obsoletes" | b"recommends" | b"suggests" | b"supplements"
                    | b"enhances" => section = Section::None,
                    _ => {}
                }
                if text_of != TextOf::None {
                    text.clear();
                }
            }
            Event::Text(ref t) if text_of != TextOf::None => {
                text.push_str(&t.decode().map_err(xml_err)?);
            }
            Event::CData(ref t) if text_of != TextOf::None => {
                text.push_str(&String::from_utf8_lossy(t));
                // CDATA sections carry markup between them: the guard alone does not bound it.
                check_text(text.len())?;
            }
            Event::GeneralRef(ref r) if text_of != TextOf::None => push_ref(&mut text, r)?,
            Event::End(ref e) => match e.local_name().as_ref() {
                b"package" if in_pkg => {
                    in_pkg = false;
                    count += 1;
                    sink.end();
                }
                b"provides" | b"requires" => section = Section::None,
                b"name" | b"arch" | b"checksum" | b"file" => {
                    if in_pkg {
                        match text_of {
                            TextOf::Name => sink.name(&text),
                            TextOf::Arch => sink.arch(&text),
                            TextOf::Checksum if pkgid_checksum || !have_pkgid => {
                                have_pkgid = true;
                                sink.pkgid(&text);
                            }
                            TextOf::File => sink.file(&text),
                            _ => {}
                        }
                    }
                    text_of = TextOf::None;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(invalid(
            "not a primary.xml document (no <metadata> element)",
        ));
    }
    if in_pkg {
        return Err(invalid("truncated primary.xml (unclosed <package>)"));
    }
    Ok(count)
}

/// [`scan_primary`] with the XML parsing on a thread of its own: the parser records what it
/// reports in batches (strings copied into one buffer per batch, batches reused), and the
/// calling thread replays them into `sink`. Parsing and whatever the sink does then run on two
/// cores; memory stays a few batches.
pub fn scan_primary_threaded<R: BufRead + Send>(
    input: R,
    sink: &mut impl PrimarySink,
) -> io::Result<u64> {
    use std::sync::mpsc;
    let (tx, rx) = mpsc::sync_channel::<Recorded>(8);
    let (back_tx, back_rx) = mpsc::sync_channel::<Recorded>(10);
    std::thread::scope(|scope| {
        let parser = scope.spawn(move || {
            let mut rec = Recorder {
                cur: Recorded::default(),
                packages: 0,
                tx,
                back: back_rx,
                gone: false,
            };
            // Entries go over as their tags: their attributes are parsed on the replaying side,
            // which has less to do than this one.
            let n = scan(input, &mut rec, |rec, provides, e| {
                rec.raw_entry(provides, e);
                Ok(())
            });
            if !rec.cur.events.is_empty() && !rec.gone {
                let _ = rec.tx.send(std::mem::take(&mut rec.cur));
            }
            n
        });
        let mut scratch = Scratch::default();
        let mut replayed = Ok(());
        for batch in rx {
            replayed = batch.replay(sink, &mut scratch);
            if replayed.is_err() {
                break; // dropping the queue stops the parser
            }
            let _ = back_tx.try_send(batch);
        }
        let parsed = parser.join().expect("primary parser thread");
        replayed?;
        parsed
    })
}

/// Packages per recorded batch.
const RECORDED_PACKAGES: u32 = 64;

/// A string in a [`Recorded`] batch's buffer.
#[derive(Clone, Copy)]
struct Span(u32, u32);

#[derive(Clone, Copy)]
struct SpanEvr {
    epoch: Option<u64>,
    version: Span,
    release: Option<Span>,
}

#[derive(Clone, Copy)]
enum Recorded1 {
    Expect(u64),
    Start,
    End,
    Name(Span),
    Arch(Span),
    Pkgid(Span),
    Location(Span),
    File(Span),
    Version(SpanEvr),
    Provide(Span, u8, SpanEvr),
    Require(Span, u8, SpanEvr),
    /// A dependency entry's tag: (provides, content in `raw`, length of the tag name).
    Entry(bool, Span, u32),
}

#[derive(Default)]
struct Recorded {
    text: String,
    raw: Vec<u8>,
    events: Vec<Recorded1>,
}

impl Recorded {
    fn span(&mut self, s: &str) -> Span {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        Span(start, s.len() as u32)
    }

    fn evr(&mut self, e: EvrRef<'_>) -> SpanEvr {
        SpanEvr {
            epoch: e.epoch,
            version: self.span(e.version),
            release: e.release.map(|r| self.span(r)),
        }
    }

    fn replay(&self, sink: &mut impl PrimarySink, scratch: &mut Scratch) -> io::Result<()> {
        let s = |sp: Span| &self.text[sp.0 as usize..(sp.0 + sp.1) as usize];
        let evr = |e: SpanEvr| EvrRef {
            epoch: e.epoch,
            version: s(e.version),
            release: e.release.map(s),
        };
        for &ev in &self.events {
            match ev {
                Recorded1::Expect(n) => sink.expect_packages(n),
                Recorded1::Start => sink.start(),
                Recorded1::End => sink.end(),
                Recorded1::Name(x) => sink.name(s(x)),
                Recorded1::Arch(x) => sink.arch(s(x)),
                Recorded1::Pkgid(x) => sink.pkgid(s(x)),
                Recorded1::Location(x) => sink.location(s(x)),
                Recorded1::File(x) => sink.file(s(x)),
                Recorded1::Version(e) => sink.version(evr(e)),
                Recorded1::Provide(n, flags, e) => sink.provide(EntryRef {
                    name: s(n),
                    flags,
                    evr: evr(e),
                }),
                Recorded1::Require(n, flags, e) => sink.require(EntryRef {
                    name: s(n),
                    flags,
                    evr: evr(e),
                }),
                Recorded1::Entry(provides, sp, name_len) => {
                    let content = &self.raw[sp.0 as usize..(sp.0 + sp.1) as usize];
                    let tag = BytesStart::from_content(
                        std::str::from_utf8(content).map_err(xml_err)?,
                        name_len as usize,
                    );
                    let entry = scratch.entry(&tag)?;
                    if provides {
                        sink.provide(entry);
                    } else {
                        sink.require(entry);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The parser side of [`scan_primary_threaded`].
struct Recorder {
    cur: Recorded,
    packages: u32,
    tx: std::sync::mpsc::SyncSender<Recorded>,
    back: std::sync::mpsc::Receiver<Recorded>,
    /// The replaying side stopped: record nothing more.
    gone: bool,
}

impl Recorder {
    fn push(&mut self, ev: Recorded1) {
        self.cur.events.push(ev);
    }

    fn raw_entry(&mut self, provides: bool, e: &BytesStart<'_>) {
        let start = self.cur.raw.len() as u32;
        self.cur.raw.extend_from_slice(e);
        let sp = Span(start, self.cur.raw.len() as u32 - start);
        self.push(Recorded1::Entry(
            provides,
            sp,
            e.name().as_ref().len() as u32,
        ));
    }
}

impl PrimarySink for Recorder {
    fn expect_packages(&mut self, count: u64) {
        self.push(Recorded1::Expect(count));
    }
    fn start(&mut self) {
        self.push(Recorded1::Start);
    }
    fn name(&mut self, name: &str) {
        let x = self.cur.span(name);
        self.push(Recorded1::Name(x));
    }
    fn arch(&mut self, arch: &str) {
        let x = self.cur.span(arch);
        self.push(Recorded1::Arch(x));
    }
    fn version(&mut self, evr: EvrRef<'_>) {
        let e = self.cur.evr(evr);
        self.push(Recorded1::Version(e));
    }
    fn pkgid(&mut self, id: &str) {
        let x = self.cur.span(id);
        self.push(Recorded1::Pkgid(x));
    }
    fn location(&mut self, href: &str) {
        let x = self.cur.span(href);
        self.push(Recorded1::Location(x));
    }
    fn provide(&mut self, entry: EntryRef<'_>) {
        let n = self.cur.span(entry.name);
        let e = self.cur.evr(entry.evr);
        self.push(Recorded1::Provide(n, entry.flags, e));
    }
    fn require(&mut self, entry: EntryRef<'_>) {
        let n = self.cur.span(entry.name);
        let e = self.cur.evr(entry.evr);
        self.push(Recorded1::Require(n, entry.flags, e));
    }
    fn file(&mut self, path: &str) {
        let x = self.cur.span(path);
        self.push(Recorded1::File(x));
    }
    fn end(&mut self) {
        self.push(Recorded1::End);
        self.packages += 1;
        if self.packages.is_multiple_of(RECORDED_PACKAGES) && !self.gone {
            let mut next = self.back.try_recv().unwrap_or_default();
            next.text.clear();
            next.raw.clear();
            next.events.clear();
            let full = std::mem::replace(&mut self.cur, next);
            self.gone = self.tx.send(full).is_err();
        }
        if self.gone {
            self.cur.text.clear();
            self.cur.raw.clear();
            self.cur.events.clear();
        }
    }
}

/// Buffers for attribute values that hold an entity (the rest are borrowed as they are).
#[derive(Default)]
struct Scratch {
    name: String,
    ver: String,
    rel: String,
}

/// An attribute value as a string: borrowed, or unescaped into `into` when it holds an entity.
fn value_str<'a>(
    a: &quick_xml::events::attributes::Attribute<'a>,
    into: &'a mut String,
) -> io::Result<&'a str> {
    match &a.value {
        Cow::Borrowed(v) if !v.contains(&b'&') => std::str::from_utf8(v).map_err(xml_err),
        _ => {
            into.clear();
            into.push_str(&a.unescape_value().map_err(xml_err)?);
            Ok(into)
        }
    }
}

impl Scratch {
    fn evr<'a>(&'a mut self, e: &'a BytesStart<'_>) -> io::Result<EvrRef<'a>> {
        let (mut epoch, mut ver, mut rel) = (None, None, None);
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(xml_err)?;
            match a.key.local_name().as_ref() {
                b"epoch" => epoch = epoch_value(&a.value),
                b"ver" => ver = Some(a),
                b"rel" => rel = Some(a),
                _ => {}
            }
        }
        Ok(EvrRef {
            epoch,
            version: match &ver {
                Some(a) => value_str(a, &mut self.ver)?,
                None => "",
            },
            release: match &rel {
                Some(a) => Some(value_str(a, &mut self.rel)?).filter(|r| !r.is_empty()),
                None => None,
            },
        })
    }

    fn entry<'a>(&'a mut self, e: &'a BytesStart<'_>) -> io::Result<EntryRef<'a>> {
        let (mut name, mut fl, mut epoch, mut ver, mut rel) = (None, 0u8, None, None, None);
        for a in e.attributes().with_checks(false) {
            let a = a.map_err(xml_err)?;
            match a.key.local_name().as_ref() {
                b"name" => name = Some(a),
                b"flags" => {
                    fl = std::str::from_utf8(&a.value)
                        .ok()
                        .and_then(flags::from_repodata)
                        .unwrap_or(0)
                }
                b"epoch" => epoch = epoch_value(&a.value),
                b"ver" => ver = Some(a),
                b"rel" => rel = Some(a),
                _ => {}
            }
        }
        let name = match &name {
            Some(a) => value_str(a, &mut self.name)?,
            None => "",
        };
        if name.is_empty() {
            return Err(invalid("dependency entry without a name"));
        }
        if fl == 0 {
            return Ok(EntryRef {
                name,
                flags: 0,
                evr: EvrRef::default(),
            });
        }
        Ok(EntryRef {
            name,
            flags: fl,
            evr: EvrRef {
                epoch,
                version: match &ver {
                    Some(a) => value_str(a, &mut self.ver)?,
                    None => "",
                },
                release: match &rel {
                    Some(a) => Some(value_str(a, &mut self.rel)?).filter(|r| !r.is_empty()),
                    None => None,
                },
            },
        })
    }
}

/// Streams filelists.xml, calling `each(pkgid, path)` for every file and directory listed.
pub fn parse_filelists<R: BufRead>(input: R, each: impl FnMut(&str, &str)) -> io::Result<()> {
    scan_filelists(input, |_| true, each)
}

/// Streams filelists.xml, calling `each(pkgid, path)` for the files and directories whose path
/// length in bytes `want_len` accepts: the others are not even checked for valid UTF-8, and a
/// caller looking for a few paths skips most of the file that way.
pub fn scan_filelists<R: BufRead>(
    input: R,
    want_len: impl Fn(usize) -> bool,
    mut each: impl FnMut(&str, &str),
) -> io::Result<()> {
    let mut reader = quick_xml::Reader::from_reader(MarkupGuard::new(input));
    let mut buf = Vec::with_capacity(4096);
    let mut pkgid = String::new();
    let mut in_file = false;
    let mut text: Vec<u8> = Vec::new();
    let mut saw_root = false;
    loop {
        match reader.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"file" => {
                    in_file = true;
                    text.clear();
                }
                b"package" => {
                    pkgid.clear();
                    for a in e.attributes().with_checks(false) {
                        let a = a.map_err(xml_err)?;
                        if a.key.local_name().as_ref() == b"pkgid" {
                            let mut unescaped = String::new();
                            pkgid.push_str(value_str(&a, &mut unescaped)?);
                            break;
                        }
                    }
                }
                b"filelists" => saw_root = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == b"filelists" => saw_root = true,
            Event::Text(t) if in_file => text.extend_from_slice(&t),
            Event::GeneralRef(r) if in_file => {
                let mut s = String::new();
                push_ref(&mut s, &r)?;
                text.extend_from_slice(s.as_bytes());
            }
            Event::End(e) if in_file && e.local_name().as_ref() == b"file" => {
                in_file = false;
                if want_len(text.len()) {
                    each(&pkgid, std::str::from_utf8(&text).map_err(xml_err)?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(invalid(
            "not a filelists.xml document (no <filelists> element)",
        ));
    }
    Ok(())
}

fn push_ref(text: &mut String, r: &quick_xml::events::BytesRef<'_>) -> io::Result<()> {
    if let Some(c) = r.resolve_char_ref().map_err(xml_err)? {
        text.push(c);
        return Ok(());
    }
    let name = r.decode().map_err(xml_err)?;
    let c = match name.as_ref() {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        other => return Err(invalid(format!("unknown XML entity &{other};"))),
    };
    text.push(c);
    Ok(())
}

/// Epoch as an attribute value: 0 and empty mean none.
fn epoch_value(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let e = std::str::from_utf8(v)
        .ok()?
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    (e != 0).then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    const PRIMARY: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">
  <name>fix-lib</name>
  <arch>noarch</arch>
  <version epoch="1" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">abc</checksum>
  <location href="Packages/f/fix-lib-1.0-1.noarch.rpm"/>
  <format>
    <rpm:provides>
      <rpm:entry name="fix-lib" flags="EQ" epoch="1" ver="1.0" rel="1"/>
      <rpm:entry name="virt" flags="EQ" epoch="0" ver="2.0~rc1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="(a &gt;= 1.0 or b)"/>
      <rpm:entry name="libc" flags="GE" epoch="0" ver="2.34" pre="1"/>
    </rpm:requires>
    <rpm:conflicts><rpm:entry name="nope"/></rpm:conflicts>
    <file>/usr/bin/a&amp;b</file>
    <file type="dir">/etc/fix</file>
  </format>
</package>
</metadata>"#;

    #[test]
    fn parses_primary() {
        let mut pkgs = Vec::new();
        let n = parse_primary(Cursor::new(PRIMARY), |p| pkgs.push(p)).unwrap();
        assert_eq!(n, 1);
        let p = &pkgs[0];
        assert_eq!(p.nevra(), "fix-lib-1:1.0-1.noarch");
        assert_eq!(p.pkgid, "abc");
        assert_eq!(p.location, "Packages/f/fix-lib-1.0-1.noarch.rpm");
        assert_eq!(p.provides.len(), 2);
        assert_eq!(p.provides[1].to_string(), "virt = 2.0~rc1");
        assert_eq!(p.requires.len(), 2);
        assert_eq!(p.requires[0].name, "(a >= 1.0 or b)");
        assert_eq!(p.requires[1].to_string(), "libc >= 2.34");
        assert_eq!(p.files, vec!["/usr/bin/a&b", "/etc/fix"]);
    }

    /// Writes down every call, to compare two ways of scanning.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl PrimarySink for Log {
        fn start(&mut self) {
            self.0.push("start".into());
        }
        fn name(&mut self, name: &str) {
            self.0.push(format!("name {name}"));
        }
        fn arch(&mut self, arch: &str) {
            self.0.push(format!("arch {arch}"));
        }
        fn version(&mut self, evr: EvrRef<'_>) {
            self.0.push(format!("version {evr:?}"));
        }
        fn pkgid(&mut self, id: &str) {
            self.0.push(format!("pkgid {id}"));
        }
        fn location(&mut self, href: &str) {
            self.0.push(format!("location {href}"));
        }
        fn provide(&mut self, e: EntryRef<'_>) {
            self.0.push(format!("provide {e:?}"));
        }
        fn require(&mut self, e: EntryRef<'_>) {
            self.0.push(format!("require {e:?}"));
        }
        fn file(&mut self, path: &str) {
            self.0.push(format!("file {path}"));
        }
        fn end(&mut self) {
            self.0.push("end".into());
        }
    }

    #[test]
    fn threaded_scan_reports_the_same() {
        let one = PRIMARY
            .split_once("<package")
            .and_then(|(_, rest)| rest.rsplit_once("</package>"))
            .map(|(body, _)| format!("<package{body}</package>\n"))
            .unwrap();
        let doc = format!(
            "<metadata>{}</metadata>",
            (0..150)
                .map(|i| one.replace("fix-lib", &format!("fix-lib{i}")))
                .collect::<String>()
        );
        let (mut a, mut b) = (Log::default(), Log::default());
        assert_eq!(scan_primary(Cursor::new(&doc), &mut a).unwrap(), 150);
        assert_eq!(
            scan_primary_threaded(Cursor::new(&doc), &mut b).unwrap(),
            150
        );
        assert_eq!(a.0.len(), 150 * 13);
        assert_eq!(a.0, b.0);
        let mut c = Log::default();
        assert!(scan_primary_threaded(Cursor::new(&doc[..doc.len() / 2]), &mut c).is_err());
        // An entry the replaying side cannot read (no name) fails the scan, on either side.
        let bad = doc.replacen(r#"<rpm:entry name="virt""#, "<rpm:entry", 140);
        let err = scan_primary_threaded(Cursor::new(&bad), &mut Log::default()).unwrap_err();
        assert!(err.to_string().contains("without a name"), "{err}");
        assert!(scan_primary(Cursor::new(&bad), &mut Log::default()).is_err());
    }

    #[test]
    fn every_compression() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(PRIMARY.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            PRIMARY.as_bytes(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        for (data, kind) in [
            (gz, Compression::Gzip),
            (zst, Compression::Zstd),
            (PRIMARY.as_bytes().to_vec(), Compression::None),
        ] {
            assert_eq!(Compression::sniff(&data), kind);
            let r = decompress(kind, Cursor::new(data)).unwrap();
            let n = parse_primary(r, |_| {}).unwrap();
            assert_eq!(n, 1, "{kind:?}");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_primary(Cursor::new("hello"), |_| {}).is_err());
        assert!(parse_primary(Cursor::new("<metadata><package><name>x</nam"), |_| {}).is_err());
        let r = decompress(Compression::Gzip, Cursor::new(vec![0x1f, 0x8b, 1, 2, 3])).unwrap();
        assert!(parse_primary(r, |_| {}).is_err());
        assert!(parse_repomd(Cursor::new("<x/>")).is_err());
    }

    #[test]
    fn parses_repomd_and_filelists() {
        let md = parse_repomd(Cursor::new(
            r#"<repomd><revision>7</revision><data type="primary"><location href="repodata/p.xml.gz"/></data><data type="filelists"><location href="repodata/f.xml.zst"/></data></repomd>"#,
        ))
        .unwrap();
        assert_eq!(md.href("primary"), Some("repodata/p.xml.gz"));
        assert_eq!(md.href("filelists"), Some("repodata/f.xml.zst"));
        assert_eq!(md.revision.as_deref(), Some("7"));
        let mut seen = Vec::new();
        parse_filelists(
            Cursor::new(
                r#"<filelists><package pkgid="abc" name="x" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/a</file><file type="dir">/b</file></package></filelists>"#,
            ),
            |id, f| seen.push(format!("{id}:{f}")),
        )
        .unwrap();
        assert_eq!(seen, vec!["abc:/a", "abc:/b"]);
    }
}
