//! The JSON-lines record protocol every rl-* tool speaks on stdout.
//!
//! # Schema (version 1)
//!
//! * stdout carries records only: one compact JSON object per line. Human messages, warnings and
//!   progress bars go to stderr.
//! * Every record has `"event"` as its **first** key: a lowercase noun naming what happened or was
//!   found (`start`, `copy`, `delete`, `link`, `checksum`, `ok`, `mismatch`, `missing`, `error`,
//!   `summary`, …). Events are never renamed; new ones are added.
//! * The first record is `{"event":"start","tool":"rl-X","version":"…","schema":1}`; the last one is
//!   always `{"event":"summary","tool":"rl-X",…counts…,"errors":N,"elapsed":{"secs":…,"nanos":…}}`,
//!   also after errors.
//! * A record about a file carries `"root"` (absolute path of the tree) and `"path"` (relative to
//!   root, `/`-separated, no leading `./`, never `..`; the root itself is `""`). Every record stands
//!   alone, so dropping lines with `grep` or `jq select` never breaks the next tool.
//! * A name that is not valid UTF-8 is written as `{"bytes":"<base64 of the raw bytes>"}` in place
//!   of the string ([`wire_path`], [`path_from_wire`]).
//! * Sizes are integers, times `{"secs":…,"nanos":…}`, digests lowercase hex under the algorithm's
//!   name (`"sha256":"…"`).
//! * Mutating tools accept `--dry-run`; their records are then the same plus `"dry_run":true`.
//! * A failure on one file is an `error` record (`root`, `path`, `op`, `kind`, `message`) plus one
//!   line on stderr (`rl-X: PATH: message`).
//! * Exit status ([`Status`]): 0 done, 1 a check found a difference, 2 an error, 3 refused as
//!   unsafe, 130 interrupted.
//! * A tool that works on a set of files takes `-` to read upstream records from stdin
//!   ([`crate::upstream`]); records it does not own are passed through verbatim with `--pass`, and an
//!   upstream `error` is always passed through.
//!
//! A closed stdout (`rl-x | head -1`) ends the tool quietly with status 0: every write that
//! changes disk is atomic, so stopping between two records never leaves a half-written file.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::shorten::{MAX_MESSAGE, shorten};

/// The schema number written in every `start` record; bumped only on incompatible changes.
pub const SCHEMA: u64 = 1;

/// Exit statuses shared by every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing to report.
    Ok = 0,
    /// A check found a difference (verify mismatch, closure broken, state not as expected).
    Differs = 1,
    /// An error: I/O, bad input, usage.
    Error = 2,
    /// Refused as unsafe; the message says why and which flag overrides it.
    Refused = 3,
    /// rl-sync's `--max-delete` limit stopped the deletions (rsync's exit status 25).
    MaxDelete = 25,
    /// Interrupted by a signal.
    Interrupted = 130,
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The more serious of two statuses (error beats difference beats ok).
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Ok => 0,
                Status::Differs => 1,
                Status::Error => 2,
                Status::MaxDelete => 3,
                Status::Refused => 4,
                Status::Interrupted => 5,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Status> for std::process::ExitCode {
    fn from(s: Status) -> Self {
        std::process::ExitCode::from(s.code())
    }
}

/// A path on the wire: a JSON string when the bytes are UTF-8, `{"bytes": base64}` otherwise.
pub fn wire_path(path: &Path) -> Value {
    use std::os::unix::ffi::OsStrExt;
    match path.to_str() {
        Some(s) => Value::String(s.to_owned()),
        None => json!({ "bytes": base64::engine::general_purpose::STANDARD
            .encode(path.as_os_str().as_bytes()) }),
    }
}

/// Decodes what [`wire_path`] wrote. `None` when the value is neither form.
pub fn path_from_wire(value: &Value) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    match value {
        Value::String(s) => Some(s.into()),
        Value::Object(map) => {
            let b64 = map.get("bytes")?.as_str()?;
            let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            Some(std::ffi::OsString::from_vec(raw).into())
        }
        _ => None,
    }
}

