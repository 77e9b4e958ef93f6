//! rl-hardlink: replace identical files by hard links, with util-linux hardlink's criteria, in
//! parallel, atomically, and cheaply on an already linked tree.

mod content;
mod criteria;
mod link;
mod plan;
mod scan;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use rl_core::{Record, Run, Status};

use criteria::{Criteria, PathFilter, parse_size};
use plan::Options;

const AFTER_HELP: &str = "\
Criteria (util-linux hardlink 2.38 defaults): two files are linked when they have the same size,
device, full mode word, owner, group and mtime in whole seconds, and the same bytes. Empty files are
never linked, even with -s 0. Symbolic links are never followed, special files never touched, and files on
different filesystems never linked. Files that already share an inode are recognised and not read
again, so a second run costs little more than the walk.

-x/-i: each REGEX is matched unanchored against the file's absolute path (after realpath of DIR),
as util-linux 2.37+ does. A file is skipped when some -x matches and no -i matches, or when only -i
were given and none matches. Directories are always descended. The toolkit's call is
  rl-hardlink -x '.*\\.xml.*' -x '.*\\.treeinfo' -x '.*\\.discinfo' DIR
(EL8's older hardlink matched one -x against base names only; this tool follows util-linux.)

Which copy survives: among identical files the one with the newest mtime, then the smallest
absolute path (byte order), so two copies of a tree are linked the same way (util-linux keeps the
lowest inode number). Every other copy is compared byte for byte with it (digests are only a
filter), then replaced atomically: the survivor is hard-linked to a temporary name in the copy's
directory, the copy is checked to be unchanged (inode, size, mtime, mode, owner), and the temporary
is renamed over it. A name is never missing, even if the run is interrupted.

--from FILE: read upstream records (e.g. from rl-sync) and only replace the files they name
(root/path), linking them against every file under DIR (or under the records' roots when no DIR is
given). The survivor is then a file not named upstream, if one is identical.

Refused (exit 3, nothing read): a root that is `/`, or a mount point unless --allow-fs-root. A
filesystem root is never a release tree: `rl-hardlink -n /` would compare every file of the machine.

Events written:
  link     a file was replaced by a hard link: root, path, target (path under the same root it now
           shares an inode with; target_root when in another root), size; dry_run with --dry-run
  skip     a file changed between comparison and replacement and was left alone: root, path,
           reason, message
  error    a file or directory could not be read, linked or renamed (the file is left intact)
  summary  files (regular files considered), compared (byte-for-byte comparisons), linked (names
           replaced), bytes_saved (sizes of inodes whose last name was replaced), skipped

";

/// Replace identical files by hard links, like util-linux hardlink, in parallel and atomically.
#[derive(Parser)]
#[command(
    name = "rl-hardlink",
    version,
    after_long_help = format!("{AFTER_HELP}{}", rl_core::cli::EXIT_STATUS)
)]
struct Args {
    /// Directories to scan (recursively; symbolic links are not followed).
    #[arg(value_name = "DIR", required_unless_present = "from")]
    dirs: Vec<PathBuf>,

    /// Skip files whose absolute path matches REGEX (unanchored; repeatable).
    #[arg(short = 'x', long = "exclude", value_name = "REGEX", value_parser = regex_arg)]
    exclude: Vec<String>,

    /// Consider files whose path matches REGEX even when an -x matches; alone, consider only
    /// matching files (repeatable).
    #[arg(short = 'i', long = "include", value_name = "REGEX", value_parser = regex_arg)]
    include: Vec<String>,

    /// Change nothing; write the same records with "dry_run":true.
    #[arg(short = 'n', long)]
    dry_run: bool,

    /// Ignore the mode (permissions and type bits) when comparing.
    #[arg(short = 'p', long = "ignore-mode")]
    ignore_mode: bool,

    /// Ignore owner and group when comparing.
    #[arg(short = 'o', long = "ignore-owner")]
    ignore_owner: bool,

