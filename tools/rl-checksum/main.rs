//! rl-checksum: Write and verify CHECKSUM files. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Write and verify CHECKSUM files.
#[derive(Parser)]
#[command(name = "rl-checksum", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-checksum: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
