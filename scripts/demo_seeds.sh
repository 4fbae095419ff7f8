#!/usr/bin/env bash
# `make demo` for seeds 0, 1, 2 (logs/demo_seeds/seedN, resumable: finished jobs are skipped), then the demo's
# claims checked on every seed and quoted as ranges: scripts/demo_summary.py.
#   bash scripts/demo_seeds.sh [SEED ...]      (default: 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
root=${DEMO_SEEDS_DIR:-logs/demo_seeds}
seeds=("${@:-0}")
[ $# -gt 0 ] || seeds=(0 1 2)
dirs=()
for seed in "${seeds[@]}"; do
  start=$(date +%s)
  make --no-print-directory demo SEED="$seed" DEMO_DIR="$root/seed$seed"
  echo "seed $seed: make demo took $(( $(date +%s) - start )) s"
  dirs+=("$root/seed$seed/sweep")
done
.venv/bin/python scripts/demo_summary.py "${dirs[@]}"
