//! The read-only subcommands: locate, info, repos, images, unsigned.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use rl_core::compose::{self, Compose, ComposeInfo, RepoKind};
use rl_core::record::wire_path;
use rl_core::release::{ReleaseData, compose_link_path};
use rl_core::{Record, Run, Status};
use serde_json::{Value, json};

use crate::{Kind, Release, Require, TOOL, VERSION};

/// Opens a compose or reports why not (error record, stderr line).
pub fn open(run: &Run, dir: &Path) -> Option<Compose> {
    match Compose::open(dir) {
        Ok(c) => Some(c),
        Err(e) => {
            run.error(dir, Path::new(""), "open", &e);
            None
        }
    }
}

/// Reads composeinfo.json, reporting a broken file as an error (`None` for absent or broken).
/// composeinfo.json: `Ok(None)` when the compose has none, `Err` (already reported as an error
/// record) when it is there but unreadable.
fn composeinfo(run: &Run, c: &Compose) -> Result<Option<ComposeInfo>, ()> {
    match c.composeinfo() {
        Ok(ci) => Ok(ci),
        Err(e) => {
            run.error(
                &c.compose,
                Path::new("metadata/composeinfo.json"),
                "read",
                &e,
            );
            Err(())
        }
    }
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

pub fn locate(major: u32, release: Release, short: &str, root: &Path) -> Status {
    let run = Run::start(TOOL, VERSION);
    let data = match ReleaseData::lookup(major, release.to_type()) {
        Ok(d) => d,
        Err(e) => {
            run.error_general("read", "release_data", &e.to_string());
            return run.finish(Record::new("").with("composes", 0));
        }
    };
    let link = compose_link_path(root, &data, short);
    let mut found = 0;
    match std::fs::canonicalize(&link) {
        Ok(resolved) if resolved.is_dir() => {
            found = 1;
            let (id, status) = match Compose::open(&resolved) {
                Ok(c) => (
                    c.compose_id_file().ok().flatten(),
                    c.status().ok().flatten().map(|s| s.to_string()),
                ),
                Err(_) => (None, None),
            };
            let id = id.unwrap_or_else(|| {
                resolved
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            run.emit(
                &Record::new("compose")
                    .at(&resolved, Path::new(""))
                    .with_path("link", &link)
                    .with("id", id)
                    .with("status", opt(status))
                    .with("major", major)
                    .with("release", release.to_type().as_str())
                    .with("short", short)
                    .with("compose_append", data.compose_append.as_str())
                    .with("revision", opt(data.revision.clone()))
                    .with("rev", opt(data.rev()))
                    .with(
                        "release_dir",
                        opt(data.rev().map(|r| format!("mirror/pub/rocky/{r}"))),
                    ),
            );
        }
        Ok(_) => run.error_with(
            &link,
            Path::new(""),
            "locate",
            "io.not_a_directory",
            "the compose link does not lead to a directory",
        ),
        Err(e) => {
            let msg = if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "no compose: latest-{short}-{major} is missing (or dangling) under {}",
                    link.parent().unwrap_or(root).display()
                )
            } else {
                e.to_string()
            };
            run.error_with(
                &link,
                Path::new(""),
                "locate",
                rl_core::record::io_kind(&e),
                &msg,
            );
        }
    }
    run.finish(Record::new("").with("composes", found))
}

pub fn info(dir: &Path, require: Option<Require>, allow_incomplete: bool) -> Status {
    let run = Run::start(TOOL, VERSION);
    let Some(c) = open(&run, dir) else {
        return run.finish(Record::new(""));
    };
    let status = match c.status() {
        Ok(s) => s,
        Err(e) => {
            run.error(c.top_or_compose(), Path::new("STATUS"), "read", &e);
            None
        }
    };
    let ci = composeinfo(&run, &c);
    let unreadable = ci.is_err();
    let ci = ci.ok().flatten();
    let id_file = c.compose_id_file().ok().flatten();
    let mut rec = Record::new("compose")
        .at(c.top_or_compose(), Path::new(""))
        .with("status", opt(status.as_ref().map(|s| s.to_string())));
    let mut variants = Vec::new();
    if let Some(ci) = &ci {
        let p = &ci.payload;
        rec = rec
            .with("id", p.compose.id.clone())
            .with("date", opt(p.compose.date.clone()))
            .with("type", opt(p.compose.kind.clone()))
            .with("respin", opt(p.compose.respin))
            .with("label", opt(p.compose.label.clone()))
            .with("final", opt(p.compose.is_final))
            .with(
                "release",
                json!({
                    "name": p.release.name, "short": p.release.short,
                    "version": p.release.version, "type": p.release.kind,
                    "is_layered": p.release.is_layered,
                }),
            )
            .with("variants", p.variants.keys().cloned().collect::<Vec<_>>())
            .with("metadata", "composeinfo.json");
        variants.extend(p.variants.values().cloned());
    } else {
        // An unreadable one was reported as an error already; "no composeinfo" would mislead.
        if !unreadable {
            run.warn("no metadata/composeinfo.json; only STATUS and COMPOSE_ID are known");
        }
        rec = rec.with("id", opt(id_file)).with("metadata", Value::Null);
    }
    run.emit(&rec);
    for v in &variants {
        run.emit(
            &Record::new("variant")
                .with("uid", v.uid.clone())
                .with("id", v.id.clone())
                .with("name", v.name.clone())
                .with("type", v.kind.clone())
                .with("arches", v.arches.clone())
                .with("paths", json!(v.paths)),
        );
    }
    if require == Some(Require::Finished) {
        let ok = status.as_ref().is_some_and(|s| s.passes(allow_incomplete));
        if !ok {
            let what = match &status {
                None => "has no STATUS file".to_string(),
                Some(s) if *s == compose::ComposeStatus::FinishedIncomplete => {
                    "is FINISHED_INCOMPLETE (pass --allow-incomplete to accept it)".to_string()
                }
                Some(s) => format!("is {s}"),
            };
            eprintln!(
                "{TOOL}: {}: compose {what}; FINISHED is required",
                c.top_or_compose().display()
            );
            run.raise(Status::Differs);
        }
    }
    run.finish(
        Record::new("")
            .with("variants", variants.len())
            .with("status", opt(status.map(|s| s.to_string()))),
    )
}

/// The default module metadata checkout: `<compose root>/<MAJOR>_metadata` next to the
/// per-major directory holding the compose.
fn default_module_dir(c: &Compose, ci: Option<&ComposeInfo>) -> Option<PathBuf> {
    let top = c.top.as_ref()?;
    let major = match ci {
        Some(ci) => ci.payload.release.version.split('.').next()?.to_owned(),
        None => {
            // <root>/<MAJOR>[-suffix]/<compose>
            let per_major = top.parent()?.file_name()?.to_string_lossy().into_owned();
            per_major.split('-').next()?.to_owned()
        }
    };
    let dir = top.parent()?.parent()?.join(format!("{major}_metadata"));
    dir.is_dir().then_some(dir)
}

pub fn repos(
    dir: &Path,
    variant: Option<&str>,
    arch: Option<&str>,
    kind: Option<Kind>,
    module_dir: Option<&Path>,
) -> Status {
    let run = Run::start(TOOL, VERSION);
    let Some(c) = open(&run, dir) else {
        return run.finish(Record::new("").with("repos", 0));
    };
    let ci = composeinfo(&run, &c).ok().flatten();
    let found = match compose::scan_repos(&c.compose) {
        Ok(r) => r,
        Err(e) => {
            run.error(&c.compose, Path::new(""), "scan", &e);
            return run.finish(Record::new("").with("repos", 0));
        }
    };
    let module_dir = module_dir
        .map(Path::to_path_buf)
        .or_else(|| default_module_dir(&c, ci.as_ref()));
    // Cross-check with composeinfo: every declared repository should have repodata.
    let scanned: BTreeSet<PathBuf> = found.iter().map(|r| r.path.clone()).collect();
    if let Some(ci) = &ci {
        for v in ci.payload.variants.values() {
            for cat in ["repository", "debug_repository", "source_repository"] {
                for p in v.paths.get(cat).into_iter().flat_map(|m| m.values()) {
                    let p = PathBuf::from(p.trim_end_matches('/'));
                    if !scanned.contains(&p) {
                        run.warn(&format!(
                            "composeinfo.json lists {} ({cat} of {}) but it has no repodata",
                            p.display(),
                            v.uid
                        ));
                    }
                }
            }
        }
    }
    let source = if ci.is_some() {
        "scan+composeinfo"
    } else {
        "scan"
    };
    let want_kind = kind.map(|k| match k {
        Kind::Os => RepoKind::Os,
        Kind::Debug => RepoKind::Debug,
        Kind::Source => RepoKind::Source,
    });
    let mut n = 0u64;
    for r in &found {
        if variant.is_some_and(|v| v != r.variant)
            || arch.is_some_and(|a| a != r.arch)
            || want_kind.is_some_and(|k| k != r.kind)
        {
            continue;
        }
        let comps = if r.kind == RepoKind::Os {
            c.comps_file(&r.variant, &r.arch)
        } else {
            None
        };
        let modules = match (&module_dir, r.kind) {
            (Some(m), RepoKind::Os) => {
                let p = m.join(&r.arch).join(format!("{}-modules.yaml", r.variant));
                p.is_file().then_some(p)
            }
            _ => None,
        };
        n += 1;
        run.emit(
            &Record::new("repo")
                .at(&c.compose, &r.path)
                .with("variant", r.variant.clone())
                .with("arch", r.arch.clone())
                .with("kind", r.kind.as_str())
                .with("comps", comps.as_deref().map_or(Value::Null, wire_path))
                .with("modules", modules.as_deref().map_or(Value::Null, wire_path))
                .with("source", source),
        );
    }
    run.finish(Record::new("").with("repos", n))
}

/// Image file formats by suffix, longest first.
const FORMATS: [(&str, &str); 14] = [
    (".raw.xz", "raw.xz"),
    (".tar.xz", "tar.xz"),
    (".tar.gz", "tar.gz"),
    (".vhd.xz", "vhd.xz"),
    (".iso", "iso"),
    (".qcow2", "qcow2"),
    (".box", "vagrant-box"),
    (".vhd", "vhd"),
    (".vhdx", "vhdx"),
    (".vmdk", "vmdk"),
    (".wsl", "wsl"),
    (".img", "img"),
    (".raw", "raw"),
    (".ova", "ova"),
];

fn image_format(name: &str) -> Option<&'static str> {
    FORMATS
        .iter()
        .find(|(suf, _)| name.ends_with(suf))
        .map(|(_, f)| *f)
}

