//! From scanned nodes to links: group candidates by device, size and the criteria's metadata,
//! split each group with the head-and-tail digest (and a full digest for large groups), choose the
//! survivor deterministically, confirm every victim byte for byte against it, and replace it.
//!
//! Survivor rule: within a set of identical files, the newest mtime (seconds, then nanoseconds)
//! wins, then the smallest absolute path (byte order). It depends only on names and times, never
//! on inode numbers, so two copies of one tree are linked the same way. With `--from`, only the
//! upstream files may be replaced: the survivor is the best file that was not named upstream, if
//! the set has one.
//!
//! Work is parallel over groups (rayon) and, inside a large group, over its files. Memory is the
//! node table plus 32 bytes per file of a group being digested.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rl_core::{Record, Run};

use crate::content::{EDGE, edge_digest, files_equal, full_digest, head, tail, xattr_blob};
use crate::criteria::{AttrKey, Criteria};
use crate::link::{LinkError, link_over};
use crate::scan::{Node, Scan};

/// Groups larger than this are split by a full digest before byte comparison, which keeps the
/// number of comparisons linear even when many same-size files share their head and tail.
const DIRECT_COMPARE_MAX: usize = 8;

/// Below this many candidate files (in groups of two or more), the work runs on the threads the
/// walk already started instead of a pool of `Options::threads`: on a linked tree the candidates
/// are the few same-size files that differ, a few KiB each to read, and starting the larger pool
/// costs more than it saves.
const SMALL_WORK_FILES: usize = 2048;

/// Hidden test hook: a shell command run once just before the first replacement.
pub const TEST_HOOK_ENV: &str = "RL_HARDLINK_TEST_HOOK";

/// What to link.
#[derive(Debug, Default)]
pub struct Options {
    pub criteria: Criteria,
    /// Smallest size considered (default 1: empty files are never linked).
    pub min_size: u64,
    /// Largest size considered; 0 = no limit.
    pub max_size: u64,
    pub dry_run: bool,
    /// With `--from`: the (dev, ino) of the files that may be replaced.
    pub fresh: Option<HashSet<(u64, u64)>>,
    /// Threads for reading, comparing and linking (0 = rayon's default).
    pub threads: usize,
}

/// Counts for the summary.
#[derive(Debug, Default)]
pub struct Totals {
    pub compared: AtomicU64,
    pub linked: AtomicU64,
    pub bytes_saved: AtomicU64,
    pub skipped: AtomicU64,
}

/// What files must share to be linked: device, size, the compared attributes, and the name
/// under `-f` (borrowed from the node's first path).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey<'a> {
    dev: u64,
    size: u64,
    attrs: AttrKey,
    name: Option<&'a std::ffi::OsStr>,
}

struct Ctx<'a> {
    scan: &'a Scan,
    opts: &'a Options,
    run: &'a Run,
    totals: &'a Totals,
    hook: Once,
}

