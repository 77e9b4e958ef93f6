//! Whether a tree lives on a network filesystem, and how many operations to keep in flight there.
//!
//! On local disk a metadata operation costs microseconds and the tools use about as many threads
//! as cores. On NFS/EFS, CIFS, Lustre, Ceph or FUSE each lookup, getattr, create or rename is a
//! network round trip (0.2–3 ms), and only many operations in flight hide it: there the tools
//! use an I/O depth of [`NETWORK_DEPTH`] (threads waiting on the server, not the CPU).
//! `RL_IO_DEPTH=N` overrides the choice everywhere.

use std::path::Path;

/// Threads kept busy on a network filesystem.
pub const NETWORK_DEPTH: usize = 64;

/// The `statfs` magic numbers of the filesystems where every metadata operation is a round trip.
const NETWORK: [(i64, &str); 11] = [
    (0x6969, "nfs"),
    (0x6573_5546, "fuse"),
    (0xFF53_4D42, "cifs"),
    (0xFE53_4D42, "smb2"),
    (0x517B, "smb"),
    (0x0BD0_0BD0, "lustre"),
    (0x00C3_6400, "ceph"),
    (0x0102_1997, "9p"),
    (0x5346_414F, "afs"),
    (0x6B41_4653, "kafs"),
    (0x7461_636F, "ocfs2"),
];

/// The network filesystem `path` is on (`nfs`, `fuse`, …), `None` for a local one or when it
/// cannot be told (a path that does not exist yet: its nearest existing ancestor is asked).
pub fn network_kind(path: &Path) -> Option<&'static str> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statfs::statfs(existing).ok()?;
    // The field's C type differs between targets (`long`, `unsigned int`, …).
    #[allow(clippy::unnecessary_cast)]
    let t = st.filesystem_type().0 as i64;
    NETWORK.iter().find(|(m, _)| *m == t).map(|(_, name)| *name)
}

/// How many operations to keep in flight for trees at `paths`: `RL_IO_DEPTH` when set to a
/// positive number, [`NETWORK_DEPTH`] when any of them is on a network filesystem (and
/// `local_default` is smaller), `local_default` otherwise.
pub fn io_depth(paths: &[&Path], local_default: usize) -> usize {
    if let Some(n) = std::env::var("RL_IO_DEPTH")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    if paths.iter().any(|p| network_kind(p).is_some()) {
        local_default.max(NETWORK_DEPTH)
    } else {
        local_default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_trees_keep_the_local_default() {
        let d = tempfile::tempdir().unwrap();
        // /tmp may be tmpfs or a disk: either is local.
        assert_eq!(network_kind(d.path()), None);
        assert_eq!(network_kind(&d.path().join("not/yet/made")), None);
        if std::env::var_os("RL_IO_DEPTH").is_none() {
            assert_eq!(io_depth(&[d.path()], 4), 4);
        }
    }
}
