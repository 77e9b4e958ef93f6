//! The scan: walk every root in parallel and collect the regular files that pass the path filter
//! into one small node per inode (all paths of an already linked inode share one node, so a
//! re-run never reads them again).

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rl_core::fsx::{is_stale_temp, is_temp_name};
use rl_core::parwalk::{DirItem, Kind, par_walk};

use crate::criteria::{AttrKey, Criteria, PathFilter};
use crate::link::Snapshot;

/// A multiplicative hasher (the `FxHash` scheme) for the scan's maps, whose keys are inode
/// numbers, devices, sizes and times: SipHash's resistance to chosen keys buys nothing there and
/// costs a measurable part of a re-run on a linked tree.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, std::hash::BuildHasherDefault<FastHasher>>;

/// One path of a file: which root, and the path relative to it. Ordered by root, then by the
/// bytes of the relative path (cheaper than `Path`'s component order, and just as deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePath {
    pub root: u32,
    pub rel: PathBuf,
}

impl Ord for FilePath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.root, self.rel.as_os_str().as_bytes())
            .cmp(&(other.root, other.rel.as_os_str().as_bytes()))
    }
}

impl PartialOrd for FilePath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One inode (or, with `-f`, one inode under one basename) with the metadata the criteria use.
#[derive(Debug, Clone)]
pub struct Node {
    /// The metadata at scan time; checked again just before the file is replaced.
    pub snap: Snapshot,
    pub nlink: u64,
    pub attrs: AttrKey,
    /// Its paths in the scanned trees, sorted; never empty.
    pub paths: Vec<FilePath>,
}

/// What the scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Absolute roots, as given after `realpath`.
    pub roots: Vec<PathBuf>,
    /// Regular files that passed the filter (counting every path of a linked inode).
    pub files: u64,
    pub nodes: NodeList,
    /// Temporaries of killed runs (regular files whose writer is gone) that the filter accepts,
    /// sorted: removed before linking, never linked themselves.
    pub stale_temps: Vec<FilePath>,
}

/// The node table: one segment per directory for the files with one link (made in parallel by
/// the walk, never copied again) and one for the multiply linked inodes. A node is named by its
/// position in the whole list.
#[derive(Debug, Default)]
pub struct NodeList {
    segments: Vec<Vec<Node>>,
    /// Position of each segment's first node.
    starts: Vec<usize>,
    len: usize,
}

impl NodeList {
    fn push_segment(&mut self, segment: Vec<Node>) {
        if !segment.is_empty() {
            self.starts.push(self.len);
            self.len += segment.len();
            self.segments.push(segment);
        }
    }

    /// Every node with its position.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.segments
            .iter()
            .zip(&self.starts)
            .flat_map(|(seg, &start)| seg.iter().enumerate().map(move |(k, n)| (start + k, n)))
    }
}

impl std::ops::Index<usize> for NodeList {
    type Output = Node;

    fn index(&self, i: usize) -> &Node {
        let s = self.starts.partition_point(|&start| start <= i) - 1;
        &self.segments[s][i - self.starts[s]]
    }
}

impl Scan {
    /// The absolute path of a file path.
    pub fn abs(&self, p: &FilePath) -> PathBuf {
        join(&self.roots[p.root as usize], &p.rel)
    }

