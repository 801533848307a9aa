//! The `lmlab` command line end to end: the lecture's numbers, JSON for scripts, and bad input
//! answered with one line and exit code 2.

use lmlab_acceptance::run_lmlab as run;
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let r = run(args);
    assert_eq!(r.code, 0, "lmlab {args:?} failed: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("lmlab {args:?}: not JSON ({e}): {}", r.stdout))
}

const LECTURE_70B: [&str; 12] =
    ["estimate", "time", "--params", "70e9", "--tokens", "15e12", "--gpu", "h100", "--gpus", "1024", "--mfu", "0.5"];

#[test]
fn training_time_of_70b_on_1024_h100s_is_about_144_days() {
    let r = run(&LECTURE_70B);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("143.9 days"), "{}", r.stdout);
    let mut args = LECTURE_70B.to_vec();
    args.extend(["--json", "--usd-per-gpu-hour", "2"]);
    let v = json(&args);
    assert_eq!(v["flops"].as_f64().unwrap(), 6.3e24);
    // 6.3e24 / (1024 × 989.5e12 × 0.5) seconds.
    let seconds = 6.3e24 / (1024.0 * 989.5e12 * 0.5);
    assert!((v["seconds"].as_f64().unwrap() / seconds - 1.0).abs() < 1e-12);
    assert!((v["days"].as_f64().unwrap() - seconds / 86400.0).abs() < 1e-9);
    let gpu_hours = seconds / 3600.0 * 1024.0;
    assert!((v["cost_usd"].as_f64().unwrap() / (2.0 * gpu_hours) - 1.0).abs() < 1e-12);
}

#[test]
fn suffixes_and_presets_are_accepted() {
    let a = json(&[
        "estimate", "time", "--params", "70B", "--tokens", "15T", "--gpu", "H100", "--gpus", "1,024", "--mfu", "0.5",
        "--json",
    ]);
    assert_eq!(a["flops"].as_f64().unwrap(), 6.3e24);
    let b = json(&[
        "estimate", "time", "--preset", "gpt2-xl", "--tokens", "1e9", "--gpu", "a100", "--mfu", "0.4", "--json",
    ]);
    assert_eq!(b["training_flops"]["params"].as_f64().unwrap(), 2_127_057_600.0);
    assert!(b["training_flops"]["attention"].as_f64().unwrap() > 0.0);
}

#[test]
fn gpt2_xl_parameters_and_forward_flops() {
    let v = json(&["estimate", "model", "--preset", "gpt2-xl", "--json"]);
    assert_eq!(v["params"]["total"].as_u64().unwrap(), 2_127_057_600);
    assert_eq!(v["total_params"].as_u64().unwrap(), 2_127_057_600);
    let flops = v["forward"]["matmul_flops"].as_f64().unwrap();
    assert!((flops / 4.51e12 - 1.0).abs() < 0.005, "{flops}");
    // A custom shape equal to the preset gives the same numbers.
    let c = json(&[
        "estimate",
        "model",
        "--vocab",
        "50257",
        "--context",
        "1024",
        "--d-model",
        "1600",
        "--layers",
        "48",
        "--heads",
        "25",
        "--d-ff",
        "6400",
        "--json",
    ]);
    assert_eq!(c["params"], v["params"]);
}

