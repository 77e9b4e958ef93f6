//! The release data of each major, read from its one file: `release-MAJOR.conf`.
//!
//! The same file is sourced by `scripts/common` and read here, so the scripts and the binaries
//! give the same answer and a release bump is an edit of that file only. It is found in
//! `$RL_RELEASE_DATA`, else `/etc/rl-tools` (the RPM's place), else the `etc/rl-tools` of the
//! checkout the binary was built from. Format: `KEY=VALUE` or `KEY="A B C"` per line, `#`
//! comment lines; per release line `STABLE_`/`BETA_`/`LH_` + `REVISION`, `PREREV`,
//! `APPEND_TO_DIR`, `COMPOSE_APPEND`; the lists `ARCHES`, `ISO_TYPES`, `IMAGE_TYPES`,
//! `MODS_REPOS`, `MODS`, `LINK_REPOS`.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use crate::release::ReleaseType;

/// The directory holding the release data files (see the module doc for the order).
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RL_RELEASE_DATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let etc = PathBuf::from("/etc/rl-tools");
    if etc.is_dir() {
        return etc;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../etc/rl-tools"))
}

/// The data file of `major`.
pub fn data_file(major: u32) -> PathBuf {
    data_dir().join(format!("release-{major}.conf"))
}

/// The keys of `major`'s file; `None` when there is no file for it (a major the toolkit does not
/// know). A line that is not `KEY=VALUE` is an error naming the file and line.
fn read(major: u32) -> io::Result<Option<HashMap<String, String>>> {
    let path = data_file(major);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let mut keys = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('=').filter(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        let Some((key, value)) = parsed else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}:{}: expected KEY=VALUE", path.display(), n + 1),
            ));
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        keys.insert(key.to_owned(), value.to_owned());
    }
    Ok(Some(keys))
}

/// What the data file sets for one `RLVER` and `RLREL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseData {
    /// `MAJOR`.
    pub major: u32,
    /// `REVISION`, e.g. `9.7`; `None` for a major without a data file.
    pub revision: Option<String>,
    /// `PREREV`, e.g. `9.6`.
    pub prerev: Option<String>,
    /// `APPEND_TO_DIR`, e.g. `-RC2`.
    pub append_to_dir: String,
    /// `COMPOSE_APPEND`: the suffix of the per-major compose directory (`9-LookAhead`).
    pub compose_append: String,
}

impl ReleaseData {
    /// The data of `major` for release line `rel`. For a major without a data file the suffixes
    /// follow the newest convention (`-LookAhead`, `-BETA`) and the revision is unknown.
    pub fn lookup(major: u32, rel: ReleaseType) -> io::Result<ReleaseData> {
        let prefix = rel.as_str().to_ascii_uppercase();
        let Some(keys) = read(major)? else {
            let suffix = match rel {
                ReleaseType::Stable => "",
                ReleaseType::Beta => "-BETA",
                ReleaseType::Lh => "-LookAhead",
            };
            return Ok(ReleaseData {
                major,
                revision: None,
                prerev: None,
                append_to_dir: suffix.to_owned(),
                compose_append: suffix.to_owned(),
            });
        };
        let get = |k: &str| keys.get(&format!("{prefix}_{k}")).cloned();
        let revision = get("REVISION").filter(|r| !r.is_empty());
        if revision.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no {prefix}_REVISION", data_file(major).display()),
            ));
        }
        Ok(ReleaseData {
            major,
            revision,
            prerev: get("PREREV").filter(|r| !r.is_empty()),
            append_to_dir: get("APPEND_TO_DIR").unwrap_or_default(),
            compose_append: get("COMPOSE_APPEND").unwrap_or_default(),
        })
    }

    /// `REV="${REVISION}${APPEND_TO_DIR}"`, e.g. `9.7-RC2`.
    pub fn rev(&self) -> Option<String> {
        self.revision
            .as_ref()
            .map(|r| format!("{r}{}", self.append_to_dir))
    }
}

/// `ARCHES` of `major`; `None` for a major without a data file (or an unreadable one).
pub fn arches(major: u32) -> Option<Vec<String>> {
    let keys = read(major).ok()??;
    Some(
        keys.get("ARCHES")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkouts_files_parse_for_every_major_and_line() {
        for major in [8, 9, 10] {
            for rel in [ReleaseType::Stable, ReleaseType::Beta, ReleaseType::Lh] {
                let d = ReleaseData::lookup(major, rel).unwrap();
                assert!(d.rev().unwrap().starts_with(&format!("{major}.")), "{d:?}");
            }
            assert!(arches(major).unwrap().contains(&"x86_64".to_owned()));
        }
    }
}
