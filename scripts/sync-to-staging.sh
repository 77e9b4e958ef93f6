#!/usr/bin/env bash
# Incremental updates: sync a compose (Rocky, Extras, Rocky-devel, …) into the staging release
# without deleting older package versions, then regenerate the repository metadata on staging
# (sources, debug, comps for the module repos, module metadata), sign it and hardlink.
#
#   RLVER=9 bash sync-to-staging.sh SHORT [-q]
#
# Signing as in minor-release-sync-to-staging.sh (RL_SIGN_CMD, the toolkit's sign-repo-$MAJOR.sh,
# or RL_SIGN_CMD=none; checked before the sync). RL_ALLOW_INCOMPLETE=1 accepts a
# FINISHED_INCOMPLETE compose.
#
# Unlike the toolkit, the staging repodata is not deleted before the sync: the sync leaves
# repodata alone (it is excluded) and createrepo_c --update replaces it atomically afterwards, so
# staging never serves a repository without metadata. The compose must be FINISHED.
set -euo pipefail
SHORT=${1:-}
[[ -n $SHORT && $SHORT != -q ]] || { echo "usage: RLVER=N ${0##*/} SHORT [-q]" >&2; exit 2; }
export SHORT
source "$(dirname "$0")/common"

src=$RELEASE_COMPOSE_ROOT
rl_require_dir "$src/compose" "compose"
rl_require_finished "$src"
rl_require_signer
TARGET=$STAGING_ROOT/$CATEGORY_STUB/$REV
mkdir -p "$TARGET"

excludes=()
for x in "${PUNGI_EXCLUDES[@]}"; do excludes+=(--exclude "$x"); done
rl_step "sync $SHORT to staging" rl_sync "$src/compose/" "$TARGET/" "${excludes[@]}"

# The repositories of the compose, as the toolkit finds them.
mapfile -t repo_dirs < <(cd "$src" && find compose -name repodata -type d | sed -e 's|^compose/||' -e 's|/repodata$||' | LC_ALL=C sort)
for repo in "${repo_dirs[@]}"; do
    [[ $repo == */source/* ]] || continue
    [[ -d $TARGET/$repo ]] && rl_createrepo "$TARGET/$repo"
done
if [[ $SHORT == Rocky ]]; then
    for repo in "${repo_dirs[@]}"; do
        [[ $repo == */debug/* && -d $TARGET/$repo ]] && rl_createrepo "$TARGET/$repo"
    done
    for arch in "${ARCHES[@]}"; do
        for name in "${MODS_REPOS[@]}"; do
            os=$TARGET/$name/$arch/os
            [[ -d $os ]] || continue
            comps=$src/work/$arch/comps/comps-$name.$arch.xml
            groups=()
            [[ -f $comps ]] && groups=("--groupfile=$comps")
            rl_createrepo "$os" "${groups[@]}" --xz "--revision=$MAJOR" --checksum=sha256
        done
        # After comps: createrepo --update drops the modules record.
        for name in "${MODS[@]}"; do
            yaml=$COMPOSE_ROOT/${RLVER}_metadata/$arch/$name-modules.yaml
            os=$TARGET/$name/$arch/os
            [[ -f $yaml && -d $os/repodata ]] || continue
            tmp=$(mktemp -d)
            cp "$yaml" "$tmp/modules.yaml"
            modifyrepo_c --mdtype=modules "$tmp/modules.yaml" "$os/repodata" --compress \
                --compress-type=xz >&2 || rl_die "modifyrepo_c failed on $os"
            rm -rf "$tmp"
            rl_fix_metadata "$os/repodata/repomd.xml"
            rl_sign "$os/repodata/repomd.xml"
        done
    done
    rl_step "hardlink staging" rl_hardlink "$TARGET"
else
    for repo in "${repo_dirs[@]}"; do
        [[ $repo == */source/* || ! -d $TARGET/$repo ]] && continue
        rl_createrepo "$TARGET/$repo"
    done
fi
rl_sign_report