    /// Removes the killed runs' temporaries the scan found, one `delete` record each (reason
    /// "stale temporary"; with `dry_run`, only the records). A failure is a warning: a temporary
    /// is never content, and linking goes on.
    pub fn remove_stale_temps(&self, dry_run: bool, run: &rl_core::Run) {
        for p in &self.stale_temps {
            let outcome = if dry_run {
                Ok(())
            } else {
                std::fs::remove_file(self.abs(p))
            };
            match outcome {
                Ok(()) => {
                    let mut r = rl_core::Record::new("delete")
                        .at(&self.roots[p.root as usize], &p.rel)
                        .with("reason", "stale temporary");
                    if dry_run {
                        r.set("dry_run", true);
                    }
                    run.emit(&r);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => run.warn(&format!(
                    "{}: could not remove a stale temporary: {e}",
                    self.abs(p).display()
                )),
            }
        }
    }
}

/// `root/rel`, or `root` when `rel` is empty.
pub fn join(root: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// One regular file seen by the walk, before grouping by inode. `stat` is `None` when another
/// path of the same inode (by `d_ino`) was already `lstat`ed: a linked tree costs one `lstat` per
/// inode, not per name.
struct Seen {
    path: FilePath,
    /// (device of its directory, `d_ino`).
    listed: (u64, u64),
    stat: Option<(Snapshot, u64)>,
}

/// A failure during the scan: root index, path relative to it, and the error.
pub type ScanError = (u32, PathBuf, io::Error);

/// Walks `roots` (absolute, not nested in each other) and builds the node table. Errors are
/// returned alongside (unreadable directories, roots that do not exist).
pub fn scan(
    roots: Vec<PathBuf>,
    filter: &PathFilter,
    criteria: &Criteria,
) -> (Scan, Vec<ScanError>) {
    // Each directory's files stay one batch: appending them to one growing vector would copy
    // everything collected so far at every doubling (and fault in fresh pages for each copy).
    // A file with one link has no other path to meet: the walk makes its node right away, in
    // parallel; only the names of multiply linked inodes wait to be grouped.
    let singles: Mutex<Vec<Vec<Node>>> = Mutex::new(Vec::new());
    let seen: Mutex<Vec<Vec<Seen>>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<ScanError>> = Mutex::new(Vec::new());
    let stale_temps: Mutex<Vec<FilePath>> = Mutex::new(Vec::new());
    for (i, root) in roots.iter().enumerate() {
        let i = i as u32;
        match std::fs::symlink_metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                errors.lock().unwrap_or_else(|p| p.into_inner()).push((
                    i,
                    PathBuf::new(),
                    io::Error::new(io::ErrorKind::InvalidInput, "not a directory"),
                ));
                continue;
            }
            Err(e) => {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, PathBuf::new(), e));
                continue;
            }
        }
        let stated: Mutex<FastSet<(u64, u64)>> = Mutex::new(FastSet::default());
        par_walk(
            root,
            |rel_dir, dir, items| {
                let mut abs = join(root, rel_dir).into_os_string().into_vec_bytes();
                abs.push(b'/');
                let base_len = abs.len();
                let mut batch: Vec<(DirItem, bool)> = Vec::with_capacity(items.len());
                for item in items {
                    if item.kind != Kind::File {
                        continue;
                    }
                    let temp = is_temp_name(&item.name);
                    if temp && !is_stale_temp(&item.name) {
                        continue;
                    }
                    abs.truncate(base_len);
                    abs.extend_from_slice(item.name.as_bytes());
                    if !filter.accepts(Path::new(OsStr::from_bytes(&abs))) {
                        continue;
                    }
                    if temp {
                        let path = FilePath {
                            root: i,
                            rel: child(rel_dir, &item.name),
                        };
                        stale_temps
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(path);
                    } else {
                        batch.push((item, false));
                    }
                }
                {
                    let mut stated = stated.lock().unwrap_or_else(|p| p.into_inner());
                    for (item, first) in &mut batch {
                        *first = stated.insert((dir.dev, item.ino));
                    }
                }
                let mut nodes = Vec::new();
                let mut out = Vec::new();
                for (item, first) in batch {
                    let rel = child(rel_dir, &item.name);
                    let stat = if first {
                        match dir.stat(&item.name) {
                            Ok(st) => Some((Snapshot::from_stat(&st), Snapshot::nlink_of(&st))),
                            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                            Err(e) => {
                                errors
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push((i, rel, e));
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    let path = FilePath { root: i, rel };
                    match stat {
                        Some((snap, 1)) => nodes.push(Node {
                            snap,
                            nlink: 1,
                            attrs: AttrKey::of(&snap, criteria),
                            paths: vec![path],
                        }),
                        _ => out.push(Seen {
                            path,
                            listed: (dir.dev, item.ino),
                            stat,
                        }),
                    }
                }
                if !nodes.is_empty() {
                    singles
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(nodes);
                }
                if !out.is_empty() {
                    seen.lock().unwrap_or_else(|p| p.into_inner()).push(out);
                }
            },
            |rel, e| {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, rel.to_path_buf(), e))
            },
        );
    }
    let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    // The nodes come out in walk order; only the paths of each node need sorting (the plan
    // orders groups and members by path itself, so the order of the node table never shows).
    let mut linked = group_by_inode(seen, &roots, criteria, &mut errors);
    for n in &mut linked {
        if n.paths.len() > 1 {
            n.paths.sort_unstable();
        }
    }
    let mut nodes = NodeList::default();
    for segment in singles.into_inner().unwrap_or_else(|p| p.into_inner()) {
        nodes.push_segment(segment);
    }
    nodes.push_segment(linked);
    errors.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let files = nodes.iter().map(|(_, n)| n.paths.len() as u64).sum();
    let mut stale_temps = stale_temps.into_inner().unwrap_or_else(|p| p.into_inner());
    stale_temps.sort_unstable();
    (
        Scan {
            roots,
            files,
            nodes,
            stale_temps,
        },
        errors,
    )
}

