#!/usr/bin/env bash
# Minor release: prepare the Rocky compose (ISOs into isos/<arch>, latest links, manifests,
# CHECKSUM files, images and live flattened, Minimal and Cloud removed), then sync Rocky, Extras
# and Rocky-devel to staging, make the kickstart trees, edit .treeinfo, sign, link and hardlink.
#
#   RLVER=9 bash minor-release-sync-to-staging.sh [-q]
#
# Signing: RL_SIGN_CMD, else the toolkit's /root/bin/sign-repo-$MAJOR.sh (RL_SIGN_DIR); with
# neither the script stops before its first change unless RL_SIGN_CMD=none. A FINISHED_INCOMPLETE
# compose is synced only with RL_ALLOW_INCOMPLETE=1. images/<arch> and live/<arch> get their
# CHECKSUM like the ISO directories; .treeinfo edits are owned by RL_CHOWN.
#
# Same steps and order as the toolkit's script, minus its hazards: every compose is checked
# before anything changes (the toolkit's `pushd || break` went on half-done), the compose must be
# FINISHED, and every step is idempotent (no duplicated CHECKSUM lines or treeinfo sections, no
# link nested in a directory), so a second run changes nothing.
set -euo pipefail
export SHORT=Rocky
source "$(dirname "$0")/common"
MAJ=$RLVER

# Check every input first: nothing is touched when one is missing.
declare -A SRC
for compose in "${NONSIG_COMPOSE[@]}"; do
    SRC[$compose]=$COMPOSE_ROOT/$MAJ/latest-$compose-$MAJ
    rl_require_dir "${SRC[$compose]}/compose" "compose"
done
rl_require_finished "${SRC[Rocky]}"
rl_require_signer

# The pre-sync work inside the Rocky compose.
rocky=${SRC[Rocky]}/compose
rl_step "prepare compose" rl-compose prepare "${SRC[Rocky]}" --revision "$REVISION" --release "$RLREL"
iso_dirs=() iso_files=()
for arch in "${ARCHES[@]}"; do
    for iso in "$rocky/isos/$arch"/*.iso; do
        [[ -e $iso || -L $iso ]] || continue
        iso_files+=("$iso")
        [[ ${iso_dirs[*]-} == *"$rocky/isos/$arch"* ]] || iso_dirs+=("$rocky/isos/$arch")
    done
done
if ((${#iso_files[@]})); then
    rl_step "ISO manifests" rl-compose manifest "${iso_files[@]}"
    rl_step "ISO checksums" rl-checksum create "${iso_dirs[@]}"
fi
rl_image_checksums "$rocky"

TARGET=$STAGING_ROOT/$CATEGORY_STUB/$REV
mkdir -p "$TARGET"
for compose in "${NONSIG_COMPOSE[@]}"; do
    if [[ $compose == Rocky ]]; then
        rl_step "sync $compose to staging" rl_sync "${SRC[$compose]}/compose/" "$TARGET/"
    else
        rl_step "sync $compose to staging" rl_sync "${SRC[$compose]}/compose/" "$TARGET/" \
            --exclude metadata --exclude Minimal --exclude Cloud
    fi
done

for name in "${!LINK_REPOS[@]}"; do
    [[ -e $TARGET/$name ]] && (cd "$TARGET" && rl_link "$name" "${LINK_REPOS[$name]}")
done

# Kickstart trees: full copies of the os trees (the hardlink step below shares their files).
for arch in "${ARCHES[@]}"; do
    for repo in "${MODS_REPOS[@]}"; do
        os=$TARGET/$repo/$arch/os
        [[ -d $os ]] || continue
        rl_step "kickstart $repo $arch" rl-sync "$os/" "$TARGET/$repo/$arch/kickstart/"
    done
done

for arch in "${ARCHES[@]}"; do
    base=$TARGET/BaseOS/$arch
    [[ -f $base/os/.treeinfo ]] && rl_step "treeinfo $arch" rl-compose treeinfo "$base/os"
    [[ -f $base/kickstart/.treeinfo ]] &&
        rl_step "treeinfo kickstart $arch" rl-compose treeinfo --kickstart "$base/kickstart"
    rl_own "$base"/{os,kickstart}/{.treeinfo,.treeinfo-pristine}
done

for arch in "${ARCHES[@]}"; do
    for repo in "${MODS_REPOS[@]}"; do
        rl_sign "$TARGET/$repo/$arch/os/repodata/repomd.xml"
        rl_sign "$TARGET/$repo/$arch/kickstart/repodata/repomd.xml"
    done
done
rl_sign_report

(
    cd "$STAGING_ROOT/$CATEGORY_STUB"
    rl_link "$REV" "latest-$MAJ"
    [[ $REV != "$REVISION" ]] && rl_link "$REV" "$REVISION"
    true
)
rl_step "hardlink staging" rl_hardlink "$TARGET"