/// A best guess at productmd's image type from a path, for trees without images.json.
fn guess_type(rel: &Path, name: &str, format: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let in_live = rel
        .components()
        .any(|c| c.as_os_str().eq_ignore_ascii_case("live"));
    if in_live {
        return "live".into();
    }
    match format {
        "iso" if lower.contains("-boot") => "boot".into(),
        "iso" if lower.contains("-dvd") => "dvd".into(),
        "iso" if lower.contains("-minimal") => "dvd".into(),
        "iso" => "iso".into(),
        "vagrant-box" if lower.contains("libvirt") => "vagrant-libvirt".into(),
        "vagrant-box" if lower.contains("vbox") || lower.contains("virtualbox") => {
            "vagrant-virtualbox".into()
        }
        "vagrant-box" if lower.contains("vmware") => "vagrant-vmware-fusion".into(),
        "raw.xz" => "raw-xz".into(),
        "tar.xz" | "tar.gz" if lower.contains("container") => "docker".into(),
        "vhd" | "vhd.xz" => "vpc".into(),
        other => other.replace('.', "-"),
    }
}

/// Where `prepare` put an image images.json lists at `listed`: `isos/<arch>/`,
/// `images/<arch>/` (vagrant boxes under their short name) or `live/<arch>/`.
fn prepared_location(compose: &Path, arch: &str, listed: &Path) -> Option<PathBuf> {
    let name = listed.file_name()?.to_str()?;
    let short = rl_core::release::vagrant_short_name(name);
    [
        PathBuf::from("isos").join(arch).join(name),
        PathBuf::from("images").join(arch).join(name),
        PathBuf::from("images").join(arch).join(&short),
        PathBuf::from("live").join(arch).join(name),
    ]
    .into_iter()
    .find(|p| compose.join(p).is_file())
}