    /// Ignore the modification time when comparing.
    #[arg(short = 't', long = "ignore-time")]
    ignore_time: bool,

    /// Compare content only: -p -o -t, and turn off -f and -X.
    #[arg(short = 'c', long = "content")]
    content: bool,

    /// Also require the same extended attributes.
    #[arg(short = 'X', long = "respect-xattrs")]
    respect_xattrs: bool,

    /// Also require the same file name (basename).
    #[arg(short = 'f', long = "respect-name")]
    respect_name: bool,

    /// Only files of at least SIZE bytes (suffixes K, M, G… = KiB, MiB, GiB…; KB, MB… = 1000s).
    /// Empty files are never linked, even with -s 0 (as util-linux 2.38).
    #[arg(short = 's', long = "minimum-size", value_name = "SIZE", default_value = "1", value_parser = parse_size)]
    min_size: u64,

    /// Only files of at most SIZE bytes (0 = no limit).
    #[arg(short = 'S', long = "maximum-size", value_name = "SIZE", default_value = "0", value_parser = parse_size)]
    max_size: u64,

    /// Read upstream records from FILE ('-' = stdin) and only replace the files they name.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,

    /// With --from: only take records of this event (repeatable; default: every record with a
    /// root and a path).
    #[arg(long = "event", value_name = "NAME", requires = "from")]
    events: Vec<String>,

    /// With --from: pass upstream records through to stdout (upstream errors always are).
    #[arg(long, requires = "from")]
    pass: bool,

    /// Threads for reading, comparing and linking (default: 4 per CPU, at most 32; that work waits
    /// on the disk and the journal more than on the CPU). The walk uses one thread per CPU.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Allow a DIR (or an upstream record's root) that is a mount point. `/` is never taken.
    #[arg(long)]
    allow_fs_root: bool,
}

/// The size of the thread pool: I/O-bound work gains from more threads than CPUs.
fn thread_count(asked: Option<u16>, roots: &[PathBuf]) -> usize {
    match asked {
        Some(n) => usize::from(n),
        None => {
            let local = std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 4)
                .clamp(4, 32);
            let roots: Vec<&std::path::Path> = roots.iter().map(PathBuf::as_path).collect();
            rl_core::netfs::io_depth(&roots, local)
        }
    }
}

fn regex_arg(s: &str) -> Result<String, String> {
    criteria::check_regex(s).map(|()| s.to_owned())
}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let args = Args::parse();
    real_main(args).into()
}

