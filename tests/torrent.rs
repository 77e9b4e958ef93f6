//! rl-torrent: scaffold, create, verify and show, checked against transmission-show, aria2c,
//! mktorrent and lava_torrent on small Rocky-shaped fixtures.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

const T1: &str = "udp://tracker.opentrackr.org:1337/announce";
const T2: &str = "http://bt1.archive.org:6969/announce";
const EXCLUDE: &str = r".*\/CHECKSUM.asc";
const NAME: &str = "Rocky-9.7-x86_64-minimal";

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    isodir: PathBuf,
    dl: PathBuf,
    out: PathBuf,
}

impl Fixture {
    /// ISODIR/x86_64 with a 2.5 MB minimal ISO (and a boot ISO), CHECKSUM files, signatures and
    /// a manifest; scaffolded into dl/ with rl-torrent scaffold.
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let isodir = base.join("isos");
        let arch = isodir.join("x86_64");
        fs::create_dir_all(&arch).unwrap();
        fs::write(arch.join(format!("{NAME}.iso")), noise(2_500_000, 1)).unwrap();
        fs::write(arch.join("Rocky-9.7-x86_64-boot.iso"), noise(300_000, 2)).unwrap();
        fs::write(arch.join("CHECKSUM"), "# all checksums\n").unwrap();
        fs::write(arch.join("CHECKSUM.asc"), "-----BEGIN PGP-----\n").unwrap();
        fs::write(arch.join(format!("{NAME}.iso.CHECKSUM")), "# one\n").unwrap();
        fs::write(arch.join(format!("{NAME}.iso.CHECKSUM.asc")), "sig\n").unwrap();
        fs::write(arch.join(format!("{NAME}.iso.manifest")), "").unwrap();
        let dl = base.join("download");
        let out = base.join("watch");
        let o = rl("rl-torrent")
            .args([
                "scaffold",
                "--revision",
                "9.7",
                "--arch",
                "x86_64",
                "--into",
            ])
            .arg(&dl)
            .arg(&isodir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Fixture {
            _tmp: tmp,
            base,
            isodir,
            dl,
            out,
        }
    }

    fn dir(&self) -> PathBuf {
        self.dl.join(NAME)
    }

    fn torrent(&self) -> PathBuf {
        self.out.join(format!("{NAME}.torrent"))
    }

