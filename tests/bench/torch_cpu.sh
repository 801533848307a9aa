#!/usr/bin/env bash
# lmlab beside PyTorch on this machine's CPU: the device script (tests/device/run.sh) at its CPU
# size — `lmlab bench train` and tests/bench/torch_reference.py (eager fp32 and bf16 autocast +
# SDPA) for tiny and cs336-tinystories, the attention-heavy and MoE lines, and the race to a
# validation loss. Not part of the test command: PyTorch from PyPI is a multi-GB install (into the
# benchmark venv, $LMLAB_CACHE/bench-venv) and the run takes minutes.
#   bash tests/bench/torch_cpu.sh [--out DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CACHE=${LMLAB_CACHE:-$HOME/.cache/lmlab}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
VENV=$CACHE/bench-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import torch' 2>/dev/null ||
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "torch==2.15.*" "numpy==2.*"
cargo build --release -p native
PYTHON=$VENV/bin/python exec bash tests/device/run.sh --device cpu --lmlab "$CARGO_TARGET_DIR/release/lmlab" "$@"
