//! rl-core: what the rl-* tools share.
//!
//! One module, one idea:
//! * [`record`] — the JSON-lines record protocol (schema documented there), the run harness, exit statuses.
//! * [`upstream`] — reading upstream records from stdin.
//! * [`walk`] — tree walking with relative paths.
//! * [`parwalk`] — parallel tree walking when order does not matter.
//! * [`fsx`] — atomic file replacement.
//! * [`hash`] — streaming SHA-256 / SHA-1, parallel over files.
//! * [`progress`] — progress bars on stderr when it is a terminal.
//! * [`cli`] — man pages and shared help texts.
//! * [`checksum`] — the CHECKSUM file format.

pub mod checksum;
pub mod cli;
pub mod fsx;
pub mod hash;
pub mod parwalk;
pub mod progress;
pub mod record;
pub mod upstream;
pub mod walk;

pub use record::{Record, Run, Status};
