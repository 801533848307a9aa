//! Mixed precision from the command line (`--precision bf16` on `train`, `bench train`, resume),
//! the backends that lack bf16 saying so, and the device script (tests/device/run.sh) run end to
//! end on the CPU at its smallest size, so the GPU machine's one call cannot rot between tasks.

use std::path::{Path, PathBuf};
use std::process::Command;

use lmlab_acceptance::{lmlab_path, repo_root, run_lmlab as run};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-precision-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `lmlab bench train` of nano at `batch` for one timed step in `precision` on `device`.
fn bench_nano(batch: &str, precision: &str, device: &str) -> lmlab_acceptance::Output {
    run(&[
        "bench",
        "train",
        "--preset",
        "nano",
        "--batch",
        batch,
        "--steps",
        "1",
        "--warmup",
        "1",
        "--precision",
        precision,
        "--device",
        device,
        "--json",
    ])
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn bf16_trains_resumes_in_fp32_and_bad_precisions_are_named() {
    let dir = scratch("bf16");
    let corpus = std::fs::read_to_string(repo_root().join("data/tinyshakespeare.txt")).unwrap();
    let data = dir.join("small.txt");
    std::fs::write(&data, &corpus[..30_000]).unwrap();
    let out = dir.join("run");
    let base = [
        "train",
        "--preset",
        "nano",
        "--data",
        s(&data),
        "--vocab-size",
        "300",
        "--batch",
        "4",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--json",
        "--log-every",
        "1",
        "--out",
        s(&out),
    ];
    let mut args = base.to_vec();
    args.extend(["--steps", "3", "--precision", "bf16"]);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events = json_lines(&r.stdout);
    assert_eq!(events[0]["precision"], "bf16");
    assert_eq!(events[0]["train"]["precision"], "bf16");
    let losses: Vec<f64> =
        events.iter().filter(|e| e["event"] == "step").map(|e| e["loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 3);
    assert!((losses[0] - 300f64.ln()).abs() < 0.5, "first bf16 loss ≈ ln V: {losses:?}");
    assert!(events.iter().any(|e| e["event"] == "eval" && e["seconds"].as_f64().is_some()));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["precision"], "bf16");
    // The checkpoint's weights are f32 and the run continues in fp32 when asked.
    let r = run(&["train", "--resume", s(&out), "--steps", "4", "--precision", "fp32", "--device", "cpu", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json_lines(&r.stdout)[0]["precision"], "fp32");
    let r = run(&["sample", "--checkpoint", s(&out), "--max-tokens", "3", "--device", "cpu"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A precision the lab does not have is named with the ones it has.
    let mut args = base.to_vec();
    args.extend(["--steps", "1", "--precision", "fp16"]);
    let r = run(&args);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--precision") && r.stderr.contains("fp16") && r.stderr.contains("bf16"), "{}", r.stderr);
    // wgpu (WGSL) has no bf16: said before anything trains, with what to do instead.
    let r = bench_nano("1", "bf16", "wgpu");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("bf16") && r.stderr.contains("WGSL") && r.stderr.contains("fp32"), "{}", r.stderr);

    // bench train in bf16: the JSON says so, and the first loss is ln V's on random tokens.
    let r = bench_nano("2", "bf16", "cpu");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["precision"], "bf16");
    let ln_v = (v["model"]["vocab_size"].as_f64().unwrap()).ln();
    assert!((v["first_loss"].as_f64().unwrap() - ln_v).abs() < 0.3, "{v}");
}

#[test]
fn device_script_runs_on_the_cpu() {
    let out = scratch("device");
    let status = Command::new("bash")
        .arg(repo_root().join("tests/device/run.sh"))
        .args(["--device", "cpu", "--quick", "--no-torch", "--lmlab", s(&lmlab_path()), "--out", s(&out)])
        .status()
        .expect("bash");
    assert!(status.success());
    let results: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let rows = results["rows"].as_array().unwrap();
    let errors: Vec<&Value> = rows.iter().filter(|r| r.get("error").is_some()).collect();
    assert!(errors.is_empty(), "failed parts: {errors:?}");
    let kinds: Vec<(&str, Option<&str>)> =
        rows.iter().map(|r| (r["kind"].as_str().unwrap(), r["precision"].as_str())).collect();
    for want in [
        ("lmlab_bench", Some("fp32")),
        ("lmlab_bench", Some("bf16")),
        ("lmlab_attention", Some("fp32")),
        ("lmlab_attention_kernels", None),
        ("lmlab_long_context", Some("fp32")),
        ("lmlab_moe", None),
        ("lmlab_race", Some("fp32")), // bf16 on CUDA only: a CPU emulates it
    ] {
        assert!(kinds.contains(&want), "{want:?} missing from {kinds:?}");
    }
    for r in rows.iter().filter(|r| r["kind"] == "lmlab_bench") {
        assert!(r["tokens_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    let race = rows.iter().find(|r| r["kind"] == "lmlab_race").unwrap();
    let curve = race["curve"].as_array().unwrap();
    assert!(curve.len() >= 2);
    let (first, last) = (curve[0]["val_loss"].as_f64().unwrap(), curve.last().unwrap()["val_loss"].as_f64().unwrap());
    assert!(last < first - 0.5, "the race's run learns: {first} → {last}");
    let table = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        table.contains("| tiny | fp32 |")
            && table.contains("| tiny | bf16 |")
            && table.contains("race")
            && table.contains("Attention kernels")
            && table.contains("attention reference"),
        "{table}"
    );
}
