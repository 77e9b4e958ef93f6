//! Tree walking with relative paths.
//!
//! Walks never follow symbolic links (a link is reported as a link), visit entries in byte order of
//! their names so output is deterministic, and give each entry its path relative to the root in the
//! form the record protocol uses (`a/b`, the root itself `""`). Errors (unreadable directory,
//! vanished entry) are yielded in order, so the caller reports them and goes on.

use std::fs::{FileType, Metadata};
use std::io;
use std::path::{Component, Path, PathBuf};

use walkdir::WalkDir;

/// One entry of a walk.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Absolute (or root-joined) path.
    pub path: PathBuf,
    /// Path relative to the root, empty for the root itself.
    pub rel: PathBuf,
    /// Depth below the root (0 for the root).
    pub depth: usize,
    /// Type of the entry itself (a symlink is a symlink).
    pub file_type: FileType,
    /// `lstat` metadata.
    pub metadata: Metadata,
}

/// A walk error: which path (relative to the root, when known) and the I/O error.
#[derive(Debug)]
pub struct WalkError {
    pub rel: PathBuf,
    pub error: io::Error,
}

/// Options of a walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Do not descend into other filesystems (entries on them are not yielded either).
    pub same_file_system: bool,
    /// Yield directories after their contents (post-order) instead of before.
    pub contents_first: bool,
    /// Do not yield the root itself.
    pub skip_root: bool,
}

/// Walks `root` (never following links) in name order.
pub fn walk(root: &Path, opts: &WalkOptions) -> impl Iterator<Item = Result<Entry, WalkError>> {
    walk_pruned(root, opts, |_, _, _| true)
}

/// Walks `root` like [`walk`], but only where `descend(rel, file_type, depth)` says yes: an
/// entry it refuses is neither yielded nor, for a directory, entered.
pub fn walk_pruned<F>(
    root: &Path,
    opts: &WalkOptions,
    mut descend: F,
) -> impl Iterator<Item = Result<Entry, WalkError>> + use<F>
where
    F: FnMut(&Path, &FileType, usize) -> bool,
{
    let root_owned = root.to_path_buf();
    let root_for_filter = root.to_path_buf();
    let min_depth = usize::from(opts.skip_root);
    WalkDir::new(root)
        .follow_links(false)
        .same_file_system(opts.same_file_system)
        .contents_first(opts.contents_first)
        .min_depth(min_depth)
        .sort_by(|a, b| {
            use std::os::unix::ffi::OsStrExt;
            a.file_name().as_bytes().cmp(b.file_name().as_bytes())
        })
        .into_iter()
        .filter_entry(move |e| {
            descend(
                &relative(&root_for_filter, e.path()),
                &e.file_type(),
                e.depth(),
            )
        })
        .map(move |item| match item {
            Ok(e) => {
                let rel = relative(&root_owned, e.path());
                match e.metadata() {
                    Ok(metadata) => Ok(Entry {
                        file_type: e.file_type(),
                        depth: e.depth(),
                        path: e.into_path(),
                        rel,
                        metadata,
                    }),
                    Err(err) => Err(WalkError {
                        rel,
                        error: into_io(err),
                    }),
                }
            }
            Err(err) => {
                let rel = err
                    .path()
                    .map(|p| relative(&root_owned, p))
                    .unwrap_or_default();
                Err(WalkError {
                    rel,
                    error: into_io(err),
                })
            }
        })
}

fn into_io(err: walkdir::Error) -> io::Error {
    if err.loop_ancestor().is_some() {
        // Walks never follow links, so this only happens on a bind-mount loop; ELOOP says it.
        return io::Error::from_raw_os_error(nix::errno::Errno::ELOOP as i32);
    }
    match err.into_io_error() {
        Some(e) => e,
        None => io::Error::other("walk error"),
    }
}

/// `path` relative to `root` (empty when equal); `path` itself when it is not below `root`.
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a relative path from a record is safe to join onto a root: no `..`, not absolute.
pub fn is_safe_relative(rel: &Path) -> bool {
    rel.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Makes a path absolute against the current directory without resolving symlinks, and removes
/// `.` components and trailing slashes.
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    Ok(abs
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walks_in_name_order_with_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("b")).unwrap();
        fs::write(root.join("b/z"), "z").unwrap();
        fs::write(root.join("a"), "a").unwrap();
        fs::write(root.join("C"), "c").unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("link")).unwrap();
        let rels: Vec<String> = walk(root, &WalkOptions::default())
            .map(|e| e.unwrap().rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(rels, ["", "C", "a", "b", "b/z", "link"]);
        let post: Vec<String> = walk(
            root,
            &WalkOptions {
                contents_first: true,
                skip_root: true,
                ..Default::default()
            },
        )
        .map(|e| e.unwrap().rel.to_string_lossy().into_owned())
        .collect();
        assert_eq!(post, ["C", "a", "b/z", "b", "link"]);
    }

    #[test]
    fn pruned_directories_are_not_entered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("keep/sub")).unwrap();
        fs::create_dir_all(root.join("skip/sub")).unwrap();
        let rels: Vec<String> = walk_pruned(root, &WalkOptions::default(), |rel, _, _| {
            !rel.starts_with("skip")
        })
        .map(|e| e.unwrap().rel.to_string_lossy().into_owned())
        .collect();
        assert_eq!(rels, ["", "keep", "keep/sub"]);
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("d")).unwrap();
        std::os::unix::fs::symlink(".", root.join("d/loop")).unwrap();
        let entries: Vec<Entry> = walk(root, &WalkOptions::default())
            .map(Result::unwrap)
            .collect();
        let link = entries
            .iter()
            .find(|e| e.rel == Path::new("d/loop"))
            .unwrap();
        assert!(link.file_type.is_symlink());
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn missing_root_is_an_error() {
        let errs: Vec<_> = walk(Path::new("/nonexistent/rl"), &WalkOptions::default()).collect();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].as_ref().unwrap_err().error.kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn relative_path_safety() {
        assert!(is_safe_relative(Path::new("a/b")));
        assert!(is_safe_relative(Path::new("")));
        assert!(!is_safe_relative(Path::new("../a")));
        assert!(!is_safe_relative(Path::new("/a")));
    }
}
