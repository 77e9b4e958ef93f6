#!/usr/bin/env bash
# The release-day permission flip of a production release root, then the file lists (mirrors only
# see the flip through them).
#
#   RLVER=9 bash bitflip.sh stage   [ROOT] [-q]     lock the root (750; RL_BITFLIP_GROUP keeps read)
#   RLVER=9 bash bitflip.sh publish [ROOT] [-q]     open it (755), refused before 24 h unless
#                                                   RL_BITFLIP_FORCE=1
#   RLVER=9 bash bitflip.sh status  [ROOT]
# ROOT defaults to PRODUCTION_ROOT/mirror/pub/rocky/REVISION. A new release is already staged by
# its first sync-to-prod.sh (stage is then only needed to change the mode or group); rl-sync never
# reopens a staged root, so publish is the only step that makes the release public.
set -euo pipefail
action=${1:-}
case $action in
stage | publish | status) shift ;;
*) echo "usage: RLVER=N ${0##*/} stage|publish|status [ROOT] [-q]" >&2; exit 2 ;;
esac
source "$(dirname "$0")/common"
root=$PRODUCTION_ROOT/$CATEGORY_STUB/$REVISION
[[ ${1:-} && $1 != -q ]] && root=$1
rl_require_dir "$root" "release root"
opts=()
case $action in
stage) [[ -n ${RL_BITFLIP_GROUP:-} ]] && opts+=(--group "$RL_BITFLIP_GROUP") ;;
publish) [[ ${RL_BITFLIP_FORCE:-0} == 1 ]] && opts+=(--force) ;;
status) exec rl-bitflip status "$root" ;;
esac
rl_step "bitflip $action" rl-bitflip "$action" "${opts[@]}" "$root"
bash "$(dirname "$0")/sync-file-list-parallel.sh" "$@"
