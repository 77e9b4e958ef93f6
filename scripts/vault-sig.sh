#!/usr/bin/env bash
# Copy the production SIG tree of a major version into the vault under the previous revision.
#
#   RLVER=9 bash vault-sig.sh [-q]
set -euo pipefail
source "$(dirname "$0")/common"
src=$PRODUCTION_ROOT/$SIG_CATEGORY_STUB/$MAJOR
rl_require_dir "$src" "production SIG tree"
TARGET=$PRODUCTION_ROOT/$SIG_VAULT_STUB/$PREREV
mkdir -p "$TARGET"
rl_step "vault SIG $MAJOR as $PREREV" rl_sync "$src/" "$TARGET/"
