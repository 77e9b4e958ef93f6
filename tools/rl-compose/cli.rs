//! Command line of rl-compose: the subcommands and their arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The tool name in records.
pub const TOOL: &str = "rl-compose";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const EVENTS: &str = "\
Events (JSON lines on stdout, `start` first and `summary` last):
  compose    locate, info: the compose directory (root), its id, STATUS, release
  variant    info: one per variant of composeinfo.json (uid, id, name, type, arches)
  repo       repos: one per repository (variant, arch, kind, path, comps, modules)
  image      images: one per ISO, cloud or live image (variant, arch, type, format, size, digests)
  unsigned   unsigned: one per package without the wanted signing key
  mkdir, move, rename, delete, rmdir, symlink
             prepare: one per change made in the compose (\"dry_run\":true with --dry-run)
  manifest   manifest: one per ISO (the .manifest path, entries, written|unchanged)
  treeinfo   treeinfo: one per file edited or checked (added|paths_set|present, written|unchanged)
  error      a failure on one file (op, kind, message); also one line on stderr";

/// Read, gate and prepare a pungi compose: locate `latest-<SHORT>-<MAJOR>`, check STATUS, list
/// repositories, images and unsigned packages from productmd metadata, do the pre-sync work of
/// the minor-release/lh/beta scripts idempotently, write ISO manifests and edit .treeinfo files.
#[derive(Parser)]
#[command(name = "rl-compose", version, after_long_help = after_help())]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Cmd,
}

fn after_help() -> String {
    format!("{EVENTS}\n\n{}", rl_core::cli::EXIT_STATUS)
}

/// Release line (`RLREL`).
#[derive(Clone, Copy, ValueEnum, Debug)]
pub enum Release {
    Stable,
    Beta,
    Lh,
}

impl Release {
    pub fn to_type(self) -> rl_core::release::ReleaseType {
        use rl_core::release::ReleaseType;
        match self {
            Release::Stable => ReleaseType::Stable,
            Release::Beta => ReleaseType::Beta,
            Release::Lh => ReleaseType::Lh,
        }
    }
}

/// What `info` requires of STATUS.
#[derive(Clone, Copy, ValueEnum, Debug, PartialEq, Eq)]
pub enum Require {
    /// STATUS must be FINISHED (FINISHED_INCOMPLETE with --allow-incomplete).
    Finished,
}

