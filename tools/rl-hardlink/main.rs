//! rl-hardlink: Hard-link identical files like util-linux hardlink, in parallel and atomically. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Hard-link identical files like util-linux hardlink, in parallel and atomically.
#[derive(Parser)]
#[command(name = "rl-hardlink", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-hardlink: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
