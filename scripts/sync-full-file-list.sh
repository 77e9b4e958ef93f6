#!/usr/bin/env bash
# The category file lists only (mirror/pub/rocky). Requires the staging release to exist, as the
# toolkit's script does.
#
#   RLVER=9 bash sync-full-file-list.sh [-q]
set -euo pipefail
source "$(dirname "$0")/common"
source "$(dirname "$0")/filelist-common"
rl_require_dir "$STAGING_ROOT/$CATEGORY_STUB/$REV" "staging release"
rl_filelists "$PRODUCTION_ROOT/$CATEGORY_STUB:rocky:fullfiletimelist,fullfiletimelist-rocky-linux"
