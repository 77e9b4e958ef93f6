//! One integration-test binary (one link step) with a module per tool.

mod common;

mod bitflip;
mod checked_nothing;
mod checksum;
mod compose;
mod compose_closure;
mod conventions;
mod cron;
mod demo;
mod filelist;
mod hardlink;
mod locks;
mod man;
mod mirrormanager;
mod mkcompose;
mod parity_fixes;
mod pipelines;
mod release_check;
mod release_data;
mod release_day;
mod release_flow;
mod sync;
mod sync_race;
mod temporaries;
mod torrent;
mod tree_race;
