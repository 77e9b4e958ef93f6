#!/usr/bin/env bash
# Beta release: as lh-release-sync-to-staging.sh, from the <major>-BETA composes, leaving the
# link <major>-BETA in staging.
#
#   RLVER=10 bash beta-release-sync-to-staging.sh [-q]
set -euo pipefail
export SHORT=Rocky RLREL=beta
source "$(dirname "$0")/common"
source "$(dirname "$0")/prerelease-common"
rl_prerelease_sync -BETA "$RLVER-BETA"
