//! FlashAttention's fused kernels (`lmlab::model::attention`) against the decomposed reference:
//! forward output and the three gradients, for ragged lengths (1, 7, 65, 257), head sizes 16 / 64
//! / 128, with and without the causal mask; a finite-difference check of the gradients; nothing
//! written past a ragged edge; CS336's causal multi-head attention vector; a model trained with
//! the kernels follows the reference's loss curve. Natively on burn's wgpu backend (lavapipe
//! here), with and without fusion, and in headless Chromium on WebGPU.
//!
//! The reference runs on burn's CPU backend (flex): an independent implementation on another
//! device.

#![cfg(any(
    all(not(target_arch = "wasm32"), feature = "gpu-wgpu", feature = "cpu"),
    all(target_arch = "wasm32", feature = "webgpu", feature = "cpu")
))]

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Bool, Distribution, Tensor, TensorData};
use lmlab::model::attention;
use lmlab::model::ops::scaled_dot_product_attention;

/// One case's inputs, drawn on the CPU so both sides see the same numbers.
struct Case {
    shape: [usize; 4],
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// The loss is Σ weights ∘ O, so dO = weights (not all ones: that would hide transposed rows).
    weights: Vec<f32>,
    causal: bool,
}

impl Case {
    fn new(batch: usize, heads: usize, t: usize, head: usize, causal: bool, seed: u64) -> Self {
        let shape = [batch, heads, t, head];
        let draw = |s: u64| {
            <Flex as Backend>::seed(&Default::default(), s);
            Tensor::<Flex, 4>::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        };
        Case { shape, q: draw(seed), k: draw(seed + 1), v: draw(seed + 2), weights: draw(seed + 3), causal }
    }

    fn tensor<B: Backend>(&self, data: &[f32], device: &B::Device) -> Tensor<B, 4> {
        Tensor::from_data(TensorData::new(data.to_vec(), self.shape), device)
    }

    fn shape_tt(&self) -> [usize; 4] {
        let [b, h, t, _] = self.shape;
        [b, h, t, t]
    }

    fn what(&self) -> String {
        let [b, h, t, d] = self.shape;
        format!("batch {b}, heads {h}, t {t}, head {d}, causal {}", self.causal)
    }
}

/// O, dQ, dK, dV of the decomposed form on the CPU.
fn reference(case: &Case) -> [Vec<f32>; 4] {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let q = case.tensor::<A>(&case.q, &device).require_grad();
    let k = case.tensor::<A>(&case.k, &device).require_grad();
    let v = case.tensor::<A>(&case.v, &device).require_grad();
    let t = case.shape[2];
    let mask = case.causal.then(|| {
        let data: Vec<bool> = (0..t * t).map(|ij| ij % t <= ij / t).collect();
        Tensor::<A, 4, Bool>::from_data(TensorData::new(data, [1, 1, t, t]), &device).expand(case.shape_tt())
    });
    let out = scaled_dot_product_attention(q.clone(), k.clone(), v.clone(), mask);
    let grads = (out.clone() * case.tensor::<A>(&case.weights, &device)).sum().backward();
    let read = |x: Tensor<Flex, 4>| x.into_data().to_vec::<f32>().unwrap();
    [read(out.inner()), read(q.grad(&grads).unwrap()), read(k.grad(&grads).unwrap()), read(v.grad(&grads).unwrap())]
}

async fn read<B: Backend, const D: usize>(x: Tensor<B, D>) -> Vec<f32> {
    x.into_data_async().await.unwrap().to_vec::<f32>().unwrap()
}

/// O, dQ, dK, dV of the fused kernels on `A`.
async fn fused<A: AutodiffBackend>(case: &Case, device: &A::Device) -> [Vec<f32>; 4] {
    let q = case.tensor::<A>(&case.q, device).require_grad();
    let k = case.tensor::<A>(&case.k, device).require_grad();
    let v = case.tensor::<A>(&case.v, device).require_grad();
    let out = attention::fused(q.clone(), k.clone(), v.clone(), case.causal)
        .unwrap_or_else(|_| panic!("the fused kernels run on {}", A::name(device)));
    let grads = (out.clone() * case.tensor::<A>(&case.weights, device)).sum().backward();
    [
        read(out.inner()).await,
        read(q.grad(&grads).unwrap()).await,
        read(k.grad(&grads).unwrap()).await,
        read(v.grad(&grads).unwrap()).await,
    ]
}

