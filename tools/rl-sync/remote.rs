//! Remote destinations (`HOST:PATH`, `rsync://HOST/MODULE/PATH`): handed to the real rsync with
//! the equivalent flags; its itemized output (`%i`, `%n`, `%L`) is turned into the same records.
//!
//! Publish order is kept with two rsync runs, as Debian's ftpsync does: the first sends
//! everything but repository metadata and deletes nothing; the second sends the metadata with
//! `--delay-updates` (renamed into place together at the end) and, with `--delete`, deletes after
//! the transfer (`--delete-after`).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rl_core::{Record, Run, Status};

use crate::apply::Order;

/// Whether a command-line path names a remote location.
pub fn is_remote(s: &OsStr) -> bool {
    let b = s.as_bytes();
    if b.starts_with(b"rsync://") {
        return true;
    }
    match b.iter().position(|&c| c == b':') {
        Some(i) => i > 0 && !b[..i].contains(&b'/'),
        None => false,
    }
}

/// The patterns of the metadata held back in the first stage (same set as the local order).
pub const METADATA_PATTERNS: [&str; 8] = [
    "repodata/*",
    ".treeinfo",
    ".discinfo",
    "treeinfo",
    "CHECKSUM*",
    "*.torrent",
    "fullfilelist*",
    "fullfiletimelist*",
];

pub struct Remote<'a> {
    pub src: &'a OsStr,
    pub dst: &'a OsStr,
    pub delete: bool,
    /// Exclude rules in command-line order: a pattern, or an exclude file.
    pub rules: &'a [Result<OsString, PathBuf>],
    pub chown: Option<&'a str>,
    pub checksum: bool,
    pub dry_run: bool,
    pub itemize: bool,
    pub order: Order,
}

#[derive(Default, Debug)]
pub struct Counts {
    pub mkdir: u64,
    pub copy: u64,
    pub update: u64,
    pub link: u64,
    pub symlink: u64,
    pub mknod: u64,
    pub meta: u64,
    pub delete: u64,
}

/// Undoes rsync's `\#ooo` escapes of unprintable bytes in names.
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && i + 4 < s.len()
            && s[i + 1] == b'#'
            && s[i + 2..i + 5].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (s[i + 2] - b'0') as u32 * 64
                + (s[i + 3] - b'0') as u32 * 8
                + (s[i + 4] - b'0') as u32;
            out.push(v as u8);
            i += 5;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// One line of `--out-format=%i<TAB>%n<TAB>%L` as a record event, path and link target.
pub fn parse_line(line: &[u8]) -> Option<(&'static str, PathBuf, Option<PathBuf>, String)> {
    let mut parts = line.splitn(3, |&c| c == b'\t');
    let item = std::str::from_utf8(parts.next()?).ok()?.to_owned();
    let name = parts.next()?;
    let link = parts.next().unwrap_or(b"");
    let mut name = unescape(name);
    while name.len() > 1 && name.ends_with(b"/") {
        name.pop();
    }
    if name == b"." {
        name.clear();
    }
    let target = link
        .strip_prefix(b" -> ")
        .or_else(|| link.strip_prefix(b" => "))
        .map(|t| PathBuf::from(OsString::from_vec(unescape(t))));
    let b = item.as_bytes();
    if b.len() < 2 {
        return None;
    }
    let event = if item.starts_with("*deleting") {
        "delete"
    } else {
        match (b[0], b[1]) {
            (b'c', b'd') => "mkdir",
            (b'>' | b'<', b'f') if item.contains('+') => "copy",
            (b'>' | b'<', b'f') => "update",
            (b'h', _) => "link",
            (b'c', b'L') => "symlink",
            (b'c', b'D' | b'S') => "mknod",
            (b'c', b'f') => "copy",
            (b'.', _) => "meta",
            _ => return None,
        }
    };
    Some((event, PathBuf::from(OsString::from_vec(name)), target, item))
}

fn base_command(r: &Remote) -> Command {
    let mut cmd = Command::new("rsync");
    cmd.arg("-rlptDSHog").arg("--out-format=%i\t%n\t%L");
    if let Some(c) = r.chown {
        cmd.arg(format!("--chown={c}"));
    }
    if r.checksum {
        cmd.arg("--checksum");
    }
    if r.dry_run {
        cmd.arg("--dry-run");
    }
    for rule in r.rules {
        match rule {
            Ok(p) => {
                let mut a = OsString::from("--exclude=");
                a.push(p);
                cmd.arg(a);
            }
            Err(f) => {
                let mut a = OsString::from("--exclude-from=");
                a.push(f);
                cmd.arg(a);
            }
        }
    }
    cmd
}

