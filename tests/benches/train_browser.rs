//! Training speed in the browser against native, same machine, same run:
//!
//! * the Train page's benchmark (the worker's `bench_train` on WebGPU, and on burn's CPU backend
//!   compiled to wasm) in headless Chromium, driven through the page like a student would;
//! * `lmlab bench train` natively on wgpu (Vulkan) and on the CPU — the very same function.
//!
//! Then the mixture-of-experts overhead: `tiny-moe` against its dense twin `tiny` (equal active
//! FLOPs) in the page on both backends and natively with `lmlab bench moe` (goal: MoE step time
//! within 1.5× of the dense one).
//!
//! Prints tokens/s and the browser/native ratios. Without a GPU both WebGPU (SwiftShader) and
//! native wgpu (Mesa's lavapipe) are CPU emulations of a GPU: the ratio then compares two
//! emulators, not browser overhead on real hardware; the output says so.
//!
//! `cargo bench -p lmlab-acceptance --bench train_browser --features lmlab/cpu,lmlab/hardware`
//! after `trunk build --release` (tests/run-all.sh runs it with small settings). Settings:
//! LMLAB_BENCH_PRESET (tiny), LMLAB_BENCH_BATCH (4), LMLAB_BENCH_STEPS (3), LMLAB_BENCH_CPU (1: also
//! the CPU pair), LMLAB_BENCH_MOE (tiny-moe; empty: skip the MoE comparison), LMLAB_BENCH_MOE_BACKENDS
//! (webgpu,cpu: the page backends the MoE pair runs on).

use std::time::Instant;

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::train_page::TRAIN_ERRORS;
use lmlab_acceptance::{dist, lmlab};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The page's benchmark on `backend` (`webgpu` or `cpu`): (tokens/s, ms/step, the result's text).
async fn page_bench(b: &Browser, backend: &str, preset: &str, batch: &str, steps: &str) -> (f64, f64, String) {
    b.select("#train-preset", preset).await;
    b.select("#train-backend", backend).await;
    b.type_into("#train-batch", batch).await;
    b.type_into("#train-bench-steps", steps).await;
    // The page counts the measurements asked for; the result shown carries its number.
    let n: u64 = b.attr("#train-bench-panel", "data-benchmarks").await.parse().unwrap();
    b.click("#train-bench").await;
    let wanted = (n + 1).to_string();
    b.wait_attr("#train-bench-result", "data-benchmark", 3600, |k| k == wanted).await;
    let text = b.wait_text("#train-bench-result", |t| !t.is_empty()).await;
    let tps: f64 = b.attr("#train-bench-result", "data-tokens-per-s").await.parse().unwrap();
    let ms: f64 = b.attr("#train-bench-result", "data-ms-per-step").await.parse().unwrap();
    (tps, ms, text)
}

