//! The whole language model against an independent reference: random CS336-keyed weights and the
//! logits a plain float64 numpy implementation computes for them (tests/fixtures/lm, written by
//! generate_reference.py with its own safetensors writer). Also: the safetensors round trip, the
//! checkpoint files, and generation with the KV cache against the full forward pass.

#![cfg(all(feature = "cpu", not(target_arch = "wasm32")))]

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Int, Tensor, TensorData};
use lmlab::model::transformer::KvCache;
use lmlab::model::weights::{from_safetensors, load_state_dict, read_state_dict, to_safetensors};
use lmlab::model::{TransformerConfig, TransformerLm};
use lmlab::sample::{generate, SamplingConfig};
use lmlab::tokenize::{Bpe, Tokenizer};
use lmlab::train::checkpoint::{from_weights, save, Checkpoint};
use lmlab::train::data::TokenSlice;
use lmlab::train::trainer::{TrainConfig, Trainer};
use serde_json::Value;

type B = Flex;

fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/lm")
}

fn reference() -> (TransformerConfig, Vec<i64>, [usize; 2], Vec<f32>) {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("tiny_lm.json")).unwrap()).unwrap();
    let c = &json["config"];
    let u = |k: &str| c[k].as_u64().unwrap() as usize;
    let config = TransformerConfig::new(
        u("vocab_size"),
        u("context_length"),
        u("d_model"),
        u("num_layers"),
        u("num_heads"),
        u("d_ff"),
    )
    .with_rope_theta(c["rope_theta"].as_f64().unwrap());
    let rows: Vec<Vec<i64>> = serde_json::from_value(json["ids"].clone()).unwrap();
    let shape = [rows.len(), rows[0].len()];
    let ids = rows.concat();
    let logits: Vec<f32> =
        json["logits"]["data"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    (config, ids, shape, logits)
}

fn model(config: &TransformerConfig) -> TransformerLm<B> {
    let bytes = std::fs::read(fixture_dir().join("tiny_lm.safetensors")).unwrap();
    let (weights, meta) = from_safetensors("tiny_lm.safetensors", &bytes).unwrap();
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    load_state_dict(config.init::<B>(&Default::default()), &weights, "tiny_lm.safetensors").unwrap()
}

fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(err <= atol + rtol * w.abs(), "{what}: element {i}: {g} vs {w}");
        worst = worst.max(err);
    }
    eprintln!("{what}: max abs error {worst:e}");
}

fn forward(m: &TransformerLm<B>, ids: &[i64], shape: [usize; 2]) -> Vec<f32> {
    let ids: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(ids.to_vec(), shape), &Default::default());
    m.forward(ids).into_data().to_vec::<f32>().unwrap()
}

#[test]
fn full_forward_matches_the_numpy_reference() {
    let (config, ids, shape, want) = reference();
    let m = model(&config);
    assert_close(&forward(&m, &ids, shape), &want, 1e-5, 1e-4, "LM logits");
    // The accounting lab counts the same parameters the model has.
    assert_eq!(burn::module::Module::num_params(&m) as u64, config.shape().params().total);
}

#[test]
fn presets_have_the_accounting_parameter_counts() {
    for config in [TransformerConfig::tiny(1024), TransformerConfig::cs336_tinystories()] {
        let m = config.init::<B>(&Default::default());
        assert_eq!(burn::module::Module::num_params(&m) as u64, config.shape().params().total, "{config:?}");
    }
    // cs336-tinystories as the handout sizes it: 22,696,448 parameters.
    assert_eq!(TransformerConfig::cs336_tinystories().shape().params().total, 22_696_448);
}

#[test]
fn safetensors_round_trip_is_exact() {
    let (config, ids, shape, _) = reference();
    let m = model(&config);
    let weights = pollster::block_on(read_state_dict(&m)).unwrap();
    let bytes = to_safetensors(&weights, None);
    let (again, _) = from_safetensors("round trip", &bytes).unwrap();
    assert_eq!(weights, again);
    let m2 = load_state_dict(config.init::<B>(&Default::default()), &again, "round trip").unwrap();
    assert_eq!(forward(&m, &ids, shape), forward(&m2, &ids, shape));
}

#[test]
fn wrong_weights_are_named() {
    let (config, _, _, _) = reference();
    let bytes = std::fs::read(fixture_dir().join("tiny_lm.safetensors")).unwrap();
    let (weights, _) = from_safetensors("tiny_lm.safetensors", &bytes).unwrap();
    let wider = TransformerConfig { d_ff: 64, ..config.clone() };
    let err =
        load_state_dict(wider.init::<B>(&Default::default()), &weights, "tiny_lm.safetensors").unwrap_err().to_string();
    assert!(err.contains("layers.0.ffn.w1.weight") && err.contains("[48, 32]") && err.contains("[64, 32]"), "{err}");
    let deeper = TransformerConfig { num_layers: 3, ..config.clone() };
    let err = load_state_dict(deeper.init::<B>(&Default::default()), &weights, "x").unwrap_err().to_string();
    assert!(err.contains("missing") && err.contains("layers.2.attn.q_proj.weight"), "{err}");
    let mut truncated = bytes.clone();
    truncated.truncate(bytes.len() - 10);
    let err = from_safetensors("cut.safetensors", &truncated).unwrap_err().to_string();
    assert!(err.contains("cut.safetensors"), "{err}");
    let err = from_safetensors("garbage.safetensors", b"not a safetensors file at all").unwrap_err().to_string();
    assert!(err.contains("garbage.safetensors"), "{err}");
}

