#!/usr/bin/env bash
# The SIG tree's file lists only (mirror/pub/sig).
#
#   bash sync-sig-file-list.sh [-q]
set -euo pipefail
: "${RLVER:=9}"
export RLVER
source "$(dirname "$0")/common"
source "$(dirname "$0")/filelist-common"
rl_filelists "$PRODUCTION_ROOT/$SIG_CATEGORY_STUB:sig:fullfiletimelist"
