//! The cron jobs (#14): scripts/cron/run-job with a fake compose command that succeeds, fails
//! or hangs, its lock and notification hook; the compose cleanup on a tree with latest links and
//! recent syncs; the systemd units through `systemd-analyze verify`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn cron(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/cron")
        .join(name)
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// `cmd` with the site in `base`: roots, lock and state directories, our binaries.
fn site<'a>(cmd: &'a mut Command, base: &Path) -> &'a mut Command {
    cmd.env("COMPOSE_ROOT", base.join("compose"))
        .env("STAGING_ROOT", base.join("staging"))
        .env("PRODUCTION_ROOT", base.join("production"))
        .env("RL_LOCK_DIR", base)
        .env("RL_STATE_DIR", base.join("state"))
        .env("RL_BIN_DIR", bin_path("rl-sync").parent().unwrap())
}

/// Runs a cron wrapper with the site in `base`.
fn job(base: &Path, wrapper: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(cron(wrapper));
    site(&mut c, base)
        .args(args)
        .env_remove("RL_COMPOSE_CMD")
        .env_remove("RL_NOTIFY_CMD");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn a_compose_job_runs_notifies_on_failure_and_bounds_a_hang() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let calls = base.join("calls");
    let ok = script(
        base,
        "compose-ok",
        &format!("echo \"$@\" >> {}", calls.display()),
    );
    let fail = script(
        base,
        "compose-fail",
        "echo 'pungi: something broke' >&2; exit 5",
    );
    let hang = script(base, "compose-hang", "sleep 30");
    let mail = base.join("mail");
    let notify = script(
        base,
        "notify",
        &format!("{{ echo \"subject: $1\"; cat; }} > {}", mail.display()),
    );
    let (ok, fail, hang, notify) = (
        ok.to_str().unwrap(),
        fail.to_str().unwrap(),
        hang.to_str().unwrap(),
        notify.to_str().unwrap(),
    );

    let out = job(
        base,
        "stable-updates-no-push-8",
        &[("RL_COMPOSE_CMD", ok)],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        fs::read_to_string(&calls).unwrap(),
        "stable-updates-no-push 8\n"
    );
    // No compose command: one sentence naming the variable, exit 2.
    let out = job(base, "stable-updates-no-push-8", &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RL_COMPOSE_CMD is not set"));
    // A failing compose: its status, and a notification naming the step with its last output.
    let out = job(
        base,
        "stable-updates-9",
        &[("RL_COMPOSE_CMD", fail), ("RL_NOTIFY_CMD", notify)],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let m = fs::read_to_string(&mail).unwrap();
    assert!(
        m.contains("subject: rl-tools: stable-updates for Rocky 9 failed at 'compose'"),
        "{m}"
    );
    assert!(m.contains("pungi: something broke"), "{m}");
    assert!(
        !base.join("staging").exists(),
        "nothing synced after a failed compose"
    );
    // A hung compose is stopped by RL_COMPOSE_TIMEOUT (timeout's status 124) and reported.
    fs::remove_file(&mail).unwrap();
    let out = job(
        base,
        "lookahead-9",
        &[
            ("RL_COMPOSE_CMD", hang),
            ("RL_COMPOSE_TIMEOUT", "1s"),
            ("RL_NOTIFY_CMD", notify),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert!(
        fs::read_to_string(&mail)
            .unwrap()
            .contains("failed at 'compose'")
    );
    // A dry run says what would run and runs nothing.
    let out = job(base, "stable-9", &[("RL_COMPOSE_CMD", ok)], &["-n"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would run: timeout") && err.contains("minor-release-sync-to-staging.sh"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&calls).unwrap().lines().count(), 1);
}

#[test]
fn one_run_of_a_job_at_a_time() {
    if !have_peer("flock") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let slow = script(base, "compose-slow", "sleep 2");
    let mut first = Command::new(cron("stable-updates-no-push-8"))
        .env("RL_COMPOSE_CMD", &slow)
        .env("RL_LOCK_DIR", base)
        .env("COMPOSE_ROOT", base.join("compose"))
        .spawn()
        .unwrap();
    let lock = base.join("rl-cron-stable-updates-no-push-8-stable.lock");
    let t = std::time::Instant::now();
    while !lock.exists() && t.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = job(
        base,
        "stable-updates-no-push-8",
        &[("RL_COMPOSE_CMD", slow.to_str().unwrap())],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("still running"));
    assert!(first.wait().unwrap().success());
}

fn aged(p: &Path, days: u32) {
    let st = Command::new("touch")
        .arg("-d")
        .arg(format!("{days} days ago"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn cleanup_keeps_latest_targets_recent_syncs_and_everything_outside() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let dir = base.join("compose/9");
    let outside = base.join("outside-20250101.0");
    fs::create_dir_all(outside.join("compose")).unwrap();
    fs::write(outside.join("compose/keep"), "x").unwrap();
    let names = [
        "Rocky-9-updates-20251101.0", // old: removed
        "Rocky-9-updates-20251102.0", // old, the latest link's target: kept
        "Rocky-9-updates-20251103.0", // old, synced from yesterday: kept
        "Rocky-9-updates-20251130.0", // recent: kept
        "pungi-config",               // not a compose: kept
    ];
    for n in names {
        fs::create_dir_all(dir.join(n).join("compose")).unwrap();
    }
    symlink(&outside, dir.join("Rocky-9-updates-20251104.0")).unwrap();
    symlink("Rocky-9-updates-20251102.0", dir.join("latest-Rocky-9")).unwrap();
    for n in &names[..3] {
        aged(&dir.join(n), 30);
    }
    aged(&dir.join("pungi-config"), 30);
    aged(&outside, 30);
    // A sync from the third compose, as the scripts note it.
    let state = base.join("state");
    fs::create_dir_all(&state).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let real = fs::canonicalize(dir.join(names[2])).unwrap();
    fs::write(
        state.join("synced-from"),
        format!("{} {}\n", now - 86400, real.display()),
    )
    .unwrap();

    let dry = job(base, "stable-cleanup-9", &[], &["-n"]);
    assert!(dry.status.success(), "{dry:?}");
    let said = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("would delete") && said.contains(names[0]),
        "{said}"
    );
    assert!(dir.join(names[0]).exists(), "a dry run deletes nothing");

    let out = job(base, "stable-cleanup-9", &[], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(!dir.join(names[0]).exists());
    for n in &names[1..] {
        assert!(dir.join(n).exists(), "{n} kept");
    }
    assert!(
        outside.join("compose/keep").exists(),
        "nothing outside the compose directory"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the target of latest-Rocky-9") && err.contains("synced from"),
        "{err}"
    );
}

#[test]
fn the_scripts_note_the_composes_they_sync_from() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let compose = base.join("compose/9/Rocky-9-updates-20251101.0");
    fs::create_dir_all(compose.join("compose/BaseOS")).unwrap();
    fs::write(compose.join("compose/BaseOS/p.rpm"), "p").unwrap();
    symlink(
        "Rocky-9-updates-20251101.0",
        base.join("compose/9/latest-Rocky-9"),
    )
    .unwrap();
    fs::create_dir_all(base.join("staging")).unwrap();
    let common = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/common");
    let mut c = Command::new("bash");
    let out = site(&mut c, base)
        .arg("-c")
        .arg(format!(
            "source {}; rl_sync \"$RELEASE_COMPOSE_ROOT/compose/\" \"$STAGING_ROOT/t/\" >/dev/null",
            common.display()
        ))
        .env("RLVER", "9")
        .env("RL_CHOWN", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = fs::read_to_string(base.join("state/synced-from")).unwrap();
    let real = fs::canonicalize(&compose).unwrap();
    assert!(
        log.trim_end().ends_with(&format!(" {}", real.display())),
        "{log}"
    );
}

#[test]
fn the_systemd_units_verify() {
    if !have_peer("systemd-analyze") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/systemd");
    let checkout_cron = cron("");
    let mut args = Vec::new();
    for e in fs::read_dir(&units).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        // Installed paths point into /usr/share/rl-tools; here into the checkout.
        let text = fs::read_to_string(e.path()).unwrap().replace(
            "/usr/share/rl-tools/scripts/cron/",
            checkout_cron.to_str().unwrap(),
        );
        if name == "rl-cron@.service" {
            // verify needs an instance; one per wrapper a timer names.
            continue;
        }
        let job = name
            .strip_prefix("rl-cron-")
            .and_then(|n| n.strip_suffix(".timer"))
            .expect("only rl-cron-JOB.timer and rl-cron@.service in etc/systemd");
        assert!(cron(job).is_file(), "{name} runs a job that does not exist");
        fs::write(d.path().join(&name), text).unwrap();
        let service = fs::read_to_string(units.join("rl-cron@.service"))
            .unwrap()
            .replace(
                "/usr/share/rl-tools/scripts/cron/",
                checkout_cron.to_str().unwrap(),
            );
        let instance = format!("rl-cron@{job}.service");
        fs::write(d.path().join(&instance), service).unwrap();
        args.push(name);
        args.push(instance);
    }
    assert!(args.len() >= 2);
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(args.iter().map(|a| format!("./{a}")))
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn find_unsigned_reports_packages_without_the_release_key_and_needs_a_key() {
    let d = tempfile::tempdir().unwrap();
    let base = d.path();
    let top = base.join("compose/9/Rocky-9-updates-20251101.0");
    let rpms = r#"{"header":{"type":"productmd.rpms","version":"1.2"},"payload":{"compose":{"id":"x"},"rpms":{"BaseOS":{"x86_64":{"a-1-1.src":{
        "a-1-1.x86_64":{"path":"BaseOS/x86_64/os/Packages/a-1-1.x86_64.rpm","sigkey":"350d275d","category":"binary"},
        "b-1-1.x86_64":{"path":"BaseOS/x86_64/os/Packages/b-1-1.x86_64.rpm","sigkey":null,"category":"binary"}}}}}}}"#;
    fs::create_dir_all(top.join("compose/metadata")).unwrap();
    fs::write(top.join("compose/metadata/rpms.json"), rpms).unwrap();
    symlink(
        "Rocky-9-updates-20251101.0",
        base.join("compose/9/latest-Rocky-9"),
    )
    .unwrap();
    let out = job(base, "stable-find-unsigned-9", &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsigned: BaseOS/x86_64/os/Packages/b-1-1.x86_64.rpm"),
        "{err}"
    );
    assert!(!err.contains("a-1-1"), "{err}");
    // A release data file without SIGN_KEY would check nothing: refused.
    let data = base.join("data");
    fs::create_dir(&data).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/rl-tools/release-9.conf");
    let keyless: String = fs::read_to_string(shipped)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("SIGN_KEY="))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(data.join("release-9.conf"), keyless).unwrap();
    let out = job(
        base,
        "stable-find-unsigned-9",
        &[("RL_RELEASE_DATA", data.to_str().unwrap())],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no release signing key"));
}