    /// rl-torrent create with Rocky's options over `targets`; returns (status, records, stderr).
    fn create(&self, targets: &[&Path], extra: &[&str]) -> (i32, Vec<Value>, String) {
        let o = rl("rl-torrent")
            .args([
                "create",
                "-a",
                T1,
                "-a",
                T2,
                "-c",
                "https://docs/9_7/",
                "-x",
                EXCLUDE,
            ])
            .arg("--output-dir")
            .arg(&self.out)
            .args(extra)
            .args(targets)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            records(&o.stdout),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

fn run_tool(args: &[&OsStr]) -> (i32, Vec<Value>, String) {
    let o = rl("rl-torrent").args(args).output().unwrap();
    (
        o.status.code().unwrap(),
        records(&o.stdout),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn verify(torrent: &Path, dir: &Path) -> (i32, Vec<Value>, String) {
    run_tool(&[OsStr::new("verify"), torrent.as_os_str(), dir.as_os_str()])
}

/// The records of `show` on torrent bytes.
fn recs_first(bytes: &[u8]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.torrent");
    fs::write(&p, bytes).unwrap();
    show(&p).1
}

fn show(torrent: &Path) -> (i32, Vec<Value>, String) {
    run_tool(&[OsStr::new("show"), torrent.as_os_str()])
}

fn peer(program: &str, args: &[&OsStr]) -> (bool, String) {
    let o = Command::new(program).args(args).output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn transmission_hash(torrent: &Path) -> String {
    let (ok, text) = peer("transmission-show", &[torrent.as_os_str()]);
    assert!(ok, "{text}");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .unwrap_or_else(|| panic!("no Hash line in {text}"))
        .to_string()
}

const PAYLOAD: [&str; 5] = [
    "CHECKSUM",
    "Rocky-9.7-x86_64-minimal.iso",
    "Rocky-9.7-x86_64-minimal.iso.CHECKSUM",
    "Rocky-9.7-x86_64-minimal.iso.CHECKSUM.asc",
    "Rocky-9.7-x86_64-minimal.iso.manifest",
];

#[test]
fn scaffold_links_the_iso_and_its_side_files_and_leaves_existing_dirs_alone() {
    let f = Fixture::new();
    let dir = f.dir();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want = vec!["CHECKSUM.asc".to_string()];
    want.extend(PAYLOAD.iter().map(|s| s.to_string()));
    want.sort();
    assert_eq!(names, want);
    for n in &names {
        let link = dir.join(n);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            fs::read_link(&link).unwrap(),
            f.isodir.join("x86_64").join(n)
        );
    }
    // The boot ISO got its own directory, without the minimal ISO's files.
    let boot = f.dl.join("Rocky-9.7-x86_64-boot");
    assert!(boot.join("Rocky-9.7-x86_64-boot.iso").exists());
    assert!(!boot.join(format!("{NAME}.iso")).exists());

    // A second run leaves both alone; a missing arch and variant are skipped silently.
    fs::remove_file(dir.join("CHECKSUM")).unwrap();
    let o = rl("rl-torrent")
        .args(["scaffold", "--revision", "9.7", "--arch", "x86_64,aarch64"])
        .args(["--variant", "boot,minimal,dvd", "--into"])
        .arg(&f.dl)
        .arg(&f.isodir)
        .output()
        .unwrap();
    assert!(o.status.success());
    let recs = records(&o.stdout);
    let sc = of_event(&recs, "scaffold");
    assert_eq!(sc.len(), 2);
    assert!(sc.iter().all(|r| r["state"] == "exists"));
    assert_eq!(sc[0]["path"], "Rocky-9.7-x86_64-boot");
    assert!(!dir.join("CHECKSUM").exists(), "existing dir was changed");

    // Dry run: records, nothing made.
    let into = f.base.join("dry");
    let o = rl("rl-torrent")
        .args([
            "scaffold",
            "--dry-run",
            "--revision",
            "9.7",
            "--arch",
            "x86_64",
            "--into",
        ])
        .arg(&into)
        .arg(&f.isodir)
        .output()
        .unwrap();
    let recs = records(&o.stdout);
    assert_eq!(of_event(&recs, "scaffold").len(), 2);
    assert_eq!(of_event(&recs, "scaffold")[0]["dry_run"], true);
    assert!(!into.exists());

    // scaffold | create - : one torrent per new directory.
    let piped = f.base.join("piped");
    let o = rl("rl-torrent")
        .args([
            "scaffold",
            "--revision",
            "9.7",
            "--arch",
            "x86_64",
            "--into",
        ])
        .arg(&piped)
        .arg(&f.isodir)
        .output()
        .unwrap();
    let o = rl("rl-torrent")
        .args([
            "create",
            "-",
            "--no-tracker",
            "--no-date",
            "-x",
            EXCLUDE,
            "-o",
        ])
        .arg(f.base.join("piped-out"))
        .write_stdin(o.stdout)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs = records(&o.stdout);
    let names: Vec<&str> = of_event(&recs, "torrent")
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Rocky-9.7-x86_64-boot.torrent", &format!("{NAME}.torrent")]
    );
    let o = rl("rl-torrent")
        .args(["create", "-", "--no-tracker", "-o"])
        .arg(f.base.join("piped-out"))
        .write_stdin("not json\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("stdin line 1"));

    // A missing ISO directory is a clear error.
    let o = rl("rl-torrent")
        .args([
            "scaffold",
            "--revision",
            "9.7",
            "--arch",
            "x86_64",
            "--into",
        ])
        .arg(&into)
        .arg(f.base.join("nope"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No such file"));
}

#[test]
fn create_writes_what_transmission_aria2_and_lava_torrent_read() {
    let f = Fixture::new();
    let (code, recs, err) = f.create(&[&f.dir()], &["--date", "1700000000"]);
    assert_eq!(code, 0, "{err}");
    let t = of_event(&recs, "torrent");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["path"], format!("{NAME}.torrent"));
    assert_eq!(t[0]["name"], NAME);
    assert_eq!(t[0]["files"], 5);
    assert_eq!(t[0]["written"], "created");
    // 2.5 MB of content: 2^(21-9) = 4 KiB is below the clamp, so 32 KiB pieces.
    assert_eq!(t[0]["piece_length"], 32768);
    let skips = of_event(&recs, "skip");
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0]["path"], "CHECKSUM.asc");
    assert_eq!(skips[0]["reason"], "excluded");
    let size = t[0]["size"].as_u64().unwrap();
    assert_eq!(
        t[0]["pieces"].as_u64().unwrap(),
        size.div_ceil(32768),
        "piece count"
    );
    let torrent = f.torrent();
    let hash = t[0]["info_hash"].as_str().unwrap().to_string();

    if have_peer("transmission-show") {
        let (ok, text) = peer("transmission-show", &[torrent.as_os_str()]);
        assert!(ok, "{text}");
        assert!(text.contains(&format!("Hash: {hash}")), "{text}");
        assert!(text.contains("Comment: https://docs/9_7/"));
        let t1 = text.find(&format!("Tier #1\n  {T1}")).expect("tier 1");
        let t2 = text.find(&format!("Tier #2\n  {T2}")).expect("tier 2");
        assert!(t1 < t2);
        let listed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{NAME}/")))
            .map(|l| l.split(" (").next().unwrap())
            .collect();
        assert_eq!(listed, PAYLOAD, "{text}");
    }
    if have_peer("aria2c") {
        let (ok, text) = peer("aria2c", &[OsStr::new("--show-files"), torrent.as_os_str()]);
        assert!(ok, "{text}");
        assert!(text.contains(&format!("Info Hash: {hash}")), "{text}");
        assert!(text.contains(&format!(" {T1}\n {T2}\n")), "{text}");
        let listed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split(&format!("|./{NAME}/")).nth(1))
            .collect();
        assert_eq!(listed, PAYLOAD, "{text}");
    }
    // lava_torrent, an independent parser, reads it back the same way.
    let lt = lava_torrent::torrent::v1::Torrent::read_from_file(&torrent).unwrap();
    assert_eq!(lt.info_hash(), hash);
    assert_eq!(lt.name, NAME);
    assert_eq!(lt.announce.as_deref(), Some(T1));
    assert_eq!(
        lt.announce_list,
        Some(vec![vec![T1.to_string()], vec![T2.to_string()]])
    );
    let files: Vec<PathBuf> = lt.files.unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(files, PAYLOAD.iter().map(PathBuf::from).collect::<Vec<_>>());
    let extra = lt.extra_fields.unwrap();
    assert!(extra.contains_key("created by"));
    assert!(matches!(
        extra.get("creation date"),
        Some(lava_torrent::bencode::BencodeElem::Integer(1_700_000_000))
    ));
    assert!(lt.extra_info_fields.is_none(), "no extra info keys");

    // show gives the same as one record.
    let (code, recs, _) = show(&torrent);
    assert_eq!(code, 0);
    let m = of_event(&recs, "metainfo");
    assert_eq!(m[0]["info_hash"], hash);
    assert_eq!(m[0]["creation_date"], 1_700_000_000);
    assert_eq!(m[0]["announce_list"][1][0], T2);
    assert_eq!(m[0]["files"][1]["path"], PAYLOAD[1]);
    assert_eq!(m[0]["files"][1]["length"], 2_500_000);
}

#[test]
fn aria2c_accepts_the_data_and_verify_agrees() {
    let f = Fixture::new();
    let (code, _, err) = f.create(&[&f.dir()], &["--no-date", "-l", "64K"]);
    assert_eq!(code, 0, "{err}");
    let torrent = f.torrent();
    if have_peer("aria2c") {
        let (ok, text) = peer(
            "aria2c",
            &[
                OsStr::new("--check-integrity=true"),
                OsStr::new("--hash-check-only=true"),
                OsStr::new("--seed-time=0"),
                OsStr::new("--enable-dht=false"),
                OsStr::new("--enable-dht6=false"),
                OsStr::new("--bt-enable-lpd=false"),
                OsStr::new("--dir"),
                f.dl.as_os_str(),
                torrent.as_os_str(),
            ],
        );
        assert!(ok, "aria2c rejected the data: {text}");
        assert!(text.contains("|OK  |"), "{text}");
    }
    let (code, recs, err) = verify(&torrent, &f.dir());
    assert_eq!(code, 0, "{err}");
    let ok = of_event(&recs, "ok");
    assert_eq!(ok.len(), 1);
    assert_eq!(summary(&recs)["bad_pieces"], 0);
    // create | verify - checks what was just written against its source.
    let o = rl("rl-torrent")
        .args([
            "create",
            "--no-tracker",
            "--no-date",
            "-l",
            "64K",
            "-x",
            EXCLUDE,
            "-o",
        ])
        .arg(&f.out)
        .arg(f.dir())
        .output()
        .unwrap();
    let o = rl("rl-torrent")
        .args(["verify", "-"])
        .write_stdin(o.stdout)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs = records(&o.stdout);
    assert_eq!(of_event(&recs, "ok").len(), 1);
    let o = rl("rl-torrent")
        .args(["verify"])
        .arg(&torrent)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "no DIR is a usage error");
    // Pointing verify at the parent directory gets a hint.
    let (code, _, err) = verify(&torrent, &f.dl);
    assert_eq!(code, 1);
    assert!(err.contains("did you mean"), "{err}");

    // A single-file torrent verifies against the file or the directory holding it.
    let iso = f.isodir.join("x86_64/Rocky-9.7-x86_64-boot.iso");
    let (code, _, err) = f.create(&[&iso], &["--no-date"]);
    assert_eq!(code, 0, "{err}");
    let single = f.out.join("Rocky-9.7-x86_64-boot.iso.torrent");
    for place in [iso.clone(), f.isodir.join("x86_64")] {
        let (code, recs, err) = verify(&single, &place);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            of_event(&recs, "ok")[0]["path"],
            "Rocky-9.7-x86_64-boot.iso"
        );
    }
}

