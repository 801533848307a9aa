#!/usr/bin/env bash
# Every test of lmlab, in one command (the README's test command; .ci/run calls exactly this).
#
# 1. Installs what is missing, idempotently: the wasm32 target, wasm-bindgen-cli at the exact
#    version in Cargo.lock, trunk, Debian's chromium + chromium-driver, and binaryen's wasm-opt
#    (npm `binaryen@132`: Debian's 108 writes modules that fail to load).
# 2. Runs: native tests of all crates (profile ci; the CLI binary is built in the same cargo
#    invocation as the tests, with the same features, so burn is compiled once), including the
#    CLI's training end to end (CPU, and wgpu on Mesa's lavapipe), the main job (`lmlab` alone
#    starts `lmlab train`'s default run, and that run, shortened, must learn) and the agreement of
#    the CLI and the Train page on one run plan; an interop
#    check that HF tokenizers and tiktoken (from PyPI, in a venv) read lmlab's files and that
#    scipy fits a scaling sweep as `lmlab scaling fit` does; core's and
#    web's wasm tests in headless Chromium (a few training steps on WebGPU); `trunk build --release`
#    (the app and the Train page's worker bundle); the built site end to end in Chromium
#    (screenshots in tests/screenshots/); then the browser-vs-native training benchmark.
#
# Builds go to a cache outside the clone ($LMLAB_CACHE, default ~/.cache/lmlab), so a fresh clone on
# a machine that ran this before rebuilds almost nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
START=$SECONDS
LOG=$(mktemp)
TIMES=$(mktemp)
trap 'rm -f "$LOG" "$TIMES"' EXIT
STEP=""
STEP_START=$SECONDS
# Starts a step; the previous one's seconds go to the summary printed at the end.
step() {
  [ -n "$STEP" ] && printf '%6ds  %s\n' $((SECONDS - STEP_START)) "$STEP" >>"$TIMES"
  STEP="$*"
  STEP_START=$SECONDS
  printf '\n==> [%4ds] %s\n' $((SECONDS - START)) "$*"
}
# Runs a test command, keeping its output for the final tally.
run_tests() { "$@" 2>&1 | tee -a "$LOG"; }

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132
WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;}' Cargo.lock)
CACHE=${LMLAB_CACHE:-$HOME/.cache/lmlab}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
TOOLS=$CACHE/tools
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

step "tools (installing what is missing)"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  # A debug build: trunk only copies files and runs wasm-bindgen and wasm-opt, and an optimized
  # build of its ~300 crates takes twice as long on a fresh machine.
  env -u CARGO_TARGET_DIR cargo install trunk --version "$TRUNK_VERSION" --locked --force --debug
fi
apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v chromedriver >/dev/null || apt_packages+=(chromium-driver)
command -v npm >/dev/null || apt_packages+=(nodejs npm)
# Mesa's lavapipe: a Vulkan driver on the CPU, so the wgpu backend is tested without a GPU.
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || apt_packages+=(mesa-vulkan-drivers libvulkan1)
# OpenMPI for data-parallel training under mpirun (the CLI's `mpi` feature): its launcher, its
# headers and libclang (rsmpi generates its bindings with bindgen).
command -v mpirun >/dev/null || apt_packages+=(openmpi-bin)
[ -e /usr/include/x86_64-linux-gnu/mpi/mpi.h ] || [ -e /usr/include/mpi.h ] || apt_packages+=(libopenmpi-dev)
compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null || apt_packages+=(libclang-dev)
# A CJK font, so screenshots of "Hello, 世界!" show the characters rather than boxes.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || apt_packages+=(fonts-wqy-microhei)
if [ ${#apt_packages[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_packages[@]}"
fi
if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "$BINARYEN_VERSION" ]; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN_VERSION"
fi
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver)}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-600}
echo "rustc $(rustc --version | cut -d' ' -f2), $(wasm-bindgen --version), $(trunk --version), wasm-opt $(wasm-opt --version | awk '{print $3}'), $(chromium --version)"

