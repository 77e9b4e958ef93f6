//! rl-bitflip: the release-day permission flip of a release root, with its guard rails.
//!
//! `stage` locks a release root (750: the tier-1 mirrors' group may read, others may not) and
//! records when; `publish` opens it (755) once the configured delay has passed; `status` tells
//! which state roots are in and lists what would stay hidden from the public after the flip.

mod args;
mod check;
mod flip;
mod root;
mod status;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Args, Command};

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let args = Args::parse();
    let run = rl_core::Run::start("rl-bitflip", env!("CARGO_PKG_VERSION"));
    let counts = match &args.command {
        Command::Stage(a) => flip::stage(&run, a),
        Command::Publish(a) => flip::publish(&run, a),
        Command::Status(a) => status::status(&run, a),
    };
    run.finish(counts.record()).into()
}

/// What a run did, for the summary record.
#[derive(Default)]
pub struct Counts {
    pub roots: u64,
    pub changed: u64,
    pub refused: u64,
    pub hidden: u64,
    pub chmod: u64,
}

impl Counts {
    fn record(&self) -> rl_core::Record {
        rl_core::Record::new("")
            .with("roots", self.roots)
            .with("changed", self.changed)
            .with("refused", self.refused)
            .with("hidden", self.hidden)
            .with("chmod", self.chmod)
    }
}
