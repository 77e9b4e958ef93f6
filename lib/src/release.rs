//! Release naming, as the toolkit's `common` and `common_{8,9,10}` compute it (the data itself:
//! [`crate::release_data`]).
//!
//! * [`ReleaseType`] and [`ReleaseData`]: `RLREL` (stable, beta, lh) and the per-major table of
//!   `REVISION`, `PREREV`, `APPEND_TO_DIR` and `COMPOSE_APPEND`.
//! * [`Revision`] gives `MAJOR=${REVISION%.*}` and `MINOR=${REVISION#*.}`.
//! * [`compose_link_path`] gives `${COMPOSE_ROOT}/${MAJOR}${COMPOSE_APPEND}/latest-${SHORT}-${MAJOR}`.
//! * [`iso_latest_links`], [`image_latest_name`], [`live_latest_name`], [`vagrant_short_name`]:
//!   the published names of the `latest` links and renamed vagrant boxes (reference §1.1–1.2, §2.5).
//!
//! The regular expressions are the scripts' `sed -E` expressions. Like the scripts, the revision is
//! put into them unescaped, so its `.` matches any character; every published name has a literal
//! dot there, so the difference never shows on real names.

use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;

/// `RLREL`: which release line a compose belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseType {
    /// A stable minor release (`RLREL=stable`, the default).
    Stable,
    /// A beta (`RLREL=beta`).
    Beta,
    /// LookAhead (`RLREL=lh`).
    Lh,
}

impl ReleaseType {
    /// Parses `stable`, `beta` or `lh` (the only values common_X recognises).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stable" => Some(ReleaseType::Stable),
            "beta" => Some(ReleaseType::Beta),
            "lh" => Some(ReleaseType::Lh),
            _ => None,
        }
    }

    /// The `RLREL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseType::Stable => "stable",
            ReleaseType::Beta => "beta",
            ReleaseType::Lh => "lh",
        }
    }
}

impl fmt::Display for ReleaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::release_data::{ReleaseData, arches};

/// `ISO_TYPES`: the variants whose `<arch>/iso` directories are sorted into `isos/<arch>`.
pub const ISO_TYPES: [&str; 2] = ["BaseOS", "Minimal"];

/// `NONREPO_DIRS`: variants removed from the compose before syncing.
pub const NONREPO_DIRS: [&str; 2] = ["Minimal", "Cloud"];

/// A release revision `X.Y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    text: String,
}

