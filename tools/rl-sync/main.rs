//! rl-sync: copy one local tree onto another with the final state of `rsync -rlptDSHog`, in a
//! publish-safe order.

mod apply;
mod deletion_guard;
mod plan;
mod remote;
mod safety;
mod staged;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{CommandFactory, FromArgMatches, Parser};
use rl_core::exclude::Filter;
use rl_core::{Record, Run, Status};

use apply::{Exec, Order};
use plan::{Ctx, Owners};

const AFTER_HELP: &str = "\
Does what `rsync -rlptDSHog [--chown U:G] [--delete] [--exclude P]... SRC DST` does between two
local trees, with the same final state: files, directories, symlinks, devices and specials,
permissions, mtimes, owner and group (as root), hard-link sets, sparse files, rsync's exclude
rules, trailing-slash source semantics (SRC/ copies the contents of SRC; SRC creates DST/SRC).

Order (--order publish, the default): directories are created first, then new and changed
files, symlinks and hard links, then repository metadata (repodata/ contents, repomd.xml last,
then .treeinfo/.discinfo, CHECKSUM* and *.torrent, fullfilelist*/fullfiletimelist*), then
deletions, then the final directory attributes. A repomd.xml in the destination never names a
file that is not there. Every file is written to a temporary name (.NAME.rl-tmp.PID-START.N) in
its destination directory, given its attributes, and renamed into place; temporaries left by an
interrupted run are removed by the next one once their writer is gone (regular files only, never
excluded ones); temporaries in the source are never copied. After any error, no deletion is made,
and the metadata over a file that failed (its repository's repodata/ and repomd.xml, the
.treeinfo or CHECKSUM of its directory, the file lists) is not published: the old one stays, a
`held` record names each held file, and the run exits 2.

Nothing outside the trees: every change (create, rename, link, chmod, chown, times, mkdir,
delete) is made through directory descriptors opened from the destination root one component
at a time with O_NOFOLLOW|O_DIRECTORY, and source files are opened O_NOFOLLOW and copied only if
still regular files. A directory swapped for a symlink during the run, or a source file swapped
for one, is an error for that path; nothing is written where the symlink points.

Refused (exit 3): --delete with a missing or empty source; a destination that is `/` or a
filesystem root (a mount point; override: --allow-fs-root); source and destination overlapping;
a destination outside every --root-guard DIR; another rl-sync writing the same destination
(one lock per destination, in /run/lock by default; --wait waits for it, --lock FILE names it).