#[test]
fn info_hash_equals_mktorrents_for_the_same_files_and_piece_length() {
    if !have_peer("mktorrent") || !have_peer("transmission-show") {
        return;
    }
    let f = Fixture::new();
    // mktorrent has no regex exclude: give it a copy of the directory without CHECKSUM.asc.
    let mk_dir = f.base.join("mk").join(NAME);
    fs::create_dir_all(&mk_dir).unwrap();
    for n in PAYLOAD {
        symlink(fs::read_link(f.dir().join(n)).unwrap(), mk_dir.join(n)).unwrap();
    }
    // 32K: runs of small pieces hashed four at a time; 128K and 512K: striped lane groups (one
    // and two stripes per piece) with a tail; 1M: fewer pieces than lanes.
    for (exp, arg) in [
        (15, "32K"),
        (17, "128K"),
        (18, "262144"),
        (19, "512K"),
        (20, "1M"),
    ] {
        let mk = f.base.join(format!("mk{exp}.torrent"));
        let (ok, text) = peer(
            "mktorrent",
            &[
                OsStr::new("-l"),
                OsStr::new(&exp.to_string()),
                OsStr::new("-a"),
                OsStr::new(T1),
                OsStr::new("-a"),
                OsStr::new(T2),
                OsStr::new("-c"),
                OsStr::new("C"),
                OsStr::new("-o"),
                mk.as_os_str(),
                mk_dir.as_os_str(),
            ],
        );
        assert!(ok, "{text}");
        let (code, recs, err) = f.create(&[&f.dir()], &["--no-date", "-l", arg]);
        assert_eq!(code, 0, "{err}");
        let ours = of_event(&recs, "torrent")[0]["info_hash"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(transmission_hash(&mk), ours, "piece length 2^{exp}");
        assert_eq!(transmission_hash(&f.torrent()), ours);
        // mktorrent writes no extra info keys, and our reader hashes its raw info bytes.
        let (_, recs, _) = show(&mk);
        let m = of_event(&recs, "metainfo")[0];
        assert_eq!(m["extra_info_keys"], serde_json::json!([]));
        assert_eq!(m["info_hash"], ours.as_str());
    }
    // Single-file torrents agree too.
    let iso = f.isodir.join("x86_64/Rocky-9.7-x86_64-boot.iso");
    let mk = f.base.join("single.torrent");
    let (ok, text) = peer(
        "mktorrent",
        &[
            OsStr::new("-l"),
            OsStr::new("16"),
            OsStr::new("-a"),
            OsStr::new(T1),
            OsStr::new("-o"),
            mk.as_os_str(),
            iso.as_os_str(),
        ],
    );
    assert!(ok, "{text}");
    let (code, recs, err) = f.create(&[&iso], &["--no-date", "-l", "64K"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        of_event(&recs, "torrent")[0]["info_hash"],
        transmission_hash(&mk).as_str()
    );
}

#[test]
fn same_input_gives_the_same_bytes_and_a_rerun_writes_nothing() {
    let f = Fixture::new();
    let (code, _, _) = f.create(&[&f.dir()], &["--no-date"]);
    assert_eq!(code, 0);
    let first = fs::read(f.torrent()).unwrap();
    let mtime = fs::metadata(f.torrent()).unwrap().modified().unwrap();
    let (code, recs, _) = f.create(&[&f.dir()], &["--no-date", "--jobs", "1"]);
    assert_eq!(code, 0);
    assert_eq!(of_event(&recs, "torrent")[0]["written"], "unchanged");
    assert_eq!(fs::read(f.torrent()).unwrap(), first);
    assert_eq!(
        fs::metadata(f.torrent()).unwrap().modified().unwrap(),
        mtime
    );
    // No creation date at all with --no-date.
    let (_, recs, _) = show(&f.torrent());
    assert_eq!(of_event(&recs, "metainfo")[0]["creation_date"], Value::Null);
    // --private sets info.private = 1, which changes the info hash; peers see it.
    let (code, recs, _) = f.create(&[&f.dir()], &["--no-date", "--private"]);
    assert_eq!(code, 0);
    assert_eq!(of_event(&recs, "torrent")[0]["written"], "replaced");
    let (_, recs, _) = show(&f.torrent());
    let m = of_event(&recs, "metainfo")[0];
    assert_eq!(m["private"], true);
    assert_ne!(
        m["info_hash"],
        of_event(&recs_first(&first), "metainfo")[0]["info_hash"]
    );
    if have_peer("transmission-show") {
        let (_, text) = peer("transmission-show", &[f.torrent().as_os_str()]);
        assert!(text.contains("Privacy: Private torrent"), "{text}");
    }
    fs::write(f.torrent(), &first).unwrap();
    // --dry-run reports the same hash and writes nothing.
    let out2 = f.base.join("dry-out");
    let o = rl("rl-torrent")
        .args([
            "create",
            "--dry-run",
            "--no-date",
            "-x",
            EXCLUDE,
            "-a",
            T1,
            "-a",
            T2,
        ])
        .args(["-c", "https://docs/9_7/", "--output-dir"])
        .arg(&out2)
        .arg(f.dir())
        .output()
        .unwrap();
    let recs2 = records(&o.stdout);
    let t = of_event(&recs2, "torrent")[0];
    assert_eq!(t["dry_run"], true);
    assert!(!out2.exists());
    let (_, recs, _) = show(&f.torrent());
    assert_eq!(t["info_hash"], of_event(&recs, "metainfo")[0]["info_hash"]);
}

#[test]
fn verify_finds_a_corrupted_byte_in_the_right_piece_and_missing_files() {
    let f = Fixture::new();
    let (code, _, _) = f.create(&[&f.dir()], &["--no-date", "-l", "32K"]);
    assert_eq!(code, 0);
    // Content order: CHECKSUM (16 bytes), then the ISO. Flip ISO byte 1,000,000.
    let iso = f.isodir.join(format!("x86_64/{NAME}.iso"));
    let mut data = fs::read(&iso).unwrap();
    data[1_000_000] ^= 0xff;
    fs::write(&iso, &data).unwrap();
    let (code, recs, _) = verify(&f.torrent(), &f.dir());
    assert_eq!(code, 1);
    let bad = of_event(&recs, "bad_piece");
    assert_eq!(bad.len(), 1, "{recs:?}");
    let want_piece = (16 + 1_000_000) / 32768;
    assert_eq!(bad[0]["piece"], want_piece);
    assert_eq!(bad[0]["files"], serde_json::json!([format!("{NAME}.iso")]));
    assert!(of_event(&recs, "ok").is_empty());
    // The first piece spans CHECKSUM and the ISO: a change to CHECKSUM names both.
    data[1_000_000] ^= 0xff;
    fs::write(&iso, &data).unwrap();
    fs::write(f.isodir.join("x86_64/CHECKSUM"), "# all checksumZ\n").unwrap();
    let (code, recs, _) = verify(&f.torrent(), &f.dir());
    assert_eq!(code, 1);
    let bad = of_event(&recs, "bad_piece");
    assert_eq!(bad[0]["piece"], 0);
    assert_eq!(
        bad[0]["files"],
        serde_json::json!(["CHECKSUM", format!("{NAME}.iso")])
    );
    // A missing file is named once, as missing.
    fs::remove_file(f.dir().join(format!("{NAME}.iso.CHECKSUM.asc"))).unwrap();
    let (code, recs, _) = verify(&f.torrent(), &f.dir());
    assert_eq!(code, 1);
    let missing = of_event(&recs, "missing");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0]["path"], format!("{NAME}.iso.CHECKSUM.asc"));
    assert!(summary(&recs)["bad_pieces"].as_u64().unwrap() >= 2);
    // A file with a different size is reported.
    fs::write(
        f.isodir.join(format!("x86_64/{NAME}.iso.CHECKSUM")),
        "# one, longer\n",
    )
    .unwrap();
    let (code, recs, _) = verify(&f.torrent(), &f.dir());
    assert_eq!(code, 1);
    assert_eq!(of_event(&recs, "size_mismatch").len(), 1);
}

