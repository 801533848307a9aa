//! CS336's initialization: truncated normals.

use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

/// N(0, std²) truncated to [−3·std, 3·std] (torch's `trunc_normal_(std=σ, a=−3σ, b=3σ)`), by
/// rejection: values outside are redrawn, a few rounds (after four, any survivor — probability
/// ~5e-11 each — is clamped).
///
/// # Shapes
/// → `shape`.
pub fn trunc_normal<B: Backend, const D: usize>(shape: [usize; D], std: f64, device: &B::Device) -> Tensor<B, D> {
    let bound = 3.0 * std;
    let mut x = Tensor::<B, D>::random(shape, Distribution::Normal(0.0, std), device);
    for _ in 0..4 {
        let outside = x.clone().abs().greater_elem(bound);
        let redraw = Tensor::<B, D>::random(shape, Distribution::Normal(0.0, std), device);
        x = x.mask_where(outside, redraw);
    }
    x.clamp(-bound, bound)
}
