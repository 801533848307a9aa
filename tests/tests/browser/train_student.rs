//! The Train page as a student meets it: the fastest backend chosen by itself, a model too large
//! for the tab refused before it starts, Stop that ends even a step that does not answer, and
//! nothing of the student's work lost — not by visiting another lab, not by a reload mid-run —
//! with the run's `.tar` resuming natively on its own.

use std::time::{Duration, Instant};

use lmlab::train::archive;
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::train_page::TRAIN_ERRORS;
use lmlab_acceptance::{dist, repo_root, run_lmlab, temp_file};

/// Sets a text field's value as a paste does (one input event), for texts too long to type.
async fn paste(b: &Browser, css: &str, text: &str) {
    let script = format!(
        "const el = document.querySelector('{css}'); el.value = arguments[0];
         el.dispatchEvent(new Event('input', {{ bubbles: true }}));"
    );
    b.driver.execute(&script, vec![serde_json::Value::String(text.into())]).await.unwrap();
}

async fn value_of(b: &Browser, css: &str) -> String {
    let script = format!("return document.querySelector('{css}').value;");
    b.driver.execute(&script, vec![]).await.unwrap().json().as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_picks_the_fast_backend_refuses_what_cannot_fit_and_always_stops() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&TRAIN_ERRORS);
    b.goto(&format!("{}/#/train", site.url)).await;
    let adapter = b.wait_for("#train-adapter", 120).await.text().await.unwrap();
    assert!(adapter.contains("CPU emulation"), "{adapter}");
    // SwiftShader is a CPU emulation: the CPU backend is the default, and the page says why.
    let start = Instant::now();
    while value_of(&b, "#train-backend").await != "cpu" {
        assert!(start.elapsed() < Duration::from_secs(30), "the CPU backend was not chosen by default");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let why = b.wait_text("#train-backend-reason", |t| !t.is_empty()).await;
    assert!(why.to_lowercase().contains("swiftshader") && why.contains("emulation"), "{why}");

    // gpt2-small on the CPU backend: refused before it starts, with the memory it needs.
    b.select("#train-preset", "gpt2-small").await;
    let e = b.wait_text("#train-limit-error", |t| !t.is_empty()).await;
    assert!(e.contains("too large for the CPU backend") && e.contains("GiB") && e.contains("lmlab train"), "{e}");
    assert!(b.disabled("#train-start").await);
    let bytes: f64 = b.attr("#train-estimate", "data-bytes").await.parse().unwrap();
    assert!(bytes > 4.0 * (1u64 << 30) as f64, "{bytes}");
    b.shot("40-train-gpt2-small-refused.png").await;

    // A deliberately slow run (a custom shape whose every step and validation take many seconds
    // here): the worker is inside a long computation when Stop is pressed, and Stop still ends it.
    b.select("#train-preset", "custom").await;
    b.select("#train-tokenizer", "bytes").await;
    for (css, v) in [
        ("#train-context", "256"),
        ("#train-d-model", "256"),
        ("#train-layers", "4"),
        ("#train-heads", "4"),
        ("#train-d-ff", "1024"),
        ("#train-batch", "16"),
        ("#train-steps", "20"),
        ("#train-sample-every", "0"),
    ] {
        b.type_into(css, v).await;
    }
    let seconds: f64 = b.wait_attr("#train-estimate", "data-seconds", 15, |_| true).await.parse().unwrap();
    assert!(seconds > 3.0, "the test needs a step longer than Stop's limit: {seconds} s");
    let run = b.begin_run("#train-start").await;
    b.wait_phase(run, &["training"], 300).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pressed = Instant::now();
    b.click("#train-stop").await;
    b.wait_phase(run, &["stopped"], 10).await;
    let took = pressed.elapsed().as_secs_f64();
    eprintln!("Stop during a long step answered in {took:.2} s");
    assert!(took < 3.0, "Stop took {took:.2} s");
    let text = b.wait_text("#train-phase", |t| t.contains("Stopped")).await;
    assert!(text.contains("Stopped mid-step") && text.contains("fresh one"), "{text}");
    b.shot("41-train-stopped-mid-step.png").await;

    // The fresh worker is ready again and trains: nano, a few steps.
    b.wait_for("#train-adapter", 120).await;
    b.select("#train-preset", "nano").await;
    b.type_into("#train-steps", "3").await;
    b.type_into("#train-sample-every", "0").await;
    let next = b.begin_run("#train-start").await;
    b.wait_phase(next, &["finished"], 300).await;
    assert_eq!(b.steps_done().await, 3);
    let device = b.wait_text("#train-device", |t| !t.is_empty()).await;
    assert!(device.starts_with("CPU (wasm): "), "{device}");
    // No MFU against a GPU's peak on the CPU, and the page says why.
    assert_eq!(b.wait_text("#train-mfu", |t| !t.is_empty()).await, "n/a");
    b.wait_for("#train-mfu-note", 10).await;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_loses_nothing_of_the_students_work() {
    let site = Site::serve(&dist());
    let mut b = Browser::start().await;
    b.fail_on(&TRAIN_ERRORS);
    b.goto(&format!("{}/#/train", site.url)).await;
    b.wait_for("#train-adapter", 120).await;

    // The student's own text (a slice of the bundled corpus here), pasted.
    let shakespeare = std::fs::read_to_string(repo_root().join("data/tinyshakespeare.txt")).unwrap();
    let text: String = shakespeare.chars().skip(200_000).take(60_000).collect();
    b.select("#train-source", "paste").await;
    paste(&b, "#train-paste", &text).await;
    // Leaving the page and coming back keeps the choice and the text.
    b.click("#nav-precision").await;
    b.wait_text("h1", |t| !t.contains("Train")).await;
    b.click("#nav-train").await;
    b.wait_for("#train-paste", 30).await;
    assert_eq!(value_of(&b, "#train-source").await, "paste");
    assert_eq!(value_of(&b, "#train-paste").await.len(), text.len(), "the pasted text came back whole");

    // A run on it; checkpoints every 4 steps (10 % of 40) are saved as it goes.
    b.select("#train-tokenizer", "bytes").await;
    b.type_into("#train-steps", "40").await;
    b.type_into("#train-batch", "4").await;
    b.type_into("#train-eval-every", "10").await;
    b.type_into("#train-sample-every", "0").await;
    let run = b.begin_run("#train-start").await;
    b.wait_steps(run, 13, 600).await;
    let saved: usize = b.wait_attr("#train-saved", "data-step", 60, |s| s.parse::<usize>().unwrap_or(0) >= 8).await.parse().unwrap();

    // A reload mid-run: the page offers the autosaved checkpoint, and resuming continues the run.
    b.driver.refresh().await.unwrap();
    b.wait_for("#train-adapter", 120).await;
    let offered: usize = b.wait_attr("#train-resume-offer", "data-step", 60, |_| true).await.parse().unwrap();
    assert!(offered >= saved, "offered step {offered}, saved {saved} before the reload");
    b.shot("42-train-resume-offer.png").await;
    let resumed = b.begin_run("#train-resume-autosaved").await;
    b.wait_phase(resumed, &["training", "finished"], 300).await;
    b.wait_steps(resumed, offered + 1, 300).await;
    let points = b.attr("#train-chart polyline.series", "points").await;
    let first_step: f64 = points.split_whitespace().next().unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(first_step > 0.0, "the curve continues from the checkpoint, not from step 0: {points}");
    let loss: f64 = b.wait_text("#train-loss", |t| t != "–").await.parse().unwrap();
    // An untrained byte model starts at ln 257 ≈ 5.55 nats; the resumed one is well below.
    assert!(loss < 257f64.ln() - 1.0, "resumed loss {loss}");
    b.wait_phase(resumed, &["finished"], 600).await;
    b.wait_attr("#train-download", "data-step", 60, |s| s == "40").await;

    // Its .tar carries the pasted text: `lmlab train --resume page.tar` needs nothing else.
    let tar = b.download_bytes("#train-download").await;
    let files = archive::unpack("page.tar", &tar).unwrap();
    let (_, carried) = files.iter().find(|(n, _)| n == archive::CORPUS_FILE).expect("the corpus travels in the .tar");
    assert_eq!(archive::embedded_corpus("page.tar", carried).unwrap().text, text);
    let tar_path = temp_file("pasted-run.tar", &tar);
    let out_dir = tar_path.with_file_name("pasted-run-native");
    let out = run_lmlab(&[
        "train",
        "--resume",
        tar_path.to_str().unwrap(),
        "--steps",
        "44",
        "--out",
        out_dir.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_eq!(out.code, 0, "lmlab train --resume page.tar: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("at step 40 of 44") && out.stdout.contains("pasted text"), "{}", out.stdout);
    b.quit().await;
}
