#!/usr/bin/env bash
# The production file lists: fullfilelist (find .) and fullfiletimelist-* (create-filelist) of the
# category (mirror/pub/rocky, also as fullfiletimelist and fullfiletimelist-rocky-linux), of the
# production root, and of mirror/pub/sig — in parallel, under one lock, each written to a
# temporary name and renamed, with the -old copy kept and nothing rewritten when nothing changed.
#
# Takes the production lock (RL_PRODUCTION_LOCK) that sync-to-prod*.sh hold: waits for a sync in
# progress, so the lists are written after it finished.
#
#   bash sync-file-list-parallel.sh [-q]
set -euo pipefail
: "${RLVER:=9}"
export RLVER
source "$(dirname "$0")/common"
source "$(dirname "$0")/filelist-common"
P=$PRODUCTION_ROOT
rl_filelists "$P/$CATEGORY_STUB:rocky:fullfiletimelist,fullfiletimelist-rocky-linux" \
    "$P:rocky:fullfiletimelist" "$P/$SIG_CATEGORY_STUB:sig:fullfiletimelist"
