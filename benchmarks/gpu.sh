#!/usr/bin/env bash
# GPU figures in one go: `python -m jaxgan.bench` side by side with PyTorch on the same card.
#
#   bash benchmarks/gpu.sh dcgan|cyclegan|all [LOGDIR]
#
# Runs from a source checkout (from any directory: the PyTorch peers are this script's folder, the
# package its parent's jaxgan/) with a Python that has jax[cuda], flax, optax, orbax,
# ml-collections, grain, tensorboardX and torch (CUDA). Every run's JSON line goes to
# LOGDIR/gpu.jsonl, its full output to LOGDIR/gpu.log. Each run is independent: one that fails is
# logged and the next starts.
set -u
what=${1:-all}
logdir=${2:-/tmp/jaxgan-gpu}
mkdir -p "$logdir"
peers=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PYTHONUNBUFFERED=1 PYTHONPATH="$(dirname "$peers")${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
$py -c 'import jax, flax, optax, torch; print("jax", jax.__version__, jax.devices(), "flax",
flax.__version__, "optax", optax.__version__, "torch", torch.__version__, torch.version.cuda,
"cudnn", torch.backends.cudnn.version())'

bench() {
  echo "## $*" | tee -a "$logdir/gpu.log"
  if $py -m jaxgan.bench --peers="$peers" "$@" >"$logdir/run.log" 2>&1; then
    tail -n 3 "$logdir/run.log" | head -n 2
    tail -n 1 "$logdir/run.log" >>"$logdir/gpu.jsonl"
  else
    echo "FAILED: $(tail -n 1 "$logdir/run.log")"
  fi
  cat "$logdir/run.log" >>"$logdir/gpu.log"
}

steps='--steps=50 --warmup=10'
if [[ $what == dcgan || $what == all ]]; then
xla='--g-conv-impl=xla --d-conv-impl=xla'
# DCGAN-64, batch 128 (the issue's GPU workload): the CPU-tuned default layers vs cuDNN's own.
bench --size=64 --channels=3 --batch=128 $steps --vs-torch
bench --size=64 --channels=3 --batch=128 $steps $xla --vs-torch
bench --size=64 --channels=3 --batch=128 $steps --g-conv-impl=subpixel --d-conv-impl=xla
bench --size=64 --channels=3 --batch=128 $steps $xla --vs-torch --torch-cudnn-benchmark
bench --size=64 --channels=3 --batch=128 $steps $xla --vs-torch --precision=highest
bench --size=64 --channels=3 --batch=128 $steps $xla --vs-torch --dtype=bfloat16
bench --size=64 --channels=3 --batch=128 $steps --vs-torch --dtype=bfloat16
# The CPU issue's workloads, on the GPU.
bench --size=64 --channels=3 --batch=64 $steps $xla --vs-torch
bench --size=32 --channels=1 --batch=64 $steps $xla --vs-torch
bench --size=32 --channels=1 --batch=64 $steps --vs-torch
fi
if [[ $what == cyclegan || $what == all ]]; then
# CycleGAN 256x256, batch 1 (the paper's setting).
bench --model=cyclegan --size=256 --batch=1 --steps=20 --warmup=5 --vs-torch
bench --model=cyclegan --size=256 --batch=1 --steps=20 --warmup=5 --conv-impl=xla --vs-torch
fi
echo "## summary"
cat "$logdir/gpu.jsonl"
