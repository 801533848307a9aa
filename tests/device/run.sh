#!/usr/bin/env bash
# The device check: everything a task lent the GPU machine runs, in one call (README.md beside this).
#
#   bash tests/device/run.sh                      # on the GPU machine: CUDA, every part, ≤ 8 min
#   bash tests/device/run.sh --device cpu         # the same parts sized for a CPU (minutes)
#   bash tests/device/run.sh --device cpu --quick --no-torch   # the test command's check (seconds)
#
# Options: --lmlab BIN (default: device-bin/lmlab, unpacked from device-bin/lmlab.xz when only that
# is there, else the newest build under target/), --out DIR (default: $OUT, else a temp dir),
# --no-torch (lmlab's side only), --quick (tiny sizes).
#
# Writes DIR/results.json (every measurement) and DIR/results.md (the tables to commit under
# tests/device/results/). Prints as it goes; a failing part is recorded and the rest still runs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

DEVICE=cuda
QUICK=0
TORCH=1
LMLAB=""
OUT_DIR=${OUT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --no-torch) TORCH=0; shift ;;
    --lmlab) LMLAB=$2; shift 2 ;;
    --out) OUT_DIR=$2; shift 2 ;;
    *) echo "unknown option $1 (see the top of $0)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu|wgpu) ;; *) echo "--device must be cuda, cpu or wgpu, not '$DEVICE'" >&2; exit 2 ;; esac
[ -n "$OUT_DIR" ] || OUT_DIR=$(mktemp -d)
mkdir -p "$OUT_DIR"
LINES=$OUT_DIR/lines.jsonl
: >"$LINES"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "$LMLAB" ]; then
  if [ ! -x device-bin/lmlab ] && [ -f device-bin/lmlab.xz ]; then
    xz -dkc device-bin/lmlab.xz >device-bin/lmlab && chmod +x device-bin/lmlab
  fi
  LMLAB=device-bin/lmlab
  [ -x "$LMLAB" ] || LMLAB=$(ls -t target/*/lmlab "${CARGO_TARGET_DIR:-target}"/*/lmlab 2>/dev/null | head -1)
fi
if [ -z "$LMLAB" ] || [ ! -x "$LMLAB" ]; then
  echo "no lmlab binary: build one (cargo build -p native --release) or pass --lmlab BIN" >&2
  exit 2
fi
PYTHON=${PYTHON:-python3}
if [ "$TORCH" = 1 ] && ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "note: $PYTHON has no torch; running lmlab's side only (set PYTHON to a python with torch)"
  TORCH=0
fi

# Sizes: the GPU run fills ≤ 8 minutes of an H200; the CPU run a few minutes of 2 cores; --quick
# seconds (the test command runs it so this script cannot rot).
if [ "$QUICK" = 1 ]; then
  PRESETS=(tiny); BATCH=(4); STEPS=2; WARMUP=1
  ATTN=(tiny 4 512); MOE_BATCH=4
  RACE=(tiny 4 20 5 1024)          # preset, batch, steps, eval every, vocabulary
  ATTN_SHAPE=(1 2 16); ATTN_T=64,130  # batch, heads, head size; lengths
  LONG=(nano 2 256)                   # preset, batch, context
elif [ "$DEVICE" = cpu ]; then
  PRESETS=(tiny cs336-tinystories); BATCH=(16 4); STEPS=5; WARMUP=2
  ATTN=(tiny 4 1024); MOE_BATCH=16
  RACE=(tiny 16 200 20 1024)
  ATTN_SHAPE=(2 4 64); ATTN_T=128,256,512,1024
  LONG=(tiny 4 1024)
else
  PRESETS=(cs336-tinystories gpt2-small); BATCH=(64 16); STEPS=20; WARMUP=5
  ATTN=(cs336-tinystories 8 2048); MOE_BATCH=64
  RACE=(cs336-tinystories 32 400 20 4096)
  ATTN_SHAPE=(8 16 64); ATTN_T=128,256,512,1024,2048,4096,8192
  LONG=(gpt2-small 8 4096)
