//! scripts/mirrormanager-release and scripts/mirrormanager-propagation against a real PostgreSQL
//! cluster (started here with initdb/pg_ctl on a Unix socket in a temporary directory, as an
//! unprivileged user, password-protected and reached through a .pgpass file) holding the subset
//! of MirrorManager2's schema in tests/data/mirrormanager, seeded with Rocky-like rows.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{bin_path, is_root, of_event, records};

const PASSWORD: &str = "mm-test-secret";

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Debian keeps the server programs in /usr/lib/postgresql/<major>/bin, off PATH.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A private PostgreSQL cluster, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Cluster {
    /// Starts a cluster, or returns None (a skip; a failure under CI=true) without PostgreSQL.
    fn start() -> Option<Cluster> {
        let Some(bin) = pg_bin_dir() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "PostgreSQL's initdb is missing under CI=true; scripts/check installs postgresql"
                );
            }
            eprintln!("skipping: PostgreSQL (initdb, pg_ctl) is not installed");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let c = Cluster { dir, bin };
        fs::write(c.dir.path().join("pw"), PASSWORD).unwrap();
        fs::write(
            c.pgpass(),
            format!("*:*:*:mm:{PASSWORD}\n"), // host * matches the socket directory
        )
        .unwrap();
        fs::set_permissions(c.pgpass(), fs::Permissions::from_mode(0o600)).unwrap();
        if is_root() {
            // initdb refuses to run as root: the server runs as nobody.
            Command::new("chown")
                .args(["-R", "nobody:"])
                .arg(c.dir.path())
                .status()
                .unwrap();
            Command::new("chown")
                .arg("root:")
                .arg(c.pgpass())
                .status()
                .unwrap();
        }
        let data = c.dir.path().join("data");
        c.server(&c.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "mm", "-A", "scram-sha-256", "--no-sync", "-E", "UTF8"])
            .arg(format!("--pwfile={}", c.dir.path().join("pw").display()))
            .run("initdb");
        c.server(&c.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-k {} -c listen_addresses= -c fsync=off",
                c.dir.path().display()
            ))
            .arg("-l")
            .arg(c.dir.path().join("server.log"))
            .args(["-w", "start"])
            .run("pg_ctl start");
        Some(c)
    }

    /// A command run as the server's user (nobody when the tests run as root).
    fn server(&self, program: &Path) -> Command {
        if is_root() {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn pgpass(&self) -> PathBuf {
        self.dir.path().join("pgpass")
    }

    /// A command with the libpq environment of this cluster and database.
    fn env(&self, mut cmd: Command, db: &str) -> Command {
        cmd.env("PGHOST", self.dir.path())
            .env("PGUSER", "mm")
            .env("PGDATABASE", db)
            .env("PGPASSFILE", self.pgpass())
            .env_remove("PGPASSWORD")
            .env_remove("PGSERVICE");
        cmd
    }

    /// Creates a database with MirrorManager's tables and the Rocky rows.
    fn seeded(&self, db: &str) {
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        let data = project().join("tests/data/mirrormanager");
        let mut cmd = self.env(Command::new("psql"), db);
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(data.join("schema.sql"))
            .arg("-f")
            .arg(data.join("seed.sql"));
        cmd.run("psql schema and seed");
    }

    /// Runs SQL, returns its rows as text (one line each, `|`-separated).
    fn psql(&self, db: &str, sql: &str) -> String {
        let mut cmd = self.env(Command::new("psql"), db);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
        String::from_utf8(cmd.run("psql").stdout).unwrap()
    }

    /// The redirect table as (from_repo, to_repo) lines in a stable order.
    fn redirects(&self, db: &str) -> String {
        self.psql(
            db,
            "SELECT from_repo || ' -> ' || coalesce(to_repo, '(null)') FROM repository_redirect ORDER BY from_repo",
        )
    }

    fn release(&self, db: &str, args: &[&str]) -> Output {
        let mut cmd = self.env(
            Command::new(project().join("scripts/mirrormanager-release")),
            db,
        );
        cmd.args(args).current_dir(self.dir.path());
        cmd.output().expect("run mirrormanager-release")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .server(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

trait Run {
    fn run(&mut self, what: &str) -> Output;
}

impl Run for Command {
    fn run(&mut self, what: &str) -> Output {
        let out = self.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn actions(recs: &[Value], action: &str) -> usize {
    of_event(recs, "redirect")
        .iter()
        .filter(|r| r["action"] == action)
        .count()
}

#[test]
fn dry_run_shows_the_change_and_changes_nothing() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("mm");
    let before = pg.redirects("mm");
    let out = pg.release("mm", &["9.2", "9.3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out.stdout);
    assert_eq!(actions(&recs, "update"), 8, "4 repos × debug, source");
    assert_eq!(actions(&recs, "insert"), 12, "4 repos × os, debug, source");
    let update = of_event(&recs, "redirect")
        .into_iter()
        .find(|r| r["from_repo"] == "BaseOS-9-debug")
        .expect("BaseOS-9-debug is rewritten");
    assert_eq!(update["before"], "BaseOS-9.2-debug");
    assert_eq!(update["after"], "BaseOS-9.3-debug");
    assert!(
        of_event(&recs, "redirect")
            .iter()
            .all(|r| r["dry_run"] == true)
    );
    assert_eq!(recs.last().unwrap()["dry_run"], true);
    assert_eq!(pg.redirects("mm"), before, "a dry run changed the table");
    assert!(stderr(&out).contains("--apply"));
}

/// The same rows as the SOP's own statements, run by hand on a second copy of the database.
#[test]
fn apply_makes_exactly_the_sops_change_and_a_rerun_is_a_no_op() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("ours");
    pg.seeded("sop");
    pg.psql(
        "sop",
        r"update repository_redirect set to_repo = regexp_replace(to_repo, '9\.2', '9.3') where from_repo ~ '(\w+)-9-(debug|source)';
          insert into repository_redirect (from_repo,to_repo) select REGEXP_REPLACE(rr.from_repo,'9\.2','9.3'),REGEXP_REPLACE(rr.to_repo,'9\.2','9.3')FROM repository_redirect AS rr WHERE from_repo ~ '(\w+)-9.2';",
    );
    let out = pg.release("ours", &["9.2", "9.3", "--apply"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(pg.redirects("ours"), pg.redirects("sop"));
    let recs = records(&out.stdout);
    assert!(of_event(&recs, "check").iter().all(|r| r["ok"] == true));
    assert_eq!(recs.last().unwrap()["updates"], 8);
    assert_eq!(recs.last().unwrap()["inserts"], 12);

    // The SOP's verification select: every redirect has its three columns, target = prefix.
    let unmatched = pg.psql(
        "ours",
        "select count(*) from repository_redirect rr left join repository r on rr.to_repo = r.prefix where r.prefix is null",
    );
    assert_eq!(unmatched.trim(), "0");

    let after = pg.redirects("ours");
    let again = pg.release("ours", &["9.2", "9.3", "--apply"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let recs = records(&again.stdout);
    assert_eq!(actions(&recs, "update") + actions(&recs, "insert"), 0);
    assert_eq!(actions(&recs, "present"), 12);
    assert_eq!(pg.redirects("ours"), after, "a re-run changed something");
}

#[test]
fn the_restore_file_puts_the_old_state_back() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("mm");
    let before = pg.redirects("mm");
    let restore = pg.dir.path().join("restore.sql");
    let out = pg.release(
        "mm",
        &[
            "9.2",
            "9.3",
            "--apply",
            "--restore-file",
            restore.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_ne!(pg.redirects("mm"), before);
    let mut cmd = pg.env(Command::new("psql"), "mm");
    cmd.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "-f",
    ])
    .arg(&restore);
    cmd.run("psql restore");
    assert_eq!(pg.redirects("mm"), before);
}

#[test]
fn a_failing_pre_check_touches_nothing() {
    let Some(pg) = Cluster::start() else { return };
    // 9.3's CRB was not scanned yet: the rewritten redirects would name no repository.
    pg.seeded("unscanned");
    pg.psql(
        "unscanned",
        "DELETE FROM repository WHERE prefix LIKE 'CRB-9.3%'",
    );
    // A redirect for 9.3 exists already with another target.
    pg.seeded("conflict");
    pg.psql(
        "conflict",
        "INSERT INTO repository_redirect (from_repo, to_repo) VALUES ('rocky-BaseOS-9.3', 'BaseOS-9.2')",
    );
    // A redirect of the major version without a target.
    pg.seeded("empty");
    pg.psql(
        "empty",
        "INSERT INTO repository_redirect (from_repo, to_repo) VALUES ('NFV-9-debug', NULL)",
    );
    for (db, kind) in [
        ("unscanned", "missing-target"),
        ("conflict", "conflict"),
        ("empty", "empty"),
    ] {
        let before = pg.redirects(db);
        let out = pg.release(db, &["9.2", "9.3", "--apply"]);
        assert_eq!(code(&out), 3, "{db}: {}", stderr(&out));
        let recs = records(&out.stdout);
        let errors = of_event(&recs, "error");
        assert!(
            errors
                .iter()
                .any(|e| e["op"] == "precheck" && e["kind"] == kind),
            "{db}: {errors:?}"
        );
        assert!(stderr(&out).contains("nothing was changed"), "{db}");
        assert_eq!(pg.redirects(db), before, "{db}: the table changed");
        assert!(
            !pg.dir.path().read_dir().unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("mirrormanager-redirects-")),
            "{db}: a restore file was written for a refused change"
        );
    }
    // A wrong OLD is bad input.
    pg.seeded("wrong");
    let out = pg.release("wrong", &["9.1", "9.3"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("no redirect names 9.1"));
}

#[test]
fn a_failure_in_the_middle_rolls_everything_back() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("mm");
    // The last insert fails, after the updates and the other inserts were made.
    pg.psql(
        "mm",
        r"CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.from_repo = 'rocky-extras-9.3-source' THEN RAISE EXCEPTION 'disk full'; END IF;
          RETURN NEW; END $$;
          CREATE TRIGGER fail_once BEFORE INSERT ON repository_redirect FOR EACH ROW EXECUTE FUNCTION fail_once();",
    );
    let before = pg.redirects("mm");
    let out = pg.release("mm", &["9.2", "9.3", "--apply"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
    assert_eq!(
        pg.redirects("mm"),
        before,
        "a half-applied change was committed"
    );
    assert_eq!(records(&out.stdout).last().unwrap()["errors"], 1);
}

#[test]
fn check_mode_is_the_sops_select_and_fails_on_a_dangling_redirect() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("mm");
    let out = pg.release("mm", &["--check", "9"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out.stdout);
    let checks = of_event(&recs, "check");
    assert_eq!(checks.len(), 20);
    assert!(
        checks
            .iter()
            .all(|c| c["ok"] == true && c["prefix"] == c["to_repo"])
    );

    let before = pg.redirects("mm");
    pg.psql(
        "mm",
        "UPDATE repository_redirect SET to_repo = 'BaseOS-9.9-debug' WHERE from_repo = 'BaseOS-9-debug'",
    );
    let out = pg.release("mm", &["--check", "9"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let recs = records(&out.stdout);
    let bad: Vec<_> = of_event(&recs, "check")
        .into_iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["from_repo"], "BaseOS-9-debug");
    assert!(bad[0]["prefix"].is_null());
    assert_ne!(pg.redirects("mm"), before);
}

#[test]
fn bad_input_and_an_unreachable_database_are_clear_errors() {
    let script = project().join("scripts/mirrormanager-release");
    for args in [
        vec!["9.2"],
        vec!["9.2", "10.3"],
        vec!["9.2", "9.2"],
        vec!["9", "9.3"],
        vec!["--check", "nine"],
        vec!["9.2", "9.3", "--bogus"],
    ] {
        let out = Command::new(&script).args(&args).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("mirrormanager-release: "),
            "{args:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?}: records before the arguments were checked"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&script)
        .args(["9.2", "9.3"])
        .env("PGHOST", dir.path())
        .env("PGDATABASE", "none")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot reach MirrorManager's database"));
    assert_eq!(records(&out.stdout).last().unwrap()["errors"], 1);
}

/// release-check's `redirects` line for Rocky 9.3, against this database.
fn release_check_redirects(pg: &Cluster, db: &str) -> String {
    let base = tempfile::tempdir().unwrap();
    let bins = bin_path("rl-compose").parent().unwrap().to_path_buf();
    let mut cmd = pg.env(Command::new(project().join("scripts/release-check")), db);
    cmd.args([
        "--skip",
        "compose,production,isos,images,checksums,torrents,propagation",
        "9.3",
    ])
    .env("RLVER", "9")
    .env("RLREL", "stable")
    .env("RL_BIN_DIR", bins)
    .env("COMPOSE_ROOT", base.path().join("compose"))
    .env("STAGING_ROOT", base.path().join("staging"))
    .env("PRODUCTION_ROOT", base.path().join("production"))
    .env_remove("RL_PROPAGATION_LOGS");
    let out = cmd.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("redirects"));
    line.unwrap_or_else(|| panic!("no redirects line in:\n{text}"))
        .to_owned()
}

#[test]
fn release_check_fails_until_the_major_redirects_name_the_new_release() {
    let Some(pg) = Cluster::start() else { return };
    pg.seeded("mm");
    let line = release_check_redirects(&pg, "mm");
    assert!(
        line.starts_with("FAIL") && line.contains("not yet pointing at 9.3"),
        "{line}"
    );
    assert!(
        line.contains("BaseOS-9-debug -> BaseOS-9.2-debug"),
        "{line}"
    );
    assert_eq!(code(&pg.release("mm", &["9.2", "9.3", "--apply"])), 0);
    let line = release_check_redirects(&pg, "mm");
    assert!(
        line.starts_with("PASS") && line.contains("point at 9.3"),
        "{line}"
    );
    pg.psql("mm", "UPDATE repository_redirect SET to_repo = 'BaseOS-9.3-gone' WHERE from_repo = 'BaseOS-9-source'");
    let line = release_check_redirects(&pg, "mm");
    assert!(
        line.starts_with("FAIL") && line.contains("BaseOS-9-source -> BaseOS-9.3-gone"),
        "{line}"
    );
}

/// A propagation log as MirrorManager's crawler writes it, and the sha256 values in it.
struct Logs {
    dir: tempfile::TempDir,
    current: String,
}

const PATH: &str = "9.3/BaseOS/x86_64/os/repodata";

impl Logs {
    fn new() -> Logs {
        let dir = tempfile::tempdir().unwrap();
        let repodata = dir.path().join("prod").join(PATH);
        fs::create_dir_all(&repodata).unwrap();
        fs::create_dir(dir.path().join("logs")).unwrap();
        let repomd = b"<repomd>9.3 today</repomd>\n";
        fs::write(repodata.join("repomd.xml"), repomd).unwrap();
        Logs {
            dir,
            current: sha256(repomd),
        }
    }

    /// Writes a log; each mirror is (id, host, sha256 or NOSUM, HTTP status).
    fn write(&self, name: &str, known: &str, mirrors: &[(u32, &str, &str, u32)]) -> PathBuf {
        let mut text = String::new();
        for (i, (id, host, sum, status)) in mirrors.iter().enumerate() {
            text += &format!(
                "INFO:crawler:Hosts({}/{}):Threads(4/4):{id}:{host}:URL::http://{host}/rocky/{PATH}/repomd.xml::SHA256::{sum}::2026-12-07-01-00-00::{known}::{status}::{PATH}\n",
                i + 1,
                mirrors.len()
            );
        }
        text += "INFO:crawler:Hosts(4/4):Threads(0/4):0:master:1 of 4 hosts failed\n";
        let path = self.dir.path().join("logs").join(name);
        fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(project().join("scripts/mirrormanager-propagation"))
            .args(args)
            .env("PRODUCTION_DIR", self.dir.path().join("prod"))
            .output()
            .unwrap()
    }
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn propagation_lists_the_mirrors_behind_as_the_sops_awk_does() {
    let logs = Logs::new();
    let old = sha256(b"<repomd>9.3 yesterday</repomd>\n");
    let cur = logs.current.clone();
    let log = logs.write(
        "rocky-9.3-BaseOS-x86_64_propagation.log.1765069200",
        &cur,
        &[
            (12, "good.example", &cur, 200),
            (30, "stale.example", &old, 200),
            (164, "gone.example", &old, 404),
            (92, "down.example", "NOSUM", 503),
        ],
    );
    let out = logs.run(&[log.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out.stdout);
    let behind: Vec<(String, String)> = of_event(&recs, "mirror")
        .iter()
        .map(|m| {
            (
                m["host_id"].to_string(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        behind,
        [
            ("30".into(), "stale".into()),
            ("164".into(), "http-error".into()),
            ("92".into(), "unreachable".into())
        ]
    );
    let repo = of_event(&recs, "propagation")[0];
    assert_eq!(repo["mirrors"], 4);
    assert_eq!(repo["current"], 1);
    assert_eq!(repo["behind"], 3);
    assert_eq!(repo["production_sha256"], cur.as_str());
    assert_eq!(repo["mirrormanager_current"], true);

    // The SOP's own awk over the same log, with the same production sha256: the same mirrors
    // (id, host, URL, status), apart from the master line it prints too.
    let sop = Command::new("awk")
        .args([
            "-v",
            &format!("shasum={cur}"),
            "-F::",
            r#"{split($0,data,":")} {if ($4 != shasum) {print data[5], data[6], $2, $7}}"#,
        ])
        .arg(&log)
        .output()
        .unwrap();
    let sop: Vec<String> = String::from_utf8(sop.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("0 master"))
        .map(str::to_owned)
        .collect();
    let ours: Vec<String> = of_event(&recs, "mirror")
        .iter()
        .map(|m| {
            format!(
                "{} {} {} {}",
                m["host_id"],
                m["host"].as_str().unwrap(),
                m["url"].as_str().unwrap(),
                m["status"]
            )
        })
        .collect();
    assert_eq!(ours, sop);
}

#[test]
fn propagation_limit_newest_log_and_errors() {
    let logs = Logs::new();
    let cur = logs.current.clone();
    let old = sha256(b"old");
    // An older log of the same repository where everyone was behind: not the one read.
    let older = logs.write(
        "rocky-9.3-BaseOS-x86_64_propagation.log.1764982800",
        &old,
        &[(12, "a.example", &old, 200), (13, "b.example", &old, 200)],
    );
    let newer = logs.write(
        "rocky-9.3-BaseOS-x86_64_propagation.log.1765069200",
        &cur,
        &[(12, "a.example", &cur, 200), (13, "b.example", &old, 200)],
    );
    filetime::set_file_mtime(&older, filetime::FileTime::from_unix_time(1_764_982_800, 0)).unwrap();
    filetime::set_file_mtime(&newer, filetime::FileTime::from_unix_time(1_765_069_200, 0)).unwrap();
    let dir = logs.dir.path().join("logs");
    let dir = dir.to_str().unwrap();

    let out = logs.run(&["--logs", dir, "--max-behind", "60"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let recs = records(&out.stdout);
    let repo = of_event(&recs, "propagation");
    assert_eq!(repo.len(), 1, "one record per repository");
    assert_eq!(repo[0]["log"], newer.to_str().unwrap());
    assert_eq!(repo[0]["behind_share"], 0.5);
    assert_eq!(repo[0]["over_limit"], false);

    let out = logs.run(&["--logs", dir, "--max-behind", "25"]);
    assert_eq!(code(&out), 1, "half the mirrors behind is over 25%");

    // MirrorManager itself has not scanned the new repomd.xml.
    let out = logs.run(&[older.to_str().unwrap()]);
    let recs = records(&out.stdout);
    assert_eq!(
        of_event(&recs, "propagation")[0]["mirrormanager_current"],
        false
    );
    assert!(
        stderr(&out).contains("scan-primary-mirror"),
        "{}",
        stderr(&out)
    );

    // Nothing to compare is an error, never a pass.
    let empty = logs
        .dir
        .path()
        .join("logs/rocky-9.3-AppStream-x86_64_propagation.log.1");
    fs::write(&empty, "").unwrap();
    let out = logs.run(&[empty.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nothing to compare"));
    let out = logs.run(&["--logs", logs.dir.path().join("prod").to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no propagation log"));
    // Production without the repository the log names.
    fs::remove_file(logs.dir.path().join("prod").join(PATH).join("repomd.xml")).unwrap();
    let out = logs.run(&[newer.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("production has no"));
}
