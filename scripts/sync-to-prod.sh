#!/usr/bin/env bash
# Staging → production for a stable release: STAGING/…/REV/ onto PRODUCTION/…/REVISION/ with
# deletions, hard links kept, in publish order (new packages, then metadata, then deletions), so
# mirrors syncing from production never see a repomd.xml naming a missing file.
#
#   RLVER=9 bash sync-to-prod.sh [-q]           then: bash sync-file-list-parallel.sh
#
# Release day (the SOP's order): this sync (staged) → hardlink → file lists → torrents verified →
# 24–48 h → bitflip.sh publish (which writes the lists again).
# - A new release is created staged: the first sync makes the production release root empty, runs
#   `rl-bitflip stage` on it (750 and the staging record; RL_BITFLIP_GROUP sets the tier-1 group)
#   and only then copies content, so no public mirror ever reads a byte before the bitflip. An
#   existing release root keeps its state: rl-sync never widens a staged root (a fix pushed during
#   the embargo keeps it 750), and a public release stays public.
# - The whole sync holds the production lock (RL_PRODUCTION_LOCK, default the lock rl-filelist
#   takes), so no file list is written in the middle of it; the list scripts wait for it.
#   RL_LOCK_WAIT=SECONDS gives up (exit 3) instead of waiting for ever for a run in progress.
#
# RL_SYNC_EXTRA: extra rl-sync flags (sync-to-prod-dry.sh passes --dry-run).
set -euo pipefail
case ${RLREL:-stable} in
lh | beta) echo "${0##*/}: RLREL=$RLREL releases are not synced to production" >&2; exit 2 ;;
esac
source "$(dirname "$0")/common"
src=$STAGING_ROOT/$CATEGORY_STUB/$REV
rl_require_dir "$src" "staging release"
TARGET=$PRODUCTION_ROOT/$CATEGORY_STUB/${REV%%-*}
read -r -a extra <<<"${RL_SYNC_EXTRA:-}"
dry=0
[[ " ${extra[*]-} " == *" --dry-run "* ]] && dry=1
((dry)) || rl_lock_production
if [[ ! -e $TARGET ]]; then
    if ((dry)); then
        rl_note "$TARGET does not exist: a real run creates it staged (rl-bitflip stage) before any content"
    else
        # Staged before any content goes in: made 750 from the start, then recorded as staged.
        mkdir -p "$(dirname "$TARGET")"
        mkdir -m 750 "$TARGET"
        stage=()
        [[ -n ${RL_BITFLIP_GROUP:-} ]] && stage+=(--group "$RL_BITFLIP_GROUP")
        rl_step "stage new release root" rl-bitflip stage "${stage[@]}" "$TARGET"
    fi
fi
rl_step "sync $REV to production" rl_sync "$src/" "$TARGET/" --delete "${extra[@]}"
if ((dry)); then
    echo "${0##*/}: dry run: nothing was synced; the records above are what a real run would do" >&2
else
    echo "${0##*/}: synced; now hardlink and run the file list script (sync-file-list-parallel.sh)" >&2
fi