/// A time as the protocol writes it: `{"secs":…,"nanos":…}`.
pub fn wire_duration(d: Duration) -> Value {
    json!({ "secs": d.as_secs(), "nanos": d.subsec_nanos() })
}

/// A point in time as seconds and nanoseconds since the Unix epoch.
pub fn wire_time(t: SystemTime) -> Value {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => wire_duration(d),
        Err(e) => {
            let d = e.duration();
            json!({ "secs": -(d.as_secs() as i64), "nanos": d.subsec_nanos() })
        }
    }
}

/// One record under construction. Keys keep the order they were added in, after `event`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    event: String,
    fields: Vec<(String, Value)>,
}

impl Record {
    /// A record for `event` (a lowercase noun).
    pub fn new(event: &str) -> Self {
        Record {
            event: event.to_owned(),
            fields: Vec::new(),
        }
    }

    /// Adds (or replaces) a field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.set(key, value);
        self
    }

    /// Adds (or replaces) a field in place.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_owned(), value)),
        }
    }

    /// Adds `root` (absolute tree path) and `path` (relative, `/`-separated) fields.
    pub fn at(self, root: &Path, rel: &Path) -> Self {
        self.with("root", wire_path(root))
            .with("path", wire_path(rel))
    }

    /// Adds a path-valued field under any name (`target`, `linked_to`, …).
    pub fn with_path(self, key: &str, path: &Path) -> Self {
        self.with(key, wire_path(path))
    }

    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The compact JSON line, without the newline.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(64 + 32 * self.fields.len());
        out.push_str("{\"event\":");
        out.push_str(&Value::String(self.event.clone()).to_string());
        for (k, v) in &self.fields {
            if k == "event" {
                continue;
            }
            let _ = write!(out, ",{}:{}", Value::String(k.clone()), v);
        }
        out.push('}');
        out
    }

    /// The record as a JSON object (tests, and tools that post-process records).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("event".into(), Value::String(self.event.clone()));
        for (k, v) in &self.fields {
            map.insert(k.clone(), v.clone());
        }
        Value::Object(map)
    }
}

/// Where records go: stdout in the tools, a vector in unit tests.
pub trait Sink: Send + Sync {
    /// Writes one line (a serialized record or a passed-through upstream line).
    fn line(&self, line: &str);
}

/// The stdout sink: flushes after every line so `| head -1` and `| jq` work live; a closed pipe
/// ends the process quietly with status 0.
pub struct StdoutSink {
    out: Mutex<io::BufWriter<io::Stdout>>,
}

impl StdoutSink {
    pub fn new() -> Self {
        StdoutSink {
            out: Mutex::new(io::BufWriter::with_capacity(1 << 16, io::stdout())),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn line(&self, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let result = out
            .write_all(line.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(err) = result {
            if err.kind() == io::ErrorKind::BrokenPipe {
                // The reader is gone: stop quietly. Every disk change is atomic, so no file is
                // left half-written by ending here.
                std::process::exit(0);
            }
            eprintln!("rl: cannot write to stdout: {err}");
            std::process::exit(Status::Error.code().into());
        }
    }
}

/// A sink that keeps records in memory (unit tests).
#[derive(Default)]
pub struct VecSink {
    pub lines: Mutex<Vec<String>>,
}

impl VecSink {
    /// The records written so far, parsed.
    pub fn values(&self) -> Vec<Value> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("valid record"))
            .collect()
    }
}

impl Sink for VecSink {
    fn line(&self, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.to_owned());
    }
}

/// One run of a tool: writes `start` first and `summary` last, counts errors, reports them on
/// stderr, and computes the exit status. Shared by all threads of a tool (`&Run` is `Sync`).
pub struct Run {
    tool: &'static str,
    sink: Box<dyn Sink>,
    started: Instant,
    errors: AtomicU64,
    upstream_errors: AtomicU64,
    status: Mutex<Status>,
    quiet_stderr: bool,
}

impl Run {
    /// Starts a run writing to stdout; writes the `start` record.
    pub fn start(tool: &'static str, version: &str) -> Self {
        Self::with_sink(tool, version, Box::new(StdoutSink::new()))
    }