/// Mixtral 8x7B: 46.7B parameters, 12.9B of them active per token (Jiang et al. 2024); the
/// training FLOPs follow the active ones.
#[test]
fn mixtral_total_and_active_parameters() {
    let v = json(&["estimate", "model", "--preset", "mixtral-8x7b", "--json"]);
    let (total, active) = (v["total_params"].as_f64().unwrap(), v["active_params"].as_f64().unwrap());
    assert!((total / 46.7e9 - 1.0).abs() < 0.005, "{total}");
    assert!((active / 12.9e9 - 1.0).abs() < 0.005, "{active}");
    assert_eq!(v["params"]["active"], v["active_params"]);
    assert_eq!(v["forward_flops_per_token_2n"].as_f64().unwrap(), 2.0 * active);
    let r = run(&["estimate", "model", "--preset", "mixtral-8x7b"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for shown in ["46.7B", "12.9B", "MoE router", "active per token", "8 experts, top-2"] {
        assert!(r.stdout.contains(shown), "{shown} missing from:\n{}", r.stdout);
    }
    // The same shape typed in flag by flag.
    let custom = |top_k: &'static str| {
        let shape = "--vocab 32000 --context 32768 --d-model 4096 --layers 32 --heads 32 --kv-heads 8 --d-ff 14336";
        let mut args = vec!["estimate", "model", "--experts", "8", "--top-k", top_k, "--json"];
        args.extend(shape.split(' '));
        args
    };
    assert_eq!(json(&custom("2"))["params"], v["params"]);
    let bad = run(&custom("9"));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("top-k '9'") && bad.stderr.contains("at most the 8 experts"), "{}", bad.stderr);
    let t = json(&[
        "estimate",
        "time",
        "--preset",
        "mixtral-8x7b",
        "--tokens",
        "1T",
        "--gpu",
        "h100",
        "--mfu",
        "0.4",
        "--json",
    ]);
    assert_eq!(t["training_flops"]["params"].as_f64().unwrap(), active);
    assert_eq!(t["training_flops"]["total_params"].as_f64().unwrap(), total);
}

#[test]
fn memory_largest_model_on_8_h100s_is_40b() {
    let v = json(&["estimate", "memory", "--params", "40e9", "--gpu", "h100", "--gpus", "8", "--json"]);
    assert_eq!(v["largest_model_params"].as_f64().unwrap(), 40e9);
    assert_eq!(v["states_bytes"].as_f64().unwrap(), 640e9);
    assert_eq!(v["fits"], Value::Bool(true));
    let fp32 = json(&[
        "estimate",
        "memory",
        "--preset",
        "gpt2-small",
        "--precision",
        "fp32",
        "--gpu",
        "rtx4090",
        "--batch",
        "8",
        "--json",
    ]);
    assert!(fp32["largest_batch"].as_u64().unwrap() >= 1);
    assert!(fp32["largest_batch_recomputed"].as_u64().unwrap() > fp32["largest_batch"].as_u64().unwrap());
}

#[test]
fn float_json_has_every_format_with_bits_value_and_class() {
    let v = json(&["float", "0.1", "--json"]);
    let rows = v.as_array().expect("an array, one object per format");
    let keys: Vec<&str> = rows.iter().map(|r| r["format"].as_str().unwrap()).collect();
    assert_eq!(keys, ["fp64", "fp32", "tf32", "fp16", "bf16", "fp8e4m3", "fp8e5m2"]);
    let fp32 = &rows[1];
    assert_eq!(fp32["bits"].as_str().unwrap(), format!("{:032b}", 0.1f32.to_bits()));
    assert_eq!(fp32["value"].as_f64().unwrap(), 0.1f32 as f64);
    assert_eq!(rows[0]["bits"].as_str().unwrap(), format!("{:064b}", 0.1f64.to_bits()));
    for r in rows {
        assert_eq!(r["class"], "normal");
        let bits = r["bits"].as_str().unwrap();
        assert!(bits.chars().all(|c| c == '0' || c == '1'));
    }
    // bf16 keeps fp32's top 16 bits, rounded: 0x3DCD (ml_dtypes: bfloat16(0.1).view(uint16)).
    assert_eq!(rows[4]["bits"], "0011110111001101");
}

