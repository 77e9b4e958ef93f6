//! rl-torrent: the release torrents — scaffold the per-ISO download directories, create
//! `.torrent` files with parallel piece hashing, verify data against a torrent, show a torrent.
//! Replaces `gen-torrents.sh` (torrenttools create over directories of symlinks).

mod create;
mod scaffold;
mod trackers;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand};
use rl_core::progress::When;

const EVENTS: &str = "\
Events written (JSON lines on stdout):
  start, summary   first and last record of every run
  torrent          create: one per torrent written (root = output dir, path = NAME.torrent, source,
                   name, info_hash, piece_length, pieces, size, files, written = created|replaced|unchanged)
  skip             create: an entry left out of a torrent (reason = hidden|excluded|broken_link|
                   linked_directory|special_file); broken links also warn on stderr
  ok               verify: every piece matches (info_hash, pieces, size)
  bad_piece        verify: a piece whose data differs or cannot be read (piece, offset, files)
  missing          verify: a file of the torrent that is not there
  size_mismatch    verify: a file whose size differs from the torrent's
  metainfo         show: the whole metainfo as one record
  scaffold         scaffold: one per download directory (state = created|exists, links)
  error            a failure (path, op, kind, message), also one line on stderr

create refuses (exit 3) an output directory inside the content it would describe: the next
run would put the torrent into its own payload.
";

fn after_help() -> String {
    format!("{EVENTS}\n{}", rl_core::cli::EXIT_STATUS)
}

/// Create, verify and show the release torrents; scaffold the per-ISO download directories.
#[derive(Parser)]
#[command(name = "rl-torrent", version, after_long_help = after_help())]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write one .torrent per directory (or file): NAME.torrent in the output directory.
    #[command(after_long_help = after_help())]
    Create(CreateArgs),
    /// Re-hash data on disk and compare it with a torrent's pieces (exit 1 on any difference).
    #[command(after_long_help = after_help())]
    Verify(VerifyArgs),
    /// Print a torrent's metainfo as one `metainfo` record.
    #[command(after_long_help = after_help())]
    Show(ShowArgs),
    /// Make the per-ISO download directories of symlinks (step 1 of gen-torrents.sh).
    #[command(after_long_help = after_help())]
    Scaffold(ScaffoldArgs),
}

#[derive(ClapArgs)]
pub struct CreateArgs {
    /// Directories (multi-file torrents) or files (single-file torrents) to make torrents of;
    /// `-` reads them from upstream records on stdin (root/path of each `--event` record).
    #[arg(required = true, value_name = "DIR")]
    targets: Vec<PathBuf>,
    /// With `-`: the upstream event whose records name the targets.
    #[arg(long, value_name = "NAME", default_value = "scaffold")]
    event: String,
    /// With `-`: pass other upstream records through verbatim.
    #[arg(long)]
    pass: bool,
    /// Tracker URLs, as mktorrent: each -a is one tier of `announce-list`, URLs separated by
    /// commas share their tier; the first URL is `announce`. Required unless --no-tracker.
    #[arg(short, long = "announce", value_name = "URL[,URL]")]
    announce: Vec<String>,
    /// Make torrents without a tracker (found through DHT and web seeds only).
    #[arg(long, conflicts_with = "announce")]
    no_tracker: bool,
    /// Web seed URLs (BEP 19 `url-list`, mktorrent's -w); repeat or separate with commas.
    #[arg(short = 'w', long = "web-seed", value_name = "URL[,URL]")]
    web_seed: Vec<String>,
    /// The torrent's comment (e.g. the release-notes URL).
    #[arg(short, long)]
    comment: Option<String>,
    /// Leave out files whose canonical path matches this regular expression, anchored at the
    /// start only, as torrenttools does (`.*/CHECKSUM.asc`). Repeatable.
    #[arg(short = 'x', long = "exclude", value_name = "REGEX")]
    exclude: Vec<String>,
    /// Directory the NAME.torrent files are written to (created if missing).
    #[arg(short, long = "output-dir", value_name = "OUT")]
    output_dir: PathBuf,
    /// Piece length in bytes (power of two, 16K..64M; suffixes K and M allowed). Default: the
    /// torrenttools rule 2^clamp(floor(log2(size)) - 9, 15, 24).
    #[arg(short = 'l', long, value_name = "N", value_parser = parse_size)]
    piece_length: Option<u64>,
    /// Mark the torrent private (info.private = 1; changes the info hash).
    #[arg(long)]
    private: bool,
    /// Creation date to write, in seconds since the epoch (default: now).
    #[arg(long, value_name = "SECS", conflicts_with = "no_date")]
    date: Option<i64>,
    /// Write no creation date (output depends only on the content and options).
    #[arg(long)]
    no_date: bool,
    /// The `created by` text.
    #[arg(long, value_name = "S", default_value = concat!("rl-torrent/", env!("CARGO_PKG_VERSION")))]
    created_by: String,
    /// Hashing threads (default: the number of CPUs).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Hash and report, but write nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
}

#[derive(ClapArgs)]
pub struct VerifyArgs {
    /// The .torrent file; `-` verifies the torrent of each upstream `torrent` record (from
    /// `rl-torrent create`) against its `source`.
    torrent: PathBuf,
    /// The data: the directory holding the torrent's files (for a multi-file torrent), or the
    /// file itself or its directory (for a single-file one). Not given with `-`.
    #[arg(value_name = "DIR")]
    content: Option<PathBuf>,
    /// Hashing threads (default: the number of CPUs).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    progress: When,
}

#[derive(ClapArgs)]
pub struct ShowArgs {
    /// The .torrent file.
    torrent: PathBuf,
}

#[derive(ClapArgs)]
pub struct ScaffoldArgs {
    /// The release's ISO directory, holding one sub-directory per architecture.
    #[arg(value_name = "ISODIR")]
    isodir: PathBuf,
    /// The release, e.g. 9.7.
    #[arg(long, value_name = "X.Y")]
    revision: String,
    /// Architectures; repeat or separate with commas.
    #[arg(long, required = true, value_delimiter = ',', value_name = "A")]
    arch: Vec<String>,
    /// Variants, in order.
    #[arg(long, value_delimiter = ',', default_value = "boot,minimal,dvd1,dvd")]
    variant: Vec<String>,
    /// Where the Rocky-X.Y-ARCH-VARIANT directories go.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// Report what would be made, make nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
}

/// `4194304`, `4M`, `4MiB`, `512K`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t.find(|c: char| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some(i) => {
            let mult = match t[i..].to_ascii_lowercase().as_str() {
                "k" | "kib" | "kb" => 1 << 10,
                "m" | "mib" | "mb" => 1 << 20,
                _ => {
                    return Err(format!(
                        "{s:?} is not a size (use e.g. 4194304, 512K or 4M)"
                    ));
                }
            };
            (&t[..i], mult)
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (use e.g. 4194304, 512K or 4M)"))?;
    let n = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if !rl_core::torrent::valid_piece_length(n) {
        return Err(format!(
            "{n} is not a power of two between 16 KiB and 64 MiB"
        ));
    }
    Ok(n)
}

fn jobs(j: Option<usize>) -> usize {
    j.filter(|&n| n > 0).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let args = Args::parse();
    let status = match args.command {
        Command::Create(a) => create::run(a),
        Command::Verify(a) => verify::run_verify(a),
        Command::Show(a) => verify::run_show(a),
        Command::Scaffold(a) => scaffold::run(a),
    };
    status.into()
}