impl Revision {
    /// Parses `X.Y` (digits, one or more dots allowed after the major like the shell's
    /// `${REVISION%.*}`); refuses the empty string and anything without a dot, which is where the
    /// scripts go wrong with an unknown `RLREL`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.contains('.')
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            Ok(Revision { text: s.to_owned() })
        } else {
            Err(format!(
                "revision {s:?} is not of the form MAJOR.MINOR (e.g. 9.7)"
            ))
        }
    }

    /// The whole revision, e.g. `9.7`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `${REVISION%.*}`: everything before the last dot.
    pub fn major(&self) -> &str {
        self.text
            .rsplit_once('.')
            .map_or(&self.text[..], |(a, _)| a)
    }

    /// `${REVISION#*.}`: everything after the first dot.
    pub fn minor(&self) -> &str {
        self.text.split_once('.').map_or("", |(_, b)| b)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The compose link as common_X computes `RELEASE_COMPOSE_ROOT`:
/// `${COMPOSE_ROOT}/${MAJOR}${COMPOSE_APPEND}/latest-${SHORT}-${MAJOR}`.
pub fn compose_link_path(compose_root: &Path, data: &ReleaseData, short: &str) -> PathBuf {
    compose_root
        .join(format!("{}{}", data.major, data.compose_append))
        .join(format!("latest-{short}-{}", data.major))
}

/// The ISO `latest` links of one arch, in the order the script makes them:
/// `(target, link)` pairs for boot, dvd, dvd1 (→ `-dvd`) and minimal. The caller keeps the first
/// link of a name whose target exists (the script's `ln -s` without `-f` fails on the second).
pub fn iso_latest_links(revision: &Revision, arch: &str) -> Vec<(String, String)> {
    let maj = revision.major();
    [
        ("boot", "boot"),
        ("dvd", "dvd"),
        ("dvd1", "dvd"),
        ("minimal", "minimal"),
    ]
    .iter()
    .map(|(src, dst)| {
        (
            format!("Rocky-{revision}-{arch}-{src}.iso"),
            format!("Rocky-{maj}-latest-{arch}-{dst}.iso"),
        )
    })
    .collect()
}

/// The cloud-image `latest` link name:
/// `sed -E "s/-$REVISION-[0-9]+\.[0-9]+/.latest/g ; s/\.oci//g"`.
/// `Rocky-10-GenericCloud-Base-10.1-20251116.0.x86_64.qcow2` → `Rocky-10-GenericCloud-Base.latest.x86_64.qcow2`.
pub fn image_latest_name(name: &str, revision: &Revision) -> String {
    let re = Regex::new(&format!(r"-{}-[0-9]+\.[0-9]+", revision.as_str())).expect("valid regex");
    let step = re.replace_all(name, ".latest");
    step.replace(".oci", "")
}

/// The live-image `latest` link name (the toolkit's devel fix, which gives the published
/// `Rocky-10-KDE-x86_64-latest.iso`):
/// `sed -E "s/-${REVISION}-/-${MAJOR}-/g ; s/-20[0-9]+\.[0-9]+/-latest/g"`.
pub fn live_latest_name(name: &str, revision: &Revision) -> String {
    let re1 = Regex::new(&format!("-{}-", revision.as_str())).expect("valid regex");
    let step = re1.replace_all(name, format!("-{}-", revision.major()).as_str());
    let re2 = Regex::new(r"-20[0-9]+\.[0-9]+").expect("valid regex");
    re2.replace_all(&step, "-latest").into_owned()
}

/// The vagrant box rename: `sed 's/\.vagrant\..*\(\.box\)/\1/'` (first match, greedy), so
/// `X.x86_64.vagrant.libvirt.box` → `X.x86_64.box`. Unchanged names come back as they are.
pub fn vagrant_short_name(name: &str) -> String {
    let re = Regex::new(r"\.vagrant\..*(\.box)").expect("valid regex");
    re.replace(name, "$1").into_owned()
}

/// Whether a file in an images or live directory is a checksum, signature or manifest beside an
/// image (never given a `latest` link of its own).
pub fn is_side_file(name: &str) -> bool {
    name == "CHECKSUM"
        || name.ends_with("SUM")
        || name.ends_with(".CHECKSUM")
        || name.ends_with(".asc")
        || name.ends_with(".manifest")
        || name.ends_with(".sig")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(s: &str) -> Revision {
        Revision::parse(s).unwrap()
    }

    #[test]
    fn revision_major_minor_like_the_shell() {
        let r = rev("9.7");
        assert_eq!((r.major(), r.minor()), ("9", "7"));
        let r = rev("10.1");
        assert_eq!((r.major(), r.minor()), ("10", "1"));
        // ${REVISION%.*} and ${REVISION#*.} with two dots
        let r = rev("9.7.1");
        assert_eq!((r.major(), r.minor()), ("9.7", "7.1"));
        assert!(Revision::parse("").is_err());
        assert!(Revision::parse("9").is_err());
        assert!(Revision::parse("9.x").is_err());
        assert!(Revision::parse("9.").is_err());
    }

    #[test]
    fn common_table() {
        let d = ReleaseData::lookup(9, ReleaseType::Stable).unwrap();
        assert_eq!(d.rev().unwrap(), "9.7-RC2");
        assert_eq!(d.compose_append, "");
        let d = ReleaseData::lookup(9, ReleaseType::Lh).unwrap();
        assert_eq!(d.compose_append, "-LookAhead");
        assert_eq!(d.rev().unwrap(), "9.8-LookAhead");
        let d = ReleaseData::lookup(9, ReleaseType::Beta).unwrap();
        assert_eq!(d.compose_append, "-beta");
        let d = ReleaseData::lookup(10, ReleaseType::Beta).unwrap();
        assert_eq!(d.compose_append, "-BETA");
        let d = ReleaseData::lookup(11, ReleaseType::Stable).unwrap();
        assert_eq!(d.revision, None);
        assert_eq!(ReleaseType::parse("lookahead"), None);
        assert_eq!(arches(10).unwrap().len(), 5);
    }

    #[test]
    fn compose_link() {
        let d = ReleaseData::lookup(9, ReleaseType::Lh).unwrap();
        assert_eq!(
            compose_link_path(Path::new("/mnt/compose"), &d, "Rocky"),
            Path::new("/mnt/compose/9-LookAhead/latest-Rocky-9")
        );
        let d = ReleaseData::lookup(10, ReleaseType::Stable).unwrap();
        assert_eq!(
            compose_link_path(Path::new("/mnt/compose"), &d, "Extras"),
            Path::new("/mnt/compose/10/latest-Extras-10")
        );
    }

    #[test]
    fn iso_links() {
        let l = iso_latest_links(&rev("9.7"), "x86_64");
        assert_eq!(
            l[0],
            (
                "Rocky-9.7-x86_64-boot.iso".into(),
                "Rocky-9-latest-x86_64-boot.iso".into()
            )
        );
        assert_eq!(l[2].0, "Rocky-9.7-x86_64-dvd1.iso");
        assert_eq!(l[2].1, "Rocky-9-latest-x86_64-dvd.iso");
        assert_eq!(l[3].1, "Rocky-9-latest-x86_64-minimal.iso");
    }

    #[test]
    fn image_links() {
        let r = rev("10.1");
        assert_eq!(
            image_latest_name(
                "Rocky-10-GenericCloud-Base-10.1-20251116.0.x86_64.qcow2",
                &r
            ),
            "Rocky-10-GenericCloud-Base.latest.x86_64.qcow2"
        );
        assert_eq!(
            image_latest_name(
                "Rocky-10-SBC-RaspberryPi-10.1-20251116.0.aarch64.raw.xz",
                &r
            ),
            "Rocky-10-SBC-RaspberryPi.latest.aarch64.raw.xz"
        );
        assert_eq!(
            image_latest_name(
                "Rocky-10-Container-UBI-10.1-20251116.0.x86_64.oci.tar.xz",
                &r
            ),
            "Rocky-10-Container-UBI.latest.x86_64.tar.xz"
        );
        // another revision's image is left alone
        assert_eq!(
            image_latest_name("Rocky-10-EC2-Base-10.0-20250101.0.x86_64.qcow2", &r),
            "Rocky-10-EC2-Base-10.0-20250101.0.x86_64.qcow2"
        );
    }

    #[test]
    fn live_links() {
        let r = rev("10.1");
        assert_eq!(
            live_latest_name("Rocky-10.1-KDE-x86_64-20251116.0.iso", &r),
            "Rocky-10-KDE-x86_64-latest.iso"
        );
        assert_eq!(
            live_latest_name("Rocky-10.1-Workstation-Lite-aarch64-20251116.3.iso", &r),
            "Rocky-10-Workstation-Lite-aarch64-latest.iso"
        );
    }

    #[test]
    fn vagrant_rename() {
        assert_eq!(
            vagrant_short_name("Rocky-9-Vagrant-Libvirt-9.7-20251116.0.x86_64.vagrant.libvirt.box"),
            "Rocky-9-Vagrant-Libvirt-9.7-20251116.0.x86_64.box"
        );
        assert_eq!(
            vagrant_short_name(
                "Rocky-9-Vagrant-VMware-9.7-20251116.0.x86_64.vagrant.vmware_desktop.box"
            ),
            "Rocky-9-Vagrant-VMware-9.7-20251116.0.x86_64.box"
        );
        assert_eq!(vagrant_short_name("plain.box"), "plain.box");
    }

    #[test]
    fn side_files() {
        assert!(is_side_file("CHECKSUM"));
        assert!(is_side_file("x.qcow2.SHA256SUM"));
        assert!(is_side_file("x.iso.manifest"));
        assert!(!is_side_file("x.qcow2"));
    }
}
