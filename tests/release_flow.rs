//! Tools working together on one release tree, as the pipelines chain them.

use std::fs;
use std::path::Path;

use crate::common::*;

fn file_list(dir: &Path) -> Vec<(String, String)> {
    let out = rl("rl-filelist").arg("-d").arg(dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .filter(|l| l.matches('\t').count() == 3)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[3].to_owned(), format!("{}\t{}", f[0], f[1]))
        })
        .collect()
}

/// The bitflip is seen by mirrors only through the file list: before it the release root is
/// `d-` and everything below is starred; after it the markers are plain, and no MODTIME below
/// the root changes (only the root's own mode changed, so no mirror re-checks the tree).
#[test]
fn bitflip_changes_only_the_markers_of_the_file_list() {
    let tmp = tempfile::tempdir().unwrap();
    let pub_dir = tmp.path().join("pub");
    let release = pub_dir.join("9.6");
    fs::create_dir_all(release.join("BaseOS/x86_64/os/repodata")).unwrap();
    fs::write(
        release.join("BaseOS/x86_64/os/repodata/repomd.xml"),
        "<repomd/>",
    )
    .unwrap();
    fs::write(pub_dir.join("README"), "hello").unwrap();

    let out = rl("rl-bitflip")
        .arg("stage")
        .arg(&release)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = file_list(&pub_dir);
    let marker = |list: &[(String, String)], path: &str| {
        let line = &list.iter().find(|(p, _)| p == path).unwrap().1;
        line.split('\t').nth(1).unwrap().to_owned()
    };
    assert_eq!(marker(&before, "9.6"), "d-");
    assert_eq!(marker(&before, "9.6/BaseOS"), "d*");
    assert_eq!(
        marker(&before, "9.6/BaseOS/x86_64/os/repodata/repomd.xml"),
        "f*"
    );
    assert_eq!(marker(&before, "README"), "f");

    // Too early: refused, nothing changes.
    let out = rl("rl-bitflip")
        .arg("publish")
        .arg(&release)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(file_list(&pub_dir), before);

    let out = rl("rl-bitflip")
        .args(["publish", "--force"])
        .arg(&release)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = file_list(&pub_dir);
    assert_eq!(marker(&after, "9.6"), "d");
    assert_eq!(marker(&after, "9.6/BaseOS"), "d");
    assert_eq!(
        marker(&after, "9.6/BaseOS/x86_64/os/repodata/repomd.xml"),
        "f"
    );
    for ((path, b), (path2, a)) in before.iter().zip(&after) {
        assert_eq!(path, path2);
        if path != "9.6" {
            assert_eq!(
                b.split('\t').next(),
                a.split('\t').next(),
                "MODTIME of {path} moved"
            );
        }
    }
}
