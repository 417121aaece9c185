#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one go: the `gpu` tests, then the GPU benchmarks
# (UniRep, the paper-size fusion training step, ESM-2 + ProstT5 embedding), each under its own
# time limit so that one slow or failing step never loses the others. Results stay in
# benchmarks/results/*-cuda.json (docs/benchmarks.md is not touched: its GPU sections are
# written from those files); logs and results are also copied to $1 when given.
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
set -u
export PYTHONUNBUFFERED=1
out=${1:-}
py=${PYTHON:-python3}
step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit} s) $(date -u +%H:%M:%S)"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "${out:-/tmp}/$name.log"
  echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - t0)) s"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
step gpu_tests 120 $py -m pytest -q -s -m gpu -p no:cacheprovider --continue-on-collection-errors \
  tests/test_gpu.py tests/test_embedders_unirep.py tests/test_embedders_esm2.py
step bench_unirep 110 $py -m benchmarks.bench_unirep --device cuda --threads 1 --random-weights \
  --token-budget 1048576 --max-batch 2048 --proteins-256 4096 --proteins-1900 4096 \
  --max-seconds 25 --no-doc
step bench_train 120 $py -m benchmarks.bench_train --device cuda --naive-batches 2 --batches 12 --no-doc
step bench_embed 200 $py -m benchmarks.bench_embed --device cuda --per-group 32 --no-doc
[ -n "$out" ] && cp benchmarks/results/*-cuda.json "$out"/ 2>/dev/null
exit 0