fn real_main(args: Args) -> Status {
    let mut criteria = Criteria {
        ignore_mode: args.ignore_mode,
        ignore_owner: args.ignore_owner,
        ignore_time: args.ignore_time,
        respect_name: args.respect_name,
        respect_xattrs: args.respect_xattrs,
    };
    if args.content {
        criteria = criteria.content_only();
    }
    let filter = match PathFilter::new(&args.exclude, &args.include) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rl-hardlink: {e}");
            return Status::Error;
        }
    };
    let run = Run::start("rl-hardlink", env!("CARGO_PKG_VERSION"));

    // Upstream records first (they may also name the roots).
    let mut upstream_paths: Vec<PathBuf> = Vec::new();
    let mut upstream_roots: Vec<PathBuf> = Vec::new();
    let mut upstream_dry = false;
    if let Some(from) = &args.from
        && let Err(msg) = read_upstream(
            &run,
            from,
            &args,
            &mut upstream_paths,
            &mut upstream_roots,
            &mut upstream_dry,
        )
    {
        run.error_general("read", "input.invalid", &msg);
        return run.finish(Record::new(""));
    }
    let given = if args.dirs.is_empty() {
        upstream_roots
    } else {
        args.dirs.clone()
    };
    let mut roots = Vec::new();
    for dir in &given {
        match std::fs::canonicalize(dir) {
            Ok(abs) => roots.push(abs),
            Err(e) => {
                let shown = rl_core::walk::absolute(dir).unwrap_or_else(|_| dir.clone());
                run.error(&shown, std::path::Path::new(""), "scan", &e);
            }
        }
    }
    if let Some(reason) = refused_root(&roots, args.allow_fs_root) {
        eprintln!("rl-hardlink: refused: {reason}");
        run.emit(&Record::new("refused").with("reason", reason.as_str()));
        run.raise(Status::Refused);
        return run.finish(Record::new(""));
    }
    if upstream_dry && !args.dry_run {
        rl_core::upstream::refuse_dry_upstream(&run);
        return run.finish(Record::new(""));
    }
    let roots = scan::dedupe_roots(roots);
    let (scan, errors) = scan::scan(roots, &filter, &criteria);
    for (root, rel, err) in &errors {
        run.error(&scan.roots[*root as usize], rel, "scan", err);
    }
    let opts = Options {
        criteria,
        // util-linux 2.38 never links empty files, whatever -s says.
        min_size: args.min_size.max(1),
        max_size: args.max_size,
        dry_run: args.dry_run,
        fresh: args
            .from
            .as_ref()
            .map(|_| plan::fresh_inodes(&upstream_paths)),
        threads: thread_count(args.threads, &scan.roots),
    };
    let totals = plan::link_all(&scan, &opts, &run);
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let mut summary = Record::new("")
        .with("files", scan.files)
        .with("compared", load(&totals.compared))
        .with("linked", load(&totals.linked))
        .with("bytes_saved", load(&totals.bytes_saved))
        .with("skipped", load(&totals.skipped));
    if args.dry_run {
        summary = summary.with("dry_run", true);
    }
    // The process ends here: freeing the node table (a path and a node per file) one allocation
    // at a time would cost a measurable share of a re-run on a linked tree.
    std::mem::forget(scan);
    run.finish(summary)
}

/// Why a tree root is refused: `/` always, a mount point unless `allow_mount` (canonical roots).
fn refused_root(roots: &[PathBuf], allow_mount: bool) -> Option<String> {
    let root = roots
        .iter()
        .find(|r| rl_core::mountpoint::is_fs_root(r) && (r.parent().is_none() || !allow_mount))?;
    Some(if root.parent().is_none() {
        "the tree to link is the root directory /".to_owned()
    } else {
        format!(
            "the tree to link {} is the root of a filesystem (use --allow-fs-root to link it anyway)",
            root.display()
        )
    })
}

/// Reads the upstream records: the full paths of the files they name, and their distinct roots.
fn read_upstream(
    run: &Run,
    from: &std::path::Path,
    args: &Args,
    paths: &mut Vec<PathBuf>,
    roots: &mut Vec<PathBuf>,
    upstream_dry: &mut bool,
) -> Result<(), String> {
    let reader: Box<dyn std::io::BufRead> = if from == std::path::Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(from).map_err(|e| format!("{}: {e}", from.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut seen_roots = HashSet::new();
    let mut tally = rl_core::upstream::Tally::default();
    for rec in rl_core::upstream::Records::new(reader) {
        let rec = rec.map_err(|e| e.to_string())?;
        tally.saw(&rec);
        if rec.is_framing() {
            continue;
        }
        if rec.event() == "error" {
            run.pass_upstream_error(&rec.raw);
            continue;
        }
        if args.pass {
            run.pass(&rec.raw);
        }
        if !args.events.is_empty() && !args.events.iter().any(|e| e == rec.event()) {
            continue;
        }
        let (Some(root), Some(rel)) = (rec.root(), rec.path()) else {
            continue;
        };
        if !rl_core::walk::is_safe_relative(&rel) {
            continue;
        }
        if seen_roots.insert(root.clone()) {
            roots.push(root.clone());
        }
        tally.took();
        *upstream_dry |= rec.fields.get("dry_run") == Some(&serde_json::Value::Bool(true));
        paths.push(scan::join(&root, &rel));
    }
    let takes = if args.events.is_empty() {
        "records with root and path".to_owned()
    } else {
        format!("{} records", args.events.join(" or "))
    };
    match tally.nothing_usable(&takes, false) {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}