    /// Starts a run writing to any sink (tests).
    pub fn with_sink(tool: &'static str, version: &str, sink: Box<dyn Sink>) -> Self {
        let run = Run {
            tool,
            sink,
            started: Instant::now(),
            errors: AtomicU64::new(0),
            upstream_errors: AtomicU64::new(0),
            status: Mutex::new(Status::Ok),
            quiet_stderr: false,
        };
        run.emit(
            &Record::new("start")
                .with("tool", tool)
                .with("version", version)
                .with("schema", SCHEMA),
        );
        run
    }

    /// Silences the stderr line of `error` (records are still written). For unit tests.
    pub fn quiet(mut self) -> Self {
        self.quiet_stderr = true;
        self
    }

    /// The tool's name, e.g. `rl-checksum`.
    pub fn tool(&self) -> &'static str {
        self.tool
    }

    /// Writes a record.
    pub fn emit(&self, record: &Record) {
        self.sink.line(&record.to_line());
    }

    /// Passes an upstream line through verbatim.
    pub fn pass(&self, raw_line: &str) {
        self.sink.line(raw_line.trim_end_matches(['\n', '\r']));
    }

    /// Passes an upstream `error` record through and counts it (it does not change our status:
    /// `set -o pipefail` reports the upstream tool's own status).
    pub fn pass_upstream_error(&self, raw_line: &str) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
        self.pass(raw_line);
    }

    /// Raises the exit status to at least `status`.
    pub fn raise(&self, status: Status) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.worst(status);
    }

    /// Reports a failure on one file: an `error` record, a line on stderr, exit status 2.
    pub fn error(&self, root: &Path, rel: &Path, op: &str, err: &io::Error) {
        self.error_with(root, rel, op, io_kind(err), &err.to_string());
    }

    /// Reports a failure on one file with an explicit kind and message.
    pub fn error_with(&self, root: &Path, rel: &Path, op: &str, kind: &str, message: &str) {
        let message = &*shorten(message, MAX_MESSAGE);
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.raise(Status::Error);
        self.emit(
            &Record::new("error")
                .at(root, rel)
                .with("op", op)
                .with("kind", kind)
                .with("message", message),
        );
        if !self.quiet_stderr {
            let shown = if rel.as_os_str().is_empty() {
                root.to_path_buf()
            } else {
                root.join(rel)
            };
            let shown = shown.display().to_string();
            eprintln!(
                "{}: {}: {}",
                self.tool,
                shorten(&shown, MAX_MESSAGE),
                message
            );
        }
    }

    /// Reports a failure that is not about one file (bad input line, …).
    pub fn error_general(&self, op: &str, kind: &str, message: &str) {
        let message = &*shorten(message, MAX_MESSAGE);
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.raise(Status::Error);
        self.emit(
            &Record::new("error")
                .with("op", op)
                .with("kind", kind)
                .with("message", message),
        );
        if !self.quiet_stderr {
            eprintln!("{}: {}", self.tool, message);
        }
    }

    /// Prints a warning on stderr (no record, no status change).
    pub fn warn(&self, message: &str) {
        if !self.quiet_stderr {
            eprintln!("{}: warning: {}", self.tool, shorten(message, MAX_MESSAGE));
        }
    }

    /// Errors reported so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The exit status so far.
    pub fn status(&self) -> Status {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the `summary` record (the given counts, then `errors`, `upstream_errors` and
    /// `elapsed`) and returns the exit status.
    pub fn finish(self, counts: Record) -> Status {
        let mut summary = Record::new("summary").with("tool", self.tool);
        for (k, v) in counts.fields {
            summary.set(&k, v);
        }
        summary.set("errors", self.errors());
        summary.set(
            "upstream_errors",
            self.upstream_errors.load(Ordering::Relaxed),
        );
        summary.set("elapsed", wire_duration(self.started.elapsed()));
        self.emit(&summary);
        self.status()
    }
}

/// A stable `kind` string for an I/O error, e.g. `io.not_found`.
pub fn io_kind(err: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    if err.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) {
        return "io.filesystem_loop";
    }
    match err.kind() {
        K::NotFound => "io.not_found",
        K::PermissionDenied => "io.permission_denied",
        K::AlreadyExists => "io.already_exists",
        K::InvalidInput => "io.invalid_input",
        K::InvalidData => "io.invalid_data",
        K::UnexpectedEof => "io.unexpected_eof",
        K::Interrupted => "io.interrupted",
        K::IsADirectory => "io.is_a_directory",
        K::NotADirectory => "io.not_a_directory",
        K::DirectoryNotEmpty => "io.directory_not_empty",
        K::ReadOnlyFilesystem => "io.read_only_filesystem",
        K::StorageFull => "io.storage_full",
        K::CrossesDevices => "io.crosses_devices",
        _ => "io.other",
    }
}

