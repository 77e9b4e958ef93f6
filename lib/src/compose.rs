//! The pungi compose layout and its productmd metadata.
//!
//! ```text
//! <COMPOSE_ID>/STATUS  COMPOSE_ID  work/<arch>/comps/comps-<Variant>.<arch>.xml
//! <COMPOSE_ID>/compose/metadata/{composeinfo,images,rpms}.json
//! <COMPOSE_ID>/compose/<Variant>/<arch>/os/repodata
//! <COMPOSE_ID>/compose/<Variant>/<arch>/debug/tree/repodata
//! <COMPOSE_ID>/compose/<Variant>/source/tree/repodata
//! ```
//!
//! * [`Compose::open`] finds the top directory and `compose/` from either of them.
//! * [`ComposeStatus`]: the `STATUS` file (pungi `write_status`).
//! * [`ComposeInfo`], [`ImagesFile`], [`RpmsFile`]: serde models of productmd's composeinfo,
//!   images and rpms JSON (header `productmd.<kind>`, versions 1.x), tolerant of unknown fields.
//! * [`scan_repos`]: repository discovery as the scripts do it (`find compose -name repodata -type d`)
//!   with each repository classified as `os`, `debug` or `source` from its path.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::walk::WalkOptions;

/// A compose on disk: `top` holds `STATUS`, `COMPOSE_ID`, `work/`; `compose` is `top/compose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    /// The compose directory (`Rocky-9-updates-20251124.1`); `None` when only a bare `compose/`
    /// tree was given.
    pub top: Option<PathBuf>,
    /// The `compose/` directory (variants, metadata).
    pub compose: PathBuf,
}

impl Compose {
    /// Opens a compose given its top directory or its `compose/` directory. Symlinks such as
    /// `latest-Rocky-9` are resolved first.
    pub fn open(dir: &Path) -> io::Result<Compose> {
        let meta = fs::metadata(dir)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        let dir = fs::canonicalize(dir)?;
        if dir.join("compose").is_dir() {
            return Ok(Compose {
                compose: dir.join("compose"),
                top: Some(dir),
            });
        }
        let parent_has_status = dir
            .parent()
            .is_some_and(|p| p.join("STATUS").exists() || p.join("COMPOSE_ID").exists());
        if dir.join("metadata").is_dir() || dir.file_name().is_some_and(|n| n == "compose") {
            let top = if parent_has_status {
                dir.parent().map(Path::to_path_buf)
            } else {
                None
            };
            return Ok(Compose { top, compose: dir });
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a pungi compose (no compose/ directory and no metadata/)",
        ))
    }

    /// The directory `STATUS` and `COMPOSE_ID` live in.
    pub fn top_or_compose(&self) -> &Path {
        self.top.as_deref().unwrap_or(&self.compose)
    }

    /// `compose/metadata/<name>`.
    pub fn metadata_path(&self, name: &str) -> PathBuf {
        self.compose.join("metadata").join(name)
    }

    /// The `STATUS` file's word; `Ok(None)` when there is no `STATUS` file.
    pub fn status(&self) -> io::Result<Option<ComposeStatus>> {
        let Some(top) = &self.top else {
            return Ok(None);
        };
        match fs::read(top.join("STATUS")) {
            Ok(bytes) => Ok(Some(ComposeStatus::parse(&String::from_utf8_lossy(&bytes)))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The `COMPOSE_ID` file's content, trimmed; `Ok(None)` when absent.
    pub fn compose_id_file(&self) -> io::Result<Option<String>> {
        let Some(top) = &self.top else {
            return Ok(None);
        };
        match fs::read(top.join("COMPOSE_ID")) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads `metadata/composeinfo.json`; `Ok(None)` when absent.
    pub fn composeinfo(&self) -> io::Result<Option<ComposeInfo>> {
        read_metadata(
            &self.metadata_path("composeinfo.json"),
            "productmd.composeinfo",
        )
    }

    /// Reads `metadata/images.json`; `Ok(None)` when absent.
    pub fn images(&self) -> io::Result<Option<ImagesFile>> {
        read_metadata(&self.metadata_path("images.json"), "productmd.images")
    }

    /// Reads `metadata/rpms.json`; `Ok(None)` when absent.
    pub fn rpms(&self) -> io::Result<Option<RpmsFile>> {
        read_metadata(&self.metadata_path("rpms.json"), "productmd.rpms")
    }

    /// `work/<arch>/comps/comps-<variant>.<arch>.xml` when it exists.
    pub fn comps_file(&self, variant: &str, arch: &str) -> Option<PathBuf> {
        let p = self
            .top
            .as_ref()?
            .join("work")
            .join(arch)
            .join("comps")
            .join(format!("comps-{variant}.{arch}.xml"));
        p.is_file().then_some(p)
    }
}

/// A productmd JSON header.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Header {
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
}

#[derive(Deserialize)]
struct WithHeader {
    header: Header,
}

/// Reads and checks one productmd file: the header type must match and the major version be 1.
fn read_metadata<T: for<'de> Deserialize<'de>>(path: &Path, kind: &str) -> io::Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let head: WithHeader =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not productmd metadata: {e}")))?;
    if head.header.kind != kind {
        return Err(bad(format!(
            "header type is {:?}, expected {kind:?}",
            head.header.kind
        )));
    }
    if !head.header.version.starts_with("1.") {
        return Err(bad(format!(
            "unsupported {kind} version {:?} (1.x expected)",
            head.header.version
        )));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| bad(format!("invalid {kind}: {e}")))
}

/// The `STATUS` values pungi writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeStatus {
    Started,
    Finished,
    FinishedIncomplete,
    Doomed,
    Terminated,
    /// Any other word (pungi allows them with a warning).
    Other(String),
}

