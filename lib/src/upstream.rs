//! Reading the records of an upstream tool from stdin (`rl-a … | rl-b -`).
//!
//! Lines are parsed one at a time (never a streaming deserializer), so a consumer sees each record
//! as soon as it arrives. A line that is not a JSON object is a fatal input error naming the line
//! number; a tool decides per record whether it owns it, passes it through (`--pass`), or drops it.
//! Upstream `start` and `summary` records are never passed on: each tool writes its own.

use std::io::{self, BufRead};
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::record::path_from_wire;

/// One upstream record: the raw line (for verbatim pass-through) and its parsed object.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// 1-based line number in the input.
    pub line_no: u64,
    /// The line as read, without its line end.
    pub raw: String,
    /// The parsed object.
    pub fields: Map<String, Value>,
}

impl Upstream {
    /// The `event` field ("" when absent).
    pub fn event(&self) -> &str {
        self.fields
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The decoded `root` field.
    pub fn root(&self) -> Option<PathBuf> {
        self.fields.get("root").and_then(path_from_wire)
    }

    /// The decoded `path` field.
    pub fn path(&self) -> Option<PathBuf> {
        self.fields.get("path").and_then(path_from_wire)
    }

    /// `root` joined with `path`, the file the record is about.
    pub fn full_path(&self) -> Option<PathBuf> {
        let root = self.root()?;
        let rel = self.path()?;
        Some(if rel.as_os_str().is_empty() {
            root
        } else {
            root.join(rel)
        })
    }

    /// Whether this record is framing (`start`/`summary`) that a downstream tool replaces.
    pub fn is_framing(&self) -> bool {
        matches!(self.event(), "start" | "summary")
    }
}

/// An input line that is not a record.
#[derive(Debug)]
pub struct BadLine {
    pub line_no: u64,
    pub message: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stdin line {}: {}", self.line_no, self.message)
    }
}

impl std::error::Error for BadLine {}

/// Iterates over the records of a reader; blank lines are skipped.
pub struct Records<R> {
    reader: R,
    line_no: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Records<R> {
    pub fn new(reader: R) -> Self {
        Records {
            reader,
            line_no: 0,
            buf: Vec::new(),
        }
    }
}

/// The records on stdin.
pub fn stdin_records() -> Records<io::StdinLock<'static>> {
    Records::new(io::stdin().lock())
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Upstream, BadLine>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(BadLine {
                        line_no: self.line_no + 1,
                        message: format!("cannot read: {e}"),
                    }));
                }
            }
            self.line_no += 1;
            let line = match std::str::from_utf8(&self.buf) {
                Ok(s) => s.trim_end_matches(['\n', '\r']),
                Err(_) => {
                    return Some(Err(BadLine {
                        line_no: self.line_no,
                        message: "not UTF-8, so not a JSON record".into(),
                    }));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            return Some(match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(fields)) => Ok(Upstream {
                    line_no: self.line_no,
                    raw: line.to_owned(),
                    fields,
                }),
                Ok(_) => Err(BadLine {
                    line_no: self.line_no,
                    message: "a JSON value that is not an object is not a record".into(),
                }),
                Err(e) => Err(BadLine {
                    line_no: self.line_no,
                    message: format!("invalid JSON: {e}"),
                }),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_reports_bad_lines() {
        let input = b"{\"event\":\"start\",\"tool\":\"x\"}\n\n{\"event\":\"copy\",\"root\":\"/r\",\"path\":\"a b\"}\r\nnot json\n[1]\n";
        let mut it = Records::new(&input[..]);
        let start = it.next().unwrap().unwrap();
        assert!(start.is_framing());
        let copy = it.next().unwrap().unwrap();
        assert_eq!(copy.line_no, 3);
        assert_eq!(copy.event(), "copy");
        assert_eq!(copy.full_path().unwrap(), PathBuf::from("/r/a b"));
        assert_eq!(
            copy.raw,
            "{\"event\":\"copy\",\"root\":\"/r\",\"path\":\"a b\"}"
        );
        let bad = it.next().unwrap().unwrap_err();
        assert_eq!(bad.line_no, 4);
        assert!(bad.to_string().contains("invalid JSON"));
        let arr = it.next().unwrap().unwrap_err();
        assert_eq!(arr.line_no, 5);
        assert!(it.next().is_none());
    }

    #[test]
    fn root_itself_has_empty_path() {
        let input = b"{\"event\":\"x\",\"root\":\"/r\",\"path\":\"\"}\n";
        let rec = Records::new(&input[..]).next().unwrap().unwrap();
        assert_eq!(rec.full_path().unwrap(), PathBuf::from("/r"));
    }

    #[test]
    fn non_utf8_input_is_a_bad_line() {
        let input = b"\xff\xfe\n";
        let bad = Records::new(&input[..]).next().unwrap().unwrap_err();
        assert_eq!(bad.line_no, 1);
    }
}
