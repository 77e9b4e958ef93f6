#!/usr/bin/env bash
# The release torrents: one download directory of symlinks per ISO (CHECKSUM*, the ISO and its
# side files), then one .torrent per directory with every tracker, the release-notes comment and
# CHECKSUM.asc left out of the payload. Torrents are written atomically and not rewritten when
# their bytes would not change.
#
#   RLVER=9 bash gen-torrents.sh ISODIR [-q]
#
# RL_TORRENT_DOWNLOAD (default /opt/rtorrent/download), RL_TORRENT_WATCH (default
# /opt/rtorrent/watch/start), RL_TRACKERS (space-separated; default: the trackers on the
# published Rocky torrents), RL_TORRENT_DATE (creation date in seconds; default: no date, so a
# re-run gives identical torrents).
set -euo pipefail
ISODIR=${1:-}
[[ -n $ISODIR && $ISODIR != -q ]] || { echo "usage: RLVER=N ${0##*/} ISODIR [-q]" >&2; exit 2; }
source "$(dirname "$0")/common"
rl_require_dir "$ISODIR" "ISO directory"
download=${RL_TORRENT_DOWNLOAD:-/opt/rtorrent/download}
watch=${RL_TORRENT_WATCH:-/opt/rtorrent/watch/start}
read -r -a trackers <<<"${RL_TRACKERS:-udp://tracker.opentrackr.org:1337/announce http://bt1.archive.org:6969/announce http://bt2.archive.org:6969/announce}"
mkdir -p "$download" "$watch"

exec 9>"${RL_TORRENT_LOCK:-${TMPDIR:-/tmp}/gen-torrents.lock}"
flock -n 9 || { echo "${0##*/}: another gen-torrents.sh is running" >&2; exit 0; }

arches=()
for arch in "${ARCHES[@]}"; do
    [[ -d $ISODIR/$arch ]] && arches+=(--arch "$arch")
done
((${#arches[@]})) || rl_die "no architecture directory in $ISODIR"
rl_step "scaffold" rl-torrent scaffold "$ISODIR" --revision "$REVISION" "${arches[@]}" --into "$download"

dirs=()
for d in "$download"/Rocky-"$REVISION"-*/; do
    [[ -d $d ]] && dirs+=("${d%/}")
done
((${#dirs[@]})) || rl_die "no ISO of $REVISION found in $ISODIR"
announce=()
for t in "${trackers[@]}"; do announce+=(--announce "$t"); done
date=(--no-date)
[[ -n ${RL_TORRENT_DATE:-} ]] && date=(--date "$RL_TORRENT_DATE")
rl_step "torrents" rl-torrent create "${dirs[@]}" "${announce[@]}" \
    --comment "https://docs.rockylinux.org/release_notes/${REVISION//./_}/" \
    --exclude '.*\/CHECKSUM.asc' --output-dir "$watch" "${date[@]}"