/// The node table being built, with its index by (device, inode, and the name under `-f`).
struct NodeTable<'a> {
    criteria: &'a Criteria,
    index: FastMap<(u64, u64, Option<OsString>), usize>,
    nodes: Vec<Node>,
}

impl NodeTable<'_> {
    fn add(&mut self, path: FilePath, (snap, nlink): (Snapshot, u64)) {
        // A file with one link has no other path to meet: it is a node of its own, and the
        // index (most of the scan's memory and hashing on a big tree) does not need it.
        if nlink == 1 {
            self.nodes.push(Node {
                snap,
                nlink,
                attrs: AttrKey::of(&snap, self.criteria),
                paths: vec![path],
            });
            return;
        }
        let name = if self.criteria.respect_name {
            path.rel.file_name().map(|n| n.to_os_string())
        } else {
            None
        };
        match self.index.entry((snap.dev, snap.ino, name)) {
            std::collections::hash_map::Entry::Occupied(e) => self.nodes[*e.get()].paths.push(path),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.nodes.len());
                self.nodes.push(Node {
                    snap,
                    nlink,
                    attrs: AttrKey::of(&snap, self.criteria),
                    paths: vec![path],
                });
            }
        }
    }

    /// The metadata of inode `ino` on `dev` when a node with more than one link has it (never
    /// under `-f`, where the index is by name too).
    fn metadata(&self, dev: u64, ino: u64) -> Option<(Snapshot, u64)> {
        let &i = self.index.get(&(dev, ino, None))?;
        Some((self.nodes[i].snap, self.nodes[i].nlink))
    }
}

/// Builds one node per multiply linked inode (per inode and name with `-f`) from the names the
/// walk could not settle alone. Paths whose inode was not
/// `lstat`ed take the metadata of the path that was; if there is none (the listed inode number
/// was not the real one, as on a bind-mounted file), they are `lstat`ed now.
fn group_by_inode(
    seen: Vec<Vec<Seen>>,
    roots: &[PathBuf],
    criteria: &Criteria,
    errors: &mut Vec<ScanError>,
) -> Vec<Node> {
    let total = seen.iter().map(Vec::len).sum();
    let mut table = NodeTable {
        criteria,
        index: FastMap::default(),
        nodes: Vec::with_capacity(total),
    };
    table.index.reserve(total);
    // First the paths that were `lstat`ed (one per inode), then the other names of their inodes.
    // Those find their metadata in the index by the listed inode number; only where the index
    // cannot answer (`-f` splits an inode by name; a listed number that is not the real one)
    // is the metadata also kept by listed number.
    let mut known: FastMap<(u64, u64), (Snapshot, u64)> = FastMap::default();
    let mut later = Vec::new();
    for s in seen.into_iter().flatten() {
        match s.stat {
            Some(st) => {
                if criteria.respect_name || s.listed != (st.0.dev, st.0.ino) {
                    known.insert(s.listed, st);
                }
                table.add(s.path, st);
            }
            None => later.push(s),
        }
    }
    for s in later {
        let known_st = known
            .get(&s.listed)
            .copied()
            .or_else(|| table.metadata(s.listed.0, s.listed.1));
        let st = match known_st {
            Some(st) => st,
            None => {
                match std::fs::symlink_metadata(join(&roots[s.path.root as usize], &s.path.rel)) {
                    Ok(m) if m.is_file() => (Snapshot::of(&m), m.nlink()),
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        errors.push((s.path.root, s.path.rel, e));
                        continue;
                    }
                }
            }
        };
        table.add(s.path, st);
    }
    table.nodes
}

