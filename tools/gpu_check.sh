#!/usr/bin/env bash
# `make gpu-check`: the small course on CUDA (tiny in bf16 and in fp16, the 4-bit stand-in with
# bitsandbytes' CUDA kernels), and Liger's kernels against the plain path. Runs offline: on a lent GPU
# machine, the wheels come from .whl/ (python tools/gpu_wheels.py fetches them where a registry is reachable).
# Writes build/gpu/<run>/report.json and build/gpu/summary.md (seconds and peak GPU memory per lesson).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT_DIR=${GPU_OUT:-build/gpu}
mkdir -p "$OUT_DIR"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD
    export PATH=/tmp/site/bin:$PATH
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$PYTHON" -m ipykernel install --user --name python3 >/dev/null  # the kernel papermill starts
"$PYTHON" -c "import torch, transformers, trl, peft, bitsandbytes; print('gpu:', torch.cuda.get_device_name(0), \
'· torch', torch.__version__, '· transformers', transformers.__version__, '· trl', trl.__version__, \
'· peft', peft.__version__, '· bitsandbytes', bitsandbytes.__version__)"

run() {  # run NAME [course arguments...]: the small course into $OUT_DIR/NAME
    local name=$1; shift
    echo "== $name"
    "$PYTHON" -m labkit.course --small --out "$OUT_DIR/$name" "$@" 2>&1 | grep -v "Kernel is running over TCP"
}
run tiny-bf16
LABKIT_PRECISION=fp16 run tiny-fp16 01 03 04 05
run standin-mistral-4bit -p profile standin-mistral
run standin-qwen -p profile standin-qwen 00 01 02 04
"$PYTHON" bench/bench_liger.py --steps 20 | tee "$OUT_DIR/liger.txt"
"$PYTHON" tools/gpu_summary.py "$OUT_DIR" | tee "$OUT_DIR/summary.md"