/// Repository kind.
#[derive(Clone, Copy, ValueEnum, Debug)]
pub enum Kind {
    Os,
    Debug,
    Source,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Check that every requirement in a set of repositories is provided, as dnf repoclosure does.
    Closure(crate::closure::ClosureArgs),
    /// Print the compose directory common_X uses:
    /// COMPOSE_ROOT/MAJOR[COMPOSE_APPEND]/latest-SHORT-MAJOR, resolved, with its id.
    Locate {
        /// Major version (RLVER), e.g. 9.
        #[arg(long)]
        major: u32,
        /// Release line (RLREL): picks COMPOSE_APPEND (lh: -LookAhead, beta: -beta for 9, -BETA
        /// otherwise, as common_X; note the beta sync script itself hard-codes -BETA).
        #[arg(long, value_enum, default_value = "stable")]
        release: Release,
        /// Compose name (SHORT): Rocky, Extras, Rocky-devel, SIG-<name>.
        #[arg(long, default_value = "Rocky")]
        short: String,
        /// Where the per-major compose directories live.
        #[arg(long, default_value = "/mnt/compose")]
        compose_root: PathBuf,
    },
    /// Show STATUS, id, date, type, respin, release and variants (composeinfo.json); optionally
    /// gate on STATUS.
    Info {
        /// The compose directory (or its compose/ subdirectory).
        dir: PathBuf,
        /// Exit 1 unless STATUS is FINISHED (DOOMED, STARTED, TERMINATED, a missing STATUS fail).
        #[arg(long, value_enum)]
        require: Option<Require>,
        /// With --require finished, accept FINISHED_INCOMPLETE too.
        #[arg(long)]
        allow_incomplete: bool,
    },
    /// List every repository (directories holding repodata/, like `find compose -name repodata`).
    Repos {
        /// The compose directory (or its compose/ subdirectory).
        dir: PathBuf,
        /// Only this variant (BaseOS, AppStream, extras, …).
        #[arg(long)]
        variant: Option<String>,
        /// Only this arch (source repositories have arch `src`).
        #[arg(long)]
        arch: Option<String>,
        /// Only this kind.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
        /// Module metadata checkout holding <arch>/<Variant>-modules.yaml
        /// (default: <compose root>/<MAJOR>_metadata when it exists).
        #[arg(long)]
        module_metadata: Option<PathBuf>,
    },
    /// List ISOs, cloud and live images from metadata/images.json, or by scanning when absent.
    Images {
        /// The compose directory (or its compose/ subdirectory).
        dir: PathBuf,
        /// Scan the tree even when images.json exists (e.g. after `prepare` moved the files).
        #[arg(long)]
        scan: bool,
    },
    /// List packages without a signature, or signed with another key (metadata/rpms.json);
    /// exit 1 when there is any.
    Unsigned {
        /// The compose directory (or its compose/ subdirectory).
        dir: PathBuf,
        /// Accepted signing key ID (repeatable); without it only unsigned packages are listed.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    /// Do the pre-sync work inside the compose, idempotently: ISOs into isos/<arch>, images and
    /// live flattened, vagrant boxes renamed, latest links, Minimal and Cloud removed.
    ///
    /// The compose/ directory is opened once, before the plan is made, and every change goes
    /// through descriptors opened below it without following a symlink: a directory swapped for
    /// a symlink during the run is an error for what is below it, never a move or delete
    /// outside the compose.
    Prepare {
        /// The compose directory (or its compose/ subdirectory).
        dir: PathBuf,
        /// The release revision X.Y (REVISION), e.g. 9.7.
        #[arg(long)]
        revision: String,
        /// Release line (RLREL): lh and beta also remove the extra dated ISOs of non-BaseOS variants.
        #[arg(long, value_enum, default_value = "stable")]
        release: Release,
        /// Print the records of what would change; change nothing.
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Prepare even when STATUS is not FINISHED/FINISHED_INCOMPLETE or the revision does
        /// not match the compose's release version.
        #[arg(long)]
        force: bool,
    },
    /// Write <ISO>.manifest as `xorriso -dev F --find | tail -n+2 | tr -d "'" | cut -c2- | sort`
    /// (C-locale byte order), atomically, only when it changed.
    Manifest {
        /// ISO files (symlinks are followed; the manifest is named after the link), or `-` to
        /// take the `.iso` files of upstream records (e.g. `rl-compose images DIR --scan`).
        #[arg(required = true)]
        isos: Vec<PathBuf>,
        /// Print the records; write nothing.
        #[arg(short = 'n', long)]
        dry_run: bool,
        /// Line order: `c` is byte order (`LC_ALL=C sort`, the cron jobs' POSIX locale);
        /// `locale` runs the system `sort` in the caller's locale, as an interactive run of the
        /// script would.
        #[arg(long, value_enum, default_value = "c")]
        collate: crate::manifest::Collate,
        /// With `-`: the upstream event whose files are taken.
        #[arg(long, default_value = "image")]
        event: String,
        /// With `-`: pass the upstream records that are not taken through, unchanged.
        #[arg(long)]
        pass: bool,
    },
    /// Add a variant section to a BaseOS tree's .treeinfo (treeinfoModder/Kickstart) and keep
    /// the .treeinfo-pristine copy; idempotent.
    Treeinfo {
        /// The tree (BaseOS/<arch>/os or …/kickstart) or its .treeinfo file.
        tree: PathBuf,
        /// The variant to add (AppStream).
        #[arg(long, default_value = "AppStream")]
        add_variant: String,
        /// A kickstart tree: paths point at kickstart/, an existing section gets them rewritten.
        #[arg(long)]
        kickstart: bool,
        /// The arch in the paths (default: [tree] arch of the file).
        #[arg(long)]
        arch: Option<String>,
        /// Print the records; write nothing.
        #[arg(short = 'n', long)]
        dry_run: bool,
    },
}
