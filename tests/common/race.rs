//! Racing a tool: a directory swapped for a symlink to a victim in a loop while the tool runs,
//! and a digest of the victim that must never change.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Names, modes, owners and contents of everything under `dir` (symlinks not followed).
pub fn digest(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.unwrap();
        let m = e.path().symlink_metadata().unwrap();
        let body = if m.is_file() {
            fs::read(e.path()).unwrap()
        } else {
            Vec::new()
        };
        out.insert(e.path().to_path_buf(), (m.mode(), m.uid(), body));
    }
    out
}

pub fn put(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
}

/// Swaps `dir` for a symlink to `victim` and back, as fast as it can, until stopped.
pub fn racer(dir: PathBuf, victim: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let aside = dir.with_extension("aside");
        while !stop.load(Ordering::Relaxed) {
            if fs::rename(&dir, &aside).is_ok() {
                let _ = symlink(&victim, &dir);
                std::thread::yield_now();
                let _ = fs::remove_file(&dir);
                let _ = fs::rename(&aside, &dir);
            }
            std::thread::yield_now();
        }
        if !dir.exists() {
            let _ = fs::remove_file(&dir);
            let _ = fs::rename(&aside, &dir);
        }
    })
}
