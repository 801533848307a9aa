#!/usr/bin/env python3
"""Interop: the files `lmlab bpe train` writes load in the peers and encode identically.

* HF: `tokenizers.Tokenizer.from_file(tokenizer.json)` gives the same ids as `lmlab encode`.
* tiktoken: an `Encoding` from `bpe.tiktoken` (GPT-2 pattern, the special token after the ranks)
  gives the same ids.

Usage: tokenizer_files.py LMLAB_BIN WORK_DIR (run by tests/run-all.sh in a venv with the peers).
Exits non-zero with a message naming the first differing position.
"""

import base64
import os
import subprocess
import sys

import tiktoken
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
lmlab, work = sys.argv[1], sys.argv[2]
special = "<|endoftext|>"
corpus = os.path.join(ROOT, "tests/fixtures/cs336/bpe/corpus.en")
sample = os.path.join(ROOT, "tests/fixtures/cs336/tokenizer/tinystories_sample.txt")
out = os.path.join(work, "tok")
subprocess.run([lmlab, "bpe", "train", "--input", corpus, "--vocab-size", "1000", "--special", special, "--out", out], check=True, capture_output=True)
text = open(sample, encoding="utf-8").read() + " héllo wörld 🙃  \n\n"
ours = [int(i) for i in subprocess.run([lmlab, "encode", "--tokenizer-dir", out, "--special", special], input=text.encode(), check=True, capture_output=True).stdout.split()]


def compare(name, ids):
    if ids != ours:
        first = next((i for i, (a, b) in enumerate(zip(ids, ours)) if a != b), min(len(ids), len(ours)))
        sys.exit(f"{name}: ids differ from lmlab at position {first} ({len(ids)} vs {len(ours)} ids)")
    print(f"{name}: {len(ids)} ids identical to lmlab")


compare("HF tokenizers", Tokenizer.from_file(os.path.join(out, "tokenizer.json")).encode(text).ids)
ranks = {}
with open(os.path.join(out, "bpe.tiktoken")) as f:
    for line in f:
        b64, rank = line.split()
        ranks[base64.b64decode(b64)] = int(rank)
pattern = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
enc = tiktoken.Encoding("lmlab", pat_str=pattern, mergeable_ranks=ranks, special_tokens={special: len(ranks)})
compare("tiktoken", enc.encode(text, allowed_special="all"))
print("2 passed, 0 failed")
