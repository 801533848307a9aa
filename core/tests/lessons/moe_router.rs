//! The mixture-of-experts layer against numpy (`tests/fixtures/moe/generate_reference.py`): top-k
//! choice, renormalized weights, balance loss and z-loss for fixed logits; the whole layer's output
//! and dropped pairs under a capacity limit, with and without shared experts. Then properties no
//! reference file can show: one expert with top-1 is the dense SwiGLU, gradients reach the router,
//! and the balance loss alone evens out a deliberately skewed router.
//!
//! Every check is written once, generic over the backend and with only asynchronous reads, and runs
//! natively on burn's CPU backend and, with `wasm-bindgen-test`, on WebGPU in headless Chromium.
#![cfg(any(all(feature = "cpu", not(target_arch = "wasm32")), all(target_arch = "wasm32", feature = "webgpu")))]

use burn::module::Param;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use lmlab::model::layers::{Linear, SwiGlu};
use lmlab::model::moe::{balance_loss, cumsum_rows, expert_fraction, route, z_loss, MoeConfig, MoeLayer};
use serde_json::Value;

const REFERENCE: &str = include_str!("../../../tests/fixtures/moe/moe_reference.json");

fn floats(v: &Value, key: &str) -> Vec<f32> {
    v[key].as_array().unwrap_or_else(|| panic!("{key}")).iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn ints(v: &Value, key: &str) -> Vec<i64> {
    v[key].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

fn size(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap() as usize
}

fn tensor<B: Backend, const D: usize>(data: Vec<f32>, shape: [usize; D], device: &B::Device) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

async fn read<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data_async().await.unwrap().convert::<f32>().into_vec::<f32>().unwrap()
}

async fn read_int<B: Backend, const D: usize>(t: Tensor<B, D, Int>) -> Vec<i64> {
    t.into_data_async().await.unwrap().convert::<i64>().into_vec::<i64>().unwrap()
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs() / (1.0 + w.abs())).fold(0f32, f32::max);
    assert!(worst <= tol, "{what}: worst relative error {worst:e} > {tol:e}\n got {got:?}\nwant {want:?}");
}

/// Routing, weights and both auxiliary losses of fixed logits.
async fn router_matches_reference<B: Backend>(device: &B::Device) {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    for case in reference["router"].as_array().unwrap() {
        let (n, e, k) = (size(case, "tokens"), size(case, "experts"), size(case, "top_k"));
        let logits = tensor::<B, 2>(floats(case, "logits"), [n, e], device);
        let r = route(logits.clone(), k);
        assert_close("probs", &read(r.probs.clone()).await, &floats(case, "probs"), 1e-6);
        assert_eq!(read_int(r.choice.clone()).await, ints(case, "choice"), "top-{k} of {e}");
        assert_close("weights", &read(r.weights).await, &floats(case, "weights"), 1e-6);
        let fraction = expert_fraction(r.choice, e);
        assert_close("fraction", &read(fraction.clone()).await, &floats(case, "fraction"), 1e-7);
        let balance = read(balance_loss(fraction, r.probs)).await[0];
        assert_close("balance loss", &[balance], &[case["balance_loss"].as_f64().unwrap() as f32], 1e-6);
        let z = read(z_loss(logits)).await[0];
        assert_close("z-loss", &[z], &[case["z_loss"].as_f64().unwrap() as f32], 1e-6);
    }
}

/// The two-level cumulative sum equals the plain one for lengths that are and are not squares.
async fn cumsum_rows_is_a_cumsum<B: Backend>(device: &B::Device) {
    for m in [1, 2, 9, 37, 100] {
        let x = Tensor::<B, 2>::random([m, 3], burn::tensor::Distribution::Uniform(0.0, 1.0), device);
        assert_close(
            &format!("cumsum of {m} rows"),
            &read(cumsum_rows(x.clone())).await,
            &read(x.cumsum(0)).await,
            1e-6,
        );
    }
}

