//! `status`: the state of each root, and what below it stays hidden from the public.

use std::os::fd::AsFd;
use std::path::Path;

use rl_core::stagestate::{self, Phase, Store};
use rl_core::{Record, Run, Status};

use crate::Counts;
use crate::args::StatusArgs;
use crate::check;
use crate::flip::wire_secs;
use crate::root;

/// `rl-bitflip status ROOT…`.
pub fn status(run: &Run, a: &StatusArgs) -> Counts {
    let mut counts = Counts::default();
    for given in &a.roots {
        let root = match root::open(run, given, "status") {
            Ok(r) => r,
            Err(fail) => {
                counts.refused += u64::from(fail == root::Fail::Refused);
                continue;
            }
        };
        counts.roots += 1;
        let perm = root.perm();
        let (record, store) = match stagestate::read(root.fd.as_fd(), &root.path) {
            Ok(Some((r, s))) => (Some(r), Some(s)),
            Ok(None) => (None, None),
            Err(e) => {
                run.error(&root.path, Path::new(""), "read_state", &e);
                (None, None)
            }
        };
        let others = perm & 0o007;
        let (state, reason) = if others & 0o005 == 0o005 {
            ("public", None)
        } else if others != 0 {
            (
                "unknown",
                Some("others have partial access (they need both o+r and o+x)"),
            )
        } else {
            match &record {
                Some(r) if r.phase == Phase::Staged => ("staged", None),
                Some(_) => (
                    "unknown",
                    Some("locked by hand after rl-bitflip published it"),
                ),
                None => ("unknown", Some("locked, but rl-bitflip did not stage it")),
            }
        };
        let mut rec = Record::new("status")
            .at(&root.path, Path::new(""))
            .with("state", state)
            .with("mode", format!("{perm:04o}"))
            .with("gid", root.stat.st_gid)
            .with("staged_since", wire_secs(record.as_ref().map(|r| r.staged)))
            .with(
                "published_since",
                wire_secs(record.as_ref().and_then(|r| r.published)),
            )
            .with("store", store.map(Store::as_str));
        if let Some(why) = reason {
            rec = rec.with("reason", why);
        }
        run.emit(&rec);
        if let Some(want) = a.expect
            && want.as_str() != state
        {
            eprintln!(
                "{}: {}: the root is {state}, not {}",
                run.tool(),
                root.path.display(),
                want.as_str()
            );
            run.raise(Status::Differs);
        }
        if !a.no_check {
            check::walk(run, &root, false, false, &mut counts);
        }
    }
    counts
}
