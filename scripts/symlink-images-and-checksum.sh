#!/usr/bin/env bash
# Legacy: in every staging isos/<arch>, the Rocky-X-latest-* links and one CHECKSUM made straight
# from the entries of every *.iso (no per-file .CHECKSUM), replaced atomically rather than
# appended to.
#
#   RLVER=9 bash symlink-images-and-checksum.sh [-q]
set -euo pipefail
source "$(dirname "$0")/common"
base=$STAGING_ROOT/$CATEGORY_STUB/$REV/isos
rl_require_dir "$base" "staging ISO directory"
dirs=()
for arch in "${ARCHES[@]}"; do
    d=$base/$arch
    [[ -d $d ]] || continue
    dirs+=("$d")
    for iso in "$d"/Rocky-"$REVISION"-*.iso; do
        [[ -f $iso && ! -L $iso ]] || continue
        name=${iso##*/}
        latest=${name//.[0-9]/-latest}
        [[ $latest == "$name" ]] || (cd "$d" && rl_link "$name" "$latest")
    done
done
((${#dirs[@]})) || rl_die "no architecture directory in $base"
rl_step "checksums" rl-checksum create --no-side-files "${dirs[@]}"
