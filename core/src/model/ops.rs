//! The functional pieces of the CS336 transformer: softmax, SiLU, RMSNorm, RoPE, attention,
//! cross-entropy and global gradient clipping. Written out (not burn's built-ins) where the course's
//! convention matters: softmax subtracts the max, RoPE pairs adjacent elements, clipping is global.

use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};

/// Softmax along `dim`, with the maximum subtracted first so that large logits (x + 100) do not
/// overflow.
///
/// # Shapes
/// any → same.
pub fn softmax<B: Backend, const D: usize>(x: Tensor<B, D>, dim: usize) -> Tensor<B, D> {
    let max = x.clone().max_dim(dim); // [.., 1, ..]
    let e = (x - max).exp();
    let sum = e.clone().sum_dim(dim);
    e / sum
}

/// SiLU (swish): x · σ(x).
///
/// # Shapes
/// any → same.
pub fn silu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() * sigmoid(x)
}

/// RMSNorm over the last dimension: x / √(mean(x²) + ε) · gain.
///
/// # Shapes
/// x `[.., d_model]`, gain `[d_model]` → `[.., d_model]`.
pub fn rms_norm<B: Backend, const D: usize>(x: Tensor<B, D>, gain: Tensor<B, 1>, eps: f64) -> Tensor<B, D> {
    let mean_square = x.clone().powf_scalar(2.0).mean_dim(D - 1); // [.., 1]
    x / (mean_square + eps).sqrt() * gain.unsqueeze::<D>() // [.., d_model]
}

