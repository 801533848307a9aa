//! `lmlab::model` against CS336's component vectors (tests/fixtures/cs336/model, converted from the
//! course's .npz files by convert_npz.py), on burn's CPU backend, within the course's tolerances:
//! atol 1e-6 + rtol 1e-4 (2025) unless a case says otherwise.

#![cfg(all(feature = "cpu", not(target_arch = "wasm32")))]

use burn::backend::Flex;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use lmlab::model::ops::*;
use serde_json::Value;

type B = Flex;

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/cs336/model")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn shape(v: &Value) -> Vec<usize> {
    v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn scalar(v: &Value) -> f64 {
    v["data"].as_array().map(|a| a[0].as_f64().unwrap()).unwrap_or_else(|| v["data"].as_f64().unwrap())
}

fn tensor<const D: usize>(v: &Value) -> Tensor<B, D> {
    Tensor::from_data(TensorData::new(floats(v), shape(v)), &Default::default())
}

fn mask<const D: usize>(v: &Value) -> Tensor<B, D, Bool> {
    let data: Vec<bool> = v["data"].as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect();
    Tensor::from_data(TensorData::new(data, shape(v)), &Default::default())
}

fn ints(v: &Value) -> Vec<i64> {
    v["data"].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect()
}

/// numpy's assert_allclose: |got − want| ≤ atol + rtol·|want| everywhere.
fn assert_close<const D: usize>(got: Tensor<B, D>, want: &Value, atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.dims().to_vec(), shape(want), "{what}: shape");
    let got = got.into_data().to_vec::<f32>().unwrap();
    let want = floats(want);
    let mut worst = 0f32;
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let err = (g - w).abs();
        assert!(err <= atol + rtol * w.abs(), "{what}: element {i}: {g} vs {w}");
        worst = worst.max(err);
    }
    eprintln!("{what}: max abs error {worst:e}");
}

#[test]
fn softmax_and_silu() {
    let f = fixture("softmax");
    assert_close(softmax(tensor::<2>(&f["x"]), 1), &f["expected"], 1e-6, 1e-7, "softmax");
    assert_close(softmax(tensor::<2>(&f["x_plus_100"]), 1), &f["expected"], 1e-6, 1e-7, "softmax(x + 100)");
    let f = fixture("silu");
    assert_close(silu(tensor::<2>(&f["x"])), &f["expected"], 1e-6, 1e-7, "silu");
}

#[test]
fn scaled_dot_product_attention_3d_and_4d() {
    let f = fixture("scaled_dot_product_attention");
    let out =
        scaled_dot_product_attention(tensor::<3>(&f["q"]), tensor(&f["k"]), tensor(&f["v"]), Some(mask(&f["mask"])));
    assert_close(out, &f["snapshot"], 1e-6, 1e-4, "sdpa 3-D");
    let f = fixture("scaled_dot_product_attention_4d");
    let out =
        scaled_dot_product_attention(tensor::<4>(&f["q"]), tensor(&f["k"]), tensor(&f["v"]), Some(mask(&f["mask"])));
    assert_close(out, &f["snapshot"], 1e-6, 1e-4, "sdpa 4-D");
}

#[test]
fn rope_pairs_adjacent_elements() {
    let f = fixture("rope");
    let positions: Vec<usize> = ints(&f["token_positions"]).into_iter().map(|p| p as usize).collect();
    let d_k = scalar(&f["d_k"]) as usize;
    let tables = rope_tables::<B>(&positions, d_k, scalar(&f["theta"]), &Default::default());
    assert_close(rope(tensor::<3>(&f["in_query_or_key"]), &tables), &f["snapshot"], 1e-6, 1e-4, "rope");
}

#[test]
fn rms_norm_matches_spring_2024() {
    let f = fixture("rmsnorm_spring2024");
    let out = rms_norm(tensor::<3>(&f["in_features"]), tensor::<1>(&f["weight"]), scalar(&f["eps"]));
    assert_close(out, &f["expected"], 1e-6, 1e-7, "rmsnorm");
}

#[test]
fn causal_multihead_self_attention_matches_spring_2024() {
    let f = fixture("multihead_self_attention_spring2024");
    let out = multihead_self_attention(
        tensor::<3>(&f["in_features"]),
        tensor(&f["q_proj_weight"]),
        tensor(&f["k_proj_weight"]),
        tensor(&f["v_proj_weight"]),
        tensor(&f["o_proj_weight"]),
        scalar(&f["num_heads"]) as usize,
        None,
    );
    assert_close(out, &f["expected"], 1e-6, 1e-7, "multi-head self-attention");
}

#[test]
fn cross_entropy_including_1000x_logits() {
    let f = fixture("cross_entropy");
    let targets: Tensor<B, 1, Int> = Tensor::from_data(TensorData::new(ints(&f["targets"]), [8]), &Default::default());
    let loss = cross_entropy(tensor::<2>(&f["inputs"]), targets.clone()).into_scalar();
    assert!((loss as f64 - scalar(&f["expected"])).abs() <= 1e-4, "{loss}");
    let loss = cross_entropy(tensor::<2>(&f["large_inputs"]), targets).into_scalar();
    assert!((loss as f64 - scalar(&f["expected_large"])).abs() <= 1e-4, "{loss}");
}

