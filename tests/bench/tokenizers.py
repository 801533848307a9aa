#!/usr/bin/env python3
"""Tokenizer benchmark: lmlab vs HF `tokenizers` and `tiktoken`, same machine, same inputs, one run.

Run with `bash tests/bench/tokenizers.sh` (it makes the venv and builds the CLI). Prints a table and
writes target-independent JSON to $LMLAB_BENCH_OUT (default: tests/bench/results-tokenizers.json).

* BPE training: `lmlab bpe train` vs `tokenizers` BpeTrainer (byte-level pre-tokenizer, same vocab
  size and special token), on corpora of 1 MB, 10 MB and 100 MB+ made from the text on this machine.
  Both use all cores. Wall time of the training call (lmlab: its own report; HF: around `train`).
* Encoding: single-thread GPT-2 throughput, `lmlab bench tokenize` vs `tiktoken.get_encoding`-equivalent
  built from the bundled GPT-2 files (`encode_ordinary`) and HF `Tokenizer` from the same vocab/merges;
  ids must be identical.
* Peak memory (max RSS) of each run, each in its own process.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LMLAB = os.environ["LMLAB_BIN"]
WORK = os.environ.get("LMLAB_BENCH_WORK", "/tmp/lmlab-bench")
GPT2 = os.path.join(ROOT, "tests/fixtures/cs336/tokenizer")
SPECIAL = "<|endoftext|>"
os.makedirs(WORK, exist_ok=True)


def run_rss(cmd, env=None):
    """Runs a command in its own process; returns (stdout, wall seconds, peak RSS in MiB)."""
    # Peak RSS is the child's own VmHWM (getrusage would include the parent's pages from before exec),
    # sampled every 10 ms until it exits.
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        peak_kib = 0
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak_kib = max(peak_kib, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.01)
        if p.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode})")
        out.seek(0)
        return out.read().decode(), time.perf_counter() - start, peak_kib / 1024


def corpus_sources():
    """Text available on this machine: the bundled corpora, then Debian's docs."""
    paths = [os.path.join(ROOT, "tests/fixtures/cs336/bpe/corpus.en"), os.path.join(ROOT, "tests/fixtures/cs336/tokenizer/tinystories_sample.txt")]
    for shared in ("../shared/data/tinyshakespeare.txt",):
        p = os.path.join(ROOT, shared)
        if os.path.exists(p):
            paths.insert(0, p)
    for dirpath, _, files in os.walk("/usr/share/doc"):
        for f in files:
            if f in ("copyright", "README", "NEWS", "changelog") or f.endswith(".txt"):
                paths.append(os.path.join(dirpath, f))
    return paths


