//! rl-compose: read, gate and prepare a pungi compose. This branch carries the `closure`
//! subcommand (repository dependency closure, as `dnf repoclosure`).

mod closure;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Read, gate and prepare a pungi compose.
#[derive(Parser)]
#[command(name = "rl-compose", version, after_long_help = rl_core::cli::EXIT_STATUS)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check that every requirement in a set of repositories is provided (dnf repoclosure).
    Closure(closure::ClosureArgs),
}

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Cli::command);
    let cli = Cli::parse();
    match &cli.command {
        Command::Closure(args) => closure::run(args).into(),
    }
}
