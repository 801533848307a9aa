//! The Train page without WebGPU: the CPU backend (burn's flex in wasm) trains, and bad input —
//! corpora, fields, checkpoints — is named before or instead of anything breaking.

use burn::backend::{Autodiff, Flex};
use lmlab::train::trainer::{TrainConfig, Trainer};
use lmlab_acceptance::browser::Browser;
use lmlab_acceptance::site::Site;
use lmlab_acceptance::{dist, temp_file};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh"]
async fn train_page_without_webgpu_trains_on_the_cpu_and_names_bad_input() {
    let site = Site::serve(&dist());
    let b = Browser::start().await;
    b.driver.cdp().page().add_script_to_evaluate_on_new_document("delete Navigator.prototype.gpu;").await.unwrap();
    b.goto(&format!("{}/#/train", site.url)).await;
    // No WebGPU: the page says what is missing and offers the CPU backend.
    let notice = b.wait_for("#train-no-webgpu", 120).await.text().await.unwrap();
    assert!(notice.contains("navigator.gpu is missing") && notice.contains("CPU"), "{notice}");
    // The page runs on the CPU backend by itself, and says why.
    let why = b.wait_text("#train-backend-reason", |t| !t.is_empty()).await;
    assert!(why.starts_with("CPU chosen") && why.contains("no WebGPU"), "{why}");
    assert!(!b.disabled("#train-start").await);
    // WebGPU picked by hand: Start is refused until the CPU is chosen again.
    b.select("#train-backend", "webgpu").await;
    b.wait_attr("#train-start", "disabled", 15, |_| true).await;
    b.select("#train-backend", "cpu").await;
    b.shot("33-train-no-webgpu.png").await;

    // Bad corpora are named before anything runs.
    b.select("#train-source", "upload").await;
    b.upload("#train-corpus-file", &temp_file("picture.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")).await;
    let e = b.wait_text("#train-corpus-error", |t| t.contains("picture.png")).await;
    assert!(e.contains("binary file"), "{e}");
    b.upload("#train-corpus-file", &temp_file("empty.txt", b"")).await;
    b.wait_text("#train-corpus-error", |t| t.contains("empty.txt: the file is empty")).await;
    b.upload("#train-corpus-file", &temp_file("latin1.txt", b"caf\xe9\n")).await;
    b.wait_text("#train-corpus-error", |t| t.contains("latin1.txt: invalid UTF-8 at byte offset 3")).await;
    assert!(b.disabled("#train-start").await);
    // A corpus shorter than two context windows: the worker names the shortfall.
    b.select("#train-source", "paste").await;
    b.type_into("#train-paste", "To be, or not to be.").await;
    let short = b.begin_run("#train-start").await;
    let e = b.run_error(short, 600).await;
    assert!(e.contains("pasted text") && e.contains("too short") && e.contains("context length"), "{e}");

    // A field typo is named under its field and blocks Start.
    b.type_into("#train-lr", "fast").await;
    let e = b.wait_text(".field.invalid .error", |t| !t.is_empty()).await;
    assert!(e.contains("fast"), "{e}");
    assert!(b.disabled("#train-start").await);
    b.type_into("#train-lr", "3e-3").await;

    // The CPU backend (burn's flex in wasm) trains nano on the bundled corpus in bf16 mixed
    // precision (flex has bf16); the new run shows none of the failed run's error.
    b.select("#train-source", "bundled").await;
    b.select("#train-precision", "bf16").await;
    b.type_into("#train-steps", "6").await;
    b.type_into("#train-batch", "4").await;
    b.type_into("#train-warmup", "1").await;
    b.type_into("#train-eval-every", "3").await;
    b.type_into("#train-sample-every", "0").await;
    let run = b.begin_run("#train-start").await;
    assert_eq!(b.count("#train-error").await, 0, "a new run clears the last run's error");
    b.wait_phase(run, &["training", "finished"], 300).await;
    let device = b.wait_text("#train-device", |t| !t.is_empty()).await;
    assert!(device.starts_with("CPU (wasm)") && device.contains("bf16 mixed"), "{device}");
    b.wait_phase(run, &["finished"], 900).await;
    let points = b.attr("#train-chart polyline.series", "points").await;
    let losses: Vec<f64> = points.split_whitespace().map(|p| p.split(',').nth(1).unwrap().parse().unwrap()).collect();
    // SVG y grows downward: a lower loss is a larger y.
    assert_eq!(losses.len(), 6);
    assert!(losses[5] > losses[0], "the loss must drop on the CPU backend in bf16 too: {points}");
    b.wait_attr("#train-saved", "data-step", 60, |s| s == "6").await;

    // Checkpoints that do not fit: not a tar, and weights of another shape than their config.
    b.upload("#train-upload-checkpoint", &temp_file("notes.tar", b"these are not the files you are looking for")).await;
    let e = b.wait_for("#train-action-error", 60).await.text().await.unwrap();
    assert!(e.contains("notes.tar") && e.contains("tar"), "{e}");
    let bpe = lmlab::tokenize::train::train_bpe("abcabcabd abd", 260, &["<|endoftext|>".into()], &mut |_| {}).unwrap();
    let vocab = lmlab::tokenize::Tokenizer::vocab_size(&bpe);
    let small = lmlab::model::TransformerConfig::new(vocab, 8, 16, 1, 2, 64);
    let trainer = Trainer::<Autodiff<Flex>>::new(small, TrainConfig::new().with_steps(1), &Default::default()).unwrap();
    let mut ckpt = pollster::block_on(lmlab::train::checkpoint::save(&trainer, &bpe, "test", None, None, "x")).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&ckpt.files["config.json"]).unwrap();
    assert_eq!(config["model"]["d_model"], 16);
    config["model"]["d_model"] = 32.into();
    ckpt.files.insert("config.json".into(), serde_json::to_vec(&config).unwrap());
    let tar = lmlab::train::archive::pack(&ckpt.files.into_iter().collect());
    let other = temp_file("other-shape.tar", &tar);
    b.driver.refresh().await.unwrap();
    b.wait_for("#train-no-webgpu", 120).await;
    b.select("#train-backend", "cpu").await;
    let before = b.train_run().await;
    b.upload("#train-upload-checkpoint", &other).await;
    let load = b.wait_attr("#train-phase", "data-run", 60, |r| r != before.to_string()).await.parse().unwrap();
    let e = b.run_error(load, 600).await;
    assert!(e.contains("model.safetensors") && e.contains("shape"), "{e}");
    // The run saved before is still there.
    b.wait_for("#train-saved", 30).await;
    b.shot("34-train-bad-checkpoint.png").await;
    b.quit().await;
}
