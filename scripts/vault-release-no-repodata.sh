#!/usr/bin/env bash
# Copy a production release into the vault without its repodata, then rebuild the vault's
# repositories (legacy peridot-era step, kept for RLVER=9 as in the toolkit): comps from the
# production repodata where one exists, plain createrepo elsewhere.
#
#   RLVER=9 bash vault-release-no-repodata.sh [-q]
set -euo pipefail
case ${RLREL:-stable} in
lh | beta) echo "${0##*/}: RLREL=$RLREL releases are not vaulted" >&2; exit 2 ;;
esac
source "$(dirname "$0")/common"
src=$PRODUCTION_ROOT/$CATEGORY_STUB/$REVISION
rl_require_dir "$src" "production release"
TARGET=$PRODUCTION_ROOT/$VAULT_STUB/$REVISION
mkdir -p "$TARGET"
rl_step "vault $REVISION without repodata" rl_sync "$src/" "$TARGET/" --exclude repodata
[[ $RLVER == 9 ]] || exit 0
for arch in "${ARCHES[@]}"; do
    for repo in "${MODS_REPOS[@]}"; do
        os=$TARGET/$repo/$arch/os
        [[ -d $os ]] || continue
        comps=$(compgen -G "$src/$repo/$arch/os/repodata/*comps*.xml" | head -n1 || true)
        [[ -z $comps ]] && comps=$(compgen -G "$src/$repo/$arch/os/repodata/*GROUPS.xml" | head -n1 || true)
        groups=()
        [[ -n $comps ]] && groups=("--groupfile=$comps")
        rl_createrepo "$os" "${groups[@]}" --xz "--revision=$MAJOR" --checksum=sha256
    done
    for repo in "${NONMODS_REPOS[@]}"; do
        for dir in "$TARGET/$repo/$arch/os" "$TARGET/$repo/$arch/debug/tree"; do
            [[ -d $dir ]] && rl_createrepo "$dir"
        done
    done
done
for repo in "${NONMODS_REPOS[@]}"; do
    [[ -d $TARGET/$repo/source/tree ]] && rl_createrepo "$TARGET/$repo/source/tree"
done
exit 0
