#!/usr/bin/env python3
"""Turns run.sh's tagged JSON lines into results.json and the Markdown tables committed under
tests/device/results/: lmlab's training speed beside PyTorch's (same model, same device, same run)
as ratios, the attention-heavy and mixture-of-experts lines, and the race to a validation loss."""
import argparse
import datetime
import json
import os


def fmt(v, digits=0):
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return None if not a or not b else a / b


def reached(curve, target):
    return next((c for c in curve if c["val_loss"] <= target), None)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lines")
    p.add_argument("out")
    p.add_argument("--device", default="?")
    p.add_argument("--revision", default="?")
    a = p.parse_args()
    rows = [json.loads(l) for l in open(a.lines) if l.strip()]
    by = lambda kind: [r for r in rows if r["kind"] == kind]
    date = datetime.date.today().isoformat()
    results = {"date": date, "revision": a.revision, "device": a.device, "rows": rows}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)

    benches = by("lmlab_bench")
    device_name = next((b.get("device_name") for b in benches), a.device)
    md = [f"# Device check, {date}, revision {a.revision}", "", f"Device: {device_name} (`--device {a.device}`).", ""]
    torch = {t["preset"]: t for t in by("torch_bench")}
    if benches:
        md += [
            "## Training throughput (random tokens, forward + backward + AdamW; tokens/s)",
            "",
            "| preset | precision | batch × context | lmlab tok/s | lmlab MFU | PyTorch eager fp32 | PyTorch bf16 + SDPA | + torch.compile | lmlab / PyTorch (same precision) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for b in benches:
            t = torch.get(b["preset"], {}).get("results", {})
            tps = lambda m: t.get(m, {}).get("tokens_per_s")
            peer = tps("eager") if b["precision"] == "fp32" else tps("bf16")
            mfu = f"{100 * b['mfu']:.1f}%" if b.get("mfu") is not None else "—"
            md.append(
                f"| {b['preset']} | {b['precision']} | {b['batch']} × {b['context']} | {fmt(b['tokens_per_s'])} | {mfu} "
                f"| {fmt(tps('eager'))} | {fmt(tps('bf16'))} | {fmt(tps('compile'))} | {fmt(ratio(b['tokens_per_s'], peer), 2)}× |"
            )
        if torch:
            version = next(iter(torch.values()))["torch"]
            md += ["", f"PyTorch {version}; the same shapes, initialization scale, AdamW and clipping (tests/bench/torch_reference.py)."]
        md.append("")
    for r in by("lmlab_attention"):
        md += ["## Attention-heavy", "", f"{r['preset']} at context {r['context']}, batch {r['batch']}, fp32: "
               f"{fmt(r['tokens_per_s'])} tokens/s, {fmt(r['ms_per_step'], 1)} ms/step.", ""]
    for r in by("lmlab_attention_kernels"):
        peer = {}
        for t in by("torch_attention"):
            for row in t["rows"]:
                peer[(row["kind"], row["t"])] = row
        md += ["## Attention kernels (causal, forward + backward)", "",
               f"batch {r['batch']} × {r['heads']} heads of {r['head']}; lmlab in f32; peak = memory beyond the inputs "
               f"({'measured' if r['peak_measured'] else 'model'}).", "",
               "| T | lmlab fused ms | lmlab reference ms | fused / reference speed | PyTorch SDPA f32 ms | SDPA flash bf16 ms | PyTorch decomposed ms "
               "| fused vs SDPA f32 | fused peak | reference peak | SDPA f32 peak |",
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        ours = {(x["kind"], x["t"]): x for x in r["rows"]}
        for t in sorted({x["t"] for x in r["rows"]}):
            f, ref = ours.get(("fused", t)), ours.get(("reference", t))
            sd, fl, dc = peer.get(("sdpa", t)), peer.get(("sdpa_flash_bf16", t)), peer.get(("decomposed", t))
            ms = lambda x: fmt(x and 1e3 * x["seconds"], 2)
            mib = lambda x: fmt(x and x.get("peak_bytes") and x["peak_bytes"] / 2**20, 1) + (" MiB" if x and x.get("peak_bytes") else "")
            md.append(f"| {t} | {ms(f)} | {ms(ref)} | {fmt(ratio(ref and ref['seconds'], f and f['seconds']), 2)}× | {ms(sd)} | {ms(fl)} | {ms(dc)} "
                      f"| {fmt(ratio(sd and sd['seconds'], f and f['seconds']), 2)}× | {mib(f)} | {mib(ref)} | {mib(sd)} |")
        md += ["", "Goals: fused ≥ 3× the decomposed form at T = 1024; ≥ 0.5× PyTorch's SDPA at the same precision.", ""]
    long = by("lmlab_long_context")
    if long:
        md += ["## Long context: the whole model with each attention", ""]
        for r in long:
            md.append(f"- {r['preset']} at context {r['context']}, batch {r['batch']}, attention {r.get('attention', '?')}: "
                      f"{fmt(r['tokens_per_s'])} tokens/s, {fmt(r['ms_per_step'], 1)} ms/step")
        md.append("")
    for r in by("lmlab_moe"):
        md += ["## Mixture of experts", "", f"{r['moe']['preset']} vs {r['dense']['preset']} (batch {r['batch']}): "
               f"{fmt(r['moe']['ms_per_step'], 1)} vs {fmt(r['dense']['ms_per_step'], 1)} ms/step, "
               f"**{r['moe_over_dense_step_time']:.2f}×** the dense twin's step time.", ""]
    lm, pt, tg = by("lmlab_race"), by("torch_race"), by("race_target")
    if lm:
        lm = lm[0]
        md += ["## The race to a validation loss", ""]
        last = lm["curve"][-1]
        md.append(f"lmlab ({lm['precision']}): {lm['params']:,} parameters, batch {lm['batch']}, "
                  f"validation loss {lm['curve'][0]['val_loss']:.3f} → {last['val_loss']:.3f} in {last['step']} steps, {lm['seconds']:.1f} s.")
        if pt and tg:
            target, pt = tg[0]["target_loss"], pt[0]
            ours, theirs = reached(lm["curve"], target), pt["reached"]
            md += ["", f"Target validation loss {target} (lmlab's loss at 3/4 of the budget, rounded up, fixed before PyTorch ran).", "",
                   "| | steps to target | seconds to target | total seconds |", "|---|---:|---:|---:|"]
            for name, r, total in [(f"lmlab {lm['precision']}", ours, lm["seconds"]), (f"PyTorch {pt['mode']} ({pt['torch']})", theirs, pt["seconds"])]:
                md.append(f"| {name} | {r['step'] if r else 'not reached'} | {fmt(r and r['seconds'], 1)} | {total:.1f} |")
            if ours and theirs:
                md += ["", f"lmlab's wall time to the target: **{ours['seconds'] / theirs['seconds']:.2f}×** PyTorch's."]
        md.append("")
    failures = [r for r in rows if "error" in r]
    if failures:
        md += ["## Failed parts", ""] + [f"- {r['kind']} ({r['what']}): `{r['error'].strip().splitlines()[-1] if r['error'].strip() else '?'}`" for r in failures] + [""]
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
