#!/usr/bin/env bash
# The toolkit's sync-to-prod.delete.sh is the same script as sync-to-prod.sh.
exec bash "$(dirname "$0")/sync-to-prod.sh" "$@"