#[test]
fn global_gradient_clipping() {
    let f = fixture("gradient_clipping");
    let grads: Tensor<B, 3> = tensor(&f["grads"]);
    let squared = grads.clone().powf_scalar(2.0).sum().into_scalar() as f64;
    let (total, factor) = global_clip_factor(&[squared], scalar(&f["max_norm"]));
    assert!((total - 125f64.sqrt()).abs() < 1e-5);
    assert_close(grads.mul_scalar(factor), &f["expected_grads"], 1e-6, 1e-7, "clipped gradients");
    assert_eq!(global_clip_factor(&[0.25], 1.0).1, 1.0, "below the limit nothing changes");
}

#[test]
fn the_model_has_the_parameters_accounting_counts_and_runs() {
    use burn::module::Module;
    use lmlab::model::TransformerConfig;
    let device = Default::default();
    for config in [TransformerConfig::tiny(65), TransformerConfig::new(1000, 32, 64, 2, 4, 128)] {
        let model = config.init::<B>(&device);
        assert_eq!(model.num_params() as u64, config.shape().params().total, "{config:?}");
        let ids: Tensor<B, 2, Int> =
            Tensor::from_data(TensorData::new(vec![1i64, 2, 3, 4, 5, 6, 7, 8], [2, 4]), &device);
        let logits = model.forward(ids);
        assert_eq!(logits.dims(), [2, 4, config.vocab_size]);
        // An untrained model predicts close to uniform: its loss is near ln(vocab).
        let targets: Tensor<B, 1, Int> =
            Tensor::from_data(TensorData::new(vec![2i64, 3, 4, 5, 6, 7, 8, 9], [8]), &device);
        let loss = cross_entropy(logits.reshape([8, config.vocab_size]), targets).into_scalar() as f64;
        assert!((loss - (config.vocab_size as f64).ln()).abs() < 1.5, "loss {loss} vs ln V");
    }
}

/// AdamW against the course's small vector (4 steps, both update orders).
#[test]
fn adamw_matches_both_orders_of_the_course_vector() {
    use lmlab::train::adamw::{adamw_step, AdamWConfig, DecayOrder};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/cs336/optimizer/adamw.json");
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let h = &f["hyperparameters"];
    let matrix = |v: &Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32))
            .collect()
    };
    let device = Default::default();
    for (order, key) in [
        (DecayOrder::AfterAdam, "expected_theta_after_step_order_2025"),
        (DecayOrder::BeforeAdam, "expected_theta_after_step_order_2026"),
    ] {
        let config = AdamWConfig::new()
            .with_beta1(h["betas"][0].as_f64().unwrap())
            .with_beta2(h["betas"][1].as_f64().unwrap())
            .with_eps(h["eps"].as_f64().unwrap())
            .with_weight_decay(h["weight_decay"].as_f64().unwrap())
            .with_order(order);
        let mut theta: Tensor<B, 2> = Tensor::from_data(TensorData::new(matrix(&f["theta0"]), [2, 3]), &device);
        let mut moments = None;
        for (t, g) in f["grads"].as_array().unwrap().iter().enumerate() {
            let grad = Tensor::from_data(TensorData::new(matrix(g), [2, 3]), &device);
            let (next, m) = adamw_step(theta, grad, moments, t + 1, h["lr"].as_f64().unwrap(), &config);
            theta = next;
            moments = Some(m);
            let want = matrix(&f[key][t]);
            let got = theta.to_data().to_vec::<f32>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-6, "{key} step {}: {g} vs {w}", t + 1);
            }
        }
    }
}

/// A few AdamW steps on one fixed batch drive the loss well below ln(vocab): the forward, the
/// backward, global clipping and the update work together.
#[test]
fn training_steps_lower_the_loss_on_a_fixed_batch() {
    use burn::backend::Autodiff;
    use burn::optim::GradientsParams;
    use lmlab::model::TransformerConfig;
    use lmlab::train::adamw::AdamWConfig;
    use lmlab::train::optimizer::AdamW;
    type A = Autodiff<Flex>;
    let device = Default::default();
    let config = TransformerConfig::new(32, 16, 32, 1, 2, 64);
    let mut model = config.init::<A>(&device);
    let ids: Vec<i64> = (0..32).map(|i| (i * 7 % 32) as i64).collect();
    let inputs: Tensor<A, 2, Int> = Tensor::from_data(TensorData::new(ids[..30].to_vec(), [2, 15]), &device);
    let targets: Tensor<A, 1, Int> = Tensor::from_data(TensorData::new(ids[1..31].to_vec(), [30]), &device);
    let mut opt = AdamW::<A>::new(AdamWConfig::new().with_weight_decay(0.0));
    let mut losses = Vec::new();
    for _ in 0..30 {
        let logits = model.forward(inputs.clone()).reshape([30, 32]);
        let loss = cross_entropy(logits, targets.clone());
        losses.push(loss.clone().into_scalar() as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let (next, norm) = opt.step(model, grads, 1e-2, 1.0);
        assert!(norm.into_scalar().is_finite());
        model = next;
    }
    assert!((losses[0] - 32f64.ln()).abs() < 1.0, "first loss {} vs ln 32", losses[0]);
    assert!(losses[29] < losses[0] * 0.5, "losses {losses:?}");
}
