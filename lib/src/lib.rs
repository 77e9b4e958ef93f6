//! rl-core: what the rl-* tools share.
//!
//! One module, one idea:
//! * [`record`] — the JSON-lines record protocol (schema documented there), the run harness, exit statuses.
//! * [`upstream`] — reading upstream records from stdin.
//! * [`shorten`] — messages cut to a bounded length (inputs quoted in errors can be huge).
//! * [`walk`] — tree walking with relative paths.
//! * [`parwalk`] — parallel tree walking when order does not matter.
//! * [`fsx`] — atomic file replacement, the temporaries' naming scheme.
//! * [`beneath`] — a tree reached only through descriptors: every change below a root.
//! * [`tempclean`] — removing a killed run's temporaries, with records.
//! * [`lock`] — whole-run lock files (flock).
//! * [`netfs`] — network filesystems (NFS, FUSE, …) and the I/O depth they need.
//! * [`mountpoint`] — whether a directory is `/` or a mount point (trees tools refuse by default).
//! * [`hash`] — streaming SHA-256 / SHA-1, parallel over files.
//! * [`progress`] — progress bars on stderr when it is a terminal.
//! * [`cli`] — man pages and shared help texts.
//! * [`checksum`] — the CHECKSUM file format.
//! * [`compare`] — byte-for-byte comparison of two files.
//! * [`duration`] — human durations (`24h`, `90m`, `2d`) on the command line.
//! * [`entry_kind`] — what a directory entry is (dir, file, symlink, other), for every walker.
//! * [`nofollow`] — descriptor-based walks and mode changes that never follow a symlink.
//! * [`stagestate`] — the staging record of a release root (rl-bitflip).
//! * [`bencode`] — the bencode encoding of `.torrent` files.
//! * [`sha1_lanes`] — SHA-1 of four equally long messages at once (torrent pieces).
//! * [`torrent`] — torrent metainfo: content selection, parallel piece hashing, reading, verifying.
//! * [`compose`] — the pungi compose layout: STATUS, productmd metadata, repository discovery.
//! * [`release`] — release naming: revisions, latest-link and image names.
//! * [`release_data`] — the per-major release data file the scripts source too.
//! * [`treeinfo`] — `.treeinfo` files as ConfigParser reads and writes them, the variant edit.
//! * [`filelist`] — the mirror file lists (`fullfiletimelist-*`, `fullfilelist`).
//! * [`repodata`] — RPM repository metadata (repomd.xml, primary, filelists; any compression).
//! * [`xml_guard`] — bounds on one XML token's size (a decompression bomb costs no memory).
//! * [`rpmvercmp`] — RPM version comparison and versioned-dependency matching.
//! * [`closure`] — repository dependency closure (provides index, rich dependencies, dnf's rules).
//! * [`exclude`] — rsync's exclude-pattern rules (`--exclude`, `--exclude-from`).

pub mod bencode;
pub mod beneath;
pub mod checksum;
pub mod cli;
pub mod closure;
pub mod compare;
pub mod compose;
pub mod duration;
pub mod entry_kind;
pub mod exclude;
pub mod filelist;
pub mod fsx;
pub mod hash;
pub mod lock;
pub mod mountpoint;
pub mod netfs;
pub mod nofollow;
pub mod parwalk;
pub mod progress;
pub mod record;
pub mod release;
pub mod release_data;
pub mod repodata;
pub mod rpmvercmp;
pub mod sha1_lanes;
pub mod shorten;
pub mod stagestate;
pub mod tempclean;
pub mod torrent;
pub mod treeinfo;
pub mod upstream;
pub mod walk;
pub mod xml_guard;

pub use record::{Record, Run, Status};
