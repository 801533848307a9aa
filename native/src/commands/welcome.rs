//! The examples `lmlab --help` ends with: one line per lab, ready to paste.

pub const EXAMPLES: &str = "\
Examples:
  Train       lmlab                               the tiny model on the bundled Shakespeare (the main job)
              lmlab train --preset tiny --data my.txt --steps 2000 --out runs/mine
              lmlab train --resume runs/mine --steps 4000
              lmlab sample --checkpoint runs/tiny --prompt 'ROMEO:' --temperature 0.8 --top-p 0.95
              lmlab convert --from runs/tiny --to tiny.safetensors      (CS336 / PyTorch state-dict keys)
              lmlab bench train --preset cs336-tinystories --device cuda
  Tokenizers  lmlab tokenize --tokenizer char|byte|word|gpt2 'Hello, 世界!'
              lmlab bpe train --input corpus.txt --vocab-size 10000 --special '<|endoftext|>' --out tok/
              lmlab encode --tokenizer-dir tok/ --input corpus.txt --out corpus.bin
  Precision   lmlab float 0.1                     0.1 in fp64, fp32, tf32, fp16, bf16, fp8
              lmlab formats                       range table of every format
              lmlab accumulate                    0.01 summed 1,000 times in each precision
  Compute     lmlab estimate time --params 70e9 --tokens 15e12 --gpu h100 --gpus 1024 --mfu 0.5
              lmlab estimate model --preset gpt2-xl
              lmlab estimate memory --preset gpt2-xl --gpu h100 --gpus 8 --batch 64
  Exercises   lmlab exercises                     predict, then check: lmlab exercises --check ID ANSWER

Every command takes --json. The same numbers appear in the web app (trunk serve, then open
http://127.0.0.1:8080).";
