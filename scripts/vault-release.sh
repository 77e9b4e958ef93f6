#!/usr/bin/env bash
# Copy a production release into the vault (no deletions).
#
#   RLVER=9 bash vault-release.sh [-q]
set -euo pipefail
case ${RLREL:-stable} in
lh | beta) echo "${0##*/}: RLREL=$RLREL releases are not vaulted" >&2; exit 2 ;;
esac
source "$(dirname "$0")/common"
src=$PRODUCTION_ROOT/$CATEGORY_STUB/$REVISION
rl_require_dir "$src" "production release"
TARGET=$PRODUCTION_ROOT/$VAULT_STUB/$REVISION
mkdir -p "$TARGET"
rl_step "vault $REVISION" rl_sync "$src/" "$TARGET/"
