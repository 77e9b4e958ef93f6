#!/usr/bin/env bash
# Sync a SIG compose to staging: each <major>/<sig> directory of the compose, with deletions
# inside it (other SIGs' directories are left alone).
#
#   RLVER=9 bash sync-to-staging-sig.sh SHORT [SIG] [-q]
set -euo pipefail
SHORT=${1:-}
[[ -n $SHORT && $SHORT != -q ]] || { echo "usage: RLVER=N ${0##*/} SHORT [SIG] [-q]" >&2; exit 2; }
export SHORT
source "$(dirname "$0")/common"
MAJ=$RLVER
src=$COMPOSE_ROOT/$MAJ/latest-SIG-$SHORT-$MAJ/compose
rl_require_dir "$src" "compose"
TARGET=$STAGING_ROOT/$SIG_CATEGORY_STUB
mkdir -p "$TARGET"
found=0
for dir in "$src"/*/*/; do
    [[ -d $dir && ! -L ${dir%/} ]] || continue
    rel=${dir#"$src"/}
    found=1
    mkdir -p "$TARGET/$rel"
    rl_step "sync $rel" rl_sync "$dir" "$TARGET/$rel" --delete
done
((found)) || rl_die "no <major>/<sig> directory in $src"
