#!/usr/bin/env bash
# A SIG's staging tree to production with deletions, then hardlink the major version's SIG tree.
#
#   RLVER=9 bash sync-to-prod-sig.sh SIG [-q]
set -euo pipefail
SIG=${1:-}
[[ -n $SIG && $SIG != -q ]] || { echo "usage: RLVER=N ${0##*/} SIG [-q]" >&2; exit 2; }
source "$(dirname "$0")/common"
src=$STAGING_ROOT/$SIG_CATEGORY_STUB/$MAJOR/$SIG
rl_require_dir "$src" "staging SIG tree"
TARGET=$PRODUCTION_ROOT/$SIG_CATEGORY_STUB/$MAJOR/$SIG
mkdir -p "$TARGET"
rl_step "sync SIG $SIG" rl_sync "$src/" "$TARGET/" --delete
rl_step "hardlink SIG $MAJOR" rl-hardlink -x '.*\.xml.*' "$PRODUCTION_ROOT/$SIG_CATEGORY_STUB/$MAJOR"
