#!/usr/bin/env bash
# `make gpu-check`: the small course on CUDA, and Liger's kernels against the plain path.
#   [LESSONS="00 01"] tools/gpu_check.sh [RUN ...]
#   RUN: tiny-bf16 tiny-fp16 standin-mistral-4bit standin-qwen standin-smol liger (default: all);
#   LESSONS: which lessons each course run takes (default: all; tiny-fp16 takes 01 03 04 05). Runs offline: on a lent GPU machine the wheels come from .whl/ (tools/gpu_wheels.py
# fetches them where a registry is reachable). Writes $GPU_OUT/<run>/report.json (default build/gpu),
# and $GPU_OUT/summary.md: seconds and peak GPU memory per lesson, for bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT_DIR=${GPU_OUT:-build/gpu}
mkdir -p "$OUT_DIR"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD PATH=/tmp/site/bin:$PATH
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$PYTHON" -m ipykernel install --user --name python3 >/dev/null  # the kernel papermill starts
"$PYTHON" -c "import torch, transformers, trl, peft, bitsandbytes; print('gpu:', torch.cuda.get_device_name(0), \
'· torch', torch.__version__, '· transformers', transformers.__version__, '· trl', trl.__version__, \
'· peft', peft.__version__, '· bitsandbytes', bitsandbytes.__version__)"

course() {  # course NAME [course arguments...]: the small course into $OUT_DIR/NAME
    local name=$1; shift
    echo "== $name"
    timeout "${RUN_SECONDS:-400}" "$PYTHON" -m labkit.course --small --out "$OUT_DIR/$name" "$@" 2>&1 \
        | grep -v "Kernel is running over TCP"
}
for run in "${@:-tiny-bf16 tiny-fp16 standin-mistral-4bit standin-qwen standin-smol liger}"; do
    for one in $run; do
        case $one in
            tiny-bf16) course tiny-bf16 ${LESSONS:-} ;;
            tiny-fp16) LABKIT_PRECISION=fp16 course tiny-fp16 ${LESSONS:-01 03 04 05} ;;
            standin-mistral-4bit) course standin-mistral-4bit -p profile standin-mistral ${LESSONS:-} ;;
            standin-qwen) course standin-qwen -p profile standin-qwen ${LESSONS:-} ;;
            standin-smol) course standin-smol -p profile standin-smol ${LESSONS:-} ;;
            liger) timeout "${LIGER_SECONDS:-150}" "$PYTHON" bench/bench_liger.py --steps 20 | tee "$OUT_DIR/liger.txt" ;;
            *) echo "unknown run $one" ;;
        esac
    done
done
"$PYTHON" tools/gpu_summary.py "$OUT_DIR" | tee "$OUT_DIR/summary.md"
