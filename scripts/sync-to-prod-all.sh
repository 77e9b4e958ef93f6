#!/usr/bin/env bash
# Every major version's stable release to production, then the file lists (after all syncs, as
# the SOP requires). A version without a staging release is skipped with a notice. Each sync holds
# the production lock and creates a new release root staged (see sync-to-prod.sh); the list run
# takes the same lock, so it starts only once the last sync has finished.
#
#   bash sync-to-prod-all.sh [-q]
set -euo pipefail
here=$(dirname "$0")
for v in 8 9 10; do
    rev=$(RLVER=$v RLREL=stable bash -c 'source "$1/common" >/dev/null; echo "$STAGING_ROOT/$CATEGORY_STUB/$REV"' _ "$here")
    if [[ ! -d $rev ]]; then
        echo "${0##*/}: no staging release $rev; skipping RLVER=$v" >&2
        continue
    fi
    RLVER=$v RLREL=stable bash "$here/sync-to-prod.sh" "$@"
done
bash "$here/sync-file-list-parallel.sh" "$@"
