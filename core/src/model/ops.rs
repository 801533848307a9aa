//! The functional pieces of the CS336 transformer: softmax, SiLU, RMSNorm, RoPE, attention,
//! cross-entropy and global gradient clipping. Written out (not burn's built-ins) where the course's
//! convention matters: softmax subtracts the max, RoPE pairs adjacent elements, clipping is global.

use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, FloatDType, Int, Tensor, TensorData};

use super::plan::Precision;

/// a·b in the run's precision. In [`Precision::Bf16`] both inputs are rounded to bf16 and the
/// product is returned as f32 (the backends accumulate bf16 products in f32, as tensor cores do);
/// `cast` is differentiable, so the gradients of f32 inputs come back as f32.
///
/// # Shapes
/// a `[.., n, k]`, b `[.., k, m]` → `[.., n, m]`.
pub fn matmul_in<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, precision: Precision) -> Tensor<B, D> {
    match precision {
        Precision::Fp32 => a.matmul(b),
        Precision::Bf16 => a.cast(FloatDType::BF16).matmul(b.cast(FloatDType::BF16)).cast(FloatDType::F32),
    }
}

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

/// RoPE's tables for a run of positions. Rotation is written as x·cos + swap(x)·sin, where
/// swap exchanges each adjacent pair (x[2k], x[2k+1]) → (x[2k+1], x[2k]) through a fixed
/// permutation matrix and the sign of sin carries the rotation's minus: three elementwise ops and
/// one tiny matmul over contiguous memory, instead of slicing the pairs apart and back together.
#[derive(Debug, Clone)]
pub struct RopeTables<B: Backend> {
    /// `[1, seq, d_k]`: cos θ_k, each value twice (once per element of its pair).
    pub cos: Tensor<B, 3>,
    /// `[1, seq, d_k]`: −sin θ_k at even, +sin θ_k at odd elements.
    pub sin: Tensor<B, 3>,
    /// `[d_k, d_k]`: the pair-swapping permutation.
    pub swap: Tensor<B, 2>,
}

/// The RoPE tables for `positions`: angle pos / θ^(2k/d_k) for pair k = 0 … d_k/2 − 1, computed
/// in f64 and rounded once to f32.
///
/// # Shapes
/// → cos, sin `[1, seq, d_k]`, swap `[d_k, d_k]`.
pub fn rope_tables<B: Backend>(positions: &[usize], d_k: usize, theta: f64, device: &B::Device) -> RopeTables<B> {
    let mut cos = Vec::with_capacity(positions.len() * d_k);
    let mut sin = Vec::with_capacity(positions.len() * d_k);
    for &p in positions {
        for k in 0..d_k / 2 {
            let angle = p as f64 / theta.powf((2 * k) as f64 / d_k as f64);
            let (c, s) = (angle.cos() as f32, angle.sin() as f32);
            cos.extend([c, c]);
            sin.extend([-s, s]);
        }
    }
    let mut swap = vec![0f32; d_k * d_k];
    for k in 0..d_k / 2 {
        swap[(2 * k) * d_k + 2 * k + 1] = 1.0; // row 2k → column 2k+1: out[2k+1] = x[2k]
        swap[(2 * k + 1) * d_k + 2 * k] = 1.0; // out[2k] = x[2k+1]
    }
    let shape = [1, positions.len(), d_k];
    RopeTables {
        cos: Tensor::from_data(TensorData::new(cos, shape), device),
        sin: Tensor::from_data(TensorData::new(sin, shape), device),
        swap: Tensor::from_data(TensorData::new(swap, [d_k, d_k]), device),
    }
}

/// Rotary position embedding on adjacent pairs (x[2k], x[2k+1]):
/// out[2k] = cos·x[2k] − sin·x[2k+1], out[2k+1] = sin·x[2k] + cos·x[2k+1].
///
/// # Shapes
/// x `[.., seq, d_k]` (d_k even), tables for `seq` positions → `[.., seq, d_k]`.
pub fn rope<B: Backend, const D: usize>(x: Tensor<B, D>, tables: &RopeTables<B>) -> Tensor<B, D> {
    let swapped = x.clone().matmul(tables.swap.clone().unsqueeze::<D>()); // [.., seq, d_k]
    x * tables.cos.clone().unsqueeze::<D>() + swapped * tables.sin.clone().unsqueeze::<D>()
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
    let scores = attention_scores(q, k); // [.., n, m]
    let scores = match mask {
        Some(m) => scores.mask_fill(m.bool_not(), f32::NEG_INFINITY),
        None => scores,
    };
    softmax(scores, D - 1).matmul(v) // [.., n, d_v]
}

/// Q·Kᵀ/√d_k.
///
/// # Shapes
/// q `[.., n, d_k]`, k `[.., m, d_k]` → `[.., n, m]`.
pub fn attention_scores<B: Backend, const D: usize>(q: Tensor<B, D>, k: Tensor<B, D>) -> Tensor<B, D> {
    attention_scores_in(q, k, Precision::Fp32)
}