/// `rel_dir/name` (`name` when `rel_dir` is empty) in one allocation of the exact size
/// (`Path::join` copies `rel_dir` and then grows the buffer for `name`).
fn child(rel_dir: &Path, name: &OsStr) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let dir = rel_dir.as_os_str().as_bytes();
    let mut v = Vec::with_capacity(dir.len() + 1 + name.len());
    if !dir.is_empty() {
        v.extend_from_slice(dir);
        v.push(b'/');
    }
    v.extend_from_slice(name.as_bytes());
    PathBuf::from(OsString::from_vec(v))
}

trait IntoBytes {
    fn into_vec_bytes(self) -> Vec<u8>;
}

impl IntoBytes for OsString {
    fn into_vec_bytes(self) -> Vec<u8> {
        use std::os::unix::ffi::OsStringExt;
        self.into_vec()
    }
}

/// Removes duplicate roots and roots inside another root (their files are scanned once, under the
/// outer root), keeping the order of the first occurrence.
pub fn dedupe_roots(roots: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = Vec::new();
    for r in &roots {
        if roots.iter().any(|o| o != r && r.starts_with(o)) || kept.contains(r) {
            continue;
        }
        kept.push(r.clone());
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn linked_paths_share_one_node_and_filter_applies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir(root.join("d")).unwrap();
        fs::write(root.join("d/a"), "x").unwrap();
        fs::hard_link(root.join("d/a"), root.join("b")).unwrap();
        fs::write(root.join("c.xml"), "x").unwrap();
        // PID 1 lives: its temporary is neither content nor stale. No PID is above 2^22.
        fs::write(root.join(".f.rl-tmp.1.2"), "x").unwrap();
        fs::write(root.join("d/.g.rl-tmp.99999999-1.0"), "x").unwrap();
        fs::create_dir(root.join(".h.rl-tmp.99999999-1.0")).unwrap();
        std::os::unix::fs::symlink("d/a", root.join("l")).unwrap();
        let filter = PathFilter::new(&[r"\.xml".into()], &[]).unwrap();
        let (scan, errors) = scan(vec![root.clone()], &filter, &Criteria::default());
        assert!(errors.is_empty());
        assert_eq!(scan.files, 2);
        let stale: Vec<_> = scan.stale_temps.iter().map(|p| p.rel.clone()).collect();
        assert_eq!(stale, [PathBuf::from("d/.g.rl-tmp.99999999-1.0")]);
        let rels: Vec<_> = scan.nodes[0].paths.iter().map(|p| p.rel.clone()).collect();
        assert_eq!(scan.nodes.iter().count(), 1);
        assert_eq!(rels, [PathBuf::from("b"), PathBuf::from("d/a")]);
    }

    #[test]
    fn node_positions_agree_across_segments() {
        // Several directories of single-link files (one segment each) and linked files (the
        // last segment): every position from `iter` indexes the same node.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["a", "b", "c"] {
            fs::create_dir(root.join(d)).unwrap();
            for f in ["1", "2"] {
                fs::write(root.join(d).join(f), format!("{d}{f}")).unwrap();
            }
        }
        fs::hard_link(root.join("a/1"), root.join("c/3")).unwrap();
        let (scan, errors) = scan(vec![root], &PathFilter::default(), &Criteria::default());
        assert!(errors.is_empty());
        assert_eq!(scan.files, 7);
        let all: Vec<(usize, &Node)> = scan.nodes.iter().collect();
        assert_eq!(all.len(), 6);
        for (i, n) in &all {
            assert!(std::ptr::eq(&scan.nodes[*i], *n));
        }
        let positions: Vec<usize> = all.iter().map(|(i, _)| *i).collect();
        assert_eq!(positions, (0..6).collect::<Vec<_>>());
        let linked: Vec<_> = all.iter().filter(|(_, n)| n.paths.len() == 2).collect();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].1.nlink, 2);
    }

    #[test]
    fn nested_and_repeated_roots_are_dropped() {
        let r = dedupe_roots(vec!["/a/b".into(), "/a".into(), "/c".into(), "/c".into()]);
        assert_eq!(r, [PathBuf::from("/a"), PathBuf::from("/c")]);
        let r = dedupe_roots(vec!["/ab".into(), "/a".into()]);
        assert_eq!(r, [PathBuf::from("/ab"), PathBuf::from("/a")]);
    }
}
