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

/// Refuses (exit 3, a `refused` record, one sentence) to act on the records of a dry run: they
/// name changes that never happened. A tool run with `--dry-run` itself may read them.
pub fn refuse_dry_upstream(run: &crate::Run) {
    let reason = "the upstream records are a dry run (\"dry_run\":true): nothing they name was changed, so there is nothing to do for them; run the upstream tool without --dry-run, or add --dry-run here too";
    eprintln!("{}: refused: {reason}", run.tool());
    run.emit(
        &crate::Record::new("refused")
            .with("reason", reason)
            .with("kind", "dry_run_upstream"),
    );
    run.raise(crate::Status::Refused);
}

/// What a tool found on stdin, so that a run that took nothing says so instead of passing.
///
/// `rl-compose images C | rl-checksum verify -` once gave `ok:0` and exit 0: verify wanted
/// `checksum` records and silently dropped the `image` ones. A checker that checked nothing, or a
/// tool given records it cannot use, must fail (exit 2) saying what it got and which `--event`
/// would take it. An upstream tool that produced nothing but its start and summary (a sync that
/// changed nothing) leaves a worker nothing to do, which is not an error.
#[derive(Debug, Default)]
pub struct Tally {
    /// Records seen per event (framing and upstream errors not counted), in first-seen order.
    seen: Vec<(String, u64, bool)>,
    framing: u64,
    taken: u64,
}

impl Tally {
    /// Counts a record read from stdin (call for every record, taken or not).
    pub fn saw(&mut self, rec: &Upstream) {
        if rec.is_framing() {
            self.framing += 1;
            return;
        }
        if rec.event() == "error" {
            return;
        }
        let named = rec.root().is_some() && rec.path().is_some();
        match self.seen.iter_mut().find(|(e, _, _)| e == rec.event()) {
            Some((_, n, any_named)) => {
                *n += 1;
                *any_named |= named;
            }
            None => self.seen.push((rec.event().to_owned(), 1, named)),
        }
    }

    /// Counts a record the tool took.
    pub fn took(&mut self) {
        self.taken += 1;
    }

    /// The one-sentence error when the run has nothing it could use, `None` when it has. A
    /// `checker` (verify, closure) always needs something; a worker only when stdin held records.
    /// `wanted` names what the tool takes, e.g. "checksum or write records".
    pub fn nothing_usable(&self, wanted: &str, checker: bool) -> Option<String> {
        if self.taken > 0 {
            return None;
        }
        if self.seen.is_empty() {
            if self.framing > 0 && !checker {
                return None;
            }
            let what = if self.framing > 0 {
                "only the upstream tool's start and summary"
            } else {
                "no records"
            };
            return Some(format!(
                "nothing to work on: stdin held {what}, this tool takes {wanted}"
            ));
        }
        let got: Vec<String> = self
            .seen
            .iter()
            .map(|(e, n, _)| format!("{n} {}", if e.is_empty() { "(no event)" } else { e }))
            .collect();
        let hint = match self
            .seen
            .iter()
            .filter(|(e, _, named)| *named && !e.is_empty())
            .max_by_key(|(_, n, _)| *n)
        {
            Some((e, _, _)) => format!("; --event {e} would take the {e} records"),
            None => "; none of them names a file (root and path)".to_owned(),
        };
        Some(format!(
            "no usable upstream record: stdin held {} (by event), this tool takes {wanted}{hint}",
            got.join(", ")
        ))
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

    fn tally_of(input: &[u8], take: &str) -> Tally {
        let mut t = Tally::default();
        for rec in Records::new(input) {
            let rec = rec.unwrap();
            t.saw(&rec);
            if rec.event() == take {
                t.took();
            }
        }
        t
    }

    #[test]
    fn a_tally_names_what_came_and_the_event_that_would_take_it() {
        let images = b"{\"event\":\"start\"}\n{\"event\":\"image\",\"root\":\"/c\",\"path\":\"a.iso\"}\n{\"event\":\"image\",\"root\":\"/c\",\"path\":\"b.iso\"}\n{\"event\":\"summary\"}\n";
        let msg = tally_of(images, "checksum")
            .nothing_usable("checksum or write records", true)
            .unwrap();
        assert!(msg.contains("stdin held 2 image (by event)"), "{msg}");
        assert!(
            msg.ends_with("--event image would take the image records"),
            "{msg}"
        );
        assert!(
            tally_of(images, "image")
                .nothing_usable("x", true)
                .is_none()
        );
        // An upstream run that produced nothing: nothing to do for a worker, a failure for a checker.
        let quiet = b"{\"event\":\"start\"}\n{\"event\":\"summary\"}\n";
        assert!(tally_of(quiet, "copy").nothing_usable("x", false).is_none());
        assert!(
            tally_of(quiet, "copy")
                .nothing_usable("x", true)
                .unwrap()
                .contains("only the upstream")
        );
        assert!(
            tally_of(b"\n", "copy")
                .nothing_usable("x", false)
                .unwrap()
                .contains("no records")
        );
    }

    #[test]
    fn non_utf8_input_is_a_bad_line() {
        let input = b"\xff\xfe\n";
        let bad = Records::new(&input[..]).next().unwrap().unwrap_err();
        assert_eq!(bad.line_no, 1);
    }
}
