//! rl-compose: read, gate and prepare a pungi compose, and check repository closure. Arguments in
//! `cli`; each subcommand in its own module.

mod cli;
mod closure;
mod manifest;
mod prepare;
mod read;
mod treeinfo;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Args, Cmd};
pub use cli::{Kind, Release, Require, TOOL, VERSION};

fn main() -> ExitCode {
    rl_core::cli::maybe_generate_man(Args::command);
    let args = Args::parse();
    let status = match args.cmd {
        Cmd::Closure(closure_args) => closure::run(&closure_args),
        Cmd::Locate {
            major,
            release,
            short,
            compose_root,
        } => read::locate(major, release, &short, &compose_root),
        Cmd::Info {
            dir,
            require,
            allow_incomplete,
        } => read::info(&dir, require, allow_incomplete),
        Cmd::Repos {
            dir,
            variant,
            arch,
            kind,
            module_metadata,
        } => read::repos(
            &dir,
            variant.as_deref(),
            arch.as_deref(),
            kind,
            module_metadata.as_deref(),
        ),
        Cmd::Images { dir, scan } => read::images(&dir, scan),
        Cmd::Unsigned { dir, keys } => read::unsigned(&dir, &keys),
        Cmd::Prepare {
            dir,
            revision,
            release,
            dry_run,
            force,
        } => prepare::prepare(&dir, &revision, release, dry_run, force),
        Cmd::Manifest {
            isos,
            dry_run,
            collate,
            event,
            pass,
        } => manifest::manifest(&isos, dry_run, collate, &event, pass),
        Cmd::Treeinfo {
            tree,
            add_variant,
            kickstart,
            arch,
            dry_run,
        } => treeinfo::treeinfo(&tree, &add_variant, kickstart, arch.as_deref(), dry_run),
    };
    status.into()
}
