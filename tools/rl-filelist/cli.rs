//! Command line of rl-filelist.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EVENTS: &str = "\
Events (stdout, JSON lines; with no subcommand only when -t names a file):
  start     first record
  list      a list file was written or checked: root, path, kind (timelist, alias, old,
            fullfilelist, filelist, imagelist), outcome (created, replaced, unchanged),
            entries, bytes
  added     diff: an entry only in NEW (path, type, size, modtime)
  removed   diff: an entry only in OLD
  changed   diff: an entry whose type, size or modtime differ (new values, and old:{…})
  error     a failure on one file or directory (the list it belongs to is not replaced)
  summary   last record: counts, errors, elapsed

With no subcommand, rl-filelist is create-filelist: the same options under the same
letters, the same bytes, so /usr/local/bin/create-filelist can be a link to it.

";

/// The help text after the options: events, then exit statuses.
pub fn after_help() -> String {
    format!("{EVENTS}{}", rl_core::cli::EXIT_STATUS)
}

/// Write the mirror file lists (fullfiletimelist-*, fullfilelist), byte-compatible with
/// create-filelist and `find .`.
#[derive(Parser)]
#[command(
    name = "rl-filelist",
    version,
    args_conflicts_with_subcommands = true,
    after_long_help = after_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    #[command(flatten)]
    pub compat: Compat,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Write fullfiletimelist-NAME, its -old copy, its aliases and fullfilelist for one or
    /// more roots, in parallel, under one lock; a list whose bytes would not change is left
    /// untouched.
    ///
    /// Every file is written to a temporary name and renamed into place. A time list never
    /// lists the files this run writes (like create-filelist -s, extended to the lists of
    /// roots nested inside it), so an unchanged tree gives byte-identical lists. fullfilelist
    /// is `find .` (nothing filtered but rl-tools' temporaries), so it names itself from the
    /// second run on, as `find . > fullfilelist` does. A scan that could not read everything
    /// replaces nothing.
    ///
    /// Each root is opened when the run starts (a root inside another root of the run is
    /// reopened from the outer one without following a symlink; a symlink there is refused),
    /// scanned through that descriptor and written through it: a root swapped for a symlink
    /// during the run never gets a list written into the place the link points to.
    #[command(after_long_help = after_help())]
    Write(WriteArgs),
    /// Compare two file lists, or a list and a live tree: added, removed and changed entries
    /// (what a mirror would transfer). Exit 1 when they differ.
    #[command(after_long_help = after_help())]
    Diff(DiffArgs),
}

/// Which checksum sections to write.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Sections {
    /// SHA1, MD5, SHA256 and SHA512 (Fedora's create-filelist since 2024)
    All,
    /// SHA1 only (quick-fedora-mirror's create-filelist of 2019)
    Sha1,
}

impl Sections {
    pub fn algos(self) -> &'static [rl_core::filelist::Algo] {
        match self {
            Sections::All => &rl_core::filelist::ALL_ALGOS,
            Sections::Sha1 => &rl_core::filelist::SHA1_ONLY,
        }
    }
}

/// create-filelist's options (used when no subcommand is given).
#[derive(Args)]
pub struct Compat {
    /// Include checksums of all repomd.xml files in the file list
    #[arg(short = 'c', long)]
    pub checksum: bool,
    /// Include checksums of all instances of the specified file (repeatable)
    #[arg(short = 'C', long = "checksum-file", value_name = "NAME")]
    pub checksum_file: Vec<OsString>,
    /// Skip the file lists in the top directory
    #[arg(short = 's', long)]
    pub skip: bool,
    /// Skip the specified file in the top directory (repeatable)
    #[arg(short = 'S', long = "skip-file", value_name = "NAME")]
    pub skip_file: Vec<OsString>,
    /// Directory to scan
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Filename of the file list with times (default: stdout); written atomically
    #[arg(short = 't', long, value_name = "FILE")]
    pub timelist: Option<PathBuf>,
    /// Filename of the file list without times (default: none)
    #[arg(short = 'f', long, value_name = "FILE")]
    pub filelist: Option<PathBuf>,
    /// Filename of the image file list for fedfind (default: none)
    #[arg(short = 'i', long, value_name = "FILE")]
    pub imagelist: Option<PathBuf>,
    /// Checksum sections to write
    #[arg(long, value_enum, default_value = "all")]
    pub checksum_sections: Sections,
    /// Treat a name that is not UTF-8 or holds a tab or newline as an error (MirrorManager's
    /// scan-primary-mirror aborts on such a list)
    #[arg(long)]
    pub strict_names: bool,
}