/// Finds and links the identical files of a scan.
pub fn link_all(scan: &Scan, opts: &Options, run: &Run) -> Totals {
    let totals = Totals::default();
    // Grouping by sorting (on all cores) rather than hashing: a key and a node number per file,
    // no map sized for the whole tree, and the singletons (most files) simply fall out.
    let mut keyed: Vec<(GroupKey<'_>, usize)> = scan
        .nodes
        .iter()
        .filter(|(_, node)| {
            let size = node.snap.size;
            size >= opts.min_size && (opts.max_size == 0 || size <= opts.max_size)
        })
        .map(|(i, node)| {
            let name = if opts.criteria.respect_name {
                node.paths[0].rel.file_name()
            } else {
                None
            };
            let key = GroupKey {
                dev: node.snap.dev,
                size: node.snap.size,
                attrs: node.attrs.clone(),
                name,
            };
            (key, i)
        })
        .collect();
    keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut groups: Vec<Vec<usize>> = keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() >= 2)
        .map(|run| run.iter().map(|&(_, i)| i).collect())
        .collect();
    drop(keyed);
    if let Some(fresh) = &opts.fresh {
        groups.retain(|g| g.iter().any(|&i| is_fresh(fresh, &scan.nodes[i])));
    }
    // Deterministic work order (records still interleave across threads).
    for g in &mut groups {
        g.sort_unstable_by(|&a, &b| scan.nodes[a].paths[0].cmp(&scan.nodes[b].paths[0]));
    }
    groups.sort_unstable_by(|a, b| scan.nodes[a[0]].paths[0].cmp(&scan.nodes[b[0]].paths[0]));
    let ctx = Ctx {
        scan,
        opts,
        run,
        totals: &totals,
        hook: Once::new(),
    };
    if groups.is_empty() {
        return totals;
    }
    if groups.iter().map(Vec::len).sum::<usize>() < SMALL_WORK_FILES {
        groups.into_par_iter().for_each(|g| ctx.group(g));
        return totals;
    }
    // Reading and linking wait on the disk and the journal: a pool larger than the CPU count
    // keeps more of them in flight.
    match rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
    {
        Ok(pool) => pool.install(|| groups.into_par_iter().for_each(|g| ctx.group(g))),
        Err(_) => groups.into_par_iter().for_each(|g| ctx.group(g)),
    }
    totals
}

fn is_fresh(fresh: &HashSet<(u64, u64)>, node: &Node) -> bool {
    fresh.contains(&(node.snap.dev, node.snap.ino))
}

