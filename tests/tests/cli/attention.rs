//! `lmlab bench attention` end to end: the fused kernels and the reference on this machine's wgpu
//! adapter (Mesa's lavapipe without a GPU) — every row present, its peak memory measured and
//! growing linearly (fused) against quadratically (reference), the model's figures equal to the
//! hand arithmetic — the CPU backend's fallback, and bad input named.

use lmlab_acceptance::run_lmlab as run;
use serde_json::Value;

fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench", "attention", "--json", "--reps", "1"];
    all.extend(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "lmlab {all:?} failed: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.stdout))
}

fn row<'a>(v: &'a Value, kind: &str, t: u64) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["t"] == t)
        .unwrap_or_else(|| panic!("no {kind} row at {t}: {v:#}"))
}

#[test]
fn fused_memory_grows_linearly_and_the_reference_quadratically_on_wgpu() {
    let v = bench_json(&["--device", "wgpu", "--batch", "1", "--heads", "4", "--head", "64", "--lengths", "1024,2048"]);
    assert_eq!(v["peak_measured"], true, "wgpu's memory pools are read: {v:#}");
    for kind in ["fused", "reference"] {
        for t in [1024, 2048] {
            let r = row(&v, kind, t);
            assert!(r["seconds"].as_f64().unwrap() > 0.0, "{r}");
            assert_eq!(r["peak_measured"], true);
        }
    }
    let peak = |kind, t| row(&v, kind, t)["peak_bytes"].as_f64().unwrap();
    let model = |kind, t| row(&v, kind, t)["model_peak_bytes"].as_f64().unwrap();
    // Hand arithmetic: O, dQ, dK, dV are 4 × (4 · T · 64 f32); the reference adds four 4 · T · T
    // f32 matrices, the fused kernels a log-sum-exp and a delta per row.
    for t in [1024.0, 2048.0] {
        let td = 4.0 * t * 64.0 * 4.0;
        assert_eq!(model("reference", t as u64), 4.0 * td + 4.0 * (4.0 * t * t * 4.0));
        assert_eq!(model("fused", t as u64), 4.0 * td + 2.0 * 4.0 * t * 4.0);
    }
    // Measured (the pools' high-water mark, in pages of a few MiB): the reference holds its T × T
    // matrices — about quadruple when T doubles, and at least half the model's count — while the
    // fused kernels stay within a page or two of their linear model.
    let page = 8.0 * 1048576.0;
    assert!(peak("reference", 2048) >= 3.0 * peak("reference", 1024), "{v:#}");
    assert!(peak("reference", 2048) >= 0.5 * model("reference", 2048), "{v:#}");
    assert!(peak("fused", 2048) <= 2.0 * model("fused", 2048) + 2.0 * page, "{v:#}");
    assert!(peak("reference", 2048) > 10.0 * peak("fused", 2048), "{v:#}");
    let growth = v["peak_growth_exponent"]["reference"].as_f64().unwrap();
    assert!(growth > 1.6, "reference peak ∝ T^{growth}");
    let ratio = v["ratios"].as_array().unwrap().iter().find(|r| r["t"] == 2048).unwrap();
    assert!(ratio["speedup"].as_f64().unwrap() > 0.0 && ratio["memory_ratio"].as_f64().unwrap() > 10.0, "{ratio}");
}

#[test]
fn the_cpu_backend_runs_the_reference_alone_and_says_why() {
    let v = bench_json(&["--device", "cpu", "--batch", "1", "--heads", "2", "--head", "16", "--lengths", "7,65"]);
    assert_eq!(v["peak_measured"], false);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v:#}");
    assert!(rows.iter().all(|r| r["kind"] == "reference" && r["peak_measured"] == false));
    let skipped = &v["skipped"][0];
    assert_eq!(skipped["kind"], "fused");
    assert!(skipped["reason"].as_str().unwrap().contains("no fused kernels"), "{skipped}");
    // Without pools to read, the peak is the model's: 4 · (2 · 65 · 16 f32) + 4 · (2 · 65² f32).
    let r65 = row(&v, "reference", 65);
    assert_eq!(r65["peak_bytes"].as_u64().unwrap(), 4 * 2 * 65 * 16 * 4 + 4 * 2 * 65 * 65 * 4);
}

#[test]
fn rows_beyond_the_memory_limit_are_skipped_and_bad_input_is_named() {
    // 0.001 GiB ≈ 1 MiB: the reference's T × T matrices at 512 do not fit, the fused pass does.
    let v = bench_json(&[
        "--device",
        "cpu",
        "--batch",
        "1",
        "--heads",
        "1",
        "--head",
        "16",
        "--lengths",
        "16,512",
        "--max-memory-gib",
        "0.001",
    ]);
    let skipped = v["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["kind"] == "reference" && s["t"] == 512 && s["reason"].as_str().unwrap().contains("allowed")),
        "{v:#}"
    );
    for (args, named) in [
        (vec!["--head", "256"], "--head"),
        (vec!["--lengths", "128,0"], "--lengths"),
        (vec!["--heads", "0"], "--heads"),
        (vec!["--device", "tpu"], "tpu"),
    ] {
        let mut all = vec!["bench", "attention"];
        all.extend(args);
        let r = run(&all);
        assert_ne!(r.code, 0, "{all:?} succeeded");
        assert!(r.stderr.contains(named), "{all:?}: {}", r.stderr);
    }
}
