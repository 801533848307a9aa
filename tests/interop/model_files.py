#!/usr/bin/env python3
"""Interop: lmlab's weights in and out of the official `safetensors` library, checked by an
independent numpy forward pass (tests/fixtures/lm/generate_reference.py).

1. `lmlab train` a small model (CPU, a few steps), `lmlab convert` it to bare safetensors;
   `safetensors.numpy.load_file` reads it: CS336's keys, torch's shapes, float32.
2. Greedy decoding with the numpy reference on those weights gives the same tokens as
   `lmlab sample --temperature 0`.
3. The other way: numpy changes the weights and `safetensors.numpy.save_file` writes them (as a
   PyTorch `state_dict` would be); `lmlab convert` imports them and samples what numpy predicts.

Usage: model_files.py LMLAB_BIN WORK_DIR (run by tests/run-all.sh in a venv with safetensors + numpy).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
lmlab, work = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("ref", os.path.join(ROOT, "tests/fixtures/lm/generate_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

config = dict(vocab_size=300, context_length=32, d_model=32, num_layers=2, num_heads=2, d_ff=64, rope_theta=10000.0)
with open(os.path.join(ROOT, "data/tinyshakespeare.txt"), encoding="utf-8") as f:
    text = f.read()[:40_000]
data = os.path.join(work, "small.txt")
open(data, "w", encoding="utf-8").write(text)
model_json = os.path.join(work, "model.json")
json.dump(config, open(model_json, "w"))
run_dir = os.path.join(work, "run")


def lmlab_run(*args):
    r = subprocess.run([lmlab, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"lmlab {' '.join(args)} failed: {r.stderr}")
    return r.stdout


lmlab_run("train", "--config", model_json, "--data", data, "--vocab-size", "300", "--steps", "6", "--batch", "4",
          "--lr", "0.01", "--out", run_dir, "--device", "cpu", "--json")
weights_path = os.path.join(work, "weights.safetensors")
lmlab_run("convert", "--from", run_dir, "--to", weights_path)
w = load_file(weights_path)
v, d, f, L = config["vocab_size"], config["d_model"], config["d_ff"], config["num_layers"]
expected = {"token_embeddings.weight": (v, d), "ln_final.weight": (d,), "lm_head.weight": (v, d)}
for i in range(L):
    for p in ["q_proj", "k_proj", "v_proj", "output_proj"]:
        expected[f"layers.{i}.attn.{p}.weight"] = (d, d)
    expected.update({f"layers.{i}.ln1.weight": (d,), f"layers.{i}.ln2.weight": (d,),
                     f"layers.{i}.ffn.w1.weight": (f, d), f"layers.{i}.ffn.w2.weight": (d, f),
                     f"layers.{i}.ffn.w3.weight": (f, d)})
got = {k: tuple(a.shape) for k, a in w.items()}
if got != expected:
    sys.exit(f"keys/shapes differ from CS336's: {sorted(set(got.items()) ^ set(expected.items()))}")
assert all(a.dtype == np.float32 for a in w.values())
print(f"safetensors.numpy reads lmlab's weights: {len(w)} tensors with CS336's keys and torch's shapes")

prompt = "KING"
enc = subprocess.run([lmlab, "encode", "--tokenizer-dir", run_dir, "--special", "<|endoftext|>"], input=prompt, capture_output=True, text=True, check=True)
prompt_ids = [int(t) for t in enc.stdout.split()]


def numpy_greedy(weights, n):
    ids = list(prompt_ids)
    for _ in range(n):
        logits = ref.forward(weights, np.array([ids]), config)[0, -1]
        ids.append(int(np.argmax(logits)))
    return ids[len(prompt_ids):]


def lmlab_greedy(checkpoint, n):
    out = lmlab_run("sample", "--checkpoint", checkpoint, "--prompt", prompt, "--temperature", "0", "--max-tokens", str(n), "--device", "cpu", "--json")
    return json.loads(out)["tokens"]


a, b = numpy_greedy(w, 10), lmlab_greedy(run_dir, 10)
if a != b:
    sys.exit(f"greedy tokens differ: numpy {a}, lmlab {b}")
print(f"numpy reference and lmlab pick the same 10 greedy tokens: {a}")

rng = np.random.default_rng(1)
changed = {k: (a + 0.3 * rng.standard_normal(a.shape)).astype(np.float32) for k, a in w.items()}
py_path = os.path.join(work, "from_numpy.safetensors")
save_file(changed, py_path, metadata={"format": "pt"})
imported = os.path.join(work, "imported")
lmlab_run("convert", "--from", py_path, "--to", imported, "--heads", str(config["num_heads"]),
          "--context", str(config["context_length"]), "--tokenizer-dir", run_dir)
a, b = numpy_greedy(changed, 10), lmlab_greedy(imported, 10)
if a != b:
    sys.exit(f"after import, greedy tokens differ: numpy {a}, lmlab {b}")
print(f"weights written by safetensors.numpy import into lmlab and decode identically: {a}")