#[test]
fn bad_input_gets_one_clear_sentence_and_exit_2() {
    let f = Fixture::new();
    // Missing target.
    let (code, recs, err) = f.create(&[&f.base.join("nope")], &[]);
    assert_eq!(code, 2);
    assert_eq!(of_event(&recs, "error").len(), 1);
    assert!(err.contains("nope: No such file or directory"), "{err}");
    // Empty directory, and a directory of empty files.
    let empty = f.base.join("empty");
    fs::create_dir(&empty).unwrap();
    let (code, _, err) = f.create(&[&empty], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("has no files to put in a torrent"), "{err}");
    fs::write(empty.join("zero"), "").unwrap();
    let (code, _, err) = f.create(&[&empty], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("only empty files"), "{err}");
    assert!(!f.out.join("empty.torrent").exists());
    // Unreadable file (root reads anyway).
    let locked = f.base.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("secret.iso"), noise(5000, 3)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(locked.join("secret.iso"), fs::Permissions::from_mode(0o000)).unwrap();
    let (code, _, err) = f.create(&[&locked], &[]);
    if !is_root() {
        assert_eq!(code, 2);
        assert!(err.contains("secret.iso: Permission denied"), "{err}");
        assert!(!f.out.join("locked.torrent").exists());
    }
    // Bad regex and bad piece length.
    let (code, _, err) = f.create(&[&f.dir()], &["-x", "("]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid --exclude pattern"), "{err}");
    let o = rl("rl-torrent")
        .args(["create", "--no-tracker", "-l", "3M", "-o"])
        .arg(&f.out)
        .arg(f.dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("power of two"));
    // Two targets with the same name would overwrite each other: the second is refused.
    let other = f.base.join("other").join(NAME);
    fs::create_dir_all(&other).unwrap();
    fs::write(other.join("x"), "x").unwrap();
    let (code, recs, err) = f.create(&[&f.dir(), &other], &["--no-date"]);
    assert_eq!(code, 2);
    assert_eq!(of_event(&recs, "torrent").len(), 1);
    assert!(err.contains("already makes"), "{err}");

    // An output directory inside the content is refused (exit 3).
    let o = rl("rl-torrent")
        .args(["create", "--no-tracker", "--no-date", "-o"])
        .arg(f.dir().join("out"))
        .arg(f.dir())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        !f.dir().join("out").exists(),
        "nothing made inside the content"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("refusing to write the torrent into the content")
    );

    // Corrupt, truncated, missing and non-torrent files.
    let (code, _, _) = f.create(&[&f.dir()], &["--no-date"]);
    assert_eq!(code, 0);
    let good = fs::read(f.torrent()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("garbage", b"this is not bencode".to_vec()),
        ("list", b"li1ee".to_vec()),
        ("empty", Vec::new()),
    ];
    for (label, bytes) in cases {
        let p = f.base.join(format!("{label}.torrent"));
        fs::write(&p, bytes).unwrap();
        for (code, recs, err) in [show(&p), verify(&p, &f.dir())] {
            assert_eq!(code, 2, "{label}");
            assert!(err.contains("not a usable torrent file"), "{label}: {err}");
            assert_eq!(err.lines().count(), 1, "{label}: {err}");
            assert_eq!(of_event(&recs, "error")[0]["kind"], "input.corrupt");
        }
    }
    let (code, _, err) = show(&f.base.join("missing.torrent"));
    assert_eq!(code, 2);
    assert!(err.contains("No such file"), "{err}");
    let (code, _, err) = verify(&f.torrent(), &f.base.join("no-data"));
    assert_eq!(code, 2);
    assert!(err.contains("no-data: No such file"), "{err}");
}