/// A layer holding the reference case's weights.
fn layer_of<B: Backend>(case: &Value, device: &B::Device) -> MoeLayer<B> {
    let (d, e, k, f) = (size(case, "d_model"), size(case, "experts"), size(case, "top_k"), size(case, "d_ff_expert"));
    let shared = size(case, "shared");
    let config =
        MoeConfig::new(e, k, f).with_num_shared_experts(shared).with_capacity_factor(case["capacity_factor"].as_f64());
    let mut layer = config.init::<B>(d, &mut rand_seeded(), device);
    layer.router = Linear { weight: Param::from_tensor(tensor(floats(case, "router"), [e, d], device)) };
    layer.w1 = Param::from_tensor(tensor(floats(case, "w1"), [e, f, d], device));
    layer.w2 = Param::from_tensor(tensor(floats(case, "w2"), [e, d, f], device));
    layer.w3 = Param::from_tensor(tensor(floats(case, "w3"), [e, f, d], device));
    if shared > 0 {
        let fs = shared * f;
        let linear = |key: &str, shape: [usize; 2]| Linear {
            weight: Param::from_tensor(tensor(floats(case, key), shape, device)),
        };
        layer.shared = Some(SwiGlu {
            w1: linear("shared_w1", [fs, d]),
            w2: linear("shared_w2", [d, fs]),
            w3: linear("shared_w3", [fs, d]),
        });
    }
    layer
}

fn rand_seeded() -> lmlab::model::init::InitRng {
    rand::SeedableRng::seed_from_u64(5)
}

/// The whole layer: dispatch, capacity, dropped pairs, combine, shared experts.
async fn layer_matches_reference<B: Backend>(device: &B::Device) {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    for case in reference["layer"].as_array().unwrap() {
        let (n, d) = (size(case, "tokens"), size(case, "d_model"));
        let layer = layer_of::<B>(case, device);
        let x = tensor::<B, 3>(floats(case, "x"), [1, n, d], device);
        let (out, stats) = layer.forward(x);
        assert_close("MoE output", &read(out).await, &floats(case, "out"), 2e-5);
        assert_eq!(read(stats.dropped).await[0] as u64, case["dropped"].as_u64().unwrap(), "dropped pairs");
        assert_eq!(read_int(stats.routing.choice).await, ints(case, "choice"));
        let balance = read(stats.balance).await[0];
        assert_close("balance loss", &[balance], &[case["balance_loss"].as_f64().unwrap() as f32], 1e-5);
        let z = read(stats.z).await[0];
        assert_close("z-loss", &[z], &[case["z_loss"].as_f64().unwrap() as f32], 1e-5);
    }
}

/// One expert, top-1, no capacity limit: the router's weight is 1 for every token, so the layer is
/// the dense SwiGLU with the expert's weights.
async fn one_expert_is_the_dense_swiglu<B: Backend>(device: &B::Device) {
    let (d, f) = (16, 40);
    let layer = MoeConfig::new(1, 1, f).init::<B>(d, &mut rand_seeded(), device);
    let dense = SwiGlu {
        w1: Linear { weight: Param::from_tensor(layer.w1.val().reshape([f, d])) },
        w2: Linear { weight: Param::from_tensor(layer.w2.val().reshape([d, f])) },
        w3: Linear { weight: Param::from_tensor(layer.w3.val().reshape([f, d])) },
    };
    let x = Tensor::<B, 3>::random([2, 7, d], burn::tensor::Distribution::Normal(0.0, 1.0), device);
    let (moe_out, stats) = layer.forward(x.clone());
    let want = read(dense.forward(x)).await;
    assert_close("1 expert vs dense", &read(moe_out).await, &want, 1e-6);
    assert_eq!(read(stats.dropped).await[0], 0.0);
    assert_eq!(read(stats.balance).await[0], 1.0, "one expert is always balanced");
}

/// The cross-entropy-like loss of a layer's output reaches the router through the renormalized
/// weights (top-2), not only through the auxiliary losses.
async fn gradients_reach_the_router<B: AutodiffBackend>(device: &B::Device) {
    let layer = MoeConfig::new(4, 2, 8).init::<B>(8, &mut rand_seeded(), device);
    let x = Tensor::<B, 3>::random([1, 10, 8], burn::tensor::Distribution::Normal(0.0, 1.0), device);
    let target = Tensor::<B, 3>::random([1, 10, 8], burn::tensor::Distribution::Normal(0.0, 1.0), device);
    let (out, _) = layer.forward(x);
    let loss = (out - target).powf_scalar(2.0).mean();
    let grads = loss.backward();
    let router = layer.router.weight.val().grad(&grads).expect("the router weight has a gradient");
    let g = read(router).await;
    let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(norm > 1e-4 && norm.is_finite(), "router gradient norm {norm}");
    let w1 = read(layer.w1.val().grad(&grads).expect("experts have gradients")).await;
    assert!(w1.iter().any(|v| *v != 0.0));
}