impl ComposeStatus {
    /// Parses the file's content (surrounding white space ignored).
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "STARTED" => ComposeStatus::Started,
            "FINISHED" => ComposeStatus::Finished,
            "FINISHED_INCOMPLETE" => ComposeStatus::FinishedIncomplete,
            "DOOMED" => ComposeStatus::Doomed,
            "TERMINATED" => ComposeStatus::Terminated,
            other => ComposeStatus::Other(other.to_owned()),
        }
    }

    /// The word as pungi writes it.
    pub fn as_str(&self) -> &str {
        match self {
            ComposeStatus::Started => "STARTED",
            ComposeStatus::Finished => "FINISHED",
            ComposeStatus::FinishedIncomplete => "FINISHED_INCOMPLETE",
            ComposeStatus::Doomed => "DOOMED",
            ComposeStatus::Terminated => "TERMINATED",
            ComposeStatus::Other(s) => s,
        }
    }

    /// The release gate: FINISHED passes; FINISHED_INCOMPLETE only when allowed.
    pub fn passes(&self, allow_incomplete: bool) -> bool {
        match self {
            ComposeStatus::Finished => true,
            ComposeStatus::FinishedIncomplete => allow_incomplete,
            _ => false,
        }
    }
}

impl fmt::Display for ComposeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `composeinfo.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ComposeInfo {
    pub header: Header,
    pub payload: ComposeInfoPayload,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComposeInfoPayload {
    pub compose: ComposeMeta,
    pub release: ReleaseMeta,
    #[serde(default)]
    pub base_product: Option<ReleaseMeta>,
    #[serde(default)]
    pub variants: BTreeMap<String, VariantMeta>,
}

/// `payload.compose` (shared by every metadata file).
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ComposeMeta {
    pub id: String,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub respin: Option<u64>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(rename = "final", default)]
    pub is_final: Option<bool>,
}

/// `payload.release` (and `base_product`).
#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseMeta {
    pub name: String,
    pub short: String,
    pub version: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_layered: Option<bool>,
}

/// One variant (top level and children alike, keyed by UID).
#[derive(Debug, Clone, Deserialize)]
pub struct VariantMeta {
    pub id: String,
    pub uid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub arches: Vec<String>,
    /// Path category (`os_tree`, `repository`, `debug_repository`, …) → arch → path relative
    /// to `compose/`.
    #[serde(default)]
    pub paths: BTreeMap<String, BTreeMap<String, String>>,
    /// IDs of child variants.
    #[serde(default)]
    pub variants: Vec<String>,
}

/// `images.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ImagesFile {
    pub header: Header,
    pub payload: ImagesPayload,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImagesPayload {
    #[serde(default)]
    pub compose: ComposeMeta,
    /// variant UID → arch → images.
    #[serde(default)]
    pub images: BTreeMap<String, BTreeMap<String, Vec<ImageMeta>>>,
}

/// One image of `images.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageMeta {
    pub path: String,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub mtime: Option<i64>,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    #[serde(default)]
    pub subvariant: Option<String>,
    #[serde(default)]
    pub volume_id: Option<String>,
    #[serde(default)]
    pub bootable: Option<bool>,
    #[serde(default)]
    pub disc_number: Option<u64>,
    #[serde(default)]
    pub disc_count: Option<u64>,
    #[serde(default)]
    pub implant_md5: Option<String>,
}