#[test]
fn odd_names_hidden_files_and_links_are_handled_like_torrenttools() {
    let f = Fixture::new();
    let dir = f.base.join("odd dir");
    fs::create_dir_all(dir.join("sub")).unwrap();
    fs::write(dir.join("with space.iso"), noise(70_000, 4)).unwrap();
    fs::write(dir.join("new\nline"), "nl").unwrap();
    fs::write(dir.join(OsStr::from_bytes(b"bad\xffname")), "bytes").unwrap();
    fs::write(dir.join("sub/inner"), noise(40_000, 5)).unwrap();
    fs::write(dir.join(".hidden"), "h").unwrap();
    fs::write(dir.join("a.iso"), "a").unwrap();
    symlink("does-not-exist", dir.join("broken")).unwrap();
    symlink("loop", dir.join("loop")).unwrap();
    symlink(&f.isodir, dir.join("linked-dir")).unwrap();
    symlink(dir.join("a.iso"), dir.join("link-to-a")).unwrap();
    let (code, recs, err) = f.create(&[&dir], &["--no-date"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("broken: broken symbolic link"), "{err}");
    let mut reasons: Vec<(String, String)> = of_event(&recs, "skip")
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            (".hidden", "hidden"),
            ("broken", "broken_link"),
            ("linked-dir", "linked_directory"),
            ("loop", "broken_link"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let torrent = f.out.join("odd dir.torrent");
    let (_, recs, _) = show(&torrent);
    let m = of_event(&recs, "metainfo")[0];
    let paths: Vec<Value> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].clone())
        .collect();
    // Whole-path byte order: "a.iso" < "bad\xff" < "link-to-a" < "new\nline" < "sub/inner" < "with space.iso".
    assert_eq!(paths[0], "a.iso");
    assert_eq!(paths[1]["bytes"], "YmFk/25hbWU=");
    assert_eq!(paths[2], "link-to-a");
    assert_eq!(paths[3], "new\nline");
    assert_eq!(paths[4], "sub/inner");
    assert_eq!(paths[5], "with space.iso");
    assert_eq!(m["files"][2]["length"], 1, "link lists the target's size");
    let (code, recs, err) = verify(&torrent, &dir);
    assert_eq!(code, 0, "{err}");
    assert_eq!(of_event(&recs, "ok").len(), 1);
    if have_peer("transmission-show") {
        let (ok, text) = peer("transmission-show", &[torrent.as_os_str()]);
        assert!(ok, "{text}");
        assert!(text.contains("odd dir/with space.iso"), "{text}");
    }
}