/// [`attention_scores`] with Q and K rounded to the run's matmul precision (the scores are f32).
///
/// # Shapes
/// q `[.., n, d_k]`, k `[.., m, d_k]` → `[.., n, m]`.
pub fn attention_scores_in<B: Backend, const D: usize>(
    q: Tensor<B, D>,
    k: Tensor<B, D>,
    precision: Precision,
) -> Tensor<B, D> {
    let d_k = q.dims()[D - 1];
    matmul_in(q, k.swap_dims(D - 2, D - 1), precision).div_scalar((d_k as f64).sqrt())
}

/// Causal attention as the model runs it: the mask is an additive bias (0 where a query may
/// attend, −∞ where not) broadcast over batch and heads — one add instead of materializing a
/// boolean mask of the full scores' shape. The two matmuls take `precision`'s inputs; the
/// softmax is f32.
///
/// # Shapes
/// q `[batch, heads, n, d_k]`, k, v `[batch, heads, m, d_k]`, bias `[1, 1, n, m]` → `[batch, heads, n, d_k]`.
pub fn causal_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    bias: Tensor<B, 4>,
    precision: Precision,
) -> Tensor<B, 4> {
    let weights = softmax(attention_scores_in(q, k, precision) + bias, 3); // [batch, heads, n, m]
    matmul_in(weights, v, precision)
}

/// The causal bias of `n` queries at positions offset … offset+n−1 over `offset + n` keys: 0 for
/// key j ≤ offset + i, −∞ after.
///
/// # Shapes
/// → `[1, 1, n, offset + n]`.
pub fn causal_bias<B: Backend>(n: usize, offset: usize, device: &B::Device) -> Tensor<B, 4> {
    let m = offset + n;
    let data: Vec<f32> = (0..n * m).map(|ij| if ij % m <= offset + ij / m { 0.0 } else { f32::NEG_INFINITY }).collect();
    Tensor::from_data(TensorData::new(data, [1, 1, n, m]), device)
}

/// The causal mask: query i may attend to keys j ≤ i.
///
/// # Shapes
/// → `[1, 1, seq, seq]`.
pub fn causal_mask<B: Backend>(seq: usize, device: &B::Device) -> Tensor<B, 4, Bool> {
    causal_mask_after::<B>(seq, 0, device)
}

/// The causal mask of `n` new queries at positions `offset … offset + n − 1` over all
/// `offset + n` keys (the KV-cache case): query i may attend to keys j ≤ offset + i.
///
/// # Shapes
/// → `[1, 1, n, offset + n]`.
pub fn causal_mask_after<B: Backend>(n: usize, offset: usize, device: &B::Device) -> Tensor<B, 4, Bool> {
    let m = offset + n;
    let data: Vec<bool> = (0..n * m).map(|ij| ij % m <= offset + ij / m).collect();
    Tensor::from_data(TensorData::new(data, [1, 1, n, m]), device)
}

/// x·Wᵀ split into heads.
///
/// # Shapes
/// x `[batch, seq, d_model]`, w `[d_model, d_model]` → `[batch, heads, seq, d_k]`.
pub fn project_heads<B: Backend>(
    x: Tensor<B, 3>,
    w: Tensor<B, 2>,
    num_heads: usize,
    precision: Precision,
) -> Tensor<B, 4> {
    let [batch, seq, d_model] = x.dims();
    matmul_in(x, w.transpose().unsqueeze::<3>(), precision) // [batch, seq, d_model]
        .reshape([batch, seq, num_heads, d_model / num_heads]) // [batch, seq, heads, d_k]
        .swap_dims(1, 2) // [batch, heads, seq, d_k]
}

/// Concatenates the heads and applies the output projection.
///
/// # Shapes
/// heads `[batch, heads, seq, d_k]`, w_o `[d_model, d_model]` → `[batch, seq, d_model]`.
pub fn merge_heads<B: Backend>(heads: Tensor<B, 4>, w_o: Tensor<B, 2>, precision: Precision) -> Tensor<B, 3> {
    let [batch, num_heads, seq, d_k] = heads.dims();
    let concatenated = heads
        .swap_dims(1, 2) // [batch, seq, heads, d_k]
        .reshape([batch, seq, num_heads * d_k]);
    matmul_in(concatenated, w_o.transpose().unsqueeze::<3>(), precision) // [batch, seq, d_model]
}

/// Causal multi-head self-attention with the projections given as torch-layout weights
/// (`[d_out, d_in]`, applied as x·Wᵀ). Head h uses rows h·d_k … (h+1)·d_k − 1 of W_q, W_k, W_v.
/// `rope_tables` rotates Q and K when given. In f32: the course's function; the model runs the
/// same pieces in its own precision (`Attention::forward_cached`).
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
    rope_tables: Option<&RopeTables<B>>,
) -> Tensor<B, 3> {
    let seq = x.dims()[1];
    let fp32 = Precision::Fp32;
    let mut q = project_heads(x.clone(), w_q, num_heads, fp32); // [batch, heads, seq, d_k]
    let mut k = project_heads(x.clone(), w_k, num_heads, fp32);
    let v = project_heads(x.clone(), w_v, num_heads, fp32);
    if let Some(tables) = rope_tables {
        q = rope(q, tables);
        k = rope(k, tables);
    }
    let heads = causal_attention(q, k, v, causal_bias::<B>(seq, 0, &x.device()), fp32); // [batch, heads, seq, d_k]
    merge_heads(heads, w_o, fp32) // [batch, seq, d_model]
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