/// Whether stdout is a terminal (tools may refuse to dump binary or huge output there).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::Arc;

    struct Shared(Arc<VecSink>);
    impl Sink for Shared {
        fn line(&self, line: &str) {
            self.0.line(line)
        }
    }

    #[test]
    fn event_is_first_key_and_order_is_kept() {
        let r = Record::new("copy").with("z", 1).with("a", "x");
        assert_eq!(r.to_line(), r#"{"event":"copy","z":1,"a":"x"}"#);
    }

    #[test]
    fn set_replaces_existing_field() {
        let mut r = Record::new("x").with("a", 1);
        r.set("a", 2);
        assert_eq!(r.to_line(), r#"{"event":"x","a":2}"#);
    }

    #[test]
    fn newlines_in_names_stay_on_one_line() {
        let r = Record::new("x").with_path("path", Path::new("a\nb"));
        assert_eq!(r.to_line(), r#"{"event":"x","path":"a\nb"}"#);
    }

    #[test]
    fn non_utf8_names_round_trip_as_bytes() {
        let p = Path::new(OsStr::from_bytes(b"bad\xff name"));
        let v = wire_path(p);
        assert_eq!(v, json!({"bytes": "YmFk/yBuYW1l"}));
        assert_eq!(path_from_wire(&v).unwrap(), p);
        assert_eq!(path_from_wire(&json!("plain")).unwrap(), Path::new("plain"));
        assert!(path_from_wire(&json!(3)).is_none());
        assert!(path_from_wire(&json!({"bytes": "%%%"})).is_none());
    }

    #[test]
    fn run_writes_start_first_and_summary_last() {
        let sink = Arc::new(VecSink::default());
        let run = Run::with_sink("rl-test", "0.0.1", Box::new(Shared(sink.clone()))).quiet();
        run.emit(&Record::new("thing").at(Path::new("/r"), Path::new("a/b")));
        let err = io::Error::from(io::ErrorKind::NotFound);
        run.error(Path::new("/r"), Path::new("gone"), "read", &err);
        let status = run.finish(Record::new("").with("things", 1));
        assert_eq!(status, Status::Error);
        let v = sink.values();
        assert_eq!(
            v[0],
            json!({"event":"start","tool":"rl-test","version":"0.0.1","schema":1})
        );
        assert_eq!(v[1]["path"], "a/b");
        assert_eq!(v[2]["event"], "error");
        assert_eq!(v[2]["kind"], "io.not_found");
        assert_eq!(v[2]["op"], "read");
        let last = v.last().unwrap();
        assert_eq!(last["event"], "summary");
        assert_eq!(last["things"], 1);
        assert_eq!(last["errors"], 1);
        assert!(last["elapsed"]["secs"].is_u64());
    }

    #[test]
    fn times_are_secs_then_nanos() {
        let d = Duration::new(3, 25);
        assert_eq!(wire_duration(d).to_string(), r#"{"secs":3,"nanos":25}"#);
        let r = Record::new("x").with("elapsed", wire_duration(d));
        assert_eq!(
            r.to_line(),
            r#"{"event":"x","elapsed":{"secs":3,"nanos":25}}"#
        );
    }

    #[test]
    fn status_worst_ranks() {
        assert_eq!(Status::Ok.worst(Status::Differs), Status::Differs);
        assert_eq!(Status::Error.worst(Status::Differs), Status::Error);
        assert_eq!(Status::Refused.worst(Status::Error), Status::Refused);
        assert_eq!(Status::Differs.code(), 1);
    }
}
