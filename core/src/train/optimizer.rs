//! Applying AdamW to a whole burn module, with global gradient clipping, without reading anything
//! back to the host: the clip factor stays a device tensor, so the same step runs on WebGPU, where
//! synchronous reads are not allowed.

use std::collections::HashMap;

use burn::module::{AutodiffModule, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use super::adamw::{adamw_step, AdamWConfig, Moments};

/// AdamW over every float parameter of a module; moments are kept per parameter, flattened.
pub struct AdamW<B: AutodiffBackend> {
    pub config: AdamWConfig,
    /// Steps taken so far (the next step is `step + 1`).
    pub step: usize,
    moments: HashMap<ParamId, Moments<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> AdamW<B> {
    pub fn new(config: AdamWConfig) -> Self {
        Self { config, step: 0, moments: HashMap::new() }
    }

    /// An optimizer resumed at `step` with saved moments (flattened, by parameter id).
    pub fn with_state(
        config: AdamWConfig,
        step: usize,
        moments: HashMap<ParamId, Moments<B::InnerBackend, 1>>,
    ) -> Self {
        Self { config, step, moments }
    }

    /// The first and second moments of every parameter updated so far, flattened.
    pub fn moments(&self) -> &HashMap<ParamId, Moments<B::InnerBackend, 1>> {
        &self.moments
    }

    /// One step: clips the gradients to a global L2 norm of `max_norm` (scale
    /// max_norm/(‖g‖ + 1e-6) when above), then updates every parameter that has a gradient.
    /// Returns the updated module and the gradient norm before clipping (a `[1]` device tensor).
    pub fn step<M: AutodiffModule<B>>(
        &mut self,
        module: M,
        mut grads: GradientsParams,
        lr: f64,
        max_norm: f64,
    ) -> (M, Tensor<B::InnerBackend, 1>) {
        let mut norm = SquaredNorm::<B> { grads: &grads, total: None };
        module.visit(&mut norm);
        let device = module.devices().first().cloned().unwrap_or_default();
        let total = norm.total.unwrap_or_else(|| Tensor::zeros([1], &device)).sqrt();
        let factor = (total.clone().add_scalar(1e-6).recip().mul_scalar(max_norm)).clamp_max(1.0);
        self.step += 1;
        let mut apply = Apply::<B> {
            grads: &mut grads,
            moments: &mut self.moments,
            factor,
            t: self.step,
            lr,
            config: &self.config,
        };
        (module.map(&mut apply), total)
    }
}

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let sq = g.powf_scalar(2.0).sum(); // [1]
            self.total = Some(match self.total.take() {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
}

struct Apply<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    moments: &'a mut HashMap<ParamId, Moments<B::InnerBackend, 1>>,
    factor: Tensor<B::InnerBackend, 1>,
    t: usize,
    lr: f64,
    config: &'a AdamWConfig,
}

impl<B: AutodiffBackend> ModuleMapper<B> for Apply<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<B::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let theta = tensor.inner().reshape([n]); // [n]
        let grad = grad.reshape([n]) * self.factor.clone(); // [n], clipped
        let (theta, moments) = adamw_step(theta, grad, self.moments.remove(&id), self.t, self.lr, self.config);
        self.moments.insert(id, moments);
        let updated = Tensor::<B, D>::from_inner(theta.reshape(dims)).require_grad();
        Param::from_mapped_value(id, updated, mapper)
    }
}
