//! The Train page on SwiftShader's WebGPU: a nano run from Start to its checkpoint, paused and
//! resumed, visited away from, its checkpoint read by the CLI and sampled again after a reload.

use std::time::{Duration, Instant};

use lmlab::accounting::training_preset;
use lmlab::train::archive;
use lmlab::train::checkpoint::Checkpoint;
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::train_page::TRAIN_ERRORS;
use lmlab_acceptance::{dist, lmlab};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_trains_on_webgpu_in_chromium() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&TRAIN_ERRORS);
    let steps: usize = std::env::var("LMLAB_TRAIN_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);

    // Opening the page fetches the worker bundle and probes WebGPU (SwiftShader here).
    let opened = Instant::now();
    b.goto(&format!("{}/#/train", site.url)).await;
    b.wait_text("h1", |t| t.contains("Train")).await;
    let adapter = b.wait_for("#train-adapter", 120).await.text().await.unwrap();
    eprintln!("worker bundle loaded and WebGPU probed in {:.1} s: {adapter}", opened.elapsed().as_secs_f64());
    assert!(adapter.to_lowercase().contains("swiftshader") && adapter.contains("CPU emulation"), "{adapter}");
    // An emulated GPU is not the default (the CPU backend is faster there); this test wants WebGPU.
    b.select("#train-backend", "webgpu").await;

    // A preset too large for this adapter is refused before it starts, naming the limit.
    b.select("#train-preset", "gpt2-small").await;
    let e = b.wait_text("#train-limit-error", |t| !t.is_empty()).await;
    assert!(e.contains("logits") && (e.contains("maxStorageBufferBindingSize") || e.contains("maxBufferSize")), "{e}");
    assert!(b.disabled("#train-start").await);
    b.select("#train-preset", "nano").await;
    // WebGPU has no bf16: the Precision field says so and what to pick instead.
    b.select("#train-precision", "bf16").await;
    let e = b.wait_text("#train-precision-error", |t| !t.is_empty()).await;
    assert!(e.contains("WGSL") && e.contains("fp32") && e.contains("CPU"), "{e}");
    assert!(b.disabled("#train-start").await);
    b.select("#train-precision", "fp32").await;

    // nano on the bundled Shakespeare, few steps; a sample and a validation every 8 steps.
    b.type_into("#train-steps", &steps.to_string()).await;
    b.type_into("#train-eval-every", "8").await;
    b.type_into("#train-sample-every", "8").await;
    b.type_into("#train-warmup", "2").await;
    let plan = b.wait_text("#train-plan", |t| t.contains("parameters")).await;
    let nano = training_preset("nano").unwrap().shape;
    assert!(plan.contains(&lmlab::units::format_count(nano.params().total as f64)), "{plan}");
    let started = Instant::now();
    let run = b.begin_run("#train-start").await;
    b.wait_phase(run, &["training", "finished"], 600).await;
    let device = b.wait_text("#train-device", |t| !t.is_empty()).await;
    assert!(device.starts_with("WebGPU on") && device.contains("BPE (512 ids)"), "{device}");
    // The untrained model's loss is close to ln V (the exercise's answer).
    b.wait_steps(run, 1, 600).await;
    let first: f64 = b.wait_text("#train-loss", |t| t != "–").await.parse().unwrap();
    eprintln!("first step after {:.1} s, loss {first}", started.elapsed().as_secs_f64());
    assert!((first - 512f64.ln()).abs() < 0.35, "first loss {first} vs ln 512");

    // Pause holds the run (the step count stays), Resume continues it.
    b.wait_steps(run, 3, 600).await;
    b.click("#train-pause").await;
    b.wait_phase(run, &["paused"], 120).await;
    let held = b.steps_done().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(b.steps_done().await, held, "no step is taken while paused");
    // The page stays responsive while paused or training: typing updates the form at once.
    b.type_into("#train-prompt", "KING").await;
    b.click("#train-resume").await;
    b.wait_phase(run, &["training", "finished"], 60).await;
    // Other labs while it trains; the run goes on.
    b.click("#nav-precision").await;
    b.wait_text("h1", |t| !t.contains("Train")).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    b.click("#nav-train").await;
    b.wait_phase(run, &["finished"], 1800).await;
    let seconds = started.elapsed().as_secs_f64();
    let last: f64 = b.wait_text("#train-loss", |t| t != "–").await.parse().unwrap();
    let val: f64 = b.wait_text("#train-val-loss", |t| t != "–").await.parse().unwrap();
    let tps = b.wait_text("#train-tokens-per-s", |t| t != "–").await;
    eprintln!("{steps} nano steps in Chromium (WebGPU/SwiftShader): {seconds:.1} s; loss {first:.3} → {last:.3}, val {val:.3}, {tps} tokens/s");
    assert!(last < first - 0.5, "the loss must drop: {first} → {last}");
    assert_eq!(b.steps_done().await, steps);
    // The chart: training and validation curves, the ln V line.
    let lines = b.driver.find_all(thirtyfour::By::Css("#train-chart polyline.series")).await.unwrap();
    assert_eq!(lines.len(), 2);
    let train_pts = lines[0].attr("points").await.unwrap().unwrap_or_default();
    assert_eq!(train_pts.split_whitespace().count(), steps);
    assert_eq!(b.count("#train-chart .reference").await, 1);
    b.click("#train-log").await;
    assert_eq!(b.wait_attr("#train-chart", "data-scale", 15, |s| s == "log").await, "log");
    // Samples every 8 steps and at the end, newest first, with the prompt typed during the run.
    b.wait_attr("#train-samples article.sample", "data-step", 60, |s| s == steps.to_string()).await;
    assert!(b.count("#train-samples article.sample").await >= 2);
    b.shot("30-train-finished.png").await;
    b.shot_of("#train-live", "31-train-live.png").await;

    // The checkpoint: saved in IndexedDB at the end, offered as a .tar the CLI reads.
    b.wait_attr("#train-saved", "data-step", 60, |s| s == steps.to_string()).await;
    b.wait_attr("#train-download", "data-step", 60, |s| s == steps.to_string()).await;
    let tar = b.download_bytes("#train-download").await;
    let files = archive::unpack("download.tar", &tar).unwrap();
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    for n in ["config.json", "model.safetensors", "optimizer.safetensors", "state.json", "vocab.json", "merges.txt"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // The page's next-token probabilities (WebGPU) equal the CPU's on the downloaded weights.
    let mut probs: Vec<f64> = Vec::new();
    for el in b.driver.find_all(thirtyfour::By::Css("#train-next td.prob")).await.unwrap() {
        probs.push(el.attr("data-p").await.unwrap().unwrap().parse().unwrap());
    }
    assert_eq!(probs.len(), 5);
    // The prompt typed during the run applies to the samples that follow.
    let shown_prompt = b.wait_text("#train-samples article.sample pre b", |t| !t.is_empty()).await;
    assert_eq!(shown_prompt, "KING");
    let ckpt = Checkpoint::from_files("download.tar", files);
    let (model, config, tokenizer) = ckpt
        .load_model::<burn::backend::Flex>(&Default::default())
        .expect("the CLI's loader reads the page's checkpoint");
    let prompt = tokenizer.encode_text("KING");
    let native =
        pollster::block_on(lmlab::sample::next_token_probabilities(&model, config.model.context_length, &prompt, 5))
            .unwrap();
    for (p, (_, q)) in probs.iter().zip(&native) {
        assert!((p - q).abs() < 2e-3, "page {probs:?} vs native {native:?}");
    }
    let tar_path = lmlab_acceptance::temp_file("page.tar", &tar);
    let out = lmlab()
        .args(["sample", "--checkpoint", tar_path.to_str().unwrap(), "--prompt", "KING", "--max-tokens", "20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "lmlab sample on the page's checkpoint: {}", String::from_utf8_lossy(&out.stderr));

    // A reload keeps the checkpoint (IndexedDB); sample from it in the page.
    b.driver.refresh().await.unwrap();
    b.wait_attr("#train-saved", "data-step", 120, |s| s == steps.to_string()).await;
    b.wait_for("#train-adapter", 120).await;
    let run = b.begin_run("#train-load-saved").await;
    b.wait_phase(run, &["loaded"], 300).await;
    b.wait_text("#train-loaded", |t| t.contains(&format!("{steps} steps")) && t.contains("d_model 64")).await;
    b.click("#train-sample").await;
    b.wait_for("#train-samples article.sample", 300).await;
    b.shot("32-train-reloaded-sample.png").await;

    // Predict, then check: ln V.
    b.type_into("#exercise-train-untrained-loss input.answer", "6.24").await;
    b.click("#exercise-train-untrained-loss button.check").await;
    b.wait_text("#exercise-train-untrained-loss .verdict .message", |t| t.starts_with("Right")).await;
    b.quit().await;
}