def make_corpus(size):
    path = os.path.join(WORK, f"corpus-{size // 1_000_000}MB.txt")
    if os.path.exists(path) and size * 0.99 <= os.path.getsize(path) <= size:
        return path
    chunks, total = [], 0
    for p in corpus_sources():
        try:
            with open(p, encoding="utf-8") as f:
                t = f.read()
        except (UnicodeDecodeError, OSError):
            continue
        chunks.append(t + "\n" + SPECIAL + "\n")
        total += len(chunks[-1].encode())
    base = "".join(chunks).encode()
    data = (base * (size // len(base) + 1))[:size]
    data = data[: data.rfind(b"\n") + 1]  # end on a line break (and a whole UTF-8 character)
    with open(path, "wb") as out:
        out.write(data)
    return path


HF_TRAIN = r'''
import sys, time
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
path, vocab = sys.argv[1], int(sys.argv[2])
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
t = time.perf_counter()
tok.train([path], trainer)
print(time.perf_counter() - t)
'''

ENCODE_TIKTOKEN = r'''
import sys, time, base64, json
import tiktoken
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
root, path = sys.argv[1], sys.argv[2]
merges = root + "/gpt2_merges.txt"
# tiktoken's loader expects the "#version" header line of vocab.bpe.
with open(merges) as f: body = f.read()
import tempfile, os
tmp = tempfile.NamedTemporaryFile("w", delete=False, suffix=".bpe"); tmp.write("#version: 0.2\n" + body); tmp.close()
ranks = data_gym_to_mergeable_bpe_ranks(tmp.name, root + "/gpt2_vocab.json")
enc = tiktoken.Encoding("gpt2-local", pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""", mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
text = open(path, encoding="utf-8").read()
best = 1e9
for _ in range(3):
    t = time.perf_counter(); ids = enc.encode_ordinary(text); best = min(best, time.perf_counter() - t)
open(sys.argv[3], "w").write(" ".join(map(str, ids)))
print(best)
'''

ENCODE_HF = r'''
import sys, time
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
root, path = sys.argv[1], sys.argv[2]
tok = Tokenizer(models.BPE.from_file(root + "/gpt2_vocab.json", root + "/gpt2_merges.txt"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
text = open(path, encoding="utf-8").read()
best = 1e9
for _ in range(3):
    t = time.perf_counter(); ids = tok.encode(text).ids; best = min(best, time.perf_counter() - t)
open(sys.argv[3], "w").write(" ".join(map(str, ids)))
print(best)
'''


def main():
    sizes = [int(s) for s in os.environ.get("LMLAB_BENCH_SIZES", "1000000,10000000,100000000").split(",")]
    vocab = int(os.environ.get("LMLAB_BENCH_VOCAB", "10000"))
    results = {"machine": os.uname().nodename, "cores": os.cpu_count(), "vocab_size": vocab, "train": [], "encode": []}
    py = sys.executable
    for size in sizes:
        path = make_corpus(size)
        mb = os.path.getsize(path) / 1e6
        out_dir = os.path.join(WORK, f"lmlab-{size}")
        out, wall, rss = run_rss([LMLAB, "bpe", "train", "--input", path, "--vocab-size", str(vocab), "--special", SPECIAL, "--out", out_dir, "--format", "gpt2", "--json"])
        ours = json.loads(out)["seconds"]
        hf_out, hf_wall, hf_rss = run_rss([py, "-c", HF_TRAIN, path, str(vocab)])
        hf = float(hf_out.strip())
        row = {"mb": round(mb, 1), "lmlab_s": round(ours, 3), "hf_s": round(hf, 3), "speedup": round(hf / ours, 2), "lmlab_rss_mib": round(rss), "hf_rss_mib": round(hf_rss)}
        results["train"].append(row)
        print(f"train {mb:7.1f} MB  lmlab {ours:7.2f} s ({rss:6.0f} MiB)  HF {hf:7.2f} s ({hf_rss:6.0f} MiB)  → {hf / ours:.2f}× faster", flush=True)

    text_path = make_corpus(10_000_000)
    env1 = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    ours_ids = os.path.join(WORK, "ids-lmlab.txt")
    out, _, rss = run_rss([LMLAB, "bench", "tokenize", "--input", text_path, "--ids-out", ours_ids, "--json"], env=env1)
    ours = json.loads(out)
    tk_ids = os.path.join(WORK, "ids-tiktoken.txt")
    tk_s, _, tk_rss = run_rss([py, "-c", ENCODE_TIKTOKEN, GPT2, text_path, tk_ids], env=env1)
    hf_ids = os.path.join(WORK, "ids-hf.txt")
    hf_s, _, hf_rss = run_rss([py, "-c", ENCODE_HF, GPT2, text_path, hf_ids], env=env1)
    mbs = os.path.getsize(text_path) / 1e6
    same_tk = open(ours_ids).read() == open(tk_ids).read()
    same_hf = open(ours_ids).read() == open(hf_ids).read()
    tk_mb = mbs / float(tk_s)
    hf_mb = mbs / float(hf_s)
    results["encode"] = {
        "mb": round(mbs, 1), "lmlab_mb_s": round(ours["mb_per_s"], 2), "tiktoken_mb_s": round(tk_mb, 2), "hf_mb_s": round(hf_mb, 2),
        "vs_tiktoken": round(ours["mb_per_s"] / tk_mb, 2), "vs_hf": round(ours["mb_per_s"] / hf_mb, 2),
        "ids_identical_tiktoken": same_tk, "ids_identical_hf": same_hf,
        "lmlab_rss_mib": round(rss), "tiktoken_rss_mib": round(tk_rss), "hf_rss_mib": round(hf_rss),
    }
    e = results["encode"]
    print(f"encode {mbs:.1f} MB, one thread: lmlab {e['lmlab_mb_s']} MB/s, tiktoken {e['tiktoken_mb_s']} MB/s ({e['vs_tiktoken']}×), "
          f"HF {e['hf_mb_s']} MB/s ({e['vs_hf']}×); ids identical: tiktoken {same_tk}, HF {same_hf}", flush=True)
    out_path = os.environ.get("LMLAB_BENCH_OUT", os.path.join(WORK, "results-tokenizers.json"))
    with open(out_path, "w") as f:
        json.dump(results, f, indent=2)
    print("results:", out_path)
    if not (same_tk and same_hf):
        sys.exit("ids differ from a peer")


if __name__ == "__main__":
    main()
