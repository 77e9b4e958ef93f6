//! The committed man pages must equal what the binaries generate (`scripts/gen-man` rewrites
//! them; `RL_BLESS=1 cargo test` does too).

use crate::common::{bin_path, rl};

pub const TOOLS: [&str; 7] = [
    "rl-bitflip",
    "rl-checksum",
    "rl-compose",
    "rl-filelist",
    "rl-hardlink",
    "rl-sync",
    "rl-torrent",
];

#[test]
fn man_pages_are_fresh() {
    let man_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let mut stale = Vec::new();
    for tool in TOOLS {
        let out = rl(tool).arg("--generate-man").output().expect("run");
        assert!(out.status.success(), "{tool} --generate-man failed");
        let page = man_dir.join(format!("{tool}.1"));
        if std::env::var_os("RL_BLESS").is_some() {
            std::fs::write(&page, &out.stdout).expect("write man page");
            continue;
        }
        let committed = std::fs::read(&page).unwrap_or_default();
        if committed != out.stdout {
            stale.push(tool);
        }
        assert!(bin_path(tool).exists());
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run scripts/gen-man"
    );
}

#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let man_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for tool in TOOLS {
        let page = std::fs::read_to_string(man_dir.join(format!("{tool}.1"))).unwrap();
        let text = page.replace("\\-", "-");
        for (i, _) in text.match_indices("(1)") {
            let name: String = text[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            assert!(
                TOOLS.contains(&name.as_str()),
                "{tool}.1 refers to {name}(1), which is not a page of this project"
            );
        }
    }
}
