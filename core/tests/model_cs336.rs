//! `lmlab::model` against CS336's component vectors (tests/fixtures/cs336/model, converted from the
//! course's .npz files by convert_npz.py), on burn's CPU backend, within the course's tolerances:
//! atol 1e-6 + rtol 1e-4 (2025) unless a case says otherwise.

#![cfg(feature = "cpu")]

use burn::backend::NdArray;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use lmlab::model::ops::*;
use serde_json::Value;

type B = NdArray<f32>;

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
    let (cos, sin) = rope_tables::<B>(&positions, d_k, scalar(&f["theta"]), &Default::default());
    assert_close(rope(tensor::<3>(&f["in_query_or_key"]), cos, sin), &f["snapshot"], 1e-6, 1e-4, "rope");
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