step "the app's main bundle must not link burn"
if cargo tree -p web --target wasm32-unknown-unknown -e normal --prefix none | grep -q '^burn'; then
  echo "error: web depends on burn; the model code belongs in the training worker bundle" >&2
  exit 1
fi

# Every native cargo command selects the same packages and features, so they share one build:
# lmlab/cpu, the model's tests need burn's CPU backend (the app's bundle never gets it);
# lmlab/hardware, the WGSL kernels on wgpu (Mesa's lavapipe on a machine without a GPU).
# native/nccl, the CLI's data-parallel training under mpirun (OpenMPI, installed above; NCCL for
# CUDA tensors compiled in, loaded at run time).
# tests/src/lib.rs builds the CLI with the same selection (NATIVE_BUILD). The `ci` profile is
# release without cross-crate LTO (Cargo.toml): the same optimized code, minutes less linking.
NATIVE=(--profile ci --workspace --exclude web --features lmlab/cpu,lmlab/hardware,native/nccl)

step "native build: the CLI and every test, one cargo invocation (profile ci)"
# The CLI binary with the tests: the acceptance tests run it (and must never find a stale one).
cargo build "${NATIVE[@]}" --bins --tests

step "native tests of every crate (profile ci)"
run_tests cargo test "${NATIVE[@]}"

step "interop: HF tokenizers and tiktoken read the tokenizer files lmlab writes"
VENV=$CACHE/py-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "tokenizers==0.23.*" "tiktoken==0.14.*" "safetensors==0.7.*" "numpy==2.*" "scipy==1.*"
interop=$(mktemp -d)
run_tests "$VENV/bin/python" tests/interop/tokenizer_files.py "$CARGO_TARGET_DIR/ci/lmlab" "$interop"
step "interop: the official safetensors library and a numpy forward pass agree with lmlab's weights"
run_tests "$VENV/bin/python" tests/interop/model_files.py "$CARGO_TARGET_DIR/ci/lmlab" "$interop"
step "interop: lmlab scaling fit agrees with scipy (parabolas, power law, Chinchilla's approach 3)"
run_tests "$VENV/bin/python" tests/interop/scaling_fit.py "$CARGO_TARGET_DIR/ci/lmlab" "$interop"
rm -rf "$interop"

step "core's wasm tests in headless Chromium (Hardware kernels and training on SwiftShader's WebGPU)"
run_tests cargo test --profile ci -p lmlab --features hardware,webgpu,cpu --target wasm32-unknown-unknown

step "web's wasm tests in headless Chromium"
run_tests cargo test --profile ci -p web --target wasm32-unknown-unknown

step "trunk build --release"
trunk build --release
for f in dist/*.wasm; do
  printf 'bundle %s: %s bytes, %s bytes gzipped\n' "$(basename "$f")" "$(stat -c%s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done

step "the built site in Chromium, end to end"
# One browser at a time: two Chromiums on two cores make the timeouts flaky.
# lmlab/cpu: the Train page's checkpoint is loaded natively and compared (same features as above).
run_tests cargo test "${NATIVE[@]}" --test browser -- --ignored --test-threads 1

step "benchmark: training tokens/s in the browser vs native (same machine, same run)"
LMLAB_BENCH_STEPS=${LMLAB_BENCH_STEPS:-2} LMLAB_BENCH_MOE_BACKENDS=${LMLAB_BENCH_MOE_BACKENDS:-cpu} \
  cargo bench "${NATIVE[@]}" --bench train_browser

step "done in $((SECONDS - START)) s"
echo "seconds per step:"
cat "$TIMES"
passed=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed.*/\1/p; s/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$LOG" | awk '{s += $1} END {print s + 0}')
failed=$(sed -n 's/^test result: .* \([0-9]*\) failed;.*/\1/p; s/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$LOG" | awk '{s += $1} END {print s + 0}')
echo "screenshots: tests/screenshots/"
echo "all: ${passed:-0} passed, ${failed:-0} failed"
