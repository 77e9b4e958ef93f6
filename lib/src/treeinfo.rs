//! `.treeinfo` files as Python's `configparser.ConfigParser` reads and writes them, and the
//! toolkit's edit that adds a variant (common_9/common_10 `treeinfoModder`,
//! `treeinfoModderKickstart`).
//!
//! Reading follows ConfigParser's defaults: `[section]` headers, `key = value` or `key: value`
//! (first `=` or `:`), keys lower-cased, values stripped, `#` and `;` comment lines dropped,
//! indented lines continue the previous value, duplicate sections or keys are an error. Writing
//! is byte-identical to `ConfigParser.write`: `key = value` lines, continuation lines indented by
//! a tab, a blank line after every section.

use std::fmt::Write as _;

/// A parsed INI document (sections and keys in file order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ini {
    sections: Vec<(String, Vec<(String, String)>)>,
}

/// What [`add_variant`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The section was added.
    Added,
    /// The section existed; its paths were rewritten (kickstart trees).
    PathsSet,
    /// The section existed; nothing was touched (os trees).
    Present,
}

impl Ini {
    /// Parses INI text the way ConfigParser does (strict mode).
    pub fn parse(text: &str) -> Result<Ini, String> {
        let mut ini = Ini::default();
        // (section index, key index, indent of the key line)
        let mut cur: Option<usize> = None;
        let mut cur_key: Option<(usize, usize)> = None;
        let mut key_indent = 0usize;
        for (no, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let stripped = line.trim();
            if stripped.starts_with('#') || stripped.starts_with(';') {
                continue;
            }
            if stripped.is_empty() {
                // An empty line inside a value belongs to it (trailing ones are dropped below).
                if let (Some(s), Some((_, k))) = (cur, cur_key) {
                    ini.sections[s].1[k].1.push('\n');
                }
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if let (Some(s), Some((_, k))) = (cur, cur_key)
                && indent > key_indent
            {
                let v = &mut ini.sections[s].1[k].1;
                v.push('\n');
                v.push_str(stripped);
                continue;
            }
            if stripped.starts_with('[')
                && let Some(end) = stripped.rfind(']').filter(|&e| e > 1)
            {
                let name = &stripped[1..end];
                if ini.sections.iter().any(|(n, _)| n == name) {
                    return Err(format!("line {}: duplicate section [{name}]", no + 1));
                }
                ini.sections.push((name.to_owned(), Vec::new()));
                cur = Some(ini.sections.len() - 1);
                cur_key = None;
                continue;
            }
            let Some(s) = cur else {
                return Err(format!("line {}: key before any [section]", no + 1));
            };
            let Some(pos) = stripped.find(['=', ':']) else {
                return Err(format!("line {}: not a key = value line", no + 1));
            };
            let key = stripped[..pos].trim_end().to_lowercase();
            let value = stripped[pos + 1..].trim().to_owned();
            if key.is_empty() {
                return Err(format!("line {}: empty key", no + 1));
            }
            let keys = &mut ini.sections[s].1;
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(format!("line {}: duplicate key {key:?}", no + 1));
            }
            keys.push((key, value));
            cur_key = Some((s, keys.len() - 1));
            key_indent = indent;
        }
        for (_, keys) in &mut ini.sections {
            for (_, v) in keys.iter_mut() {
                while v.ends_with('\n') {
                    v.pop();
                }
            }
        }
        Ok(ini)
    }

    /// Whether a section exists.
    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }

    /// A value.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(n, _)| n == section)?
            .1
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a value (new keys go last; an existing key keeps its place). `false` when the
    /// section does not exist (ConfigParser raises NoSectionError).
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> bool {
        let Some((_, keys)) = self.sections.iter_mut().find(|(n, _)| n == section) else {
            return false;
        };
        let key = key.to_lowercase();
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => keys.push((key, value.to_owned())),
        }
        true
    }

    /// Adds an empty section at the end.
    pub fn add_section(&mut self, name: &str) {
        if !self.has_section(name) {
            self.sections.push((name.to_owned(), Vec::new()));
        }
    }

    /// The text `ConfigParser.write` produces.
    pub fn to_configparser(&self) -> String {
        let mut out = String::new();
        for (name, keys) in &self.sections {
            let _ = writeln!(out, "[{name}]");
            for (k, v) in keys {
                let _ = writeln!(out, "{k} = {}", v.replace('\n', "\n\t"));
            }
            out.push('\n');
        }
        out
    }
}

