//! Parallel tree walking for tools that only need a set of entries, not an ordered stream.
//!
//! [`par_walk`] reads every directory below a root on the rayon thread pool and hands each
//! directory's entries, with their `lstat` metadata, to a callback. It never follows symbolic links
//! (a link is reported as a link and not descended), descends into other filesystems (callers that
//! care compare `st_dev`), and calls the callbacks from several threads at once, in no particular
//! order: callers that need determinism sort what they collected. The metadata comes from
//! `fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)` on the open directory, so no path is resolved twice.
//!
//! Use [`crate::walk`] when the order of entries matters (file lists, copies in name order).

use std::ffi::OsString;
use std::fs::{self, FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// One entry of a directory (not the directory itself).
#[derive(Debug)]
pub struct DirItem {
    /// The entry's name.
    pub name: OsString,
    /// Its type (a symlink is a symlink).
    pub file_type: FileType,
    /// Its `lstat` metadata.
    pub metadata: Metadata,
}

/// Walks `root` in parallel. `visit(rel_dir, items)` is called once per directory read (`rel_dir`
/// relative to `root`, `""` for the root) with all its entries except those that vanished;
/// subdirectories are walked after being listed. `on_error(rel, err)` is called for every directory
/// that cannot be read and every entry that cannot be stat'ed (`rel` relative to `root`).
///
/// A `root` that is not a directory is an error reported through `on_error` with `rel` `""`.
pub fn par_walk<V, E>(root: &Path, visit: V, on_error: E)
where
    V: Fn(&Path, Vec<DirItem>) + Sync,
    E: Fn(&Path, io::Error) + Sync,
{
    let ctx = Ctx {
        root,
        visit: &visit,
        on_error: &on_error,
    };
    rayon::scope(|scope| walk_dir(scope, &ctx, PathBuf::new()));
}

struct Ctx<'a, V, E> {
    root: &'a Path,
    visit: &'a V,
    on_error: &'a E,
}

fn walk_dir<'s, V, E>(scope: &rayon::Scope<'s>, ctx: &'s Ctx<'s, V, E>, rel_dir: PathBuf)
where
    V: Fn(&Path, Vec<DirItem>) + Sync,
    E: Fn(&Path, io::Error) + Sync,
{
    let dir = if rel_dir.as_os_str().is_empty() {
        ctx.root.to_path_buf()
    } else {
        ctx.root.join(&rel_dir)
    };
    let reader = match fs::read_dir(&dir) {
        Ok(r) => r,
        Err(e) => {
            (ctx.on_error)(&rel_dir, e);
            return;
        }
    };
    let mut items = Vec::new();
    let mut subdirs = Vec::new();
    for entry in reader {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                (ctx.on_error)(&rel_dir, e);
                continue;
            }
        };
        let name = entry.file_name();
        let metadata = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // vanished meanwhile
            Err(e) => {
                (ctx.on_error)(&rel_dir.join(&name), e);
                continue;
            }
        };
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            subdirs.push(rel_dir.join(&name));
        }
        items.push(DirItem {
            name,
            file_type,
            metadata,
        });
    }
    (ctx.visit)(&rel_dir, items);
    for sub in subdirs {
        scope.spawn(move |s| walk_dir(s, ctx, sub));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn collect(root: &Path) -> (Vec<String>, Vec<String>) {
        let seen = Mutex::new(Vec::new());
        let errors = Mutex::new(Vec::new());
        par_walk(
            root,
            |dir, items| {
                let mut seen = seen.lock().unwrap();
                for it in items {
                    let kind = if it.file_type.is_symlink() {
                        "l"
                    } else if it.file_type.is_dir() {
                        "d"
                    } else {
                        "f"
                    };
                    seen.push(format!("{kind} {}", dir.join(&it.name).display()));
                }
            },
            |rel, e| {
                errors
                    .lock()
                    .unwrap()
                    .push(format!("{}: {:?}", rel.display(), e.kind()))
            },
        );
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        (seen, errors.into_inner().unwrap())
    }

    #[test]
    fn walks_everything_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::write(root.join("a/b/c/f"), "x").unwrap();
        fs::write(root.join("top"), "y").unwrap();
        std::os::unix::fs::symlink(".", root.join("a/loop")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join("dangling")).unwrap();
        let (seen, errors) = collect(root);
        assert_eq!(
            seen,
            [
                "d a",
                "d a/b",
                "d a/b/c",
                "f a/b/c/f",
                "f top",
                "l a/loop",
                "l dangling"
            ]
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn missing_root_is_reported() {
        let (seen, errors) = collect(Path::new("/nonexistent/rl/parwalk"));
        assert!(seen.is_empty());
        assert_eq!(errors, [": NotFound"]);
    }
}