#[test]
fn float_single_format_and_specials() {
    let v = json(&["float", "1e-8", "--format", "fp16", "--json"]);
    assert_eq!(
        (v["format"].as_str(), v["class"].as_str(), v["value"].as_f64()),
        (Some("fp16"), Some("zero"), Some(0.0))
    );
    let v = json(&["float", "1000", "--format", "fp8e4m3", "--json"]);
    assert_eq!(v["class"], "nan", "E4M3FN has no infinity: overflow is NaN");
    assert_eq!(v["value"], "nan");
    let v = json(&["float", "1e6", "--format", "fp8e5m2", "--json"]);
    assert_eq!((v["class"].as_str(), v["value"].as_str()), (Some("inf"), Some("inf")));
    let v = json(&["float", "--bits", "0x7E", "--format", "fp8e4m3", "--json"]);
    assert_eq!(v["value"].as_f64(), Some(448.0));
    let v = json(&["float", "-2", "--format", "bf16", "--json"]);
    assert_eq!(v["bits"], "1100000000000000");
}

#[test]
fn bad_input_is_one_line_exit_2_naming_the_value() {
    let cases: [(&[&str], &[&str]); 9] = [
        (
            &["estimate", "time", "--params", "70e9", "--tokens", "15e12", "--gpu", "h100", "--mfu", "1.5"],
            &["1.5", "(0, 1]"],
        ),
        (
            &["estimate", "time", "--params", "70e9", "--tokens", "15e12", "--gpu", "h100", "--mfu", "0"],
            &["'0'", "(0, 1]"],
        ),
        (
            &["estimate", "time", "--params", "abc", "--tokens", "15e12", "--gpu", "h100", "--mfu", "0.5"],
            &["--params", "'abc'"],
        ),
        (
            &["estimate", "time", "--params", "-5", "--tokens", "15e12", "--gpu", "h100", "--mfu", "0.5"],
            &["'-5'", "greater than zero"],
        ),
        (
            &["estimate", "time", "--params", "70e9", "--tokens", "", "--gpu", "h100", "--mfu", "0.5"],
            &["--tokens is empty"],
        ),
        (
            &["estimate", "time", "--params", "70e9", "--tokens", "1e9", "--gpu", "v100", "--mfu", "0.5"],
            &["'v100'", "h100", "rtx4090", "custom"],
        ),
        (&["estimate", "model", "--preset", "gpt-5"], &["'gpt-5'", "gpt2-xl", "cs336-tinystories"]),
        (&["float", "0.1", "--format", "fp12"], &["'fp12'", "bf16", "fp8e4m3"]),
        (&["float", "twelve"], &["'twelve'"]),
    ];
    for (args, needles) in cases {
        let r = run(args);
        assert_eq!(r.code, 2, "lmlab {args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "lmlab {args:?} printed {}", r.stdout);
        assert_eq!(r.stderr.trim_end().lines().count(), 1, "one line: {}", r.stderr);
        for n in needles {
            assert!(r.stderr.contains(n), "lmlab {args:?}: {:?} lacks {n}", r.stderr);
        }
    }
    let r = run(&["estimate", "model", "--heads", "12"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--preset") && r.stderr.contains("--d-model"), "{}", r.stderr);
}

#[test]
fn help_explains_the_lab() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    for example in ["lmlab float", "lmlab estimate time", "lmlab train", "lmlab sample", "lmlab bpe train"] {
        assert!(r.stdout.contains(example), "{example}: {}", r.stdout);
    }
}

#[test]
fn accumulation_and_exercises() {
    let v = json(&["accumulate", "--json"]);
    let result =
        |label: &str| v.as_array().unwrap().iter().find(|r| r["label"] == label).unwrap()["result"].as_f64().unwrap();
    assert_eq!(result("fp16"), 9.953125);
    assert_eq!(result("bf16"), 4.0);
    let right = json(&["exercises", "--check", "70b-training-days", "144", "--json"]);
    assert_eq!(right["correct"], Value::Bool(true));
    let wrong = json(&["exercises", "--check", "70b-training-days", "14", "--json"]);
    assert_eq!(wrong["correct"], Value::Bool(false));
    let t = json(&["estimate", "tensor", "--shape", "4x8", "--dtype", "fp32", "--json"]);
    assert_eq!(t["bytes"].as_u64(), Some(128));
}

#[test]
fn tokenizers_on_the_lecture_example() {
    let v = json(&["tokenize", "--tokenizer", "char", "Hello, 世界!", "--json"]);
    assert_eq!(v["ids"], serde_json::json!([72, 101, 108, 108, 111, 44, 32, 19990, 30028, 33]));
    let v = json(&["tokenize", "--tokenizer", "byte", "Hello, 世界!", "--json"]);
    assert_eq!(v["ids"], serde_json::json!([72, 101, 108, 108, 111, 44, 32, 228, 184, 150, 231, 149, 140, 33]));
    assert_eq!(v["tokens"][7], "<0xE4>");
    let v = json(&["tokenize", "--tokenizer", "gpt2", "Hello, how are you?", "--json"]);
    assert_eq!(v["ids"], serde_json::json!([15496, 11, 703, 389, 345, 30]));
    assert_eq!(v["tokens"], serde_json::json!(["Hello", ",", " how", " are", " you", "?"]));
}

#[test]
fn bpe_train_encode_decode_round_trip() {
    let dir = std::env::temp_dir().join(format!("lmlab-cli-bpe-{}", std::process::id()));
    let corpus = lmlab_acceptance::repo_root().join("tests/fixtures/cs336/bpe/corpus.en");
    let out = dir.join("tok");
    let r = run(&[
        "bpe",
        "train",
        "--input",
        corpus.to_str().unwrap(),
        "--vocab-size",
        "500",
        "--special",
        "<|endoftext|>",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["merges"], 243);
    for f in ["vocab.json", "merges.txt", "tokenizer.json", "bpe.tiktoken"] {
        assert!(out.join(f).exists(), "{f}");
    }
    // The first reference merge is (" ", "t") in GPT-2 form "Ġ t".
    let merges = std::fs::read_to_string(out.join("merges.txt")).unwrap();
    assert_eq!(merges.lines().nth(1), Some("Ġ t"));
    let text = "the cat sat on the mat<|endoftext|>And then?";
    let input = dir.join("in.txt");
    std::fs::write(&input, text).unwrap();
    let bin = dir.join("in.bin");
    let tok = out.to_str().unwrap();
    let r = run(&[
        "encode",
        "--tokenizer-dir",
        tok,
        "--special",
        "<|endoftext|>",
        "--input",
        input.to_str().unwrap(),
        "--out",
        bin.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::metadata(&bin).unwrap().len() % 2, 0, "uint16 ids");
    let r = run(&["decode", "--tokenizer-dir", tok, "--special", "<|endoftext|>", "--input", bin.to_str().unwrap()]);
    assert_eq!(r.stdout, text);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tokenizer_bad_input() {
    let dir = std::env::temp_dir().join(format!("lmlab-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, b"fine text \xff\xfe then broken").unwrap();
    let r = run(&[
        "bpe",
        "train",
        "--input",
        bad.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.txt") && r.stderr.contains("offset 10"), "{}", r.stderr);
    let r = run(&[
        "bpe",
        "train",
        "--input",
        bad.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--lossy",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "bpe",
        "train",
        "--input",
        bad.to_str().unwrap(),
        "--vocab-size",
        "200",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert!(r.code == 2 && r.stderr.contains("200") && r.stderr.contains("256"), "{}", r.stderr);
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let r = run(&[
        "bpe",
        "train",
        "--input",
        empty.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert!(r.code == 2 && r.stderr.contains("empty"), "{}", r.stderr);
    let ids = dir.join("ids.txt");
    std::fs::write(&ids, "15496 11\n703 xyz\n").unwrap();
    let r = run(&["decode", "--input", ids.to_str().unwrap()]);
    assert!(r.code == 2 && r.stderr.contains("ids.txt:2") && r.stderr.contains("xyz"), "{}", r.stderr);
    std::fs::write(&ids, "99999999").unwrap();
    let r = run(&["decode", "--input", ids.to_str().unwrap()]);
    assert!(r.code == 2 && r.stderr.contains("99999999"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