/// `rpms.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RpmsFile {
    pub header: Header,
    pub payload: RpmsPayload,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RpmsPayload {
    #[serde(default)]
    pub compose: ComposeMeta,
    /// variant UID → arch → SRPM NEVRA → RPM NEVRA → entry.
    #[serde(default)]
    pub rpms: BTreeMap<String, BTreeMap<String, RpmsBySrpm>>,
}

/// SRPM NEVRA → RPM NEVRA → entry (one variant and arch of `rpms.json`).
pub type RpmsBySrpm = BTreeMap<String, BTreeMap<String, RpmEntry>>;

/// One package of `rpms.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RpmEntry {
    pub path: String,
    /// Lowercase key ID, `None` when unsigned.
    #[serde(default)]
    pub sigkey: Option<String>,
    pub category: String,
}

/// Whether a package's signing key is one of `keys` (case-insensitive; a long key ID or
/// fingerprint matches the short ID it ends with, and the other way round).
pub fn key_matches(sigkey: &str, keys: &[String]) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        s.strip_prefix("0x").map(str::to_owned).unwrap_or(s)
    };
    let have = norm(sigkey);
    keys.iter().map(|k| norm(k)).any(|want| {
        !want.is_empty() && !have.is_empty() && (want.ends_with(&have) || have.ends_with(&want))
    })
}

/// The kind of a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RepoKind {
    Os,
    Debug,
    Source,
}

impl RepoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::Os => "os",
            RepoKind::Debug => "debug",
            RepoKind::Source => "source",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "os" => Some(RepoKind::Os),
            "debug" => Some(RepoKind::Debug),
            "source" => Some(RepoKind::Source),
            _ => None,
        }
    }
}

/// A repository found in a compose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Variant directory name (`BaseOS`, `extras`).
    pub variant: String,
    /// Arch (`x86_64`), or `src` for a source repository.
    pub arch: String,
    pub kind: RepoKind,
    /// The repository directory (holding `repodata/`), relative to `compose/`.
    pub path: PathBuf,
}

/// Classifies the repository at `rel` (relative to `compose/`) the way the scripts' greps do:
/// a `source` component makes it a source repository, a `debug` component a debug one
/// (arch = the component before it), anything else an os repository
/// (`<Variant>/<arch>/…`).
pub fn classify(rel: &Path) -> Option<Repo> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let variant = parts.first()?.clone();
    if parts.iter().any(|p| p == "source") {
        return Some(Repo {
            variant,
            arch: "src".into(),
            kind: RepoKind::Source,
            path: rel.to_path_buf(),
        });
    }
    if let Some(i) = parts.iter().position(|p| p == "debug") {
        let arch = if i >= 1 {
            parts[i - 1].clone()
        } else {
            String::new()
        };
        return Some(Repo {
            variant,
            arch,
            kind: RepoKind::Debug,
            path: rel.to_path_buf(),
        });
    }
    Some(Repo {
        variant,
        arch: parts.get(1).cloned().unwrap_or_default(),
        kind: RepoKind::Os,
        path: rel.to_path_buf(),
    })
}