/// |got − want| ≤ atol + rtol·|want| everywhere, naming the worst element otherwise.
fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}: element {i}: fused {g} vs reference {w}");
    }
}

async fn fused_equals_reference_on<A: AutodiffBackend>(device: &A::Device, cases: &[(usize, usize, bool)]) {
    for (n, &(t, head, causal)) in cases.iter().enumerate() {
        let case = Case::new(2, 2, t, head, causal, 10 * n as u64 + 1);
        let want = reference(&case);
        let got = fused::<A>(&case, device).await;
        for (name, (g, w)) in ["O", "dQ", "dK", "dV"].iter().zip(got.iter().zip(&want)) {
            assert_close(g, w, 2e-4, 2e-3, &format!("{name}, {}", case.what()));
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// The lengths and head sizes of the issue: ragged ends (1, 7, 65, 257 are not multiples of any
/// tile), each head size, causal and not.
fn all_cases() -> Vec<(usize, usize, bool)> {
    let mut cases = Vec::new();
    for t in [1, 7, 65, 257] {
        for head in [16, 64, 128] {
            for causal in [true, false] {
                cases.push((t, head, causal));
            }
        }
    }
    cases
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use burn::backend::Wgpu;
    use lmlab::model::attention::launch;

    /// burn's wgpu backend without fusion: what the browser's worker runs.
    type Bare = burn_cubecl::CubeBackend<cubecl::wgpu::WgpuRuntime, f32, i32, u32>;

    #[test]
    fn fused_forward_and_gradients_equal_the_reference_under_fusion() {
        pollster::block_on(fused_equals_reference_on::<Autodiff<Wgpu>>(&Default::default(), &all_cases()));
    }

    #[test]
    fn fused_forward_and_gradients_equal_the_reference_without_fusion() {
        let cases = [(7, 16, true), (65, 64, false), (257, 128, true)];
        pollster::block_on(fused_equals_reference_on::<Autodiff<Bare>>(&Default::default(), &cases));
    }

    /// CS336's causal multi-head self-attention vector (spring 2024: batch 8, 128 positions,
    /// 4 heads of 16) with the fused forward in place of the decomposed one.
    #[test]
    fn cs336_causal_multihead_self_attention_through_the_fused_kernel() {
        use lmlab::model::ops::{merge_heads, project_heads};
        use lmlab::model::plan::Precision;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/cs336/model/multihead_self_attention_spring2024.json");
        let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let device = Default::default();
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
        };
        let dims = |v: &serde_json::Value| -> Vec<usize> {
            v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
        };
        let x =
            Tensor::<Bare, 3>::from_data(TensorData::new(floats(&f["in_features"]), dims(&f["in_features"])), &device);
        let w = |name: &str| Tensor::<Bare, 2>::from_data(TensorData::new(floats(&f[name]), [64, 64]), &device);
        let heads = f["num_heads"]["data"]
            .as_array()
            .map(|a| a[0].as_u64().unwrap())
            .unwrap_or_else(|| f["num_heads"]["data"].as_u64().unwrap()) as usize;
        let fp32 = Precision::Fp32;
        let q = project_heads(x.clone(), w("q_proj_weight"), heads, fp32);
        let k = project_heads(x.clone(), w("k_proj_weight"), heads, fp32);
        let v = project_heads(x, w("v_proj_weight"), heads, fp32);
        let out = attention::fused(q, k, v, true).ok().expect("fused kernels on wgpu");
        let got = merge_heads(out, w("o_proj_weight"), fp32).into_data().to_vec::<f32>().unwrap();
        // The course's tolerance is atol 1e-6; a GPU's f32 matmuls and exp differ from numpy's by
        // more than that, so the check is at the f32 tolerance the reference comparisons use.
        assert_close(&got, &floats(&f["expected"]), 1e-4, 1e-3, "CS336 multi-head self-attention, fused");
    }

    /// 20 training steps of a small model on wgpu with the fused kernels and with the reference:
    /// same initialization, same batches, so the loss curves must coincide to f32 rounding.
    #[test]
    fn a_model_trained_with_the_fused_kernels_tracks_the_reference_loss_curve() {
        use lmlab::model::{AttentionKernel, TransformerConfig};
        use lmlab::train::data::TokenSlice;
        use lmlab::train::trainer::{TrainConfig, Trainer};
        type A = Autodiff<Wgpu>;
        let text = "Now is the winter of our discontent made glorious summer by this sun of York; and all the \
                    clouds that lour'd upon our house in the deep bosom of the ocean buried. "
            .repeat(10);
        let bytes: Vec<u8> = text.bytes().flat_map(|b| (b as u16).to_le_bytes()).collect();
        let data = TokenSlice::new("richard iii", &bytes, 2).unwrap();
        // Head size 16, context 48 (not a multiple of the kernels' 64-row tiles).
        let model = TransformerConfig::new(257, 48, 64, 2, 4, 172);
        let train =
            TrainConfig::new().with_steps(20).with_batch_size(4).with_warmup_steps(2).with_max_lr(3e-3).with_seed(3);
        let device = Default::default();
        let curve = |kernel: AttentionKernel| {
            let config = train.clone().with_attention(Some(kernel));
            let mut trainer = Trainer::<A>::new(model.clone(), config, &device).unwrap();
            assert_eq!(trainer.effective_attention(), kernel);
            (0..20).map(|_| pollster::block_on(trainer.train_step(&data)).unwrap().loss).collect::<Vec<f64>>()
        };
        let fused = curve(AttentionKernel::Fused);
        let reference = curve(AttentionKernel::Reference);
        let worst = fused.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        eprintln!(
            "fused {:.4} → {:.4}, reference {:.4} → {:.4}; max |Δloss| {worst:.2e}",
            fused[0], fused[19], reference[0], reference[19]
        );
        assert!(reference[19] < reference[0] - 1.0, "the run learns: {reference:?}");
        // The same function in another summation order: f32 rounding, amplified a little by 20
        // AdamW steps, stays far below the loss's own step-to-step change.
        assert!(worst < 2e-3, "the fused run left the reference curve by {worst}: {fused:?} vs {reference:?}");
        assert_ne!(fused, reference, "both runs computed bit-identical losses: the fused kernels did not run");
    }

    #[test]
    fn the_cpu_backend_has_no_fused_kernels_and_says_so() {
        assert!(!attention::available::<Flex>());
        assert!(!attention::available::<Autodiff<Flex>>());
        assert!(attention::available::<Autodiff<Wgpu>>());
        assert!(attention::available::<Bare>());
        let x = Tensor::<Flex, 4>::zeros([1, 1, 3, 4], &Default::default());
        assert!(attention::fused(x.clone(), x.clone(), x, true).is_err());
    }

    /// Central differences of L = Σ weights ∘ O through the fused forward alone against the fused
    /// backward's gradients.
    #[test]
    fn gradients_match_finite_differences() {
        type A = Autodiff<Bare>;
        let device = Default::default();
        let case = Case::new(1, 1, 5, 8, true, 77);
        let [_, dq, dk, dv] = pollster::block_on(fused::<A>(&case, &device));
        let loss = |q: &[f32], k: &[f32], v: &[f32]| -> f64 {
            let out = attention::fused(
                case.tensor::<Bare>(q, &device),
                case.tensor::<Bare>(k, &device),
                case.tensor::<Bare>(v, &device),
                true,
            )
            .ok()
            .unwrap();
            let o = out.into_data().to_vec::<f32>().unwrap();
            o.iter().zip(&case.weights).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
        };
        let eps = 1e-2f32;
        for (which, grad) in [("q", &dq), ("k", &dk), ("v", &dv)] {
            for i in [0, 3, 11, 20, 39] {
                let mut plus = [case.q.clone(), case.k.clone(), case.v.clone()];
                let mut minus = plus.clone();
                let slot = ["q", "k", "v"].iter().position(|w| *w == which).unwrap();
                plus[slot][i] += eps;
                minus[slot][i] -= eps;
                let numeric =
                    (loss(&plus[0], &plus[1], &plus[2]) - loss(&minus[0], &minus[1], &minus[2])) / (2.0 * eps as f64);
                let analytic = grad[i] as f64;
                assert!(
                    (numeric - analytic).abs() <= 5e-3 + 2e-2 * analytic.abs(),
                    "d{which}[{i}]: finite differences {numeric} vs backward {analytic}"
                );
            }
        }
    }

    /// A contiguous view of `len` floats inside a buffer of `len + pad` sentinel values.
    fn padded(
        len: usize,
        pad: usize,
        shape: Vec<usize>,
    ) -> (Tensor<Bare, 1>, burn_cubecl::tensor::CubeTensor<cubecl::wgpu::WgpuRuntime>) {
        let device = Default::default();
        let whole = Tensor::<Bare, 1>::full([len + pad], 777.0, &device);
        let prim = whole.clone().into_primitive().tensor();
        let view = burn_cubecl::tensor::CubeTensor::new_contiguous(
            prim.client.clone(),
            prim.device.clone(),
            shape.into(),
            prim.handle.clone(),
            prim.dtype,
        );
        (whole, view)
    }

    /// Ragged edges: the kernels' outputs placed at the start of larger buffers; everything past
    /// them must still hold the sentinel, and what they hold must equal the reference.
    #[test]
    fn nothing_is_written_past_a_ragged_edge() {
        let device = Default::default();
        for (t, head) in [(7, 16), (65, 64), (33, 128)] {
            let case = Case::new(1, 3, t, head, true, 5);
            let want = reference(&case);
            let bh = 3;
            let flat = |data: &[f32]| {
                let x = Tensor::<Bare, 3>::from_data(TensorData::new(data.to_vec(), [bh, t, head]), &device);
                x.into_primitive().tensor()
            };
            let pad = 1000;
            let (out_buf, out) = padded(bh * t * head, pad, vec![bh, t, head]);
            let (lse_buf, lse) = padded(bh * t, pad, vec![bh, t]);
            launch::forward_into(flat(&case.q), flat(&case.k), flat(&case.v), &out, &lse, true);
            let o_all = out_buf.into_data().to_vec::<f32>().unwrap();
            let (o, tail) = o_all.split_at(bh * t * head);
            assert!(tail.iter().all(|&x| x == 777.0), "t {t}, head {head}: O written past its end");
            assert_close(o, &want[0], 2e-4, 2e-3, &format!("O, t {t}, head {head}"));
            let lse_all = lse_buf.into_data().to_vec::<f32>().unwrap();
            assert!(lse_all[bh * t..].iter().all(|&x| x == 777.0), "lse written past its end");

            let o_t = Tensor::<Bare, 3>::from_data(TensorData::new(o.to_vec(), [bh, t, head]), &device);
            let d_out = Tensor::<Bare, 3>::from_data(TensorData::new(case.weights.clone(), [bh, t, head]), &device);
            let delta = (d_out.clone() * o_t).sum_dim(2);
            let lse_t = Tensor::<Bare, 2>::from_data(TensorData::new(lse_all[..bh * t].to_vec(), [bh, t]), &device);
            let bufs: Vec<_> = (0..3).map(|_| padded(bh * t * head, pad, vec![bh, t, head])).collect();
            let views = [bufs[0].1.clone(), bufs[1].1.clone(), bufs[2].1.clone()];
            launch::backward_into(
                flat(&case.q),
                flat(&case.k),
                flat(&case.v),
                lse_t.into_primitive().tensor(),
                d_out.into_primitive().tensor(),
                delta.into_primitive().tensor(),
                &views,
                true,
            );
            for (n, (buf, _)) in bufs.into_iter().enumerate() {
                let all = buf.into_data().to_vec::<f32>().unwrap();
                let (g, tail) = all.split_at(bh * t * head);
                let name = ["dQ", "dK", "dV"][n];
                assert!(tail.iter().all(|&x| x == 777.0), "t {t}, head {head}: {name} written past its end");
                assert_close(g, &want[n + 1], 2e-4, 2e-3, &format!("{name}, t {t}, head {head}"));
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::*;
    use burn::backend::Wgpu;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn fused_forward_and_gradients_equal_the_reference_on_webgpu() {
        let (device, _) = lmlab::train::webgpu::open().await.expect("WebGPU (--enable-unsafe-webgpu)");
        let cases = [(1, 16, true), (7, 16, false), (65, 64, true), (33, 128, false)];
        assert!(attention::available::<Autodiff<Wgpu>>());
        fused_equals_reference_on::<Autodiff<Wgpu>>(&device, &cases).await;
    }
}