pub fn images(dir: &Path, force_scan: bool) -> Status {
    let run = Run::start(TOOL, VERSION);
    let Some(c) = open(&run, dir) else {
        return run.finish(Record::new("").with("images", 0));
    };
    let meta = if force_scan {
        None
    } else {
        match c.images() {
            Ok(m) => m,
            Err(e) => {
                run.error(&c.compose, Path::new("metadata/images.json"), "read", &e);
                return run.finish(Record::new("").with("images", 0));
            }
        }
    };
    let mut n = 0u64;
    let mut bytes = 0u64;
    if let Some(meta) = meta {
        for (variant, arches) in &meta.payload.images {
            for (arch, list) in arches {
                for im in list {
                    let listed = PathBuf::from(&im.path);
                    let arch_name = im.arch.clone().unwrap_or_else(|| arch.clone());
                    let (rel, exists, moved) = if c.compose.join(&listed).exists() {
                        (listed.clone(), true, false)
                    } else {
                        match prepared_location(&c.compose, &arch_name, &listed) {
                            Some(p) => (p, true, true),
                            None => (listed.clone(), false, false),
                        }
                    };
                    let mut rec = Record::new("image")
                        .at(&c.compose, &rel)
                        .with("variant", variant.clone())
                        .with("arch", arch_name.clone())
                        .with("type", opt(im.kind.clone()))
                        .with("format", opt(im.format.clone()))
                        .with("size", opt(im.size))
                        .with("subvariant", opt(im.subvariant.clone()))
                        .with("volume_id", opt(im.volume_id.clone()))
                        .with("bootable", opt(im.bootable))
                        .with("disc_number", opt(im.disc_number))
                        .with("mtime", opt(im.mtime));
                    for (algo, digest) in &im.checksums {
                        rec = rec.with(algo, digest.clone());
                    }
                    rec = rec.with("exists", exists).with("source", "images.json");
                    if moved {
                        rec = rec.with_path("metadata_path", &listed);
                    }
                    bytes += im.size.unwrap_or(0);
                    n += 1;
                    run.emit(&rec);
                }
            }
        }
        return run.finish(Record::new("").with("images", n).with("bytes", bytes));
    }
    if !force_scan {
        run.warn("no metadata/images.json; listing images by scanning the tree");
    }
    // Package and repodata directories hold no images: not descended into.
    let opts = rl_core::walk::WalkOptions::default();
    let walker = rl_core::walk::walk_pruned(&c.compose, &opts, |rel, ft, depth| {
        let name = rel.file_name().unwrap_or_default();
        !(depth == 1 && name == "metadata")
            && !(ft.is_dir() && (name == "Packages" || name == "repodata"))
    });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                run.error(&c.compose, &e.rel, "scan", &e.error);
                continue;
            }
        };
        if !entry.file_type.is_file() {
            continue;
        }
        let name = entry
            .rel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(format) = image_format(&name) else {
            continue;
        };
        let rel = entry.rel;
        let parts: Vec<String> = rel
            .components()
            .map(|p| p.as_os_str().to_string_lossy().into_owned())
            .collect();
        let (variant, arch) = match parts.first().map(String::as_str) {
            Some("isos" | "images" | "live") => (Value::Null, parts.get(1).cloned()),
            Some(v) => (Value::from(v), parts.get(1).cloned()),
            None => (Value::Null, None),
        };
        let size = entry.metadata.len();
        bytes += size;
        n += 1;
        run.emit(
            &Record::new("image")
                .at(&c.compose, &rel)
                .with("variant", variant)
                .with("arch", opt(arch))
                .with("type", guess_type(&rel, &name, format))
                .with("format", format)
                .with("size", size)
                .with("exists", true)
                .with("source", "scan"),
        );
    }
    run.finish(Record::new("").with("images", n).with("bytes", bytes))
}

