//! What a directory entry is — directory, regular file, symbolic link or anything else — as the
//! walkers report it ([`crate::nofollow`], [`crate::parwalk`]).

/// The type of a directory entry itself (a symlink is a symlink, never its target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    /// FIFO, socket or device.
    Other,
}

impl Kind {
    /// From the `st_mode` of an `lstat`.
    pub fn from_mode(mode: u32) -> Kind {
        const S_IFMT: u32 = 0o170_000;
        match mode & S_IFMT {
            0o040_000 => Kind::Dir,
            0o100_000 => Kind::File,
            0o120_000 => Kind::Symlink,
            _ => Kind::Other,
        }
    }

    /// A lowercase word for records.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::File => "file",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lstat_modes() {
        assert_eq!(Kind::from_mode(0o040_755), Kind::Dir);
        assert_eq!(Kind::from_mode(0o100_644), Kind::File);
        assert_eq!(Kind::from_mode(0o120_777), Kind::Symlink);
        assert_eq!(Kind::from_mode(0o010_600), Kind::Other);
        assert_eq!(Kind::Symlink.as_str(), "symlink");
    }
}
