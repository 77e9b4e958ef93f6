//! Refusals: what rl-sync will not do to a destination, checked before anything is touched.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Canonical form of a path that may not exist yet: the longest existing prefix is resolved,
/// the rest appended (`..` in the missing part is resolved lexically).
pub fn canonical_lenient(path: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut existing = abs.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match fs::canonicalize(&existing) {
            Ok(mut c) => {
                for part in rest.iter().rev() {
                    match Path::new(part).components().next() {
                        Some(Component::ParentDir) => {
                            c.pop();
                        }
                        Some(Component::CurDir) | None => {}
                        _ => c.push(part),
                    }
                }
                return Ok(c);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let Some(last) = existing.components().next_back() else {
                    return Err(e);
                };
                rest.push(last.as_os_str().to_owned());
                if !existing.pop() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

pub use rl_core::mountpoint::is_fs_root;

/// Whether two canonical paths overlap (one is the other or inside it).
pub fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_canonical_and_overlap() {
        let d = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(d.path()).unwrap();
        let c = canonical_lenient(&d.path().join("x/y/../z")).unwrap();
        assert_eq!(c, root.join("x/z"));
        assert!(overlaps(&root, &root.join("a")));
        assert!(!overlaps(&root.join("ab"), &root.join("a")));
        assert!(is_fs_root(Path::new("/")));
        assert!(!is_fs_root(&root.join("nope")));
    }
}
