#!/usr/bin/env bash
# Re-sign the staging repositories after their repomd.xml changed (errata injection): drop the
# empty <open-size> lines, then sign, for every repository the toolkit's script covers.
#
#   RLVER=9 bash sign-repos-only.sh [-q]
#
# Signing command: RL_SIGN_CMD, else the toolkit's /root/bin/sign-repo-$MAJOR.sh (RL_SIGN_DIR).
# With neither it stops before fixing anything (exit 2) unless RL_SIGN_CMD=none, and it ends by
# saying how many repomd.xml it signed, or that it signed none.
set -euo pipefail
source "$(dirname "$0")/common"
base=$STAGING_ROOT/$RELEASE_DIR
rl_require_dir "$base" "staging release"
rl_require_signer
fix_and_sign() { # fix_and_sign REPO_DIR [sign?]
    local repomd=$1/repodata/repomd.xml
    [[ -f $repomd ]] || return 0
    rl_fix_metadata "$repomd"
    [[ ${2:-sign} == sign ]] && rl_sign "$repomd"
    return 0
}
for repo in "${ALL_REPOS[@]}"; do
    fix_and_sign "$base/$repo/source/tree"
done
for arch in "${ARCHES[@]}"; do
    for repo in "${NONMODS_REPOS[@]}"; do
        fix_and_sign "$base/$repo/$arch/os"
        fix_and_sign "$base/$repo/$arch/debug/tree"
        fix_and_sign "$base/$repo/$arch/kickstart"
    done
    for repo in "${MODS_REPOS[@]}"; do
        fix_and_sign "$base/$repo/$arch/debug/tree"
        fix_and_sign "$base/$repo/$arch/os"
        fix_and_sign "$base/$repo/$arch/kickstart" nosign
    done
done
rl_sign_report