/// The RoPE angle tables for `positions`: cos and sin of pos / θ^(2k/d_k), k = 0 … d_k/2 − 1,
/// computed in f64 and rounded once to f32.
///
/// # Shapes
/// → two `[1, seq, d_k/2, 1]` tensors.
pub fn rope_tables<B: Backend>(
    positions: &[usize],
    d_k: usize,
    theta: f64,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 4>) {
    let half = d_k / 2;
    let mut cos = Vec::with_capacity(positions.len() * half);
    let mut sin = Vec::with_capacity(positions.len() * half);
    for &p in positions {
        for k in 0..half {
            let angle = p as f64 / theta.powf((2 * k) as f64 / d_k as f64);
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    let shape = [1, positions.len(), half, 1];
    (Tensor::from_data(TensorData::new(cos, shape), device), Tensor::from_data(TensorData::new(sin, shape), device))
}

/// Rotary position embedding on adjacent pairs (x[2k], x[2k+1]):
/// out[2k] = cos·x[2k] − sin·x[2k+1], out[2k+1] = sin·x[2k] + cos·x[2k+1].
///
/// # Shapes
/// x `[.., seq, d_k]` (d_k even), tables `[1, seq, d_k/2, 1]` → `[.., seq, d_k]`.
pub fn rope<B: Backend, const D: usize>(x: Tensor<B, D>, cos: Tensor<B, 4>, sin: Tensor<B, 4>) -> Tensor<B, D> {
    let dims = x.dims();
    let (seq, d_k) = (dims[D - 2], dims[D - 1]);
    let n: usize = dims[..D - 2].iter().product();
    let half = d_k / 2;
    let pairs: Tensor<B, 4> = x.reshape([n, seq, half, 2]); // [n, seq, d_k/2, 2]
    let even = pairs.clone().narrow(3, 0, 1); // [n, seq, d_k/2, 1]
    let odd = pairs.narrow(3, 1, 1); // [n, seq, d_k/2, 1]
    let rotated_even = even.clone() * cos.clone() - odd.clone() * sin.clone();
    let rotated_odd = even * sin + odd * cos;
    Tensor::cat(vec![rotated_even, rotated_odd], 3).reshape(dims) // [.., seq, d_k]
}

/// Scaled dot-product attention: softmax(Q·Kᵀ/√d_k, masked) · V. `mask` true = may attend.
///
/// # Shapes
/// q `[.., n, d_k]`, k `[.., m, d_k]`, v `[.., m, d_v]`, mask `[.., n, m]` → `[.., n, d_v]`.
pub fn scaled_dot_product_attention<B: Backend, const D: usize>(
    q: Tensor<B, D>,
    k: Tensor<B, D>,
    v: Tensor<B, D>,
    mask: Option<Tensor<B, D, Bool>>,
) -> Tensor<B, D> {
    let d_k = q.dims()[D - 1];
    let scores = q.matmul(k.swap_dims(D - 2, D - 1)).div_scalar((d_k as f64).sqrt()); // [.., n, m]
    let scores = match mask {
        Some(m) => scores.mask_fill(m.bool_not(), f32::NEG_INFINITY),
        None => scores,
    };
    softmax(scores, D - 1).matmul(v) // [.., n, d_v]
}

/// The causal mask: query i may attend to keys j ≤ i.
///
/// # Shapes
/// → `[1, 1, seq, seq]`.
pub fn causal_mask<B: Backend>(seq: usize, device: &B::Device) -> Tensor<B, 4, Bool> {
    let data: Vec<bool> = (0..seq * seq).map(|ij| ij % seq <= ij / seq).collect();
    Tensor::from_data(TensorData::new(data, [1, 1, seq, seq]), device)
}

/// Causal multi-head self-attention with the projections given as torch-layout weights
/// (`[d_out, d_in]`, applied as x·Wᵀ). Head h uses rows h·d_k … (h+1)·d_k − 1 of W_q, W_k, W_v.
/// `rope_tables` rotates Q and K when given.
///
/// # Shapes
/// x `[batch, seq, d_model]`, each W `[d_model, d_model]` → `[batch, seq, d_model]`.
#[allow(clippy::too_many_arguments)]
pub fn multihead_self_attention<B: Backend>(
    x: Tensor<B, 3>,
    w_q: Tensor<B, 2>,
    w_k: Tensor<B, 2>,
    w_v: Tensor<B, 2>,
    w_o: Tensor<B, 2>,
    num_heads: usize,
    rope_tables: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
) -> Tensor<B, 3> {
    let [batch, seq, d_model] = x.dims();
    let d_k = d_model / num_heads;
    let project = |w: Tensor<B, 2>| -> Tensor<B, 4> {
        x.clone()
            .matmul(w.transpose().unsqueeze::<3>()) // [batch, seq, d_model]
            .reshape([batch, seq, num_heads, d_k]) // [batch, seq, heads, d_k]
            .swap_dims(1, 2) // [batch, heads, seq, d_k]
    };
    let (mut q, mut k, v) = (project(w_q), project(w_k), project(w_v));
    if let Some((cos, sin)) = rope_tables {
        q = rope(q, cos.clone(), sin.clone());
        k = rope(k, cos, sin);
    }
    let mask = causal_mask::<B>(seq, &x.device()).expand([batch, num_heads, seq, seq]);
    let heads = scaled_dot_product_attention(q, k, v, Some(mask)); // [batch, heads, seq, d_k]
    heads
        .swap_dims(1, 2) // [batch, seq, heads, d_k]
        .reshape([batch, seq, d_model])
        .matmul(w_o.transpose().unsqueeze::<3>()) // [batch, seq, d_model]
}

/// Mean cross-entropy of logits against target ids: logsumexp(l) − l[target], with the max
/// subtracted so 1000× logits do not overflow.
///
/// # Shapes
/// logits `[n, vocab]`, targets `[n]` → `[1]`.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let shifted = logits.clone() - logits.max_dim(1); // [n, vocab]
    let log_sum_exp = shifted.clone().exp().sum_dim(1).log(); // [n, 1]
    let picked = shifted.gather(1, targets.unsqueeze_dim(1)); // [n, 1]
    (log_sum_exp - picked).mean() // [1]
}

/// The factor that clips gradients to a global L2 norm: max_norm / (‖g‖ + 1e-6) when ‖g‖ exceeds
/// max_norm, else 1. `squared_norms` are the per-tensor sums of squares (burn clips per tensor; the
/// course clips all parameters together).
pub fn global_clip_factor(squared_norms: &[f64], max_norm: f64) -> (f64, f64) {
    let total = squared_norms.iter().sum::<f64>().sqrt();
    let factor = if total > max_norm { max_norm / (total + 1e-6) } else { 1.0 };
    (total, factor)
}