/// The toolkit's treeinfo edit for one tree: adds `[variant-<V>]` (id, name, type, uid, packages,
/// repository pointing at `../../../<V>/<arch>/<tree>/`) and lists V in `[tree] variants` when the
/// section is absent; in a kickstart tree an existing section gets its paths rewritten to
/// `kickstart/`. Returns the new text (`None` when the file is to be left as it is) and what was
/// done.
pub fn add_variant(
    text: &str,
    variant: &str,
    arch: &str,
    kickstart: bool,
) -> Result<(Option<String>, Edit), String> {
    let mut ini = Ini::parse(text)?;
    let section = format!("variant-{variant}");
    let tree_dir = if kickstart { "kickstart" } else { "os" };
    let packages = format!("../../../{variant}/{arch}/{tree_dir}/Packages");
    let repository = format!("../../../{variant}/{arch}/{tree_dir}/");
    if ini.has_section(&section) {
        if !kickstart {
            return Ok((None, Edit::Present));
        }
        ini.set(&section, "packages", &packages);
        ini.set(&section, "repository", &repository);
        return Ok((Some(ini.to_configparser()), Edit::PathsSet));
    }
    if !ini.has_section("tree") {
        return Err("no [tree] section; not a treeinfo file".into());
    }
    let variants = match ini.get("tree", "variants") {
        Some(v) if !v.is_empty() => {
            if v.split(',').any(|x| x.trim() == variant) {
                v.to_owned()
            } else {
                format!("{v},{variant}")
            }
        }
        _ => variant.to_owned(),
    };
    ini.set("tree", "variants", &variants);
    ini.add_section(&section);
    ini.set(&section, "id", variant);
    ini.set(&section, "name", variant);
    ini.set(&section, "type", "variant");
    ini.set(&section, "uid", variant);
    ini.set(&section, "packages", &packages);
    ini.set(&section, "repository", &repository);
    Ok((Some(ini.to_configparser()), Edit::Added))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUNGI: &str = "[checksums]\nimages/boot.iso = sha256:00\n\n[general]\n; WARNING.0 = This section is for backward compatibility\narch = x86_64\nfamily = Rocky Linux\n\n[header]\ntype = productmd.treeinfo\nversion = 1.2\n\n[tree]\narch = x86_64\nbuild_timestamp = 1700000000\nplatforms = x86_64,xen\nvariants = BaseOS\n\n[variant-BaseOS]\nid = BaseOS\nname = BaseOS\npackages = Packages\nrepository = .\ntype = variant\nuid = BaseOS\n\n";

    #[test]
    fn round_trip_drops_comments() {
        let ini = Ini::parse(PUNGI).unwrap();
        let out = ini.to_configparser();
        assert!(!out.contains("WARNING"));
        assert_eq!(Ini::parse(&out).unwrap(), ini);
        assert_eq!(ini.get("tree", "variants"), Some("BaseOS"));
    }

    #[test]
    fn add_is_idempotent() {
        let (new, e) = add_variant(PUNGI, "AppStream", "x86_64", false).unwrap();
        assert_eq!(e, Edit::Added);
        let new = new.unwrap();
        assert!(new.contains("variants = BaseOS,AppStream\n"));
        assert!(new.ends_with(
            "[variant-AppStream]\nid = AppStream\nname = AppStream\ntype = variant\nuid = AppStream\npackages = ../../../AppStream/x86_64/os/Packages\nrepository = ../../../AppStream/x86_64/os/\n\n"
        ));
        let (again, e) = add_variant(&new, "AppStream", "x86_64", false).unwrap();
        assert_eq!((again, e), (None, Edit::Present));
        // a kickstart copy of the os file gets its paths rewritten, once
        let (ks, e) = add_variant(&new, "AppStream", "x86_64", true).unwrap();
        assert_eq!(e, Edit::PathsSet);
        let ks = ks.unwrap();
        assert!(ks.contains("repository = ../../../AppStream/x86_64/kickstart/\n"));
        let (ks2, _) = add_variant(&ks, "AppStream", "x86_64", true).unwrap();
        assert_eq!(ks2.unwrap(), ks);
    }

    #[test]
    fn bad_input() {
        assert!(Ini::parse("key = v\n").is_err());
        assert!(Ini::parse("[a]\nx = 1\n[a]\n").is_err());
        assert!(Ini::parse("[a]\nx = 1\nx = 2\n").is_err());
        assert!(add_variant("[header]\nx = 1\n", "AppStream", "x86_64", false).is_err());
    }

    #[test]
    fn continuation_lines() {
        let ini = Ini::parse("[a]\nx = 1\n  2\ny: 3\n").unwrap();
        assert_eq!(ini.get("a", "x"), Some("1\n2"));
        assert_eq!(ini.to_configparser(), "[a]\nx = 1\n\t2\ny = 3\n\n");
    }
}