fi

record() { # kind, JSON line(s) on stdin → one tagged line in lines.jsonl
  "$PYTHON" -c 'import json,sys; kind=sys.argv[1]; [print(json.dumps({"kind": kind, **json.loads(l)})) for l in sys.stdin if l.strip().startswith("{")][-1:]' "$1" >>"$LINES"
}
fail() { # kind, what, message
  "$PYTHON" -c 'import json,sys; print(json.dumps({"kind": sys.argv[1], "what": sys.argv[2], "error": sys.argv[3][-2000:]}))' "$@" >>"$LINES"
  echo "FAILED: $2" >&2
}
part() { echo; echo "==> [$SECONDS s] $*"; }

part "machine"
if command -v nvidia-smi >/dev/null; then nvidia-smi || true; else echo "no nvidia-smi"; fi
"$LMLAB" --version 2>/dev/null || true
echo "git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), device $DEVICE, quick $QUICK, torch $TORCH"

for i in "${!PRESETS[@]}"; do
  preset=${PRESETS[$i]} batch=${BATCH[$i]}
  for precision in fp32 bf16; do
    [ "$DEVICE" = wgpu ] && [ "$precision" = bf16 ] && continue
    part "lmlab bench train --preset $preset --precision $precision (batch $batch)"
    if "$LMLAB" bench train --preset "$preset" --batch "$batch" --precision "$precision" --device "$DEVICE" \
      --steps "$STEPS" --warmup "$WARMUP" --json >"$WORK/bench.json" 2>"$WORK/err"; then
      cat "$WORK/bench.json"; record lmlab_bench <"$WORK/bench.json"
      [ "$precision" = fp32 ] && cp "$WORK/bench.json" "$WORK/config-$preset.json"
    else
      cat "$WORK/err" >&2; fail lmlab_bench "$preset $precision" "$(cat "$WORK/err")"
    fi
  done
  if [ "$TORCH" = 1 ] && [ -f "$WORK/config-$preset.json" ]; then
    part "PyTorch reference: $preset (eager fp32, bf16 autocast + SDPA, + torch.compile)"
    modes=eager,bf16,compile
    [ "$DEVICE" = cpu ] && modes=eager,bf16
    if "$PYTHON" tests/bench/torch_reference.py bench --config "$WORK/config-$preset.json" --device "${DEVICE/wgpu/cpu}" \
      --modes "$modes" --steps "$STEPS" --warmup "$WARMUP" >"$WORK/torch.json" 2>"$WORK/err"; then
      cat "$WORK/torch.json"; record torch_bench <"$WORK/torch.json"
    else
      cat "$WORK/err" >&2; fail torch_bench "$preset" "$(cat "$WORK/err")"
    fi
  fi
done

part "attention-heavy: ${ATTN[0]} at context ${ATTN[2]} (batch ${ATTN[1]})"
if "$LMLAB" bench train --preset "${ATTN[0]}" --batch "${ATTN[1]}" --context "${ATTN[2]}" --precision fp32 \
  --device "$DEVICE" --steps "$STEPS" --warmup "$WARMUP" --json >"$WORK/attn.json" 2>"$WORK/err"; then
  cat "$WORK/attn.json"; record lmlab_attention <"$WORK/attn.json"
else
  cat "$WORK/err" >&2; fail lmlab_attention "${ATTN[0]} context ${ATTN[2]}" "$(cat "$WORK/err")"
fi

