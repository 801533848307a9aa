//! The Train page's engine in headless Chromium: the CS336 transformer trained by `Trainer` on
//! burn's wgpu backend over WebGPU (SwiftShader here), with only asynchronous read-backs. A few
//! steps on one fixed batch lower the loss; a sample comes out; the checkpoint the page would
//! store loads on burn's CPU backend (the CLI's loader) and gives the same logits.
#![cfg(all(target_arch = "wasm32", feature = "webgpu", feature = "cpu"))]

use burn::backend::{Autodiff, Flex, Wgpu};
use burn::tensor::{Int, Tensor, TensorData};
use lmlab::model::TransformerConfig;
use lmlab::sample::{generate, SamplingConfig};
use lmlab::tokenize::train::train_bpe;
use lmlab::tokenize::Tokenizer;
use lmlab::train::checkpoint::save;
use lmlab::train::data::TokenSlice;
use lmlab::train::trainer::{TrainConfig, Trainer};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn a_few_webgpu_steps_on_a_fixed_batch_lower_the_loss() {
    let (device, adapter) = lmlab::train::webgpu::open().await.expect("WebGPU (--enable-unsafe-webgpu)");
    let text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer";
    let bpe = train_bpe(text, 300, &["<|endoftext|>".into()], &mut |_| {}).unwrap();
    // A small model; the token slice is exactly one window long, so every batch is the same.
    let model = TransformerConfig::new(bpe.vocab_size(), 16, 32, 1, 2, 64);
    let ids = bpe.encode_text(text);
    assert!(ids.len() > 17);
    let bytes: Vec<u8> = ids[..17].iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
    let batch = TokenSlice::new("fixed", &bytes, 2).unwrap();
    let config =
        TrainConfig::new().with_steps(8).with_batch_size(2).with_max_lr(1e-2).with_warmup_steps(1).with_seed(3);
    let mut trainer = Trainer::<Autodiff<Wgpu>>::new(model.clone(), config, &device).unwrap();
    let mut losses = Vec::new();
    for _ in 0..8 {
        losses.push(trainer.train_step(&batch).await.unwrap().loss);
    }
    web_sys_log(&format!("{}: losses {losses:?}", adapter.name));
    assert!((losses[0] - (bpe.vocab_size() as f64).ln()).abs() < 0.5, "{losses:?}");
    assert!(losses[7] < losses[0] - 1.0, "the loss must drop on a repeated batch: {losses:?}");

    // A sample.
    let inner = burn::module::AutodiffModule::valid(trainer.model());
    let prompt = bpe.encode_text("to be");
    let sampled =
        generate(&inner, 16, &prompt, &SamplingConfig::new().with_max_tokens(6), None, |_| true).await.unwrap();
    assert_eq!(sampled.len(), 6);
    assert!(bpe.decode(&sampled).is_ok());

    // The checkpoint the page stores, loaded on the CPU backend: same logits.
    let ckpt = save(&trainer, &bpe, "test", Some(losses[7]), None, "fixed").await.unwrap();
    let ckpt = lmlab::train::checkpoint::Checkpoint::from_files("page", ckpt.files.into_iter().collect());
    let (cpu_model, config, _) = ckpt.load_model::<Flex>(&Default::default()).unwrap();
    assert_eq!(config.model, model);
    let input: Vec<i64> = ids[..16].iter().map(|&i| i64::from(i)).collect();
    let gpu_logits = inner
        .forward(Tensor::<Wgpu, 2, Int>::from_data(TensorData::new(input.clone(), [1, 16]), &device))
        .into_data_async()
        .await
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let cpu_logits = cpu_model
        .forward(Tensor::<Flex, 2, Int>::from_data(TensorData::new(input, [1, 16]), &Default::default()))
        .into_data_async()
        .await
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let worst = gpu_logits.iter().zip(&cpu_logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-3, "WebGPU and CPU logits differ by {worst}");
}

fn web_sys_log(s: &str) {
    wasm_bindgen_test::console_log!("{s}");
}
