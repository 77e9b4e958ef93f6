#!/usr/bin/env bash
# What sync-to-prod.sh would do, changing nothing (every record carries "dry_run":true).
RL_SYNC_EXTRA="--dry-run ${RL_SYNC_EXTRA:-}" exec bash "$(dirname "$0")/sync-to-prod.sh" "$@"
