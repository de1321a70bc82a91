#!/usr/bin/env bash
# GPU check of issue 12 (item 7): paper-size step fp16/bf16, % of bf16 peak, XTR target loop vs
# vectorised, peak memory, a short `ems train` on CUDA. Well under 8 minutes on one GPU.
# Writes docs/measurements/gpu_check_<device>.json (and a copy under $OUT when set).
#   bash benchmarks/gpu_check.sh            # uses .venv/bin/python when present, else python3
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true HF_HUB_OFFLINE=1 MPLBACKEND=Agg
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
"$PY" -c "import torch, transformers; assert torch.cuda.is_available(), 'no CUDA device'" || exit 2
DEVICE=$("$PY" -c "import re, torch; print(re.sub(r'[^A-Za-z0-9]+', '_', torch.cuda.get_device_name(0)).strip('_'))")
JSON="docs/measurements/gpu_check_${DEVICE}.json"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
timeout 480 "$PY" benchmarks/gpu_check.py --json "$JSON"
if [ -n "${OUT:-}" ]; then cp "$JSON" "$OUT/"; fi
echo "wrote $JSON"
