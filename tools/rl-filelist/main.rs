//! rl-filelist: writes the mirror file lists (fullfiletimelist-*, fullfilelist),
//! byte-compatible with create-filelist and `find .`, atomically, and compares lists.

mod cli;
mod compat;
mod diff;
mod output;
mod write;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(cli::Cli::command);
    let args = cli::Cli::parse();
    let status = match args.cmd {
        None => compat::run(args.compat),
        Some(cli::Cmd::Write(w)) => write::run(w),
        Some(cli::Cmd::Diff(d)) => diff::run(d),
    };
    status.into()
}