Remote destinations (HOST:PATH, rsync://HOST/MODULE/PATH) are handed to the real rsync with the
same flags and its itemized output becomes the same records (itemize strings are rsync's own,
`<f…` for sent files). Publish order is kept with two rsync runs: everything but the metadata
first (no deletions), then the metadata with --delay-updates and, with --delete,
--delete-after. --root-guard is compared with the remote path as written.

Events written (stdout, JSON lines):
  start     first record
  mkdir     a directory was created
  copy      a new file was written (size)
  update    an existing file got new content (size, changed)
  link      a hard link to another path of the transfer was made (target)
  symlink   a symlink was made or replaced (target)
  mknod     a device, fifo or socket was made
  meta      permissions, owner, group or mtime were fixed in place (changed)
  kept      the destination root is staged and keeps its own mode (mode, source_mode, reason,
            cause: \"staging record\", \"unreadable staging record\" or \"not readable by others\")
  delete    an entry was removed (--delete, or a stale temporary)
  held      a change not made because a file it depends on failed (reason)
  error     a failure on one path (the sync goes on; no deletions follow)
  refused   the sync was refused before anything changed (reason)
  summary   counts per event, bytes copied, entries scanned
With --itemize every record carries rsync's 11-character `itemize` string; with --dry-run
every record carries \"dry_run\": true and nothing changes.

";

/// Copy one local tree onto another with rsync's final state, in a publish-safe order.
#[derive(Parser)]
#[command(name = "rl-sync", version, after_long_help = concat_help())]
pub struct Args {
    /// Source tree. With a trailing slash its contents go into DST; without, DST/NAME is made.
    src: OsString,
    /// Destination directory (created when missing; its parent must exist), or HOST:PATH or
    /// rsync://HOST/MODULE/PATH (handed to rsync).
    dst: OsString,
    /// Delete destination entries the source does not have (excluded ones are protected).
    #[arg(long)]
    delete: bool,
    /// Exclude entries matching PATTERN (rsync rules; repeatable; `+ PAT` includes).
    #[arg(long, value_name = "PATTERN")]
    exclude: Vec<OsString>,
    /// Read exclude patterns from FILE, one per line (`-` for stdin; repeatable).
    #[arg(long, value_name = "FILE")]
    exclude_from: Vec<PathBuf>,
    /// Give every entry this owner and group (numeric or names; `U`, `U:G` or `:G`; root only).
    #[arg(long, value_name = "USER:GROUP")]
    chown: Option<String>,
    /// Compare file contents instead of size and mtime to decide what to copy.
    #[arg(short = 'c', long)]
    checksum: bool,
    /// Report what would change, change nothing.
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Add rsync's itemize string (`>f+++++++++`, …) to each record.
    #[arg(short = 'i', long)]
    itemize: bool,
    /// Order of changes: publish (content, then metadata, then deletions) or rsync.
    #[arg(long, value_enum, default_value = "publish")]
    order: Order,
    /// Refuse unless the destination is inside DIR (repeatable: inside any of them).
    #[arg(long, value_name = "DIR")]
    root_guard: Vec<PathBuf>,
    /// Parallel copies and directory scans (default: twice the number of CPUs, at least 4).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// fsync every file before renaming it into place (crash safety at a cost in speed).
    #[arg(long)]
    fsync: bool,
    /// Allow a destination that is a mount point (never `/`).
    #[arg(long)]
    allow_fs_root: bool,
    /// Delete at most N entries (rsync's --max-delete): over it no deletion is made and the
    /// exit status is 25, as rsync's. 0 deletes nothing.
    #[arg(long, value_name = "N")]
    max_delete: Option<u64>,
    /// With --delete: refuse (exit 3) the deletions when they would remove more than PCT percent
    /// of the destination's entries (default 25; more than 10 entries).
    #[arg(long, value_name = "PCT", default_value_t = 25.0)]
    max_delete_share: f64,
    /// With --delete: delete however large a share of the destination that is.
    #[arg(long)]
    force_delete: bool,
    /// Wait for another rl-sync writing the same destination instead of refusing (exit 3).
    #[arg(long)]
    wait: bool,
    /// The lock file serialising runs on this destination [default: one per destination in
    /// /run/lock, else $XDG_RUNTIME_DIR, else $TMPDIR]
    #[arg(long, value_name = "FILE", conflicts_with = "no_lock")]
    lock: Option<PathBuf>,
    /// Take no lock (another run may write the destination at the same time).
    #[arg(long)]
    no_lock: bool,
}

fn concat_help() -> String {
    format!("{AFTER_HELP}{}", rl_core::cli::EXIT_STATUS)
}

fn lookup_id(spec: &str, user: bool) -> Result<u32, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    let found = if user {
        nix::unistd::User::from_name(spec)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
    } else {
        nix::unistd::Group::from_name(spec)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    };
    found.ok_or_else(|| {
        format!(
            "unknown {} {spec:?} in --chown",
            if user { "user" } else { "group" }
        )
    })
}

fn parse_chown(spec: &str) -> Result<(Option<u32>, Option<u32>), String> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let uid = if u.is_empty() {
        None
    } else {
        Some(lookup_id(u, true)?)
    };
    let gid = if g.is_empty() {
        None
    } else {
        Some(lookup_id(g, false)?)
    };
    Ok((uid, gid))
}

fn refuse(run: Run, reason: &str) -> ExitCode {
    eprintln!("rl-sync: refused: {reason}");
    run.emit(&Record::new("refused").with("reason", reason));
    run.raise(Status::Refused);
    run.finish(Record::new("")).into()
}

