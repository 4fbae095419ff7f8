#!/usr/bin/env bash
# Upload every offline W&B run under a directory to W&B (needs `wandb login` once).
# Usage: scripts/sync_wandb.sh [DIR]   (default: logs/)
set -euo pipefail
dir=${1:-logs}
[ -d "$dir" ] || { echo "scripts/sync_wandb.sh: no such directory: $dir" >&2; exit 1; }
wandb=${WANDB_BIN:-$(dirname "$0")/../.venv/bin/wandb}
mapfile -d '' runs < <(find "$dir" -type d -name 'offline-run-*' -print0)
if [ ${#runs[@]} -eq 0 ]; then echo "no offline W&B runs under $dir"; exit 0; fi
"$wandb" sync "${runs[@]}"
