//! rl-checksum: write and verify CHECKSUM files. Arguments in `cli`, work in `create`/`verify`.

mod cli;
mod create;
mod hashing;
mod input;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use rl_core::{Record, Run};

use cli::{Cli, Command};

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Cli::command);
    let cli = Cli::parse();
    let run = Run::start("rl-checksum", env!("CARGO_PKG_VERSION"));
    let counts = match &cli.command {
        Command::Create(args) => create::create(args, &run),
        Command::Verify(args) => verify::verify(args, &run),
    };
    let counts = counts.unwrap_or_else(|err| {
        run.error_general("input", "input.invalid", &format!("{err:#}"));
        Record::new("")
    });
    run.finish(counts).into()
}
