//! The CS336 layers as burn modules. Weights keep torch's layout and CS336's names (`weight`,
//! `[d_out, d_in]`), so checkpoints convert to and from the course's state dicts one to one.

use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::init::{trunc_normal, InitRng};
use super::ops::{matmul_in, rms_norm, silu};
use super::plan::Precision;

/// y = x·Wᵀ, no bias. Init: truncated N(0, 2/(d_in + d_out)).
#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    /// `[d_out, d_in]`
    pub weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> Linear<B> {
    pub fn new(d_in: usize, d_out: usize, rng: &mut InitRng, device: &B::Device) -> Self {
        let std = (2.0 / (d_in + d_out) as f64).sqrt();
        Self { weight: Param::from_tensor(trunc_normal([d_out, d_in], std, rng, device)) }
    }

    /// # Shapes
    /// `[.., d_in]` → `[.., d_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_in(x, Precision::Fp32)
    }

    /// [`Linear::forward`] with the matmul's inputs in `precision` (the output is f32).
    ///
    /// # Shapes
    /// `[.., d_in]` → `[.., d_out]`.
    pub fn forward_in<const D: usize>(&self, x: Tensor<B, D>, precision: Precision) -> Tensor<B, D> {
        matmul_in(x, self.weight.val().transpose().unsqueeze::<D>(), precision)
    }
}

/// Token embedding table. Init: truncated N(0, 1).
#[derive(Module, Debug)]
pub struct Embedding<B: Backend> {
    /// `[vocab_size, d_model]`
    pub weight: Param<Tensor<B, 2>>,
}

impl<B: Backend> Embedding<B> {
    pub fn new(vocab_size: usize, d_model: usize, rng: &mut InitRng, device: &B::Device) -> Self {
        Self { weight: Param::from_tensor(trunc_normal([vocab_size, d_model], 1.0, rng, device)) }
    }

    /// # Shapes
    /// ids `[batch, seq]` → `[batch, seq, d_model]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        burn::tensor::module::embedding(self.weight.val(), ids)
    }
}

/// RMSNorm with a learned gain (init 1), ε = 1e-5.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[d_model]`
    pub weight: Param<Tensor<B, 1>>,
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    pub fn new(d_model: usize, device: &B::Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::ones([d_model], device)), eps: 1e-5 }
    }

    /// # Shapes
    /// `[.., d_model]` → same.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        rms_norm(x, self.weight.val(), self.eps)
    }
}

/// SwiGLU feed-forward: W2(SiLU(W1·x) ⊙ W3·x).
#[derive(Module, Debug)]
pub struct SwiGlu<B: Backend> {
    pub w1: Linear<B>,
    pub w2: Linear<B>,
    pub w3: Linear<B>,
}

impl<B: Backend> SwiGlu<B> {
    pub fn new(d_model: usize, d_ff: usize, rng: &mut InitRng, device: &B::Device) -> Self {
        Self {
            w1: Linear::new(d_model, d_ff, rng, device),
            w2: Linear::new(d_ff, d_model, rng, device),
            w3: Linear::new(d_model, d_ff, rng, device),
        }
    }

    /// # Shapes
    /// `[.., d_model]` → `[.., d_model]` (through `[.., d_ff]`).
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.forward_in(x, Precision::Fp32)
    }

    /// [`SwiGlu::forward`] with its three matmuls in `precision` (SiLU and the product in f32).
    ///
    /// # Shapes
    /// `[.., d_model]` → `[.., d_model]`.
    pub fn forward_in<const D: usize>(&self, x: Tensor<B, D>, precision: Precision) -> Tensor<B, D> {
        let gate = silu(self.w1.forward_in(x.clone(), precision)); // [.., d_ff]
        self.w2.forward_in(gate * self.w3.forward_in(x, precision), precision) // [.., d_model]
    }
}
