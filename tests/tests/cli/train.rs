//! `lmlab train`, `sample`, `convert` and `bench train` end to end on a very small model (seconds
//! on the CPU): JSON lines, checkpoints, Ctrl-C and --resume reproducing an uninterrupted run's
//! losses, conversion round trips, and bad input answered with one line and exit code 2.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lmlab::train::archive;
use lmlab::train::protocol::Corpus;
use lmlab_acceptance::{lmlab, run_lmlab as run, scratch_dir, small_training_setup};
use serde_json::Value;

/// A fresh directory for this test.
fn scratch(name: &str) -> PathBuf {
    scratch_dir("train-cli", name)
}

/// 40 KB of the bundled corpus and a 1-layer model config.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    small_training_setup(dir)
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn train_args<'a>(data: &'a Path, config: &'a Path, out: &'a Path, steps: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--config",
        s(config),
        "--data",
        s(data),
        "--vocab-size",
        "300",
        "--steps",
        steps,
        "--batch",
        "4",
        "--lr",
        "0.01",
        "--eval-every",
        "4",
        "--out",
        s(out),
        "--device",
        "cpu",
        "--seed",
        "3",
        "--json",
        "--log-every",
        "1",
    ]
}

fn step_losses(events: &[Value]) -> Vec<(u64, f64)> {
    events
        .iter()
        .filter(|e| e["event"] == "step")
        .map(|e| (e["step"].as_u64().unwrap(), e["loss"].as_f64().unwrap()))
        .collect()
}

