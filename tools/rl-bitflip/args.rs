//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

const EVENTS: &str = "\
Events written (JSON lines on stdout):
  start     first record: tool, version, schema
  flip      stage/publish of a root: root, path \"\", action (stage|publish), from, to (octal
            modes), state (staged|public), changed, gid (and from_gid when --group changed it),
            staged_since, published_since, store (xattr|file), dry_run
  refused   a root left alone as unsafe: root, path, action, reason, override (the flag that
            overrides it, or null), message; exit status 3
  status    state of a root: root, path \"\", state (staged|public|unknown), mode, gid,
            staged_since, published_since, store, reason (when unknown)
  hidden    an entry below a root that stays unreadable to the public after the flip: root,
            path, kind (file|dir|other), mode, missing (o+r|o+x|o+rx)
  chmod     publish --recursive repaired an entry below the root: root, path, kind, from, to
  error     a failure on one root or entry: root, path, op, kind, message
  summary   last record: roots, changed, refused, hidden, chmod, errors, elapsed

State of a root: public when others may read and search it (o+rx); staged when others have no
access and rl-bitflip's staging record says staged; unknown otherwise (partial access for
others, or locked by hand without a staging record).

The staging record is kept in the extended attribute user.rl-bitflip.staged of the root; where
the filesystem has no user extended attributes, in the file .<name>.rl-bitflip (mode 0600) beside
the root, outside the released tree.

After a flip, regenerate the file lists (rl-filelist): mirrors only see the flip through them.
";

fn after_help() -> String {
    format!("{EVENTS}\n{}", rl_core::cli::EXIT_STATUS)
}

/// The release-day permission flip of a release root, with its guard rails.
#[derive(Parser)]
#[command(name = "rl-bitflip", version, after_long_help = after_help())]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Lock a release root: no access for others, the group (tier-1 mirrors) keeps read access; record when.
    #[command(after_long_help = after_help())]
    Stage(StageArgs),
    /// Open a staged release root to everyone, once the minimum age since staging has passed.
    #[command(after_long_help = after_help())]
    Publish(PublishArgs),
    /// Say whether roots are staged, public or unknown, and list what stays hidden after the flip.
    #[command(after_long_help = after_help())]
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct StageArgs {
    /// The release root directory (e.g. /mnt/repos-production/mirror/pub/rocky/9.6). A symlink is refused.
    pub root: PathBuf,
    /// Permission bits for the locked root, in octal; others must get no access (750, 700, 770).
    /// Setuid, setgid and sticky bits of the root are kept as they are.
    #[arg(long, default_value = "750", value_parser = parse_stage_mode)]
    pub mode: u32,
    /// Change the root's group to this group (number or name), the group the privileged rsync
    /// module of the tier-1 mirrors runs as, so they keep read access.
    #[arg(long, value_name = "GID|NAME", value_parser = parse_group)]
    pub group: Option<u32>,
    /// Lock a root again that rl-bitflip already published (hides released content from mirrors).
    #[arg(long)]
    pub force: bool,
    /// Where to keep the staging record: the root's extended attribute, a file beside the root,
    /// or auto (the attribute where the filesystem supports it, else the file).
    #[arg(long, value_enum, default_value_t = StateStore::Auto)]
    pub state: StateStore,
    /// Report what would change (records with "dry_run":true) without changing anything.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The release root directory staged before. A symlink is refused.
    pub root: PathBuf,
    /// Permission bits for the open root, in octal; others must get read and search access (755, 775).
    #[arg(long, default_value = "755", value_parser = parse_publish_mode)]
    pub mode: u32,
    /// Minimum time between staging and publishing (s, m, h, d: 24h, 90m, 2d, 1d12h, 0), so
    /// mirrors have had time to sync the content.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub min_age: Duration,
    /// Publish now: skip the minimum age and the check that rl-bitflip staged the root.
    #[arg(long)]
    pub force: bool,
    /// Publish a root locked without rl-bitflip; its age is counted from the root's last change
    /// time (ctime), which is never earlier than the lock.
    #[arg(long)]
    pub adopt: bool,
    /// Repair mode: also give others read access to every file (o+r) and read and search access to
    /// every directory (o+rx) below the root that lacks it, one chmod record each. This changes
    /// the ctime of each repaired entry, so every mirror re-checks those entries; symlinks are never
    /// followed or changed.
    #[arg(long)]
    pub recursive: bool,
    /// Skip the walk that reports entries below the root still hidden from the public.
    #[arg(long, conflicts_with = "recursive")]
    pub no_check: bool,
    /// Where to keep the staging record (see stage --state).
    #[arg(long, value_enum, default_value_t = StateStore::Auto)]
    pub state: StateStore,
    /// Report what would change (records with "dry_run":true) without changing anything.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// Release root directories.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    /// Exit with status 1 when a root is not in this state.
    #[arg(long, value_enum)]
    pub expect: Option<Expect>,
    /// Skip the walk that reports entries below each root hidden from the public.
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Expect {
    Staged,
    Public,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Staged => "staged",
            Expect::Public => "public",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateStore {
    Auto,
    Xattr,
    File,
}

impl StateStore {
    pub fn store(self) -> rl_core::stagestate::Store {
        use rl_core::stagestate::Store;
        match self {
            StateStore::Auto => Store::Auto,
            StateStore::Xattr => Store::Xattr,
            StateStore::File => Store::File,
        }
    }
}

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(format!("{s:?} is not an octal mode like 750"));
    }
    let m = u32::from_str_radix(digits, 8).map_err(|e| e.to_string())?;
    if m > 0o777 {
        return Err(format!(
            "{s:?} sets setuid, setgid or sticky bits; give only the permission bits (the root keeps its own special bits)"
        ));
    }
    Ok(m)
}

fn parse_stage_mode(s: &str) -> Result<u32, String> {
    let m = parse_mode(s)?;
    if m & 0o007 != 0 {
        return Err(format!(
            "{s:?} gives others access; a staged root must give others none (e.g. 750 or 700)"
        ));
    }
    Ok(m)
}

fn parse_publish_mode(s: &str) -> Result<u32, String> {
    let m = parse_mode(s)?;
    if m & 0o005 != 0o005 {
        return Err(format!(
            "{s:?} does not give others read and search access (o+rx); a public root needs both (e.g. 755)"
        ));
    }
    Ok(m)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    rl_core::duration::parse(s)
}

fn parse_group(s: &str) -> Result<u32, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| format!("{s:?} is not a valid group number"));
    }
    match nix::unistd::Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("there is no group named {s:?}")),
        Err(e) => Err(format!("cannot look up group {s:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_stage_mode("750"), Ok(0o750));
        assert_eq!(parse_stage_mode("0700"), Ok(0o700));
        assert!(parse_stage_mode("755").is_err());
        assert!(parse_stage_mode("751").is_err());
        assert_eq!(parse_publish_mode("755"), Ok(0o755));
        assert!(parse_publish_mode("754").is_err());
        assert!(parse_mode("2750").is_err());
        assert!(parse_mode("8").is_err());
        assert!(parse_mode("").is_err());
        assert!(parse_mode("rwx").is_err());
    }

    #[test]
    fn groups() {
        assert_eq!(parse_group("263"), Ok(263));
        assert_eq!(parse_group("root"), Ok(0));
        assert!(parse_group("no-such-group-rl").is_err());
    }
}
