#!/usr/bin/env bash
# Mirror a compose into the staging release exactly (with deletions), after hard-linking inside
# the compose so the sync carries the links.
#
#   RLVER=9 bash sync-to-staging.delete.sh SHORT [-q]      (RL_ALLOW_INCOMPLETE=1: FINISHED_INCOMPLETE too)
set -euo pipefail
SHORT=${1:-}
[[ -n $SHORT && $SHORT != -q ]] || { echo "usage: RLVER=N ${0##*/} SHORT [-q]" >&2; exit 2; }
export SHORT
source "$(dirname "$0")/common"
[[ $RLVER == 8 ]] && rl_die "this script is for Rocky Linux 9 and later"

src=$RELEASE_COMPOSE_ROOT
rl_require_dir "$src/compose" "compose"
rl_require_finished "$src"
TARGET=$STAGING_ROOT/$CATEGORY_STUB/$REV
mkdir -p "$TARGET"
rl_step "hardlink compose" rl_hardlink "$src/compose"
rl_step "sync $SHORT to staging" rl_sync "$src/compose/" "$TARGET/" --delete
