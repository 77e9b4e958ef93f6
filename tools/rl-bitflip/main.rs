//! rl-bitflip: The release-day permission flip of a release root. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// The release-day permission flip of a release root.
#[derive(Parser)]
#[command(name = "rl-bitflip", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-bitflip: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
