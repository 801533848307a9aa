#!/usr/bin/env bash
# Tokenizer benchmark against HF tokenizers and tiktoken (see tokenizers.py). Not part of the test
# command: it takes minutes and installs the Python peers from PyPI into a venv.
#   bash tests/bench/tokenizers.sh            # 1 MB, 10 MB, 100 MB corpora
#   LMLAB_BENCH_SIZES=1000000 bash tests/bench/tokenizers.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
CACHE=${LMLAB_CACHE:-$HOME/.cache/lmlab}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
VENV=$CACHE/bench-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check tokenizers tiktoken
cargo build --release -p native
export LMLAB_BIN=$CARGO_TARGET_DIR/release/lmlab
"$VENV/bin/python" tests/bench/tokenizers.py
