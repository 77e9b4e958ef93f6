//! rl-compose: Read, gate and prepare a pungi compose. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Read, gate and prepare a pungi compose.
#[derive(Parser)]
#[command(name = "rl-compose", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-compose: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
