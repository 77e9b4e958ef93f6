//! `rl-filelist` with no subcommand: create-filelist's command line and output.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rl_core::filelist::{self, ScanOptions};
use rl_core::{Record, Run, Status};

use crate::cli::Compat;
use crate::output::ListOutput;

/// productmd's `SUPPORTED_IMAGE_FORMATS`: `-i` lists the paths ending in `.<format>`.
pub const IMAGE_FORMATS: &[&str] = &[
    "appx",
    "erofs",
    "erofs.gz",
    "erofs.xz",
    "iso",
    "liveimg.squashfs",
    "oci",
    "ociarchive",
    "qcow",
    "qcow2",
    "raw",
    "raw.xz",
    "rhevm.ova",
    "squashfs",
    "squashfs.gz",
    "squashfs.xz",
    "tar",
    "tar.gz",
    "tar.xz",
    "vagrant-hyperv.box",
    "vagrant-libvirt.box",
    "vagrant-virtualbox.box",
    "vagrant-vmware-fusion.box",
    "vdi",
    "vhd",
    "vhd.gz",
    "vhd.xz",
    "vhdfixed.xz",
    "vmdk",
    "vsphere.ova",
    "wsl",
];

/// Whether a path is an image for the `-i` list.
pub fn is_image(path: &[u8]) -> bool {
    IMAGE_FORMATS.iter().any(|f| {
        path.len() > f.len() + 1
            && path.ends_with(f.as_bytes())
            && path[path.len() - f.len() - 1] == b'.'
    })
}

fn is_stdout(p: &Option<PathBuf>) -> bool {
    p.as_ref().is_none_or(|p| p.as_os_str() == "-")
}

fn basename(p: &Path) -> Vec<u8> {
    p.file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default()
}

/// The scan options create-filelist derives from its command line.
pub fn scan_options(a: &Compat) -> ScanOptions {
    let mut checksum_names: HashSet<Vec<u8>> = a
        .checksum_file
        .iter()
        .map(|n| n.as_bytes().to_vec())
        .collect();
    if a.checksum {
        checksum_names.insert(b"repomd.xml".to_vec());
    }
    let mut skip_top: HashSet<Vec<u8>> =
        a.skip_file.iter().map(|n| n.as_bytes().to_vec()).collect();
    if a.skip {
        if !is_stdout(&a.timelist) {
            skip_top.insert(basename(a.timelist.as_deref().unwrap_or(Path::new("-"))));
        }
        // -f and -i default to /dev/null in create-filelist, so -s also skips a top-level `null`.
        for p in [&a.filelist, &a.imagelist] {
            skip_top.insert(basename(p.as_deref().unwrap_or(Path::new("/dev/null"))));
        }
    }
    ScanOptions {
        skip_top,
        checksum_names,
        strict_names: a.strict_names,
        ..ScanOptions::default()
    }
}

/// Runs create-filelist mode.
pub fn run(a: Compat) -> Status {
    let opts = scan_options(&a);
    let algos = a.checksum_sections.algos();
    let root = a.dir.clone();
    if !root.is_dir() {
        eprintln!(
            "rl-filelist: {}: not a directory that can be scanned",
            root.display()
        );
        return Status::Error;
    }
    let to_file = !is_stdout(&a.timelist);
    let run = to_file.then(|| Run::start("rl-filelist", env!("CARGO_PKG_VERSION")));
    let abs_root = filelist::absolute(&root);
    let report = |run: &Option<Run>, path: &Path, e: &io::Error| {
        match run {
            Some(r) => r.error(&abs_root, path, "write", e),
            None => eprintln!("rl-filelist: {}: {e}", path.display()),
        };
    };

    let mut plain = match a.filelist.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(p) => match ListOutput::create(p, false) {
            Ok(o) => Some((p.to_path_buf(), o)),
            Err(e) => {
                report(&run, p, &e);
                return finish(run, 0, Status::Error);
            }
        },
        None => None,
    };
    let mut images = match a.imagelist.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(p) => match ListOutput::create(p, false) {
            Ok(o) => Some((p.to_path_buf(), o)),
            Err(e) => {
                report(&run, p, &e);
                return finish(run, 0, Status::Error);
            }
        },
        None => None,
    };
    let mut timelist = match a.timelist.as_deref().filter(|_| to_file) {
        Some(p) => match ListOutput::create(p, false) {
            Ok(o) => Some((p.to_path_buf(), o)),
            Err(e) => {
                report(&run, p, &e);
                return finish(run, 0, Status::Error);
            }
        },
        None => None,
    };

    let stdout = io::stdout();
    let mut stdout_w = BufWriter::with_capacity(1 << 16, stdout.lock());
    let out: &mut dyn Write = match timelist.as_mut() {
        Some((_, o)) => o,
        None => &mut stdout_w,
    };
    let plain_w: Option<&mut dyn Write> = plain.as_mut().map(|(_, o)| o as &mut dyn Write);
    let mut image_err: Option<io::Error> = None;
    let result = filelist::write_list(&root, &opts, algos, out, plain_w, &mut |e| {
        if let Some((_, img)) = images.as_mut()
            && is_image(&e.path)
            && image_err.is_none()
        {
            let r = img
                .write_all(b"./")
                .and_then(|()| img.write_all(&e.path))
                .and_then(|()| img.write_all(b"\n"));
            if let Err(x) = r {
                image_err = Some(x);
            }
        }
    });
    let flushed = stdout_w.flush();
    drop(stdout_w);
    let written = match result.and_then(|w| flushed.map(|()| w)) {
        Ok(w) => w,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Status::Ok,
        Err(e) => {
            report(&run, Path::new(""), &e);
            return finish(run, 0, Status::Error);
        }
    };
    let mut status = Status::Ok;
    for (path, e) in &written.errors {
        let rel = Path::new(OsStr::from_bytes(path));
        match &run {
            Some(r) => r.error(&abs_root, rel, "scan", e),
            None => eprintln!("rl-filelist: {}: {e}", root.join(rel).display()),
        }
        status = Status::Error;
    }
    if let Some(e) = image_err {
        report(&run, a.imagelist.as_deref().unwrap_or(Path::new("")), &e);
        status = Status::Error;
    }
    let commit = status == Status::Ok;
    for (kind, slot) in [
        ("timelist", timelist),
        ("filelist", plain),
        ("imagelist", images),
    ] {
        let Some((path, o)) = slot else { continue };
        let bytes = o.bytes;
        match o.finish(None, commit) {
            Ok(outcome) if commit => {
                if let Some(r) = &run {
                    let abs = filelist::absolute(&path);
                    r.emit(
                        &Record::new("list")
                            .with_path("path", &abs)
                            .with("kind", kind)
                            .with("outcome", outcome.as_str())
                            .with("entries", written.entries)
                            .with("bytes", bytes),
                    );
                }
            }
            Ok(_) => {}
            Err(e) => {
                report(&run, &path, &e);
                status = Status::Error;
            }
        }
    }
    finish(run, written.entries, status)
}

fn finish(run: Option<Run>, entries: u64, status: Status) -> Status {
    match run {
        Some(r) => {
            r.raise(status);
            r.finish(Record::new("").with("entries", entries))
        }
        None => status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_suffixes() {
        assert!(is_image(b"a/Rocky-9.6-x86_64-dvd.iso"));
        assert!(is_image(b"x.raw.xz"));
        assert!(!is_image(b"iso"));
        assert!(!is_image(b"a/bios"));
        assert!(!is_image(b"a.xz"));
    }
}
