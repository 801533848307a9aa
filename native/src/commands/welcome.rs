//! `lmlab` with no arguments: what the lab can do and how to start.

pub fn run() {
    println!(
        "\
lmlab — a lab for building a language model from scratch (CS336)

Available now:
  Tokenizers  lmlab tokenize --tokenizer char|byte|word|gpt2 'Hello, 世界!'
              lmlab bpe train --input corpus.txt --vocab-size 10000 --special '<|endoftext|>' --out tok/
              lmlab encode --tokenizer-dir tok/ --input corpus.txt --out corpus.bin
  Precision   lmlab float 0.1                     0.1 in fp64, fp32, tf32, fp16, bf16, fp8 (bits, error, class)
              lmlab float 1e-8 --format fp16      one format (does it underflow?)
              lmlab float --bits 0x7E --format fp8e4m3
              lmlab formats                       range table of every format
              lmlab accumulate                    0.01 summed 1,000 times in each precision
  Compute     lmlab estimate time --params 70e9 --tokens 15e12 --gpu h100 --gpus 1024 --mfu 0.5
              lmlab estimate model --preset gpt2-xl
              lmlab estimate memory --preset gpt2-xl --gpu h100 --gpus 8 --batch 64
              lmlab estimate tensor --shape 4x8 --dtype fp32
  Exercises   lmlab exercises                     predict, then check: lmlab exercises --check ID ANSWER

Every command takes --json. The same numbers appear in the web app (trunk serve, then open
http://127.0.0.1:8080). Coming next: training the model (this command will then train the tiny
preset on the bundled corpus), the hardware lab."
    );
}