/// Runs one rsync, turning its lines into records. Returns whether it succeeded.
fn run_stage(run: &Run, r: &Remote, mut cmd: Command, counts: &mut Counts) -> bool {
    cmd.arg(r.src).arg(r.dst);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            run.error_general(
                "rsync",
                rl_core::record::io_kind(&e),
                &format!("cannot run rsync: {e}"),
            );
            return false;
        }
    };
    let root = Path::new(r.dst);
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if line.ends_with(b"\n") {
                line.pop();
            }
            if let Some((event, path, target, item)) = parse_line(&line) {
                let counter = match event {
                    "mkdir" => &mut counts.mkdir,
                    "copy" => &mut counts.copy,
                    "update" => &mut counts.update,
                    "link" => &mut counts.link,
                    "symlink" => &mut counts.symlink,
                    "mknod" => &mut counts.mknod,
                    "meta" => &mut counts.meta,
                    _ => &mut counts.delete,
                };
                *counter += 1;
                let mut rec = Record::new(event).at(root, &path);
                if let Some(t) = target {
                    rec = rec.with_path("target", &t);
                }
                if r.itemize {
                    rec.set("itemize", item);
                }
                if r.dry_run {
                    rec.set("dry_run", true);
                }
                run.emit(&rec);
            }
            line.clear();
        }
    }
    match child.wait() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            run.error_general(
                "rsync",
                "rsync",
                &format!("rsync exited with status {}", s.code().unwrap_or(-1)),
            );
            false
        }
        Err(e) => {
            run.error_general("rsync", rl_core::record::io_kind(&e), &e.to_string());
            false
        }
    }
}

/// Syncs to a remote destination through rsync.
pub fn sync(run: &Run, r: &Remote) -> Counts {
    let mut counts = Counts::default();
    match r.order {
        Order::Rsync => {
            let mut cmd = base_command(r);
            if r.delete {
                cmd.arg("--delete");
            }
            run_stage(run, r, cmd, &mut counts);
        }
        Order::Publish => {
            let mut first = base_command(r);
            for p in METADATA_PATTERNS {
                first.arg(format!("--exclude={p}"));
            }
            if r.delete {
                // Directories standing where files now are go in the first stage too.
                first.arg("--force");
            }
            if !run_stage(run, r, first, &mut counts) {
                run.warn("the first rsync stage failed: metadata and deletions were not sent");
                run.raise(Status::Error);
                return counts;
            }
            let mut second = base_command(r);
            second.arg("--delay-updates");
            if r.delete {
                second.arg("--delete-after");
            }
            run_stage(run, r, second, &mut counts);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names() {
        assert!(is_remote(OsStr::new("host:/srv")));
        assert!(is_remote(OsStr::new("rsync://h/m/p")));
        assert!(!is_remote(OsStr::new("/a:b")));
        assert!(!is_remote(OsStr::new("./a:b")));
        assert!(!is_remote(OsStr::new("plain")));
    }

    #[test]
    fn lines() {
        let (e, p, t, i) = parse_line(b">f+++++++++\ta/new\\#012line\t").unwrap();
        assert_eq!((e, i.as_str()), ("copy", ">f+++++++++"));
        assert_eq!(p.as_os_str().as_bytes(), b"a/new\nline");
        assert!(t.is_none());
        let (e, p, t, _) = parse_line(b"cL+++++++++\ta/sym\t -> f1").unwrap();
        assert_eq!((e, p, t), ("symlink", "a/sym".into(), Some("f1".into())));
        let (e, p, _, _) = parse_line(b"*deleting  \told/\t").unwrap();
        assert_eq!((e, p), ("delete", "old".into()));
        let (e, p, _, _) = parse_line(b".d..t......\t./\t").unwrap();
        assert_eq!((e, p), ("meta", "".into()));
        let (e, _, t, _) = parse_line(b"hf+++++++++\ta/f1\t => a/f1.hl").unwrap();
        assert_eq!((e, t), ("link", Some("a/f1.hl".into())));
        assert_eq!(parse_line(b">f..t......\tx\t").unwrap().0, "update");
        assert_eq!(unescape(b"a\\#377b"), b"a\xffb");
    }
}