# The attention kernels: fused (FlashAttention-2, lmlab's CubeCL kernels) vs the decomposed form,
# forward + backward time and peak memory against T; PyTorch's SDPA at the same shapes beside it;
# then a whole model at a long context with each (the decomposed form may run out of memory).
part "attention kernels: lmlab bench attention (T = ${ATTN_T})"
if "$LMLAB" bench attention --device "$DEVICE" --batch "${ATTN_SHAPE[0]}" --heads "${ATTN_SHAPE[1]}" \
  --head "${ATTN_SHAPE[2]}" --lengths "$ATTN_T" --json >"$WORK/kernels.json" 2>"$WORK/err"; then
  cat "$WORK/kernels.json"; record lmlab_attention_kernels <"$WORK/kernels.json"
else
  cat "$WORK/err" >&2; fail lmlab_attention_kernels "T = $ATTN_T" "$(cat "$WORK/err")"
fi
if [ "$TORCH" = 1 ]; then
  part "PyTorch attention: SDPA (f32, flash bf16) and decomposed at the same shapes"
  if "$PYTHON" tests/bench/torch_attention.py --device "${DEVICE/wgpu/cpu}" --batch "${ATTN_SHAPE[0]}" \
    --heads "${ATTN_SHAPE[1]}" --head "${ATTN_SHAPE[2]}" --lengths "$ATTN_T" >"$WORK/torch-attn.json" 2>"$WORK/err"; then
    cat "$WORK/torch-attn.json"; record torch_attention <"$WORK/torch-attn.json"
  else
    cat "$WORK/err" >&2; fail torch_attention "T = $ATTN_T" "$(cat "$WORK/err")"
  fi
fi
for kernel in fused reference; do
  part "long context: ${LONG[0]} at context ${LONG[2]} (batch ${LONG[1]}), --attention $kernel"
  if "$LMLAB" bench train --preset "${LONG[0]}" --batch "${LONG[1]}" --context "${LONG[2]}" --attention "$kernel" \
    --device "$DEVICE" --steps "$STEPS" --warmup "$WARMUP" --json >"$WORK/long.json" 2>"$WORK/err"; then
    cat "$WORK/long.json"; record lmlab_long_context <"$WORK/long.json"
  else
    cat "$WORK/err" >&2; fail lmlab_long_context "${LONG[0]} context ${LONG[2]} $kernel" "$(cat "$WORK/err")"
  fi
done

part "mixture of experts: tiny-moe vs its dense twin (batch $MOE_BATCH)"
if "$LMLAB" bench moe --preset tiny-moe --batch "$MOE_BATCH" --device "$DEVICE" --steps "$STEPS" \
  --warmup "$WARMUP" --json >"$WORK/moe.json" 2>"$WORK/err"; then
  cat "$WORK/moe.json"; record lmlab_moe <"$WORK/moe.json"
else
  cat "$WORK/err" >&2; fail lmlab_moe tiny-moe "$(cat "$WORK/err")"
fi

# The race: the same model, data, hyper-parameters and token budget, trained by lmlab and by the
# PyTorch reference (on CUDA both in bf16: lmlab's mixed precision, PyTorch's autocast + SDPA);
# wall time to a fixed validation loss.
race_preset=${RACE[0]} race_batch=${RACE[1]} race_steps=${RACE[2]} race_eval=${RACE[3]} race_vocab=${RACE[4]}
# bf16 where it is the fast path (CUDA's tensor cores, PyTorch's autocast); fp32 elsewhere (a
# CPU emulates bf16 with conversions, and WGSL has none).
race_precision=fp32 race_mode=eager
[ "$DEVICE" = cuda ] && race_precision=bf16 race_mode=bf16
part "the race: $race_preset, batch $race_batch, $race_steps steps, on the bundled Shakespeare"
corpus=data/tinyshakespeare.txt
cut=$(( $(wc -c <"$corpus") * 9 / 10 ))
head -c "$cut" "$corpus" >"$WORK/train.txt"
tail -c +"$((cut + 1))" "$corpus" >"$WORK/val.txt"
race_ok=1
"$LMLAB" bpe train --input "$WORK/train.txt" --vocab-size "$race_vocab" --special '<|endoftext|>' \
  --out "$WORK/tok" >/dev/null 2>"$WORK/err" || race_ok=0
