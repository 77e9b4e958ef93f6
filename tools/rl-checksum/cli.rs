//! Command line of rl-checksum.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rl_core::progress::When;

const CREATE_EVENTS: &str = "\
Records written (JSON lines on stdout):
  start       first record
  checksum    one per file hashed: root, path, size, sha256
  write       one per CHECKSUM file: root, path, outcome (created, replaced, unchanged), entries
  delete      a killed run's temporary of a CHECKSUM file removed: root, path, reason
  error       a file that could not be hashed or written: root, path, op, kind, message
  summary     last record: files, bytes, written, unchanged, errors

Examples:
  rl-checksum create isos/x86_64 isos/aarch64
  rl-checksum create --pattern '*.qcow2' --pattern '*.raw' --no-side-files images/x86_64
  rl-compose images DIR | rl-checksum create --event image -
  rl-checksum create isos/x86_64 | rl-checksum verify -";

const VERIFY_EVENTS: &str = "\
Records written (JSON lines on stdout):
  start       first record
  ok          the file matches: root, path, size, sha256, list, line
  mismatch    the file differs: root, path, expected, actual, list, line
  missing     the file is not there: root, path, list, line
  error       a malformed line (op parse, with the line number) or an unreadable file
  summary     last record: ok, mismatch, missing, malformed, errors

Exit status 1 when any file is missing or differs, 2 when a CHECKSUM file is malformed or a
file cannot be read (even if everything else verified).

Examples:
  rl-checksum verify isos/x86_64/CHECKSUM
  rl-checksum verify isos/*/*.CHECKSUM | jq -c 'select(.event != \"ok\")'";

/// Write and verify CHECKSUM files.
///
/// Replaces the toolkit's `sha256sum --tag` loops (minor-release-sync-to-staging.sh,
/// symlink-images-and-checksum.sh, the lh/beta image steps) and the release-day check "data
/// verified using sha256sum and compared to the CHECKSUM files". Files are hashed in parallel
/// with the CPU's SHA instructions; every CHECKSUM file is written atomically and only when its
/// bytes change, so a re-run never duplicates lines and never changes an mtime for nothing.
/// Each directory that gets a CHECKSUM is opened before hashing starts, below the upstream
/// record's root without following a symlink: a directory swapped for a symlink during the run
/// is an error, never a CHECKSUM written elsewhere.
#[derive(Parser)]
#[command(name = "rl-checksum", version, after_long_help = rl_core::cli::EXIT_STATUS)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write <file>.CHECKSUM per file and the directory's CHECKSUM.
    ///
    /// For each file the entry is exactly what the toolkit's
    /// `printf "# %s: %s bytes\n%s\n" F "$(stat -c %s F -L)" "$(sha256sum --tag F)"` writes:
    /// symlinks (the Rocky-X-latest-* links) are hashed through, with the size of their target
    /// and the name of the link. The directory's CHECKSUM is the concatenation of its *.CHECKSUM
    /// files in byte order of their names, like `cat ./*.CHECKSUM > CHECKSUM` in the C locale.
    #[command(after_long_help = CREATE_EVENTS)]
    Create(CreateArgs),
    /// Check every entry of CHECKSUM files against the files on disk.
    ///
    /// Accepts what `sha256sum --tag`, `sha256sum` and pungi write: `#` comments, CRLF line ends,
    /// blank lines. Any other line is reported as malformed with its number instead of guessed at.
    /// Names are relative to the directory of the CHECKSUM file.
    #[command(after_long_help = VERIFY_EVENTS)]
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Directories (their files matching --pattern), files, or `-` to read upstream records.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,

    /// Shell glob on file names selecting the files of a directory (repeatable). With files
    /// or `-`, only filters when given.
    #[arg(long = "pattern", value_name = "GLOB")]
    pub patterns: Vec<String>,

    /// Do not write <file>.CHECKSUM side files; the directory's CHECKSUM is then made from the
    /// entries of the files hashed in this run (symlink-images-and-checksum.sh style).
    #[arg(long)]
    pub no_side_files: bool,

    /// Do not write the directory's combined CHECKSUM.
    #[arg(long, conflicts_with = "no_side_files")]
    pub no_combined: bool,

    /// Name of the combined file in each directory.
    #[arg(long, default_value = "CHECKSUM", value_name = "NAME")]
    pub combined_name: String,

    #[command(flatten)]
    pub upstream: UpstreamArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Hash and report, but write nothing (records carry "dry_run": true).
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// CHECKSUM files, or `-` to read upstream records: a record with a `sha256` field is
    /// checked directly against its file, any other taken record names a CHECKSUM file.
    #[arg(required = true, value_name = "CHECKSUM")]
    pub lists: Vec<PathBuf>,

    /// Do not report files that are not there (like `sha256sum --ignore-missing`).
    #[arg(long)]
    pub ignore_missing: bool,

    #[command(flatten)]
    pub upstream: UpstreamArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args)]
pub struct UpstreamArgs {
    /// With `-`: take only records of this event (repeatable). Default for create: every
    /// record with root and path; for verify: `checksum` and `write`.
    #[arg(long = "event", value_name = "NAME")]
    pub events: Vec<String>,

    /// With `-`: pass the records not taken through to stdout unchanged.
    #[arg(long)]
    pub pass: bool,
}

#[derive(Args)]
pub struct CommonArgs {
    /// Files hashed at once (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = When::Auto, value_name = "WHEN")]
    pub progress: When,
}