#[derive(Args)]
pub struct WriteArgs {
    /// A tree and the name of its list: DIR:NAME writes DIR/fullfiletimelist-NAME;
    /// DIR:NAME:ALIAS,ALIAS… also writes identical copies under the alias names
    /// (e.g. PROD/mirror/pub/rocky:rocky:fullfiletimelist,fullfiletimelist-rocky-linux).
    /// Repeatable; roots are listed in parallel.
    #[arg(long = "root", value_name = "DIR:NAME[:ALIASES]", required = true)]
    pub roots: Vec<String>,
    /// Lock file held for the whole run, as `flock -x` [default: rl-filelist.lock in
    /// /run/lock, else $XDG_RUNTIME_DIR, else $TMPDIR; shared by every user of the host]
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Fail (exit 3) instead of waiting when another run holds the lock
    #[arg(long)]
    pub no_wait: bool,
    /// Do not write fullfilelist (the `find .` list)
    #[arg(long)]
    pub no_fullfilelist: bool,
    /// Name everything in fullfilelist, as the toolkit's `find .` run as root does; by default
    /// the contents of a directory others cannot enter (a staged release, 0750) are left out,
    /// so the public list names only what a public mirror can see (the time list marks them)
    #[arg(long)]
    pub fullfilelist_all: bool,
    /// Do not keep the previous list as <list>-old
    #[arg(long)]
    pub no_old: bool,
    /// Include checksums of all repomd.xml files
    #[arg(short = 'c', long)]
    pub checksum: bool,
    /// Include checksums of all instances of the specified file (repeatable)
    #[arg(short = 'C', long = "checksum-file", value_name = "NAME")]
    pub checksum_file: Vec<OsString>,
    /// Checksum sections to write
    #[arg(long, value_enum, default_value = "all")]
    pub checksum_sections: Sections,
    /// Refuse to replace a list with a name that is not UTF-8 or holds a tab or newline
    /// (MirrorManager's scan-primary-mirror aborts on such a list)
    #[arg(long)]
    pub strict_names: bool,
    /// Give every list this run writes this numeric owner, as the scripts'
    /// `chown 10004:10005` (needs the privilege to chown)
    #[arg(long, value_name = "UID:GID", value_parser = parse_owner)]
    pub chown: Option<(u32, u32)>,
    /// Report what would be written; change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// Parses `UID:GID` (numbers).
pub fn parse_owner(s: &str) -> Result<(u32, u32), String> {
    let (u, g) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected UID:GID, e.g. 10004:10005"))?;
    let num = |x: &str| {
        x.parse::<u32>()
            .map_err(|_| format!("{x:?} is not a numeric id (UID:GID, e.g. 10004:10005)"))
    };
    Ok((num(u)?, num(g)?))
}

#[derive(Args)]
pub struct DiffArgs {
    /// The older list (a fullfiletimelist file, or a directory to scan)
    pub old: PathBuf,
    /// The newer list (a fullfiletimelist file, or a directory to scan)
    pub new: PathBuf,
    /// When scanning a directory, keep the list files themselves (fullfilelist*,
    /// fullfiletimelist*), which are left out by default because no list names them
    #[arg(long)]
    pub keep_lists: bool,
}
