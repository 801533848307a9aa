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

use std::time::{Duration, Instant};

use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::{lmlab, repo_root};
use thirtyfour::prelude::*;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

async fn wait(d: &WebDriver, css: &str, secs: u64) -> WebElement {
    let start = Instant::now();
    loop {
        if let Ok(el) = d.find(By::Css(css)).await {
            return el;
        }
        if let Ok(e) = d.find(By::Css("#train-error")).await {
            panic!("the Train page failed: {}", e.text().await.unwrap_or_default());
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "{css} did not appear within {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn set_field(d: &WebDriver, css: &str, value: &str) {
    let el = d.find(By::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

async fn select(d: &WebDriver, css: &str, value: &str) {
    d.find(By::Css(&format!("{css} option[value='{value}']"))).await.unwrap().click().await.unwrap();
}

/// The page's benchmark on `backend` (`webgpu` or `cpu`): (tokens/s, ms/step, warm-up s, device).
async fn page_bench(d: &WebDriver, backend: &str, preset: &str, batch: &str, steps: &str) -> (f64, f64, String) {
    select(d, "#train-preset", preset).await;
    select(d, "#train-backend", backend).await;
    set_field(d, "#train-batch", batch).await;
    set_field(d, "#train-bench-steps", steps).await;
    // The previous result disappears when a new measurement starts.
    d.find(By::Css("#train-bench")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let el = wait(d, "#train-bench-result", 3600).await;
    let tps: f64 = el.attr("data-tokens-per-s").await.unwrap().unwrap().parse().unwrap();
    let ms: f64 = el.attr("data-ms-per-step").await.unwrap().unwrap().parse().unwrap();
    (tps, ms, el.text().await.unwrap())
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
    let vocab = lmlab::train::presets::training_preset(&preset).expect("a training preset").default_vocab.to_string();
    let dist = std::env::var("LMLAB_DIST").map(Into::into).unwrap_or_else(|_| repo_root().join("dist"));
    let site = Site::serve(&dist);
    let browser = Browser::start().await;
    let d = &browser.driver;
    let opened = Instant::now();
    d.goto(format!("{}/#/train", site.url)).await.unwrap();
    let adapter = wait(d, "#train-adapter", 300).await.text().await.unwrap();
    let load_s = opened.elapsed().as_secs_f64();
    // First contentful paint of the page (the main bundle; the worker loads after it).
    let fcp = d
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
    let (btps, bms, btext) = page_bench(d, "webgpu", &preset, &batch, &steps).await;
    let (ntps, nms, nname) = native_bench("wgpu", &preset, &vocab, &batch, &steps);
    rows.push(("WebGPU in Chromium", btps, bms, "native wgpu", ntps, nms, format!("{adapter} | {nname}"), btext));
    if with_cpu {
        let (btps, bms, btext) = page_bench(d, "cpu", &preset, &batch, &steps).await;
        let (ntps, nms, nname) = native_bench("cpu", &preset, &vocab, &batch, &steps);
        rows.push(("CPU (wasm, 1 thread)", btps, bms, "native CPU (flex, all cores)", ntps, nms, nname, btext));
    }
    // MoE against its dense twin, in the page and natively.
    let moe_preset = env("LMLAB_BENCH_MOE", "tiny-moe");
    let mut moe_rows = Vec::new();
    if !moe_preset.is_empty() {
        let twin = lmlab::train::presets::training_preset(&moe_preset)
            .ok()
            .and_then(|p| p.dense_twin())
            .expect("LMLAB_BENCH_MOE names a MoE preset with a dense twin");
        let wanted = env("LMLAB_BENCH_MOE_BACKENDS", if with_cpu { "webgpu,cpu" } else { "webgpu" });
        let backends: Vec<(&str, &str)> = [("webgpu", "wgpu"), ("cpu", "cpu")]
            .into_iter()
            .filter(|(page, _)| wanted.split(',').any(|w| w.trim() == *page))
            .collect();
        for (page_backend, native_device) in &backends {
            let (_, dense_ms, _) = page_bench(d, page_backend, twin.name, &batch, &steps).await;
            let (_, moe_ms, _) = page_bench(d, page_backend, &moe_preset, &batch, &steps).await;
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
