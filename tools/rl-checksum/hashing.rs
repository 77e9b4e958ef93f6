//! Hashing a batch of files in parallel with one progress bar.

use std::io;
use std::path::PathBuf;

use rayon::prelude::*;
use rl_core::hash::{FileDigest, sha256_file_progress};
use rl_core::progress::{self, When};

/// SHA-256 of every path, in input order. One file per task, so a large ISO keeps one core
/// busy while the other cores go through the rest; `jobs` caps the number of files at once.
pub fn hash_all(paths: &[PathBuf], jobs: Option<usize>, when: When) -> Vec<io::Result<FileDigest>> {
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress::bytes_bar(total, "hashing", when);
    let work = || -> Vec<io::Result<FileDigest>> {
        paths
            .par_iter()
            .with_max_len(1)
            .map(|p| sha256_file_progress(p, &|n| bar.inc(n)))
            .collect()
    };
    let out = match jobs {
        Some(n) if n > 0 => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(work),
            Err(_) => work(),
        },
        _ => work(),
    };
    bar.finish_and_clear();
    out
}
