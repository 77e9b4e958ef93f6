//! rl-sync: Copy one tree onto another with rsync's final state, in a publish-safe order. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Copy one tree onto another with rsync's final state, in a publish-safe order.
#[derive(Parser)]
#[command(name = "rl-sync", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-sync: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