impl Ctx<'_> {
    fn node(&self, i: usize) -> &Node {
        &self.scan.nodes[i]
    }

    fn abs(&self, i: usize) -> PathBuf {
        self.scan.abs(&self.node(i).paths[0])
    }

    fn read_error(&self, i: usize, err: &std::io::Error) {
        let p = &self.node(i).paths[0];
        self.run
            .error(&self.scan.roots[p.root as usize], &p.rel, "read", err);
    }

    fn group(&self, mut members: Vec<usize>) {
        if self.opts.criteria.respect_xattrs {
            let blobs: Vec<(usize, Option<Vec<u8>>)> = members
                .par_iter()
                .map(|&i| match xattr_blob(&self.abs(i)) {
                    Ok(b) => (i, Some(b)),
                    Err(e) => {
                        self.read_error(i, &e);
                        (i, None)
                    }
                })
                .collect();
            let mut by: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
            for (i, blob) in blobs {
                let Some(blob) = blob else { continue };
                match by.iter_mut().find(|(b, _)| *b == blob) {
                    Some((_, v)) => v.push(i),
                    None => by.push((blob, vec![i])),
                }
            }
            for (_, sub) in by {
                if sub.len() >= 2 {
                    self.split_by_content(sub);
                }
            }
            return;
        }
        members.sort_unstable();
        if members.len() == 2 {
            self.split_pair(members);
        } else {
            self.split_by_content(members);
        }
    }

    /// [`Self::split_by_content`] for two files: their edges are compared directly (no digest,
    /// no parallel reads), the last block first: same-size files that differ (all a re-run finds
    /// among them) nearly always differ there, whatever their headers share (a file appended to,
    /// a compressed payload, an image with a common header), so they cost one read each.
    fn split_pair(&self, mut members: Vec<usize>) {
        let size = self.node(members[0]).snap.size;
        self.survivor_order(&mut members);
        let (a, b) = (members[0], members[1]);
        let open = |i: usize| match File::open(self.abs(i)) {
            Ok(f) => Some(f),
            Err(e) => {
                self.read_error(i, &e);
                None
            }
        };
        let (Some(fa), Some(fb)) = (open(a), open(b)) else {
            return;
        };
        let same = |part: fn(&File, u64) -> std::io::Result<Vec<u8>>| {
            let read = |f: &File, i: usize| match part(f, size) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.read_error(i, &e);
                    None
                }
            };
            let (x, y) = (read(&fa, a), read(&fb, b));
            x.is_some() && x == y
        };
        if (size > 2 * EDGE && !same(tail)) || !same(head) {
            return;
        }
        drop((fa, fb));
        // Files of at most 2 * EDGE bytes were read whole already.
        self.link_class(members, size <= 2 * EDGE);
    }

    /// Survivor order: newest mtime first, then the smallest absolute path.
    fn survivor_order(&self, members: &mut [usize]) {
        let key = |i: usize| {
            let n = self.node(i);
            (
                std::cmp::Reverse((n.snap.mtime, n.snap.mtime_nsec)),
                std::os::unix::ffi::OsStringExt::into_vec(self.abs(i).into_os_string()),
            )
        };
        let mut keyed: Vec<_> = members.iter().map(|&i| (key(i), i)).collect();
        keyed.sort();
        for (slot, (_, i)) in members.iter_mut().zip(keyed) {
            *slot = i;
        }
    }

    fn split_by_content(&self, mut members: Vec<usize>) {
        let size = self.node(members[0]).snap.size;
        self.survivor_order(&mut members);
        let digests: Vec<Option<[u8; 32]>> = members
            .par_iter()
            .map(|&i| match edge_digest(&self.abs(i), size) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.read_error(i, &e);
                    None
                }
            })
            .collect();
        for bucket in buckets(&members, &digests) {
            if bucket.len() > DIRECT_COMPARE_MAX && size > 2 * EDGE {
                for sub in self.split_by_full_digest(&bucket) {
                    self.link_class(sub, true);
                }
            } else {
                // Files of at most 2 * EDGE bytes were digested whole already.
                self.link_class(bucket, size <= 2 * EDGE);
            }
        }
    }

    /// Links the members of one candidate class (in survivor order) after confirming each byte
    /// for byte; members that turn out different are tried against the next survivor. When more
    /// than two are left over and they were not split by a full digest yet, they are split first,
    /// so a class of many look-alikes costs a linear number of reads, not a quadratic one.
    fn link_class(&self, mut remaining: Vec<usize>, mut hashed: bool) {
        let fresh = self.opts.fresh.as_ref();
        let is_fresh = |i: usize| fresh.is_none_or(|f| is_fresh(f, self.node(i)));
        let size = self.node(remaining[0]).snap.size;
        while remaining.len() >= 2 && remaining.iter().any(|&i| is_fresh(i)) {
            let si = remaining.iter().position(|&i| !is_fresh(i)).unwrap_or(0);
            let mut survivor = remaining.remove(si);
            let mut rest = Vec::new();
            for v in remaining {
                let (sn, vn) = (self.node(survivor), self.node(v));
                if !is_fresh(v) {
                    rest.push(v);
                    continue;
                }
                if (sn.snap.dev, sn.snap.ino) == (vn.snap.dev, vn.snap.ino) {
                    continue; // the same inode under another name (-f)
                }
                self.totals.compared.fetch_add(1, Ordering::Relaxed);
                match files_equal(&self.abs(survivor), &self.abs(v), sn.snap.size) {
                    Ok(true) => {
                        if self.replace(survivor, v) == Replaced::SurvivorFull {
                            survivor = v;
                        }
                    }
                    Ok(false) => rest.push(v),
                    Err(e) => self.read_error(v, &e),
                }
            }
            if rest.len() > 2 && !hashed && size > 2 * EDGE {
                for bucket in self.split_by_full_digest(&rest) {
                    self.link_class(bucket, true);
                }
                return;
            }
            hashed = hashed || rest.len() <= 2;
            remaining = rest;
        }
    }

    fn split_by_full_digest(&self, members: &[usize]) -> Vec<Vec<usize>> {
        let full: Vec<Option<[u8; 32]>> = members
            .par_iter()
            .map(|&i| match full_digest(&self.abs(i)) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.read_error(i, &e);
                    None
                }
            })
            .collect();
        buckets(members, &full)
    }

    /// Replaces every path of node `v` by a link to node `s`.
    fn replace(&self, s: usize, v: usize) -> Replaced {
        let (sn, vn) = (self.node(s), self.node(v));
        let target = &sn.paths[0];
        let target_abs = self.scan.abs(target);
        let mut replaced = 0usize;
        // Last name first: if the survivor runs out of links half-way, the first name of the
        // victim is still its own, and the victim can take over as survivor.
        for p in vn.paths.iter().rev() {
            let root = &self.scan.roots[p.root as usize];
            let mut rec = Record::new("link")
                .at(root, &p.rel)
                .with_path("target", &target.rel);
            if target.root != p.root {
                rec = rec.with_path("target_root", &self.scan.roots[target.root as usize]);
            }
            rec = rec.with("size", vn.snap.size);
            if self.opts.dry_run {
                self.run.emit(&rec.with("dry_run", true));
                replaced += 1;
                continue;
            }
            self.hook.call_once(run_test_hook);
            match link_over(&target_abs, &sn.snap, &self.scan.abs(p), &vn.snap) {
                Ok(()) => {
                    self.run.emit(&rec);
                    replaced += 1;
                }
                Err(LinkError::Changed(why)) => {
                    self.totals.skipped.fetch_add(1, Ordering::Relaxed);
                    self.run.emit(
                        &Record::new("skip")
                            .at(root, &p.rel)
                            .with("reason", "changed")
                            .with("message", why),
                    );
                    self.run.warn(&format!(
                        "{}: {why}; not linked",
                        root.join(&p.rel).display()
                    ));
                }
                Err(LinkError::Io("link", e))
                    if e.raw_os_error() == Some(rustix::io::Errno::MLINK.raw_os_error()) =>
                {
                    // The survivor has as many links as the filesystem allows: the rest of the
                    // class links to this file instead (util-linux does the same).
                    self.count(vn, replaced);
                    return Replaced::SurvivorFull;
                }
                Err(LinkError::Io(op, e)) => self.run.error(root, &p.rel, op, &e),
            }
        }
        self.count(vn, replaced);
        Replaced::Done
    }

    fn count(&self, vn: &Node, replaced: usize) {
        self.totals
            .linked
            .fetch_add(replaced as u64, Ordering::Relaxed);
        // Space comes back only when no name of the old inode is left.
        if replaced > 0 && replaced == vn.paths.len() && vn.nlink == replaced as u64 {
            self.totals
                .bytes_saved
                .fetch_add(vn.snap.size, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Replaced {
    Done,
    SurvivorFull,
}

/// Splits `members` (in order) by digest, keeping the order inside each bucket and ordering the
/// buckets by their first member; members without a digest (read errors) are dropped, and
/// buckets of one are dropped.
fn buckets(members: &[usize], digests: &[Option<[u8; 32]>]) -> Vec<Vec<usize>> {
    let mut index: HashMap<[u8; 32], usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (&m, d) in members.iter().zip(digests) {
        let Some(d) = d else { continue };
        match index.get(d) {
            Some(&b) => out[b].push(m),
            None => {
                index.insert(*d, out.len());
                out.push(vec![m]);
            }
        }
    }
    out.retain(|b| b.len() >= 2);
    out
}

fn run_test_hook() {
    if let Some(cmd) = std::env::var_os(TEST_HOOK_ENV) {
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// The (dev, ino) of the files named by upstream records, for `--from`; files that do not exist
/// (deleted upstream) or are not regular files are left out.
pub fn fresh_inodes(paths: &[PathBuf]) -> HashSet<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    paths
        .par_iter()
        .filter_map(|p| std::fs::symlink_metadata(Path::new(p)).ok())
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_order_and_drop_singles_and_errors() {
        let a = Some([1u8; 32]);
        let b = Some([2u8; 32]);
        let got = buckets(&[10, 11, 12, 13, 14], &[b, a, b, None, a]);
        assert_eq!(got, vec![vec![10, 12], vec![11, 14]]);
        assert!(buckets(&[1, 2], &[a, b]).is_empty());
    }
}