#[test]
fn trackers_and_web_seeds_are_written_as_mktorrent_writes_them() {
    if !have_peer("mktorrent") || !have_peer("transmission-show") {
        return;
    }
    let f = Fixture::new();
    let mk_dir = f.base.join("mk").join(NAME);
    fs::create_dir_all(&mk_dir).unwrap();
    for n in PAYLOAD {
        symlink(fs::read_link(f.dir().join(n)).unwrap(), mk_dir.join(n)).unwrap();
    }
    let tier1 = format!("{T1},{T2}");
    for (trackers, seeds) in [
        (
            vec![tier1.as_str(), "http://t3.example/announce"],
            vec!["http://w1.example/"],
        ),
        (vec![T1], vec!["http://w1.example/,https://w2.example/"]),
        (vec![T1], vec![]),
    ] {
        let mut mk_args: Vec<&OsStr> = Vec::new();
        let mut ours: Vec<&str> = vec!["--no-date"];
        for t in &trackers {
            mk_args.extend([OsStr::new("-a"), OsStr::new(t)]);
        }
        for w in &seeds {
            mk_args.extend([OsStr::new("-w"), OsStr::new(w)]);
            ours.extend(["-w", w]);
        }
        let mk = f.base.join("mk.torrent");
        let _ = fs::remove_file(&mk);
        mk_args.extend([OsStr::new("-o"), mk.as_os_str(), mk_dir.as_os_str()]);
        let (ok, text) = peer("mktorrent", &mk_args);
        assert!(ok, "{text}");
        // Our create runs with Rocky's T1/T2 in `create`: give the trackers explicitly instead.
        let mut cmd = rl("rl-torrent");
        cmd.arg("create");
        for t in &trackers {
            cmd.args(["-a", t]);
        }
        let o = cmd
            .args(&ours)
            .arg("-o")
            .arg(f.base.join("ours"))
            .arg(f.dir())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mine = f.base.join("ours").join(format!("{NAME}.torrent"));
        let (_, a, _) = show(&mk);
        let (_, b, _) = show(&mine);
        let (a, b) = (of_event(&a, "metainfo")[0], of_event(&b, "metainfo")[0]);
        for key in ["announce", "announce_list", "url_list"] {
            assert_eq!(a[key], b[key], "{key} for {trackers:?} {seeds:?}");
        }
        // transmission reads the web seeds back.
        let (_, text) = peer("transmission-show", &[mine.as_os_str()]);
        for w in seeds.iter().flat_map(|w| w.split(',')) {
            assert!(text.contains(w), "{w} not in:\n{text}");
        }
    }
}

#[test]
fn no_tracker_or_a_malformed_url_is_an_error() {
    let f = Fixture::new();
    for args in [
        vec!["create", "--no-date"],
        vec!["create", "-a", "tracker.example/announce"],
        vec!["create", "-a", "udp://t1/announce", "-w", "udp://seed/"],
    ] {
        let o = rl("rl-torrent")
            .args(&args)
            .arg("-o")
            .arg(&f.out)
            .arg(f.dir())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("no tracker given") || err.contains("invalid"),
            "{err}"
        );
        assert!(!f.torrent().exists(), "{args:?}: nothing written");
    }
}