/// `lmlab bench train --json` on `device`: (tokens/s, ms/step, device name).
fn native_bench(device: &str, preset: &str, vocab: &str, batch: &str, steps: &str) -> (f64, f64, String) {
    let out = lmlab()
        .args(["bench", "train", "--preset", preset, "--vocab-size", vocab, "--batch", batch, "--warmup", "1"])
        .args(["--steps", steps, "--device", device, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "lmlab bench train --device {device}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["tokens_per_s"].as_f64().unwrap(),
        v["ms_per_step"].as_f64().unwrap(),
        v["device_name"].as_str().unwrap_or("").to_string(),
    )
}

/// `lmlab bench moe --json` on `device`: (dense ms/step, MoE ms/step).
fn native_moe_bench(device: &str, preset: &str, batch: &str, steps: &str) -> (f64, f64) {
    let out = lmlab()
        .args(["bench", "moe", "--preset", preset, "--batch", batch, "--warmup", "1", "--steps", steps])
        .args(["--device", device, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "lmlab bench moe --device {device}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["dense"]["ms_per_step"].as_f64().unwrap(), v["moe"]["ms_per_step"].as_f64().unwrap())
}

#[tokio::main]
async fn main() {
    let preset = env("LMLAB_BENCH_PRESET", "tiny");
    let batch = env("LMLAB_BENCH_BATCH", "4");
    let steps = env("LMLAB_BENCH_STEPS", "3");
    let with_cpu = env("LMLAB_BENCH_CPU", "1") == "1";
    let vocab = lmlab::accounting::training_preset(&preset).expect("a training preset").default_vocab().to_string();
    let site = Site::serve(&dist());
    let mut browser = Browser::start().await;
    browser.fail_on(&TRAIN_ERRORS);
    let b = &browser;
    let opened = Instant::now();
    b.goto(&format!("{}/#/train", site.url)).await;
    let adapter = b.wait_for("#train-adapter", 300).await.text().await.unwrap();
    let load_s = opened.elapsed().as_secs_f64();
    // First contentful paint of the page (the main bundle; the worker loads after it).
    let fcp = b
        .driver
        .execute(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : -1;",
            vec![],
        )
        .await
        .unwrap()
        .json()
        .as_f64()
        .unwrap_or(-1.0);

    let mut rows = Vec::new();
    let (btps, bms, btext) = page_bench(b, "webgpu", &preset, &batch, &steps).await;
    let (ntps, nms, nname) = native_bench("wgpu", &preset, &vocab, &batch, &steps);
    rows.push(("WebGPU in Chromium", btps, bms, "native wgpu", ntps, nms, format!("{adapter} | {nname}"), btext));
    if with_cpu {
        let (btps, bms, btext) = page_bench(b, "cpu", &preset, &batch, &steps).await;
        let (ntps, nms, nname) = native_bench("cpu", &preset, &vocab, &batch, &steps);
        rows.push(("CPU (wasm, 1 thread)", btps, bms, "native CPU (flex, all cores)", ntps, nms, nname, btext));
    }
    // MoE against its dense twin, in the page and natively.
    let moe_preset = env("LMLAB_BENCH_MOE", "tiny-moe");
    let mut moe_rows = Vec::new();
    if !moe_preset.is_empty() {
        let twin = lmlab::accounting::training_preset(&moe_preset)
            .ok()
            .and_then(|p| p.dense_twin())
            .expect("LMLAB_BENCH_MOE names a MoE preset with a dense twin");
        let wanted = env("LMLAB_BENCH_MOE_BACKENDS", if with_cpu { "webgpu,cpu" } else { "webgpu" });
        let backends: Vec<(&str, &str)> = [("webgpu", "wgpu"), ("cpu", "cpu")]
            .into_iter()
            .filter(|(page, _)| wanted.split(',').any(|w| w.trim() == *page))
            .collect();
        for (page_backend, native_device) in &backends {
            let (_, dense_ms, _) = page_bench(b, page_backend, twin.name, &batch, &steps).await;
            let (_, moe_ms, _) = page_bench(b, page_backend, &moe_preset, &batch, &steps).await;
            let native = native_moe_bench(native_device, &moe_preset, &batch, &steps);
            moe_rows.push((*page_backend, twin.name, dense_ms, moe_ms, native));
        }
    }
    browser.quit().await;

    println!("\ntraining speed, preset {preset} (vocab {vocab}), batch {batch}, {steps} timed steps after 1 warm-up");
    println!("first contentful paint of #/train: {fcp:.0} ms; worker bundle fetched, compiled and WebGPU probed {load_s:.1} s after navigation");
    println!(
        "{:<24} {:>12} {:>10}   {:<30} {:>12} {:>10}   {:>8}",
        "browser", "tokens/s", "ms/step", "native", "tokens/s", "ms/step", "ratio"
    );
    for (b, btps, bms, n, ntps, nms, devices, text) in &rows {
        println!("{b:<24} {btps:>12.1} {bms:>10.0}   {n:<30} {ntps:>12.1} {nms:>10.0}   {:>7.2}×", btps / ntps);
        println!("    devices: {devices}");
        println!("    page: {text}");
    }
    if !moe_rows.is_empty() {
        println!("\nmixture of experts: {moe_preset} vs its dense twin (equal active FLOPs), batch {batch}, ms/step");
        println!(
            "{:<10} {:>10} {:>10} {:>8}   {:>10} {:>10} {:>8}",
            "backend", "page dense", "page MoE", "ratio", "nat. dense", "nat. MoE", "ratio"
        );
        for (backend, _, dense_ms, moe_ms, (nd, nm)) in &moe_rows {
            println!(
                "{backend:<10} {dense_ms:>10.0} {moe_ms:>10.0} {:>7.2}×   {nd:>10.0} {nm:>10.0} {:>7.2}×",
                moe_ms / dense_ms,
                nm / nd
            );
        }
        println!("(goal: MoE step time ≤ 1.5× the dense model's)");
    }
    if adapter.contains("CPU emulation") {
        println!(
            "note: this browser's WebGPU adapter is a CPU emulation (SwiftShader), and native wgpu runs on Mesa's lavapipe \
             here: the WebGPU ratio compares two emulators, not browser overhead on a real GPU."
        );
    }
}