pub fn unsigned(dir: &Path, keys: &[String]) -> Status {
    let run = Run::start(TOOL, VERSION);
    let Some(c) = open(&run, dir) else {
        return run.finish(Record::new("").with("packages", 0).with("unsigned", 0));
    };
    let rpms = match c.rpms() {
        Ok(Some(r)) => r,
        Ok(None) => {
            run.error_with(
                &c.compose,
                Path::new("metadata/rpms.json"),
                "read",
                "io.not_found",
                "no metadata/rpms.json; cannot tell which packages are signed",
            );
            return run.finish(Record::new("").with("packages", 0).with("unsigned", 0));
        }
        Err(e) => {
            run.error(&c.compose, Path::new("metadata/rpms.json"), "read", &e);
            return run.finish(Record::new("").with("packages", 0).with("unsigned", 0));
        }
    };
    let (mut total, mut bad) = (0u64, 0u64);
    for (variant, arches) in &rpms.payload.rpms {
        for (arch, srpms) in arches {
            for (srpm, pkgs) in srpms {
                for (nevra, e) in pkgs {
                    total += 1;
                    let ok = match &e.sigkey {
                        None => false,
                        Some(k) if k.is_empty() => false,
                        Some(k) => keys.is_empty() || compose::key_matches(k, keys),
                    };
                    if ok {
                        continue;
                    }
                    bad += 1;
                    run.emit(
                        &Record::new("unsigned")
                            .at(&c.compose, Path::new(&e.path))
                            .with("variant", variant.clone())
                            .with("arch", arch.clone())
                            .with("srpm", srpm.clone())
                            .with("rpm", nevra.clone())
                            .with("sigkey", opt(e.sigkey.clone()))
                            .with("category", e.category.clone()),
                    );
                }
            }
        }
    }
    if bad > 0 {
        let what = if keys.is_empty() {
            "without a signature".to_string()
        } else {
            format!("not signed with {}", keys.join(" or "))
        };
        eprintln!("{TOOL}: {bad} of {total} packages are {what}");
        run.raise(Status::Differs);
    }
    run.finish(
        Record::new("")
            .with("packages", total)
            .with("unsigned", bad),
    )
}
