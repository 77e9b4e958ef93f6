//! rl-torrent: Create and verify the release torrents. Not implemented yet; see the issue tracker.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Create and verify the release torrents.
#[derive(Parser)]
#[command(name = "rl-torrent", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Args {}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let _args = Args::parse();
    eprintln!("rl-torrent: not implemented yet");
    ExitCode::from(rl_core::Status::Error.code())
}
