#!/usr/bin/env python3
"""The PyTorch reference of lmlab's model: the CS336 transformer, timed like `lmlab bench train`
and trained like `lmlab train`, so the two can be compared on the same machine in the same run.

The model is CS336 assignment 1's (written here from the handout, not from lmlab): token
embedding; pre-norm blocks of RMSNorm (eps 1e-5), causal multi-head attention with RoPE on
adjacent pairs (x[2k], x[2k+1]) and SwiGLU; final RMSNorm; untied LM head; no biases. The same
initialization scale (truncated normals at +-3 sigma: sigma = sqrt(2 / (d_in + d_out)) for linear
layers, 1 for the embedding, gains 1), the same AdamW (betas 0.9 / 0.95, eps 1e-8, weight decay
0.1 on every parameter, decoupled) and the same global gradient clipping (norm 1.0).

Its shape comes from lmlab itself: `--config` takes the JSON line `lmlab bench train --json`
printed (its "model", "batch", "params" and "first_loss"), so nothing here restates a preset.
Before timing it asserts the same parameter count and an initial loss within 0.05 of lmlab's
(both about ln V on random tokens).

Modes (`--modes`, comma-separated):
  eager      fp32, attention written out (matmul, mask, softmax, matmul), as lmlab computes it;
  bf16       bf16 autocast + F.scaled_dot_product_attention (flash / memory-efficient kernels);
  compile    bf16 + SDPA + torch.compile.
On CUDA, f32 matmuls may use TF32 (`torch.backends.cuda.matmul.allow_tf32 = True`), as burn's do.

Benchmark: `torch_reference.py bench --config lmlab.json --device cpu|cuda --steps N --warmup N`
prints one JSON line: {"torch": version, "device": ..., "results": {mode: {tokens_per_s, ...}}}.

Race: `torch_reference.py race --config lmlab.json --train train.bin --val val.bin ...` trains on
lmlab's token files (uint16/uint32 + .json sidecar) with lmlab's schedule (linear warm-up, cosine
to max_lr / 10), random windows, validation on fixed windows every --eval-every steps, and prints
one JSON line with the wall time at which the validation loss first reached --target-loss.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def trunc_normal(shape, std):
    t = torch.empty(shape)
    nn.init.trunc_normal_(t, mean=0.0, std=std, a=-3 * std, b=3 * std)
    return nn.Parameter(t)


class Linear(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.weight = trunc_normal((d_out, d_in), math.sqrt(2.0 / (d_in + d_out)))

    def forward(self, x):
        return x @ self.weight.t()


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dtype = x.dtype
        x = x.float()  # autocast keeps norms in f32, as lmlab does
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return (x * self.weight).to(dtype)


def rope_tables(seq, d_k, theta, device):
    k = torch.arange(d_k // 2, dtype=torch.float64, device=device)
    angle = torch.arange(seq, dtype=torch.float64, device=device)[:, None] / theta ** (2 * k / d_k)
    return angle.cos().float(), angle.sin().float()  # [seq, d_k/2]


def rope(x, cos, sin):
    even, odd = x[..., 0::2].float(), x[..., 1::2].float()
    out = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return out.flatten(-2).to(x.dtype)


class Block(nn.Module):
    def __init__(self, d, heads, d_ff, sdpa):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.ln1, self.ln2 = RMSNorm(d), RMSNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.output_proj = (Linear(d, d) for _ in range(4))
        self.w1, self.w2, self.w3 = Linear(d, d_ff), Linear(d_ff, d), Linear(d, d_ff)

    def attention(self, x, cos, sin):
        b, s, d = x.shape
        split = lambda t: t.view(b, s, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
            mask = torch.ones(s, s, dtype=torch.bool, device=x.device).tril()
            y = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        return self.output_proj(y.transpose(1, 2).reshape(b, s, d))

    def forward(self, x, cos, sin):
        x = x + self.attention(self.ln1(x), cos, sin)
        h = self.ln2(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class TransformerLM(nn.Module):
    def __init__(self, c, sdpa):
        super().__init__()
        d = c["d_model"]
        self.token_embeddings = nn.Embedding(c["vocab_size"], d)
        nn.init.trunc_normal_(self.token_embeddings.weight, std=1.0, a=-3.0, b=3.0)
        self.layers = nn.ModuleList(Block(d, c["num_heads"], c["d_ff"], sdpa) for _ in range(c["num_layers"]))
        self.ln_final = RMSNorm(d)
        self.lm_head = Linear(d, c["vocab_size"])
        self.d_k, self.theta = d // c["num_heads"], c.get("rope_theta", 10000.0)

    def forward(self, ids):
        cos, sin = rope_tables(ids.shape[1], self.d_k, self.theta, ids.device)
        x = self.token_embeddings(ids)
        for block in self.layers:
            x = block(x, cos, sin)
        return self.lm_head(self.ln_final(x))


class Run:
    """A model in one mode with its optimizer and step function."""

    def __init__(self, config, mode, device, seed):
        torch.manual_seed(seed)
        self.device, self.mode = device, mode
        self.model = TransformerLM(config, sdpa=mode != "eager").to(device)
        fused = {"fused": True} if device.type == "cuda" else {}
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, **fused
        )
        self.forward = torch.compile(self.model) if mode == "compile" else self.model
        self.autocast = mode != "eager"

    def params(self):
        return sum(p.numel() for p in self.model.parameters())

    def loss(self, x, y):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.forward(x)
        return F.cross_entropy(logits.float().flatten(0, 1), y.flatten())

    def step(self, x, y, lr, max_norm=1.0):
        for g in self.opt.param_groups:
            g["lr"] = lr
        loss = self.loss(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
        self.opt.step()
        return loss.detach()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def read_config(path):
    with open(path) as f:
        line = [l for l in f if l.strip().startswith("{")][-1]
    return json.loads(line)


def check_against_lmlab(run, lmlab, x, y):
    model = lmlab["model"]
    params = run.params()
    if params != lmlab["params"]:
        sys.exit(f"parameter count {params} differs from lmlab's {lmlab['params']} for {model}")
    with torch.no_grad():
        first = float(run.loss(x, y))
    ln_v = math.log(model["vocab_size"])
    if "first_loss" in lmlab and abs(first - lmlab["first_loss"]) > 0.05:
        sys.exit(f"initial loss {first:.4f} differs from lmlab's {lmlab['first_loss']:.4f} (ln V = {ln_v:.4f})")
    return first


def bench(args, device):
    lmlab = read_config(args.config)
    model, batch = lmlab["model"], lmlab["batch"]
    if model.get("moe"):
        sys.exit("the PyTorch reference is the dense CS336 model; this config is a mixture of experts")
    ctx, vocab = model["context_length"], model["vocab_size"]
    flops_per_token = lmlab["tflops"] * 1e12 / lmlab["tokens_per_s"]
    results = {}
    for mode in args.modes.split(","):
        if mode == "compile" and device.type == "cpu" and not args.compile_on_cpu:
            results[mode] = {"skipped": "torch.compile on the CPU needs a C++ toolchain and minutes; pass --compile-on-cpu"}
            continue
        run = Run(model, mode, device, args.seed)
        g = torch.Generator().manual_seed(args.seed)
        x = torch.randint(0, vocab, (batch, ctx), generator=g).to(device)
        y = torch.randint(0, vocab, (batch, ctx), generator=g).to(device)
        first = check_against_lmlab(run, lmlab, x, y)
        started = time.perf_counter()
        for _ in range(args.warmup):
            run.step(x, y, 1e-3)
        sync(device)
        warmup_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(args.steps):
            loss = run.step(x, y, 1e-3)
        float(loss)  # one read at the end, as lmlab's bench reads its losses after the last step
        sync(device)
        seconds = time.perf_counter() - started
        tps = batch * ctx * args.steps / seconds
        results[mode] = {
            "ms_per_step": 1e3 * seconds / args.steps,
            "tokens_per_s": tps,
            "warmup_seconds": warmup_s,
            "initial_loss": first,
            "tflops": tps * flops_per_token / 1e12,
        }
        del run
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(json.dumps({
        "torch": torch.__version__,
        "device": device.type,
        "device_name": torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
        "preset": lmlab.get("preset"),
        "params": lmlab["params"],
        "batch": batch,
        "context": ctx,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "results": results,
    }))


def token_file(path):
    with open(path + ".json") as f:
        info = json.load(f)
    return np.memmap(path, dtype={"uint16": np.uint16, "uint32": np.uint32}[info["dtype"]], mode="r")


def windows(tokens, starts, ctx, device):
    x = np.stack([tokens[s : s + ctx] for s in starts]).astype(np.int64)
    y = np.stack([tokens[s + 1 : s + ctx + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


def cosine_lr(t, max_lr, min_lr, warmup, total):
    if t < warmup:
        return max_lr * t / warmup
    if t > total:
        return min_lr
    progress = (t - warmup) / max(total - warmup, 1)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (max_lr - min_lr)


def race(args, device):
    lmlab = read_config(args.config)
    model, batch, ctx = lmlab["model"], args.batch or lmlab["batch"], lmlab["model"]["context_length"]
    train, val = token_file(args.train), token_file(args.val)
    run = Run(model, args.modes.split(",")[0], device, args.seed)
    rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(0x7E57DA7A)
    val_batches = [windows(val, val_rng.integers(0, len(val) - ctx, batch), ctx, device) for _ in range(8)]
    check_against_lmlab(run, {"params": lmlab["params"], "model": model}, *val_batches[0])

    def evaluate():
        with torch.no_grad():
            return float(sum(run.loss(x, y) for x, y in val_batches)) / len(val_batches)

    curve, reached = [], None
    started = time.perf_counter()
    # Like lmlab's run: a validation before the first step, then every --eval-every steps.
    curve.append({"step": 0, "val_loss": evaluate(), "seconds": time.perf_counter() - started})
    for step in range(args.steps):
        x, y = windows(train, rng.integers(0, len(train) - ctx, batch), ctx, device)
        run.step(x, y, cosine_lr(step, args.lr, args.lr / 10, args.warmup, args.steps))
        done = step + 1
        if done % args.eval_every == 0 or done == args.steps:
            v = evaluate()
            sync(device)
            elapsed = time.perf_counter() - started
            curve.append({"step": done, "val_loss": v, "seconds": elapsed})
            if reached is None and v <= args.target_loss:
                reached = {"step": done, "seconds": elapsed, "val_loss": v}
    print(json.dumps({
        "torch": torch.__version__,
        "device": device.type,
        "mode": run.mode,
        "params": run.params(),
        "batch": batch,
        "context": ctx,
        "target_loss": args.target_loss,
        "reached": reached,
        "seconds": time.perf_counter() - started,
        "curve": curve,
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["bench", "race"])
    p.add_argument("--config", required=True, help="a file whose last JSON line is `lmlab bench train --json`'s")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--modes", default="eager,bf16,compile")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compile-on-cpu", action="store_true")
    p.add_argument("--train")
    p.add_argument("--val")
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--eval-every", type=int, default=20)
    p.add_argument("--target-loss", type=float)
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.what == "bench":
        bench(args, device)
    else:
        if not (args.train and args.val and args.target_loss is not None):
            sys.exit("race needs --train, --val and --target-loss")
        race(args, device)


if __name__ == "__main__":
    main()
