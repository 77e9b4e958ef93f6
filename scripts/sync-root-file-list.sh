#!/usr/bin/env bash
# The production root's file lists only. Requires the staging release to exist.
#
#   RLVER=9 bash sync-root-file-list.sh [-q]
set -euo pipefail
source "$(dirname "$0")/common"
source "$(dirname "$0")/filelist-common"
rl_require_dir "$STAGING_ROOT/$CATEGORY_STUB/$REV" "staging release"
rl_filelists "$PRODUCTION_ROOT:rocky:fullfiletimelist"