fn fail(run: Run, message: &str) -> ExitCode {
    run.error_general("usage", "usage", message);
    run.finish(Record::new("")).into()
}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let run = Run::start("rl-sync", env!("CARGO_PKG_VERSION"));

    if remote::is_remote(&args.src) {
        return fail(
            run,
            "remote sources are not supported; run rl-sync on the source host (write ./NAME for a local name with a colon)",
        );
    }

    // Excludes in command-line order (--exclude and --exclude-from interleaved as given).
    let mut filter = Filter::new();
    let mut rules: Vec<(usize, Result<OsString, PathBuf>)> = Vec::new();
    if let Some(idx) = matches.indices_of("exclude") {
        rules.extend(idx.zip(args.exclude.iter().cloned().map(Ok)));
    }
    if let Some(idx) = matches.indices_of("exclude_from") {
        rules.extend(idx.zip(args.exclude_from.iter().cloned().map(Err)));
    }
    rules.sort_by_key(|r| r.0);
    let ordered_rules: Vec<Result<OsString, PathBuf>> = rules.iter().map(|r| r.1.clone()).collect();
    for (_, r) in rules {
        match r {
            Ok(p) => filter.add(&p),
            Err(file) => {
                if let Err(e) = filter.add_file(&file) {
                    return fail(
                        run,
                        &format!("cannot read exclude file {}: {e}", file.display()),
                    );
                }
            }
        }
    }

    let (uid, gid) = match args.chown.as_deref().map(parse_chown).transpose() {
        Ok(v) => v.unwrap_or((None, None)),
        Err(e) => return fail(run, &e),
    };
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root && args.chown.is_some() {
        run.warn("--chown needs root; owners and groups are left as they are");
    }
    let owners = Owners {
        apply: is_root,
        uid,
        gid,
    };

    // Source: trailing slash (or `.`) = its contents; otherwise the entry itself.
    let src_bytes = args.src.as_bytes();
    let contents = src_bytes.ends_with(b"/")
        || src_bytes == b"."
        || src_bytes.ends_with(b"/.")
        || src_bytes.is_empty();
    let src_path = PathBuf::from(&args.src);
    let src_meta = fs::symlink_metadata(&src_path);
    if src_meta.is_err() || (contents && !src_path.is_dir()) {
        let msg = match &src_meta {
            Err(e) => format!("source {} cannot be read: {e}", src_path.display()),
            Ok(_) => format!("source {} is not a directory", src_path.display()),
        };
        if args.delete {
            return refuse(
                run,
                &format!("{msg}; --delete with a missing source would empty the destination"),
            );
        }
        return fail(run, &msg);
    }
    let (src_root, top, src_canon) = if contents {
        let canon = match fs::canonicalize(&src_path) {
            Ok(c) => c,
            Err(e) => return fail(run, &format!("source {}: {e}", src_path.display())),
        };
        (canon.clone(), None, canon)
    } else {
        let abs = match rl_core::walk::absolute(&src_path) {
            Ok(a) => a,
            Err(e) => return fail(run, &format!("source {}: {e}", src_path.display())),
        };
        let name = abs.file_name().map(OsStr::to_owned).unwrap_or_default();
        let parent = abs.parent().unwrap_or(Path::new("/"));
        let parent = fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        let canon = parent.join(&name);
        (parent, Some(name), canon)
    };
    let empty_dir = |p: &Path| {
        fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
            && fs::read_dir(p).is_ok_and(|mut rd| rd.next().is_none())
    };
    if args.delete && (empty_dir(&src_root) && contents || empty_dir(&src_canon)) {
        return refuse(
            run,
            &format!(
                "source {} is empty; --delete would empty the destination",
                src_canon.display()
            ),
        );
    }

    if remote::is_remote(&args.dst) {
        return sync_remote(run, &args, &ordered_rules);
    }

    // Destination.
    let dst_path = PathBuf::from(&args.dst);
    let dst_canon = match safety::canonical_lenient(&dst_path) {
        Ok(c) => c,
        Err(e) => return fail(run, &format!("destination {}: {e}", dst_path.display())),
    };
    if dst_canon.parent().is_none() {
        return refuse(run, "the destination is the root directory /");
    }
    if dst_canon.exists() && safety::is_fs_root(&dst_canon) && !args.allow_fs_root {
        return refuse(
            run,
            &format!(
                "the destination {} is the root of a filesystem (use --allow-fs-root to sync into it anyway)",
                dst_canon.display()
            ),
        );
    }
    // rsync makes the last component of the destination only: a missing parent is one error,
    // not one per entry of the source. (A dry run makes nothing and shows the whole plan.)
    if !args.dry_run
        && !dst_canon.exists()
        && let Some(parent) = dst_canon.parent()
        && !parent.is_dir()
    {
        return fail(
            run,
            &format!(
                "the destination's parent {} does not exist (rl-sync makes only the last component, as rsync)",
                parent.display()
            ),
        );
    }
    let effective = match &top {
        Some(name) => dst_canon.join(name),
        None => dst_canon.clone(),
    };
    if safety::overlaps(&src_canon, &effective) {
        return refuse(
            run,
            &format!(
                "source {} and destination {} overlap",
                src_canon.display(),
                effective.display()
            ),
        );
    }
    if !args.root_guard.is_empty() {
        // A guard that does not exist yet (a production root before its first sync) still
        // guards: it is resolved as far as it exists, like the destination.
        let inside = args.root_guard.iter().any(|g| {
            safety::canonical_lenient(g)
                .is_ok_and(|g| effective.starts_with(&g) && dst_canon.starts_with(&g))
        });
        if !inside {
            return refuse(
                run,
                &format!(
                    "the destination {} is outside every --root-guard directory",
                    dst_canon.display()
                ),
            );
        }
    }
    // One writer per destination: two operators, or cron and a person, never sync into one tree
    // at once. Held until the process ends.
    let _lock = if args.dry_run || args.no_lock {
        None
    } else {
        let path = args
            .lock
            .clone()
            .unwrap_or_else(|| rl_core::lock::for_tree("rl-sync", &effective));
        match rl_core::lock::lock_exclusive(&path, args.wait) {
            Ok(Some(l)) => Some(l),
            Ok(None) => {
                return refuse(
                    run,
                    &format!(
                        "another rl-sync is writing {} (it holds the lock {}); --wait waits for it",
                        effective.display(),
                        path.display()
                    ),
                );
            }
            Err(e) => {
                return fail(
                    run,
                    &format!("{}: cannot take the lock: {e}", path.display()),
                );
            }
        }
    };
    match fs::symlink_metadata(&dst_canon) {
        Ok(m) if !m.is_dir() => {
            return fail(
                run,
                &format!("destination {} is not a directory", dst_canon.display()),
            );
        }
        Ok(_) => {}
        Err(_) if top.is_some() => {
            // DST/NAME: DST itself is created plainly (rsync's "created directory").
            if !args.dry_run
                && let Err(e) = fs::create_dir(&dst_canon)
            {
                return fail(
                    run,
                    &format!("cannot create destination {}: {e}", dst_canon.display()),
                );
            }
            let mut r = Record::new("mkdir").at(&dst_canon, Path::new(""));
            if args.dry_run {
                r.set("dry_run", true);
            }
            run.emit(&r);
        }
        Err(_) => {}
    }

    let jobs = args.jobs.unwrap_or_else(|| {
        let local = std::thread::available_parallelism()
            .map(|n| (n.get() * 2).max(4))
            .unwrap_or(4);
        // On NFS/EFS or FUSE each operation is a round trip: keep many in flight.
        rl_core::netfs::io_depth(&[src_root.as_path(), dst_canon.as_path()], local)
    });
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
    {
        Ok(p) => p,
        Err(e) => return fail(run, &format!("cannot start threads: {e}")),
    };

    let exec = Exec {
        run: &run,
        dst_root: dst_canon.clone(),
        filter: &filter,
        owners,
        delete: args.delete,
        dry_run: args.dry_run,
        itemize: args.itemize,
        fsync: args.fsync,
        root: is_root,
        counters: Default::default(),
        src: rl_core::beneath::Tree::new(&src_root),
        dst: rl_core::beneath::Tree::new(&dst_canon),
        failed: Default::default(),
        deletions_stopped: Default::default(),
    };
    let stream = |a: &plan::Action| exec.act(a);
    let ctx = Ctx {
        src_root: src_root.clone(),
        dst_root: dst_canon.clone(),
        filter: &filter,
        delete: args.delete,
        checksum: args.checksum,
        owners,
        stream: match args.order {
            Order::Publish => Some(&stream),
            Order::Rsync => None,
        },
    };
    let plan = pool.install(|| plan::plan(&ctx, top.as_ref()));
    for e in &plan.errors {
        let root = if e.root_is_dst { &dst_canon } else { &src_root };
        run.error(root, &e.rel, e.op, &e.error);
        exec.failed(&e.rel);
    }
    if let Some(stop) = deletion_guard::check(&plan, &dst_canon, &args) {
        exec.refuse_deletions(stop);
    }
    exec.execute(&plan, args.order, &pool);

    let c = &exec.counters;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let mut summary = Record::new("")
        .with("scanned", plan.scanned)
        .with("mkdir", get(&c.mkdir))
        .with("copy", get(&c.copy))
        .with("update", get(&c.update))
        .with("link", get(&c.link))
        .with("symlink", get(&c.symlink))
        .with("mknod", get(&c.mknod))
        .with("meta", get(&c.meta))
        .with("delete", get(&c.delete))
        .with("bytes", get(&c.bytes))
        .with("held", get(&c.held));
    if args.dry_run {
        summary.set("dry_run", true);
    }
    run.finish(summary).into()
}

