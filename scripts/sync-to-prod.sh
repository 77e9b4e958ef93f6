#!/usr/bin/env bash
# Staging → production for a stable release: STAGING/…/REV/ onto PRODUCTION/…/REVISION/ with
# deletions, hard links kept, in publish order (new packages, then metadata, then deletions), so
# mirrors syncing from production never see a repomd.xml naming a missing file.
#
#   RLVER=9 bash sync-to-prod.sh [-q]           then: bash sync-file-list-parallel.sh
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
[[ " ${extra[*]-} " == *" --dry-run "* ]] || mkdir -p "$TARGET"
rl_step "sync $REV to production" rl_sync "$src/" "$TARGET/" --delete "${extra[@]}"
if [[ " ${extra[*]-} " == *" --dry-run "* ]]; then
    echo "${0##*/}: dry run: nothing was synced; the records above are what a real run would do" >&2
else
    echo "${0##*/}: synced; now run the file list script (sync-file-list-parallel.sh)" >&2
fi