/// Whether the repository scan looks at an entry (`rel` relative to `compose/`): not
/// `metadata/`, nothing inside a subdirectory of `Packages/` or `repodata/`.
fn descend(rel: &Path, file_type: &std::fs::FileType, depth: usize) -> bool {
    if depth == 1 && rel == Path::new("metadata") {
        return false;
    }
    let in_packages = rel
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|p| p == "Packages" || p == "repodata");
    !(depth >= 2 && file_type.is_dir() && in_packages)
}

/// Every directory named `repodata` under `compose/` (not following symlinks, like `find`),
/// as repositories sorted by path. `metadata/` is skipped, and so are the insides of
/// `Packages/` and `repodata/` directories (package files only, never a repository; skipping
/// them makes the scan several times faster than `find` on a real compose).
pub fn scan_repos(compose_dir: &Path) -> io::Result<Vec<Repo>> {
    let mut out = Vec::new();
    for entry in crate::walk::walk_pruned(compose_dir, &WalkOptions::default(), descend) {
        let entry = entry.map_err(|e| e.error)?;
        if entry.file_type.is_dir()
            && entry.rel.file_name() == Some("repodata".as_ref())
            && entry.depth >= 2
        {
            let repo_rel = entry.rel.parent().expect("depth >= 2");
            if let Some(repo) = classify(repo_rel) {
                out.push(repo);
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        assert_eq!(ComposeStatus::parse("FINISHED\n"), ComposeStatus::Finished);
        assert!(ComposeStatus::parse("FINISHED").passes(false));
        assert!(!ComposeStatus::parse("FINISHED_INCOMPLETE").passes(false));
        assert!(ComposeStatus::parse("FINISHED_INCOMPLETE").passes(true));
        assert!(!ComposeStatus::parse("DOOMED").passes(true));
        assert!(!ComposeStatus::parse("STARTED").passes(true));
        assert_eq!(ComposeStatus::parse("weird").as_str(), "weird");
    }

    #[test]
    fn classify_paths() {
        let r = classify(Path::new("BaseOS/x86_64/os")).unwrap();
        assert_eq!(
            (r.variant.as_str(), r.arch.as_str(), r.kind),
            ("BaseOS", "x86_64", RepoKind::Os)
        );
        let r = classify(Path::new("AppStream/aarch64/debug/tree")).unwrap();
        assert_eq!((r.arch.as_str(), r.kind), ("aarch64", RepoKind::Debug));
        let r = classify(Path::new("BaseOS/source/tree")).unwrap();
        assert_eq!((r.arch.as_str(), r.kind), ("src", RepoKind::Source));
    }

    #[test]
    fn keys() {
        let k = vec!["0x350D275D".to_string()];
        assert!(key_matches("350d275d", &k));
        assert!(key_matches("702d426d350d275d", &k));
        assert!(!key_matches("8483c65d", &k));
    }

    #[test]
    fn scan_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("Rocky-9-20250101.0");
        let c = top.join("compose");
        for p in [
            "BaseOS/x86_64/os/repodata",
            "BaseOS/x86_64/debug/tree/repodata",
            "BaseOS/source/tree/repodata",
            "metadata/repodata",
        ] {
            fs::create_dir_all(c.join(p)).unwrap();
        }
        fs::write(top.join("STATUS"), "FINISHED\n").unwrap();
        let compose = Compose::open(&top).unwrap();
        assert_eq!(Compose::open(&c).unwrap(), compose);
        assert_eq!(compose.status().unwrap(), Some(ComposeStatus::Finished));
        let repos = scan_repos(&compose.compose).unwrap();
        let kinds: Vec<_> = repos.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, [RepoKind::Source, RepoKind::Debug, RepoKind::Os]);
        assert!(compose.composeinfo().unwrap().is_none());
        fs::write(
            compose.metadata_path("rpms.json"),
            r#"{"header":{"type":"productmd.images","version":"1.2"},"payload":{}}"#,
        )
        .unwrap();
        let err = compose.rpms().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        fs::write(compose.metadata_path("rpms.json"), "{").unwrap();
        assert!(compose.rpms().is_err());
        assert!(Compose::open(dir.path()).is_err());
    }
}