/// A remote destination: refusals that can be checked here, then rsync does the transfer.
fn sync_remote(run: Run, args: &Args, rules: &[Result<OsString, PathBuf>]) -> ExitCode {
    let dst = args.dst.as_bytes();
    let path_part: &[u8] = if let Some(rest) = dst.strip_prefix(b"rsync://") {
        rest.iter()
            .position(|&c| c == b'/')
            .map_or(&b""[..], |i| &rest[i..])
    } else {
        let i = dst.iter().position(|&c| c == b':').unwrap_or(0);
        &dst[i + 1..]
    };
    let trimmed: &[u8] = {
        let mut t = path_part;
        while t.len() > 1 && t.ends_with(b"/") {
            t = &t[..t.len() - 1];
        }
        t
    };
    if trimmed == b"/" {
        return refuse(run, "the remote destination is the root directory /");
    }
    if !args.root_guard.is_empty() {
        let inside = args.root_guard.iter().any(|g| {
            let remote_path = Path::new(OsStr::from_bytes(trimmed));
            remote_path.is_absolute() && remote_path.starts_with(g)
                || args.dst.as_bytes().starts_with(g.as_os_str().as_bytes())
        });
        if !inside {
            return refuse(
                run,
                &format!(
                    "the remote destination {} is outside every --root-guard",
                    args.dst.to_string_lossy()
                ),
            );
        }
    }
    let r = remote::Remote {
        src: &args.src,
        dst: &args.dst,
        delete: args.delete,
        rules,
        chown: args.chown.as_deref(),
        checksum: args.checksum,
        dry_run: args.dry_run,
        itemize: args.itemize,
        order: args.order,
    };
    let c = remote::sync(&run, &r);
    let mut summary = Record::new("")
        .with("mkdir", c.mkdir)
        .with("copy", c.copy)
        .with("update", c.update)
        .with("link", c.link)
        .with("symlink", c.symlink)
        .with("mknod", c.mknod)
        .with("meta", c.meta)
        .with("delete", c.delete)
        .with("remote", true);
    if args.dry_run {
        summary.set("dry_run", true);
    }
    run.finish(summary).into()
}