/// A router skewed so that nearly every token picks expert 0; gradient steps on the balance loss
/// alone spread the tokens: the largest expert's share falls from ≈ 1 to near 1/E.
async fn balance_loss_evens_a_skewed_router<B: AutodiffBackend>(device: &B::Device) {
    let (n, d, e) = (64, 8, 4);
    let x = Tensor::<B, 2>::random([n, d], burn::tensor::Distribution::Normal(1.0, 1.0), device);
    // Small random rows, and row 0 aligned with the inputs' mean: expert 0 wins every token at first.
    let noise = read(Tensor::<B, 2>::random([e, d], burn::tensor::Distribution::Normal(0.0, 0.5), device)).await;
    let w: Vec<f32> = noise.iter().enumerate().map(|(i, v)| if i < d { 1.5 } else { *v }).collect();
    let mut weight = tensor::<B, 2>(w, [e, d], device).require_grad();
    let max_share = |choice: Tensor<B, 2, Int>| async move {
        let f = read(expert_fraction(choice, e)).await;
        f.iter().cloned().fold(0f32, f32::max)
    };
    let first = max_share(route(x.clone().matmul(weight.clone().transpose()), 1).choice).await;
    assert!(first > 0.9, "the router starts skewed: {first}");
    for _ in 0..200 {
        let logits = x.clone().matmul(weight.clone().transpose());
        let r = route(logits, 1);
        let loss = balance_loss(expert_fraction(r.choice, e), r.probs);
        let grads = loss.backward();
        let g = weight.grad(&grads).unwrap();
        weight = Tensor::from_inner(weight.inner() - g * 2.0).require_grad();
    }
    let last = max_share(route(x.matmul(weight.transpose()), 1).choice).await;
    eprintln!("balance: max share {first} → {last}");
    assert!(last < 0.4, "the balance loss must spread the load over {e} experts: max share {first} → {last}");
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Int, Tensor, TensorData};

    type B = Flex;
    type A = Autodiff<Flex>;

    #[test]
    fn router_matches_numpy() {
        pollster::block_on(super::router_matches_reference::<B>(&Default::default()));
    }

    #[test]
    fn two_level_cumsum() {
        pollster::block_on(super::cumsum_rows_is_a_cumsum::<B>(&Default::default()));
    }

    #[test]
    fn layer_matches_numpy() {
        pollster::block_on(super::layer_matches_reference::<B>(&Default::default()));
    }

    #[test]
    fn one_expert_top1_is_the_dense_swiglu() {
        pollster::block_on(super::one_expert_is_the_dense_swiglu::<B>(&Default::default()));
    }

    #[test]
    fn gradients_reach_the_router() {
        pollster::block_on(super::gradients_reach_the_router::<A>(&Default::default()));
    }

    #[test]
    fn balance_loss_evens_a_skewed_router() {
        pollster::block_on(super::balance_loss_evens_a_skewed_router::<A>(&Default::default()));
    }

    /// The model's parameters are what the Compute lab counts, for routed, shared and dense blocks.
    #[test]
    fn parameter_count_matches_the_accounting() {
        use burn::module::Module;
        use lmlab::model::{MoeConfig, TransformerConfig};
        let moe = MoeConfig::new(6, 2, 24).with_num_shared_experts(1).with_first_dense_layers(1);
        let config = TransformerConfig::new(97, 16, 32, 3, 2, 48).with_moe(Some(moe));
        let model = config.init::<B>(&Default::default());
        let p = config.shape().params();
        assert_eq!(model.num_params() as u64, p.total);
        // Per MoE block a token skips E − k = 4 experts of 3·d·d_ff_expert each.
        assert_eq!(p.total - p.active, 2 * 4 * 3 * 32 * 24);
        // A config written before MoE existed (no "moe" key) still reads as a dense model.
        let old: TransformerConfig = serde_json::from_str(
            r#"{"vocab_size": 97, "context_length": 16, "d_model": 32, "num_layers": 3, "num_heads": 2, "d_ff": 48, "rope_theta": 10000.0}"#,
        )
        .unwrap();
        assert_eq!(old.moe, None);
    }

    /// A MoE transformer trains with the router metrics logged, and its checkpoint reloads to the
    /// same logits; a dense config refuses its weights naming the mismatch.
    #[test]
    fn moe_transformer_trains_saves_and_reloads() {
        use burn::module::AutodiffModule;
        use lmlab::model::{MoeConfig, TransformerConfig};
        use lmlab::tokenize::train::train_bpe;
        use lmlab::tokenize::Tokenizer;
        use lmlab::train::checkpoint::save;
        use lmlab::train::checkpoint::Checkpoint;
        use lmlab::train::data::TokenSlice;
        use lmlab::train::trainer::{TrainConfig, Trainer};

        let text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer";
        let bpe = train_bpe(text, 300, &["<|endoftext|>".into()], &mut |_| {}).unwrap();
        let moe = MoeConfig::new(4, 2, 32).with_capacity_factor(Some(1.25));
        let model = TransformerConfig::new(bpe.vocab_size(), 16, 32, 2, 2, 64).with_moe(Some(moe));
        let ids = bpe.encode_text(text);
        let bytes: Vec<u8> = ids[..17].iter().flat_map(|&i| (i as u16).to_le_bytes()).collect();
        let batch = TokenSlice::new("fixed", &bytes, 2).unwrap();
        let config =
            TrainConfig::new().with_steps(10).with_batch_size(2).with_max_lr(1e-2).with_warmup_steps(1).with_seed(3);
        let mut trainer = Trainer::<A>::new(model.clone(), config, &Default::default()).unwrap();
        let mut losses = Vec::new();
        for _ in 0..10 {
            let m = pollster::block_on(trainer.train_step(&batch)).unwrap();
            let r = m.moe.expect("a MoE model logs its router");
            assert_eq!(r.expert_fraction.len(), 2);
            assert!(r.expert_fraction.iter().all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-5));
            assert!(r.balance_loss > 0.5 && r.z_loss > 0.0 && r.dropped_fraction < 1.0, "{r:?}");
            losses.push(m.loss);
        }
        assert!(losses[9] < losses[0] - 1.0, "{losses:?}");

        let ckpt = pollster::block_on(save(&trainer, &bpe, "test", None, None, "fixed")).unwrap();
        let files: Vec<(String, Vec<u8>)> = ckpt.files.into_iter().collect();
        let (reloaded, c, _) =
            Checkpoint::from_files("moe", files.clone()).load_model::<B>(&Default::default()).unwrap();
        assert_eq!(c.model, model);
        let input: Vec<i64> = ids[..16].iter().map(|&i| i64::from(i)).collect();
        let logits = |m: &lmlab::model::TransformerLm<B>| {
            let t = Tensor::<B, 2, Int>::from_data(TensorData::new(input.clone(), [1, 16]), &Default::default());
            m.forward(t).into_data().to_vec::<f32>().unwrap()
        };
        assert_eq!(logits(&reloaded), logits(&trainer.model().valid()));

        let dense: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .map(|(name, bytes)| {
                if name != "config.json" {
                    return (name, bytes);
                }
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                v["model"].as_object_mut().unwrap().remove("moe");
                (name, serde_json::to_vec(&v).unwrap())
            })
            .collect();
        let err = Checkpoint::from_files("moe", dense).load_model::<B>(&Default::default()).unwrap_err().to_string();
        assert!(
            err.contains("mixture-of-experts") && err.contains("2 MoE blocks of 4 experts") && err.contains("dense"),
            "{err}"
        );
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use burn::backend::{Autodiff, Wgpu};
    use wasm_bindgen_test::wasm_bindgen_test;

    /// One test, because the page opens WebGPU once.
    #[wasm_bindgen_test]
    async fn moe_on_webgpu_matches_numpy_and_trains_its_router() {
        let (device, adapter) = lmlab::train::webgpu::open().await.expect("WebGPU (--enable-unsafe-webgpu)");
        wasm_bindgen_test::console_log!("MoE checks on {}", adapter.name);
        super::router_matches_reference::<Wgpu>(&device).await;
        super::cumsum_rows_is_a_cumsum::<Wgpu>(&device).await;
        super::layer_matches_reference::<Wgpu>(&device).await;
        super::one_expert_is_the_dense_swiglu::<Wgpu>(&device).await;
        super::gradients_reach_the_router::<Autodiff<Wgpu>>(&device).await;
        super::balance_loss_evens_a_skewed_router::<Autodiff<Wgpu>>(&device).await;
    }
}
