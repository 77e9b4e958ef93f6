#!/usr/bin/env bash
# The vault's file lists: mirror/vault (fullfiletimelist-vault) and mirror/vault/rocky
# (fullfiletimelist-rocky-vault), without -old copies, as the toolkit's script.
#
#   bash sync-file-list-vault.sh [-q]
set -euo pipefail
: "${RLVER:=9}"
export RLVER
source "$(dirname "$0")/common"
source "$(dirname "$0")/filelist-common"
RL_FILELIST_EXTRA="--no-old ${RL_FILELIST_EXTRA:-}"
rl_filelists "$PRODUCTION_ROOT/mirror/vault:vault" "$PRODUCTION_ROOT/$VAULT_STUB:rocky-vault"
