#!/usr/bin/env bash
# LookAhead release: prepare the LookAhead compose (ISOs, images, live, latest links, manifests,
# CHECKSUM files), mirror Rocky, Extras and Rocky-devel into staging with deletions (Rocky first),
# edit .treeinfo, link <major>-LookAhead and hardlink. No kickstart trees, no signing.
#
#   RLVER=10 bash lh-release-sync-to-staging.sh [-q]
#
# RL_ALLOW_INCOMPLETE=1 accepts a FINISHED_INCOMPLETE compose (refused by default).
set -euo pipefail
export SHORT=Rocky RLREL=lh
source "$(dirname "$0")/common"
source "$(dirname "$0")/prerelease-common"
rl_prerelease_sync -LookAhead "$RLVER-LookAhead"
