#!/usr/bin/env python3
"""PyTorch's side of `lmlab bench attention`: causal attention forward + backward at the same
shapes, timed the same way (one untimed pass, then `--reps` passes, mean seconds per pass; the
peak memory beyond the inputs from torch.cuda.max_memory_allocated).

Kinds: `sdpa` — torch.nn.functional.scaled_dot_product_attention(is_causal=True) in f32 (PyTorch
picks its memory-efficient kernel: FlashAttention proper needs fp16/bf16); `sdpa_flash_bf16` —
the flash backend forced, in bf16 (the fast path PyTorch users get); `decomposed` — softmax(QKᵀ/√d
+ mask)·V in f32, lmlab's reference in PyTorch.

    python tests/bench/torch_attention.py --batch 2 --heads 4 --head 64 --lengths 1024,4096 --device cuda
prints one JSON object: {"torch": version, "device": …, "rows": [{"kind", "t", "seconds", "peak_bytes"}]}.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def decomposed(q, k, v):
    t = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    return torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v


def sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def sdpa_flash(q, k, v):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


KINDS = {"sdpa": (sdpa, torch.float32), "sdpa_flash_bf16": (sdpa_flash, torch.bfloat16), "decomposed": (decomposed, torch.float32)}


def measure(kind, shape, reps, device):
    fn, dtype = KINDS[kind]
    g = torch.Generator(device=device).manual_seed(11)
    draw = lambda: torch.randn(shape, generator=g, device=device, dtype=dtype)
    q, k, v, d_out = draw().requires_grad_(), draw().requires_grad_(), draw().requires_grad_(), draw()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def once():
        q.grad = k.grad = v.grad = None
        fn(q, k, v).backward(d_out)

    once()
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    start = time.perf_counter()
    for _ in range(reps):
        once()
    sync()
    seconds = (time.perf_counter() - start) / reps
    peak = torch.cuda.max_memory_allocated() - base if device.startswith("cuda") else None
    return {"kind": kind, "t": shape[2], "seconds": seconds, "peak_bytes": peak, "dtype": str(dtype).removeprefix("torch.")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head", type=int, default=64)
    p.add_argument("--lengths", default="128,256,512,1024,2048,4096,8192")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--kinds", default="sdpa,sdpa_flash_bf16,decomposed")
    a = p.parse_args()
    rows, errors = [], []
    for kind in a.kinds.split(","):
        if kind == "sdpa_flash_bf16" and not a.device.startswith("cuda"):
            continue
        for t in [int(x) for x in a.lengths.split(",")]:
            try:
                rows.append(measure(kind, (a.batch, a.heads, t, a.head), a.reps, a.device))
            except (RuntimeError, torch.cuda.OutOfMemoryError) as e:  # out of memory, or no kernel for this shape
                errors.append({"kind": kind, "t": t, "error": str(e).splitlines()[0][:300]})
                if a.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                break
    name = torch.cuda.get_device_name() if a.device.startswith("cuda") else "cpu"
    print(json.dumps({"torch": torch.__version__, "device": name, "batch": a.batch, "heads": a.heads, "head": a.head,
                      "rows": rows, "errors": errors}))


if __name__ == "__main__":
    main()
