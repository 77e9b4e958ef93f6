//! The drop-in defects of issue #14 found by running the toolkit's sync/ scripts side by side
//! with scripts/ (items 1, 2, 3 and the small ones of 6): signing that was silently off, images/
//! and live/ published without a CHECKSUM, FINISHED_INCOMPLETE composes with no way through,
//! staging .treeinfo files owned by root, the dry production sync claiming it synced, and the
//! README's exit statuses of the refusals. Each test runs the real scripts on a generated compose.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;
use crate::pipelines::{Site, have_compose_peers, repo_dir, snapshot};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A toolkit-style signer, `sign-repo-9.sh FILE`, in its own directory (RL_SIGN_DIR): it writes
/// FILE.asc and logs every call, so a test counts the signing calls as the issue did.
fn toolkit_signer(site: &Site) -> (PathBuf, PathBuf) {
    let dir = site.root.join("root-bin");
    let log = site.root.join("sign.log");
    fs::create_dir_all(&dir).unwrap();
    let script = dir.join("sign-repo-9.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nsha256sum \"$1\" > \"$1.asc\"\necho \"$1\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (dir, log)
}

fn calls(log: &Path) -> usize {
    fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

/// A script run without RL_SIGN_CMD, the toolkit's signer looked for in `sign_dir`.
fn without_sign_cmd(site: &Site, name: &str, args: &[&str], sign_dir: &Path) -> Output {
    let mut cmd = site.command(name, args);
    cmd.env_remove("RL_SIGN_CMD").env("RL_SIGN_DIR", sign_dir);
    cmd.output().unwrap()
}

#[test]
fn signing_uses_the_toolkit_command_and_refuses_when_there_is_none() {
    if !have_compose_peers() {
        return;
    }
    let site = Site::new("stable");
    let (sign_dir, log) = toolkit_signer(&site);
    let nowhere = site.root.join("no-such-bin");
    let compose = site.root.join("compose");

    // No RL_SIGN_CMD and no toolkit signer: refused before the compose or staging change.
    let before = snapshot(&compose);
    let out = without_sign_cmd(&site, "minor-release-sync-to-staging.sh", &["-q"], &nowhere);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("RL_SIGN_CMD"), "{}", stderr(&out));
    assert_eq!(snapshot(&compose), before, "the compose was not prepared");
    assert!(
        !site.root.join("repos-staging").exists(),
        "staging untouched"
    );

    // The toolkit's /root/bin/sign-repo-9.sh (here in RL_SIGN_DIR) is used by default.
    let out = without_sign_cmd(
        &site,
        "minor-release-sync-to-staging.sh",
        &["-q"],
        &sign_dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        calls(&log),
        8,
        "BaseOS and AppStream, os and kickstart, 2 arches"
    );
    assert!(
        stderr(&out).contains("signed 8 repomd.xml with "),
        "{}",
        stderr(&out)
    );
    let rev = site.staging().join("9.7-RC2");
    assert!(
        rev.join("AppStream/aarch64/kickstart/repodata/repomd.xml.asc")
            .exists()
    );

    // sign-repos-only.sh: refused (nothing fixed) without a signer, never "re-signed".
    let staging = site.staging();
    let before = snapshot(&staging);
    let out = without_sign_cmd(&site, "sign-repos-only.sh", &["-q"], &nowhere);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("RL_SIGN_CMD"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(": signed ") && !stderr(&out).contains("re-signed"));
    assert_eq!(snapshot(&staging), before);
    // Explicitly off: it says nothing was signed.
    let out = site.script("sign-repos-only.sh", &["-q"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing signed"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("re-signed"), "{}", stderr(&out));
    assert_eq!(calls(&log), 8);
    // With the toolkit's signer: one call per repository it covers, and it says how many.
    let out = without_sign_cmd(&site, "sign-repos-only.sh", &["-q"], &sign_dir);
    assert!(out.status.success(), "{}", stderr(&out));
    let signed = calls(&log) - 8;
    assert!(signed >= 10, "{signed} signing calls");
    assert!(
        stderr(&out).contains(&format!("signed {signed} repomd.xml with ")),
        "{}",
        stderr(&out)
    );
    // A RL_SIGN_CMD that is no command is refused before anything changes.
    let out = site.script(
        "sign-repos-only.sh",
        &["-q"],
        &[("RL_SIGN_CMD", "/nonexistent/signer --key 9")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // The updates sync signs too: refused before its sync without a signer.
    let before = snapshot(&staging);
    let out = without_sign_cmd(&site, "sync-to-staging.sh", &["Rocky", "-q"], &nowhere);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("RL_SIGN_CMD"), "{}", stderr(&out));
    assert_eq!(snapshot(&staging), before);
}

/// The file names of a directory that must be in its CHECKSUM (not the checksum, signature and
/// manifest files).
fn deliverables(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("CHECKSUM") && !n.ends_with(".CHECKSUM"))
        .filter(|n| !n.ends_with(".manifest") && !n.ends_with(".asc"))
        .collect();
    names.sort();
    names
}

fn release_check(site: &Site) -> (i32, String) {
    let out = site.script("release-check", &["--skip", "torrents"], &[]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(" checksums "))
        .unwrap_or_else(|| panic!("no checksums line: {text}{}", stderr(&out)))
        .to_owned();
    (out.status.code().unwrap_or(-1), line)
}

#[test]
fn images_and_live_get_a_checksum_and_release_check_requires_it() {
    if !have_compose_peers() || !have_peer("sha256sum") {
        return;
    }
    let site = Site::new("stable");
    site.ok("minor-release-sync-to-staging.sh", &["-q"], &[]);
    let rev = site.staging().join("9.7-RC2");
    for dir in ["images/x86_64", "images/aarch64", "live/x86_64"] {
        let dir = rev.join(dir);
        let checksum = fs::read_to_string(dir.join("CHECKSUM"))
            .unwrap_or_else(|e| panic!("{}/CHECKSUM: {e}", dir.display()));
        let names = deliverables(&dir);
        assert!(!names.is_empty());
        for name in &names {
            assert!(
                checksum.contains(&format!("SHA256 ({name}) = ")),
                "{name} not in {}/CHECKSUM",
                dir.display()
            );
        }
        let st = Command::new("sha256sum")
            .args(["--strict", "-c", "CHECKSUM"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stdout)
        );
    }
    assert!(
        fs::read_to_string(rev.join("live/x86_64/CHECKSUM"))
            .unwrap()
            .contains("SHA256 (Rocky-9-KDE-x86_64-latest.iso) = ")
    );
    // A second run rewrites none of them.
    let before = snapshot(&rev.join("images"));
    site.ok("minor-release-sync-to-staging.sh", &["-q"], &[]);
    assert_eq!(snapshot(&rev.join("images")), before);

    let (code, line) = release_check(&site);
    assert!(line.starts_with("PASS"), "{line}");
    assert_eq!(code, 0, "{line}");
    // A live directory without CHECKSUM fails the check.
    let live = rev.join("live/x86_64/CHECKSUM");
    let saved = fs::read(&live).unwrap();
    fs::remove_file(&live).unwrap();
    let (code, line) = release_check(&site);
    assert_eq!(code, 1);
    assert!(
        line.starts_with("FAIL") && line.contains("no CHECKSUM in live/x86_64"),
        "{line}"
    );
    fs::write(&live, saved).unwrap();
    // An image missing from its directory's CHECKSUM fails it too.
    let images = rev.join("images/x86_64/CHECKSUM");
    let text = fs::read_to_string(&images).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("Vagrant-Libvirt.latest"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&images, kept).unwrap();
    let (code, line) = release_check(&site);
    assert_eq!(code, 1);
    assert!(
        line.starts_with("FAIL")
            && line.contains("images/x86_64/Rocky-9-Vagrant-Libvirt.latest.x86_64.box"),
        "{line}"
    );
}

#[test]
fn a_finished_incomplete_compose_needs_rl_allow_incomplete() {
    if !have_compose_peers() {
        return;
    }
    let site = Site::new("stable");
    let status = site.root.join("compose/9/latest-Rocky-9/STATUS");
    fs::write(&status, "FINISHED_INCOMPLETE\n").unwrap();
    let compose = site.root.join("compose");
    let before = snapshot(&compose);
    for script in [
        "minor-release-sync-to-staging.sh",
        "sync-to-staging.sh",
        "sync-to-staging.delete.sh",
    ] {
        let out = site.script(script, &["Rocky", "-q"], &[]);
        assert_eq!(out.status.code(), Some(1), "{script}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("FINISHED_INCOMPLETE")
                && stderr(&out).contains("RL_ALLOW_INCOMPLETE=1"),
            "{script}: {}",
            stderr(&out)
        );
    }
    assert_eq!(snapshot(&compose), before);
    assert!(!site.root.join("repos-staging").exists());
    let out = site.script(
        "minor-release-sync-to-staging.sh",
        &["-q"],
        &[("RL_ALLOW_INCOMPLETE", "yes")],
    );
    assert_eq!(out.status.code(), Some(2), "only 1 or 0");

    site.ok(
        "minor-release-sync-to-staging.sh",
        &["-q"],
        &[("RL_ALLOW_INCOMPLETE", "1")],
    );
    assert!(
        site.staging()
            .join("9.7-RC2/BaseOS/x86_64/os/repodata/repomd.xml")
            .exists()
    );

    // The dry production sync says it synced nothing (it used to end "synced; now run …").
    let out = site.script("sync-to-prod-dry.sh", &["-q"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("now run the file list script"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("dry run: nothing was synced"));
    assert!(!site.production().join("9.7").exists());
}

#[test]
fn staging_treeinfo_files_are_owned_by_rl_chown() {
    if !have_compose_peers() {
        return;
    }
    if !is_root() {
        eprintln!("skipping: forcing an owner (RL_CHOWN) needs root");
        return;
    }
    let site = Site::new("stable");
    site.ok(
        "minor-release-sync-to-staging.sh",
        &["-q"],
        &[("RL_CHOWN", "10004:10005")],
    );
    let rev = site.staging().join("9.7-RC2");
    let mut seen = 0;
    for e in rl_core::walk::walk(&rev, &Default::default()) {
        let e = e.unwrap();
        let Some(name) = e.rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        if name.starts_with(".treeinfo") {
            seen += 1;
            let m = e.metadata;
            assert_eq!((m.uid(), m.gid()), (10004, 10005), "{}", e.rel.display());
        }
    }
    assert!(seen >= 8, "os and kickstart .treeinfo and pristine copies");
}

/// The README's table of refusals is what the scripts really exit (the toolkit's status is
/// documented beside it, not claimed to be the same).
#[test]
fn the_readme_refusal_table_is_what_the_scripts_exit() {
    let readme = fs::read_to_string(repo_dir().join("README.md")).unwrap();
    let start = readme
        .find("| refusal | exit | toolkit |")
        .expect("the refusal table in README.md");
    let rows: Vec<(String, i32)> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let code = cells[1].trim().parse().unwrap_or_else(|_| panic!("{l}"));
            (cells[0].trim_start_matches("| ").to_owned(), code)
        })
        .collect();
    assert!(rows.len() >= 7, "{rows:?}");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bins = bin_path("rl-sync").parent().unwrap().to_path_buf();
    let run = |script: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new("bash");
        cmd.arg(repo_dir().join("scripts").join(script))
            .args(args)
            .env("COMPOSE_ROOT", root.join("compose"))
            .env("STAGING_ROOT", root.join("staging"))
            .env("PRODUCTION_ROOT", root.join("production"))
            .env("RL_BIN_DIR", &bins)
            .env("RL_CHOWN", "")
            .env("RL_SIGN_DIR", root.join("no-signer"))
            .env("TMPDIR", root)
            .env("RL_LOCK_DIR", root)
            .env("RLVER", "9")
            .env_remove("RLREL")
            .env_remove("RL_SIGN_CMD")
            .env_remove("RL_ALLOW_INCOMPLETE")
            .env_remove("RL_BITFLIP_FORCE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        out.status.code().unwrap_or(-1)
    };
    // Fake composes: STATUS and COMPOSE_ID are all the gate reads.
    for (short, status) in [
        ("Rocky", "FINISHED_INCOMPLETE"),
        ("Extras", "DOOMED"),
        ("Rocky-devel", "FINISHED"),
    ] {
        let c = root.join(format!("compose/9/{short}"));
        fs::create_dir_all(c.join("compose")).unwrap();
        fs::write(c.join("STATUS"), format!("{status}\n")).unwrap();
        fs::write(c.join("COMPOSE_ID"), "Rocky-9.7-20261122.0\n").unwrap();
        std::os::unix::fs::symlink(short, root.join(format!("compose/9/latest-{short}-9")))
            .unwrap();
    }
    let release = root.join("production/mirror/pub/rocky/9.7");
    fs::create_dir_all(&release).unwrap();
    fs::create_dir_all(root.join("staging/mirror/pub/rocky/9.7-RC2")).unwrap();

    for (refusal, documented) in &rows {
        let seen: Vec<i32> = if refusal.contains("unknown") {
            vec![
                run("sync-to-staging.sh", &["Rocky"], &[("RLVER", "7")]),
                run("sync-to-prod.sh", &[], &[("RLREL", "lookahead")]),
            ]
        } else if refusal.contains("missing compose") {
            vec![
                run("lh-release-sync-to-staging.sh", &[], &[]),
                run("sync-to-staging.sh", &["Plus"], &[]),
            ]
        } else if refusal.contains("not FINISHED") {
            vec![
                run("sync-to-staging.sh", &["Rocky"], &[]),
                run("sync-to-staging.sh", &["Extras"], &[]),
            ]
        } else if refusal.contains("signing command") {
            vec![
                run("sync-to-staging.sh", &["Rocky-devel"], &[]),
                run("sign-repos-only.sh", &[], &[]),
            ]
        } else if refusal.contains("RLREL=lh") {
            ["sync-to-prod.sh", "sync-to-prod-dry.sh", "vault-release.sh"]
                .iter()
                .flat_map(|s| {
                    [
                        run(s, &[], &[("RLREL", "lh")]),
                        run(s, &[], &[("RLREL", "beta")]),
                    ]
                })
                .chain([run("vault-release-no-repodata.sh", &[], &[("RLREL", "lh")])])
                .collect()
        } else if refusal.contains("RLVER=8") {
            vec![run(
                "sync-to-staging.delete.sh",
                &["Rocky"],
                &[("RLVER", "8")],
            )]
        } else if refusal.contains("bitflip.sh publish") {
            assert_eq!(run("bitflip.sh", &["stage", "-q"], &[]), 0);
            vec![run("bitflip.sh", &["publish", "-q"], &[])]
        } else {
            panic!("a refusal this test does not know: {refusal}");
        };
        for code in seen {
            assert_eq!(code, *documented, "README: {refusal} exits {documented}");
        }
    }
    assert!(
        !root
            .join("staging/mirror/pub/rocky/9.7-RC2/BaseOS")
            .exists()
            && fs::read_dir(root.join("production/mirror/pub/rocky/9.7"))
                .unwrap()
                .next()
                .is_none(),
        "the refusals changed nothing"
    );
}
