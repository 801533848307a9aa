//! AdamW with decoupled weight decay (Loshchilov & Hutter), as a function of tensors so one
//! definition serves every backend and the training loop applies it parameter by parameter.
//!
//! Order: [`DecayOrder::BeforeAdam`] (the default) decays θ with the pre-update value first, then
//! takes the Adam step — the paper's algorithm, `torch.optim.AdamW`, and CS336's 2026 handout.
//! [`DecayOrder::AfterAdam`] is the 2025 handout's order. Both are tested against the course's
//! vector (tests/fixtures/cs336/optimizer/adamw.json).

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// When the decoupled weight decay is applied within a step.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum DecayOrder {
    /// θ ← θ − α·λ·θ, then the Adam update (torch, the paper, CS336 2026).
    BeforeAdam,
    /// The Adam update, then θ ← θ − α·λ·θ (CS336 2025).
    AfterAdam,
}

/// AdamW's hyper-parameters (the learning rate comes from the schedule at each step).
#[derive(Config, Debug, PartialEq)]
pub struct AdamWConfig {
    #[config(default = 0.9)]
    pub beta1: f64,
    #[config(default = 0.95)]
    pub beta2: f64,
    #[config(default = 1e-8)]
    pub eps: f64,
    #[config(default = 0.1)]
    pub weight_decay: f64,
    #[config(default = "DecayOrder::BeforeAdam")]
    pub order: DecayOrder,
}

/// The moments of one parameter.
#[derive(Debug, Clone)]
pub struct Moments<B: Backend, const D: usize> {
    pub m: Tensor<B, D>,
    pub v: Tensor<B, D>,
}

/// One AdamW step at step number `t` (1-based) with learning rate `lr`:
/// m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; α_t = α·√(1−β2^t)/(1−β1^t);
/// θ ← θ − α_t·m/(√v + ε); and θ ← θ − α·λ·θ before or after, per `config.order`.
///
/// # Shapes
/// θ, g, m, v: any, all the same → θ and moments of that shape.
pub fn adamw_step<B: Backend, const D: usize>(
    theta: Tensor<B, D>,
    grad: Tensor<B, D>,
    moments: Option<Moments<B, D>>,
    t: usize,
    lr: f64,
    config: &AdamWConfig,
) -> (Tensor<B, D>, Moments<B, D>) {
    let Moments { m, v } = moments.unwrap_or_else(|| Moments { m: theta.zeros_like(), v: theta.zeros_like() });
    let m = m.mul_scalar(config.beta1) + grad.clone().mul_scalar(1.0 - config.beta1);
    let v = v.mul_scalar(config.beta2) + grad.powf_scalar(2.0).mul_scalar(1.0 - config.beta2);
    let t = t as i32;
    let alpha_t = lr * (1.0 - config.beta2.powi(t)).sqrt() / (1.0 - config.beta1.powi(t));
    let decay = |theta: Tensor<B, D>| theta.clone() - theta.mul_scalar(lr * config.weight_decay);
    let adam = |theta: Tensor<B, D>| theta - (m.clone() / (v.clone().sqrt() + config.eps)).mul_scalar(alpha_t);
    let theta = match config.order {
        DecayOrder::BeforeAdam => adam(decay(theta)),
        DecayOrder::AfterAdam => decay(adam(theta)),
    };
    (theta, Moments { m, v })
}