/// Byte-level BPE with no merges: ids 0–255 are the bytes, 256 is <|endoftext|>.
fn byte_tokenizer() -> Bpe {
    Bpe::new((0..=255u8).map(|b| vec![b]).collect(), &[], &["<|endoftext|>".to_string()]).unwrap()
}

#[test]
fn converting_weights_checks_tokenizer_and_shapes() {
    let (config, _, _, _) = reference();
    let bytes = std::fs::read(fixture_dir().join("tiny_lm.safetensors")).unwrap();
    let (weights, _) = from_safetensors("tiny_lm.safetensors", &bytes).unwrap();
    // 257 byte-level ids cannot index a 64-row embedding table.
    let err = from_weights::<B>(
        &weights,
        "tiny_lm.safetensors",
        config.clone(),
        &byte_tokenizer(),
        "bytes",
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("257") && err.to_string().contains("64"), "{err}");
    let big = TransformerConfig { vocab_size: 300, ..config };
    let err = from_weights::<B>(&weights, "tiny_lm.safetensors", big, &byte_tokenizer(), "bytes", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(".weight") && err.contains("[64, 32]") && err.contains("[300, 32]"), "{err}");
}

#[test]
fn kv_cache_generation_equals_the_full_forward() {
    let (config, ids, shape, _) = reference();
    let m = model(&config);
    let dev = Default::default();
    // Prefill 5 tokens, then feed the next 7 one at a time: every position's logits must match.
    let row: Vec<i64> = ids[..shape[1]].to_vec();
    let full = forward(&m, &row, [1, shape[1]]);
    let vocab = config.vocab_size;
    let mut cache = KvCache::new(config.num_layers);
    let prefill: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(row[..5].to_vec(), [1, 5]), &dev);
    let mut got = m.forward_cached(prefill, &mut cache).into_data().to_vec::<f32>().unwrap();
    for &t in &row[5..] {
        let one: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(vec![t], [1, 1]), &dev);
        got.extend(m.forward_cached(one, &mut cache).into_data().to_vec::<f32>().unwrap());
    }
    assert_eq!(cache.len(), shape[1]);
    assert_eq!(got.len(), shape[1] * vocab);
    assert_close(&got, &full, 1e-5, 1e-4, "KV-cache logits");
    // Greedy generation through the cache picks the argmax of the full forward at each step.
    let prompt: Vec<u32> = row[..4].iter().map(|&t| t as u32).collect();
    let greedy = SamplingConfig::new().with_temperature(0.0).with_max_tokens(6);
    let out = pollster::block_on(generate(&m, config.context_length, &prompt, &greedy, None, |_| true)).unwrap();
    let mut seq: Vec<i64> = row[..4].to_vec();
    for &next in &out {
        let logits = forward(&m, &seq, [1, seq.len()]);
        let last = &logits[(seq.len() - 1) * vocab..];
        let argmax = (0..vocab).max_by(|&a, &b| last[a].total_cmp(&last[b]).then(b.cmp(&a))).unwrap();
        assert_eq!(next as usize, argmax);
        seq.push(i64::from(next));
    }
    // Past the context length generation keeps going (the cache restarts on the last half).
    let long = SamplingConfig::new().with_max_tokens(40).with_seed(1);
    let out = pollster::block_on(generate(&m, config.context_length, &prompt, &long, None, |_| true)).unwrap();
    assert_eq!(out.len(), 40);
}

type A = Autodiff<Flex>;

/// A checkpoint saved mid-run and resumed continues with exactly the losses of an uninterrupted
/// run (same batches, same moments, same step count).
#[test]
fn resume_reproduces_the_uninterrupted_losses() {
    let dev = Default::default();
    let config = TransformerConfig::new(257, 16, 32, 2, 4, 48);
    let train = TrainConfig::new().with_steps(8).with_batch_size(4).with_warmup_steps(2).with_seed(5).with_max_lr(1e-2);
    let text = "It was the best of times, it was the worst of times, it was the age of wisdom. ".repeat(20);
    let tokenizer = byte_tokenizer();
    let ids = tokenizer.encode_text(&text);
    let bytes: Vec<u8> = ids.iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
    let data = TokenSlice::new("dickens", &bytes, 2).unwrap();
    let mut straight = Trainer::<A>::new(config.clone(), train.clone(), &dev).unwrap();
    let losses: Vec<f64> = (0..8).map(|_| pollster::block_on(straight.train_step(&data)).unwrap().loss).collect();
    assert!(losses[7] < losses[0] - 0.5, "{losses:?}");

    let mut first = Trainer::<A>::new(config, train, &dev).unwrap();
    for _ in 0..3 {
        pollster::block_on(first.train_step(&data)).unwrap();
    }
    let ckpt = pollster::block_on(save(&first, &tokenizer, "bytes", None, None, "dickens")).unwrap();
    let reread = Checkpoint { origin: "memory".into(), files: ckpt.files.clone() };
    let (mut resumed, tok, state) = reread.resume::<A>(&dev).unwrap();
    assert_eq!((state.step, resumed.step()), (3, 3));
    assert_eq!(tok.vocab_size(), 257);
    let rest: Vec<f64> = (3..8).map(|_| pollster::block_on(resumed.train_step(&data)).unwrap().loss).collect();
    assert_eq!(rest, losses[3..].to_vec());
    // A corrupted weights file is refused with its name.
    let mut broken = reread.clone();
    broken.files.get_mut("model.safetensors").unwrap().truncate(100);
    let err = broken.resume::<A>(&dev).err().unwrap().to_string();
    assert!(err.contains("memory/model.safetensors"), "{err}");
    let mut no_config = reread;
    no_config.files.remove("config.json");
    let err = no_config.resume::<A>(&dev).err().unwrap().to_string();
    assert!(err.contains("config.json") && err.contains("missing"), "{err}");
}
