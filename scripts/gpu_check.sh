#!/usr/bin/env bash
# The GPU path in one command, for a machine with a CUDA device:  bash scripts/gpu_check.sh
#   1. the gpu-marked tests (tests/test_gpu.py): a bf16 run, the sampler and the metrics on CUDA against the CPU,
#      DDP over every visible GPU;
#   2. benchmarks: GPU utilisation during one sr4_folder epoch (nvidia-smi sampled every 0.5 s), bf16 against fp32
#      training steps (scripts/benchmark_precision.py), our diffusion sampler against a plain diffusers loop
#      (scripts/benchmark_sampler.py).
# Without a GPU it says so, runs the gpu tests (every one skips, with its reason) and no benchmark. Exit status: the
# tests'. Offline: the sr4 epoch trains on photographs shipped with scikit-image, measured in patch space.
set -uo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory venv >/dev/null
PY=.venv/bin/python
export WANDB_MODE=offline WANDB_SILENT=true
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if ! $PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device here (torch.cuda.is_available() is False): the gpu tests skip, no benchmark runs"
    $PY -m pytest -m gpu -q -rs tests/test_gpu.py
    exit $?
fi

nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
echo "== gpu tests"
$PY -m pytest -m gpu -q -rs tests/test_gpu.py
status=$?

echo "== GPU utilisation during one sr4_folder epoch (bf16, batch 16, 128-px crops)"
$PY - "$scratch/photos" <<'EOF'
import sys
from pathlib import Path

import skimage.data
from PIL import Image

root = Path(sys.argv[1])
root.mkdir()
for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):  # shipped inside scikit-image
    Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(root / f"{name}.png")
EOF
nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -i 0 -lms 500 >"$scratch/utilisation" &
sampler=$!
start=$(date +%s.%N)
$PY -m tradeoffs.train experiment=sr4_folder data.source.root="$scratch/photos" data.source.val_root="$scratch/photos" \
    data.samples_per_epoch=3200 trainer.max_epochs=1 model.adv_weight=0.005 metrics.num_images=5 logger=csv \
    '~callbacks.progress_bar' ++trainer.enable_progress_bar=false hydra.run.dir="$scratch/sr4" || status=1
kill "$sampler"
$PY - "$scratch/utilisation" "$start" <<'EOF'
import statistics
import sys
import time

values = [int(v) for v in open(sys.argv[1]).read().split() if v.isdigit()]
print(f"utilisation: mean {statistics.mean(values):.0f} %, median {statistics.median(values):.0f} %, "
      f"{len(values)} samples over {time.time() - float(sys.argv[2]):.0f} s (data loading and validation included)")
EOF

echo "== bf16 against fp32 (sr4_folder GAN training steps)"
$PY scripts/benchmark_precision.py || status=1
echo "== our diffusion sampler against a plain diffusers loop"
$PY scripts/benchmark_sampler.py --batch 256 --repeats 2 || status=1
exit $status