#[test]
fn train_json_lines_checkpoint_and_sample() {
    let dir = scratch("basic");
    let (data, config) = setup(&dir);
    let out = dir.join("run");
    let r = run(&train_args(&data, &config, &out, "12"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events = lines(&r.stdout);
    let setup = &events[0];
    assert_eq!(setup["event"], "setup");
    assert_eq!(setup["vocab_size"], 300);
    // Parameters: 2·V·d (embedding + head) + L·(4d² + 3·d·d_ff + 2d) + d, as the accounting lab counts.
    let (v, d, f) = (300u64, 32u64, 64u64);
    assert_eq!(setup["params"].as_u64().unwrap(), 2 * v * d + (4 * d * d + 3 * d * f + 2 * d) + d);
    let losses = step_losses(&events);
    assert_eq!(losses.first().unwrap().0, 0, "the first logged step is step 0");
    assert_eq!(losses.len(), 12);
    // Untrained: loss ≈ ln V (the embeddings are N(0,1), so within half a nat).
    assert!((losses[0].1 - (300f64).ln()).abs() < 0.5, "{losses:?}");
    assert!(losses[11].1 < losses[0].1 - 0.5, "the loss falls: {losses:?}");
    let end = events.last().unwrap();
    assert_eq!(end["event"], "end");
    for f in ["config.json", "model.safetensors", "optimizer.safetensors", "state.json", "vocab.json", "merges.txt"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let sample = |seed: &str| {
        let r = run(&[
            "sample",
            "--checkpoint",
            s(&out),
            "--prompt",
            "First",
            "--max-tokens",
            "12",
            "--seed",
            seed,
            "--device",
            "cpu",
            "--json",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<Value>(&r.stdout).unwrap()
    };
    let a = sample("1");
    assert!(a["count"].as_u64().unwrap() <= 12 && a["count"].as_u64().unwrap() >= 1);
    assert_eq!(a, sample("1"), "a seed repeats");
    let human = run(&["sample", "--checkpoint", s(&out), "--prompt", "First", "--max-tokens", "5", "--device", "cpu"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.starts_with("First"), "{}", human.stdout);
}

#[test]
fn ctrl_c_saves_and_resume_continues_the_same_losses() {
    let dir = scratch("resume");
    let (data, config) = setup(&dir);
    let straight = run(&train_args(&data, &config, &dir.join("straight"), "16"));
    assert_eq!(straight.code, 0, "{}", straight.stderr);
    let want = step_losses(&lines(&straight.stdout));

    // The same run, interrupted with SIGINT after step 5 is logged.
    let interrupted = dir.join("interrupted");
    let mut child = lmlab()
        .args(train_args(&data, &config, &interrupted, "16"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut got = Vec::new();
    let mut stopped_at = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "step" {
            got.push((e["step"].as_u64().unwrap(), e["loss"].as_f64().unwrap()));
            if e["step"] == 5 {
                Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
            }
        }
        if e["event"] == "end" {
            assert_eq!(e["stopped"], true, "{e}");
            stopped_at = e["step"].as_u64();
        }
    }
    assert!(child.wait().unwrap().success());
    let stopped_at = stopped_at.expect("an end event") as usize;
    assert!((6..16).contains(&stopped_at), "stopped at {stopped_at}");
    assert_eq!(got, want[..stopped_at].to_vec());

    let mut args = train_args(&data, &config, &interrupted, "16");
    args.extend(["--resume", s(&interrupted)]);
    let resumed = run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let rest = step_losses(&lines(&resumed.stdout));
    assert_eq!(rest.first().unwrap().0 as usize, stopped_at);
    // Bit-identical on the CPU: the same batches, weights, moments and step count.
    assert_eq!(rest, want[stopped_at..].to_vec());
}

#[test]
fn convert_round_trip_samples_the_same() {
    let dir = scratch("convert");
    let (data, config) = setup(&dir);
    let out = dir.join("run");
    assert_eq!(run(&train_args(&data, &config, &out, "4")).code, 0);
    let weights = dir.join("w.safetensors");
    let r = run(&["convert", "--from", s(&out), "--to", s(&weights)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let back = dir.join("back");
    let r = run(&[
        "convert",
        "--from",
        s(&weights),
        "--to",
        s(&back),
        "--heads",
        "2",
        "--context",
        "32",
        "--tokenizer-dir",
        s(&out),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let greedy = |ckpt: &Path| {
        let r = run(&[
            "sample",
            "--checkpoint",
            s(ckpt),
            "--prompt",
            "KING",
            "--temperature",
            "0",
            "--max-tokens",
            "8",
            "--device",
            "cpu",
            "--json",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<Value>(&r.stdout).unwrap()["tokens"].clone()
    };
    assert_eq!(greedy(&out), greedy(&back));
    // Without the head count the import says what is missing.
    let r = run(&["convert", "--from", s(&weights), "--to", s(&dir.join("x")), "--context", "32"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--heads"), "{}", r.stderr);
}

#[test]
fn bad_input_is_named_and_nothing_is_lost() {
    let dir = scratch("bad");
    let (data, config) = setup(&dir);
    // Shorter than a context window.
    let short = dir.join("short.txt");
    std::fs::write(&short, "To be, or not to be").unwrap();
    let r = run(&train_args(&short, &config, &dir.join("o1"), "2"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("short.txt") && r.stderr.contains("too short"), "{}", r.stderr);
    // Invalid UTF-8.
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, [b'a', b'b', 0xff, 0xfe, b'c']).unwrap();
    let r = run(&train_args(&binary, &config, &dir.join("o2"), "2"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("binary.txt") && r.stderr.contains("UTF-8") && r.stderr.contains('2'), "{}", r.stderr);
    // A model whose vocabulary is smaller than the tokenizer's.
    let narrow = dir.join("narrow.json");
    std::fs::write(&narrow, r#"{"vocab_size": 100, "context_length": 32, "d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "rope_theta": 10000.0}"#).unwrap();
    let r = run(&train_args(&data, &narrow, &dir.join("o3"), "2"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("300") && r.stderr.contains("100"), "{}", r.stderr);
    // A .bin tokenized with another tokenizer (GPT-2's 50,257 ids vs the run's).
    let bin = dir.join("gpt2.bin");
    let r = run(&["encode", "--input", s(&data), "--out", s(&bin)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let good = dir.join("good");
    assert_eq!(run(&train_args(&data, &config, &good, "2")).code, 0);
    let o4 = dir.join("o4");
    let mut args = train_args(&bin, &config, &o4, "2");
    args.extend(["--tokenizer-dir", s(&good)]);
    let r = run(&args);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("gpt2.bin") && r.stderr.contains("50257"), "{}", r.stderr);
    // --out pointing at a directory of other things is refused and left alone.
    let precious = dir.join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "mine").unwrap();
    let r = run(&train_args(&data, &config, &precious, "2"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("precious") && r.stderr.contains("not an lmlab checkpoint"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(precious.join("notes.txt")).unwrap(), "mine");
    // A diverging run (absurd learning rate) stops at the step the loss became NaN/inf and keeps
    // the last good checkpoint.
    let diverge = dir.join("diverge");
    let mut args = train_args(&data, &config, &diverge, "30");
    let lr = args.iter().position(|a| *a == "--lr").unwrap();
    args[lr + 1] = "1e30";
    args.extend(["--checkpoint-every", "1", "--warmup", "0"]);
    let r = run(&args);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("at step") && r.stderr.contains("--lr") && r.stderr.contains("kept"), "{}", r.stderr);
    let r = run(&["sample", "--checkpoint", s(&diverge), "--max-tokens", "3", "--device", "cpu"]);
    assert_eq!(r.code, 0, "the last good checkpoint still samples: {}", r.stderr);
    // Resuming a run whose data is gone (or was text in the page) says how to give it.
    let moved = dir.join("moved.txt");
    std::fs::copy(&data, &moved).unwrap();
    let run_dir = dir.join("moved-run");
    assert_eq!(run(&train_args(&moved, &config, &run_dir, "1")).code, 0);
    std::fs::remove_file(&moved).unwrap();
    let r = run(&["train", "--resume", s(&run_dir), "--steps", "2", "--device", "cpu"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("moved.txt") && r.stderr.contains("--data FILE"), "{}", r.stderr);
    // The Train page's .tar of a run on pasted text carries the text (lmlab::train::archive's
    // corpus.txt): resuming needs nothing else, and the resumed run's checkpoints carry it on.
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&run_dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    let state = files.iter_mut().find(|(n, _)| n == "state.json").unwrap();
    let mut recorded: Value = serde_json::from_slice(&state.1).unwrap();
    recorded["data"] = "pasted text".into();
    state.1 = serde_json::to_vec(&recorded).unwrap();
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(archive::embed_corpus(&mut files, &Corpus { name: "pasted text".into(), text }));
    let page_tar = dir.join("page.tar");
    std::fs::write(&page_tar, archive::pack(&files)).unwrap();
    let r = run(&["train", "--resume", s(&page_tar), "--steps", "2", "--device", "cpu"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("at step 1 of 2") && r.stdout.contains("data: pasted text"), "{}", r.stdout);
    let continued = dir.join("page");
    assert!(continued.join(archive::CORPUS_FILE).exists(), "the resumed run's checkpoint carries the text");
    let r = run(&["train", "--resume", s(&continued), "--steps", "3", "--device", "cpu"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without the text in the .tar (a paste above the limit), the error names --data.
    files.retain(|(n, _)| n != archive::CORPUS_FILE);
    std::fs::write(&page_tar, archive::pack(&files)).unwrap();
    let r = run(&["train", "--resume", s(&page_tar), "--steps", "2", "--device", "cpu"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("pasted text") && r.stderr.contains("--data FILE"), "{}", r.stderr);
    // A corrupted checkpoint names the file.
    let weights = good.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let r = run(&["sample", "--checkpoint", s(&good), "--device", "cpu"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("model.safetensors"), "{}", r.stderr);
    let r = run(&["sample", "--checkpoint", s(&dir.join("nowhere")), "--device", "cpu"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nowhere"), "{}", r.stderr);
    // Unknown device.
    let r = run(&["bench", "train", "--device", "tpu"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("tpu") && r.stderr.contains("cuda"), "{}", r.stderr);
}

#[test]
fn auto_device_says_what_it_picked_and_why() {
    let r = run(&["bench", "train", "--steps", "1", "--warmup", "1", "--batch", "1", "--vocab-size", "300", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert!(v["tokens_per_s"].as_f64().unwrap() > 0.0);
    let device = v["device"].as_str().unwrap();
    assert!(["cuda", "wgpu", "cpu"].contains(&device));
    if device == "cpu" {
        // No panic on a machine without CUDA: the reason names what was tried.
        assert!(v["device_reason"].as_str().unwrap().contains("CUDA"), "{v}");
    }
}

/// The wgpu backend on whatever adapter the machine has (Mesa's lavapipe in CI): a couple of
/// steps train and the loss is finite.
#[test]
fn wgpu_backend_trains() {
    let dir = scratch("wgpu");
    let (data, config) = setup(&dir);
    let out = dir.join("run");
    let mut args = train_args(&data, &config, &out, "3");
    let i = args.iter().position(|a| *a == "cpu").unwrap();
    args[i] = "wgpu";
    let r = run(&args);
    if r.stderr.contains("a working wgpu adapter") {
        panic!("no wgpu adapter: install mesa-vulkan-drivers ({})", r.stderr);
    }
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events = lines(&r.stdout);
    assert_eq!(events[0]["device"], "wgpu");
    let losses = step_losses(&events);
    assert_eq!(losses.len(), 3);
    assert!(losses.iter().all(|(_, l)| l.is_finite()) && (losses[0].1 - 300f64.ln()).abs() < 0.5, "{losses:?}");
}

/// A mixture-of-experts run from the CLI: `--experts` on a config, per-step router metrics in the
/// JSON lines, the checkpoint's config carrying the MoE settings, `lmlab route` on it, `bench moe`;
/// and the bad MoE inputs of the issue, each named on one line.
#[test]
fn moe_train_route_bench_and_bad_input() {
    let dir = scratch("moe");
    let (data, config) = setup(&dir);
    let out = dir.join("moe");
    let mut args = train_args(&data, &config, &out, "6");
    args.extend(["--experts", "4", "--top-k", "2", "--capacity-factor", "1.0"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events = lines(&r.stdout);
    let setup = &events[0];
    assert_eq!(setup["model"]["moe"]["num_experts"], 4);
    assert_eq!(setup["model"]["moe"]["d_ff_expert"], 32, "d_ff / top-k: the dense model's active FLOPs");
    assert!(setup["active_params"].as_u64().unwrap() < setup["params"].as_u64().unwrap());
    let steps: Vec<&Value> = events.iter().filter(|e| e["event"] == "step").collect();
    assert_eq!(steps.len(), 6);
    for e in &steps {
        let moe = &e["moe"];
        let fractions = moe["expert_fraction"].as_array().unwrap();
        assert_eq!(fractions.len(), 1, "one MoE block");
        let sum: f64 = fractions[0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{moe}");
        let balance = moe["balance_loss"].as_f64().unwrap();
        assert!(balance > 0.5 && balance < 4.0, "E·Σ f·P lies near 1 (even) and at most E: {moe}");
        assert!(moe["z_loss"].as_f64().unwrap() > 0.0);
        // Capacity 1.0 × 128 tokens × 2 / 4 = 64 slots per expert: drops only if an expert is over-full.
        assert!(moe["dropped_fraction"].as_f64().unwrap() < 0.5, "{moe}");
    }
    let saved: Value = serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["model"]["moe"]["top_k"], 2);
    assert_eq!(saved["model"]["moe"]["capacity_factor"], 1.0);

    // Where each token goes.
    let r = run(&["route", "--checkpoint", s(&out), "--text", "ROMEO: what light", "--device", "cpu", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let routes: Value = serde_json::from_str(&r.stdout).unwrap();
    let tokens = routes["tokens"].as_array().unwrap().len();
    let block = &routes["blocks"][0];
    assert_eq!(block["layer"], 0);
    assert_eq!(block["experts"].as_array().unwrap().len(), tokens);
    for (experts, weights) in block["experts"].as_array().unwrap().iter().zip(block["weights"].as_array().unwrap()) {
        let e: Vec<u64> = experts.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(e.len() == 2 && e[0] != e[1] && e.iter().all(|&x| x < 4), "{e:?}");
        let w: Vec<f64> = weights.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!((w[0] + w[1] - 1.0).abs() < 1e-5 && w[0] >= w[1], "{w:?}");
    }
    let r = run(&["route", "--checkpoint", s(&out), "--text", "ROMEO: what light", "--device", "cpu"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("block 0") && r.stdout.contains("4 experts, top-2"), "{}", r.stdout);

    // The speed comparison runs (figures are for the benchmark, not asserted here).
    let r = run(&[
        "bench", "moe", "--preset", "nano-moe", "--batch", "2", "--steps", "1", "--warmup", "1", "--device", "cpu",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((b["dense"]["preset"].as_str(), b["moe"]["preset"].as_str()), (Some("nano"), Some("nano-moe")));
    assert!(b["moe_over_dense_step_time"].as_f64().unwrap() > 0.0);

    // Bad input: each named, nothing trained.
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--experts", "4", "--top-k", "5"], &["top-k", "5", "4"]),
        (&["--experts", "0"], &["--experts", "'0'"]),
        (&["--experts", "4", "--capacity-factor", "0"], &["capacity factor", "0", "positive"]),
        (&["--experts", "4", "--capacity-factor", "-1"], &["capacity factor", "-1"]),
        (&["--top-k", "2"], &["--top-k", "--experts"]),
        (&["--experts", "4", "--first-dense-layers", "1"], &["first dense layers", "1"]),
    ];
    let bad = dir.join("bad");
    for (extra, needles) in cases {
        let mut args = train_args(&data, &config, &bad, "2");
        args.extend(extra);
        let r = run(&args);
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stdout);
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
        for n in needles {
            assert!(r.stderr.contains(n), "{extra:?}: {:?} lacks {n}", r.stderr);
        }
        assert!(!bad.join("model.safetensors").exists());
    }
    // A MoE checkpoint whose config.json says dense: the mismatch is named, not a list of keys.
    let dense_cfg = dir.join("moe-as-dense");
    std::fs::create_dir_all(&dense_cfg).unwrap();
    for f in std::fs::read_dir(&out).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dense_cfg.join(f.file_name().unwrap())).unwrap();
    }
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(dense_cfg.join("config.json")).unwrap()).unwrap();
    cfg["model"].as_object_mut().unwrap().remove("moe");
    std::fs::write(dense_cfg.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let r = run(&["sample", "--checkpoint", s(&dense_cfg), "--max-tokens", "3", "--device", "cpu"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("mixture-of-experts") && r.stderr.contains("dense") && r.stderr.contains("config.json"),
        "{}",
        r.stderr
    );
    // And route on a dense checkpoint says there is no router.
    let dense = dir.join("dense");
    assert_eq!(run(&train_args(&data, &config, &dense, "1")).code, 0);
    let r = run(&["route", "--checkpoint", s(&dense), "--text", "hi", "--device", "cpu"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("dense") && r.stderr.contains("tiny-moe"), "{}", r.stderr);
}