for split in train val; do
  [ "$race_ok" = 1 ] || break
  "$LMLAB" encode --tokenizer-dir "$WORK/tok" --special '<|endoftext|>' --input "$WORK/$split.txt" \
    --out "$WORK/$split.bin" >/dev/null 2>"$WORK/err" || race_ok=0
done
warmup_steps=$(( race_steps / 20 > 0 ? race_steps / 20 : 1 ))
if [ "$race_ok" = 1 ] && "$LMLAB" train --preset "$race_preset" --data "$WORK/train.bin" --val "$WORK/val.bin" \
  --tokenizer-dir "$WORK/tok" --batch "$race_batch" --steps "$race_steps" --eval-every "$race_eval" \
  --warmup "$warmup_steps" --lr 3e-3 --checkpoint-every "$race_steps" --precision "$race_precision" \
  --device "$DEVICE" --out "$WORK/run" --json >"$WORK/race-lmlab.jsonl" 2>"$WORK/err"; then
  "$PYTHON" - "$WORK/race-lmlab.jsonl" "$race_precision" >"$WORK/race-lmlab.json" <<'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
setup = next(e for e in events if e["event"] == "setup")
curve = [{"step": e["step"], "val_loss": e["val_loss"], "seconds": e["seconds"]} for e in events if e["event"] == "eval"]
end = next(e for e in events if e["event"] == "end")
print(json.dumps({"precision": setup.get("precision", sys.argv[2]), "params": setup["params"], "batch": setup["train"]["batch_size"],
                  "model": setup["model"], "curve": curve, "seconds": end["seconds"]}))
EOF
  record lmlab_race <"$WORK/race-lmlab.json"
  tail -n 3 "$WORK/race-lmlab.jsonl"
else
  cat "$WORK/err" >&2; fail lmlab_race "$race_preset" "$(cat "$WORK/err")"; race_ok=0
fi
if [ "$race_ok" = 1 ] && [ "$TORCH" = 1 ]; then
  # The target, fixed before PyTorch runs: lmlab's validation loss at 3/4 of the budget, rounded
  # up to 0.05 — a loss both should reach well before the end.
  target=$("$PYTHON" -c '
import json, math, sys
curve = json.loads(open(sys.argv[1]).read())["curve"]
at = [c for c in curve if c["step"] <= 0.75 * int(sys.argv[2])][-1]
print(math.ceil(at["val_loss"] * 20) / 20)' "$WORK/race-lmlab.json" "$race_steps")
  # The setup line gives the PyTorch side the same model (its "model", "params"; batch from the flag).
  "$PYTHON" -c 'import json,sys; e=json.loads(open(sys.argv[1]).read()); print(json.dumps({"model": e["model"], "params": e["params"], "batch": e["batch"]}))' \
    "$WORK/race-lmlab.json" >"$WORK/race-config.json"
  echo "target validation loss: $target"
  if "$PYTHON" tests/bench/torch_reference.py race --config "$WORK/race-config.json" --device "${DEVICE/wgpu/cpu}" \
    --modes "$race_mode" --train "$WORK/train.bin" --val "$WORK/val.bin" --batch "$race_batch" --steps "$race_steps" \
    --eval-every "$race_eval" --lr 3e-3 --warmup "$warmup_steps" --target-loss "$target" >"$WORK/race-torch.json" 2>"$WORK/err"; then
    record torch_race <"$WORK/race-torch.json"
    "$PYTHON" -c 'import json,sys; print(json.dumps({"target_loss": float(sys.argv[1])}))' "$target" | record race_target
  else
    cat "$WORK/err" >&2; fail torch_race "$race_preset" "$(cat "$WORK/err")"
  fi
fi

part "report"
"$PYTHON" tests/device/report.py "$LINES" "$OUT_DIR" --device "$DEVICE" --revision "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "done in $SECONDS s: $OUT_DIR/results.json, $OUT_DIR/results.md"
