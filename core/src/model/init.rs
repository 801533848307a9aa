//! CS336's initialization: truncated normals, drawn on the host from a seeded ChaCha stream so a
//! seed gives the same initial weights on every backend (CPU, CUDA, WebGPU) and no other code's
//! use of a global RNG can change them.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::Rng;

/// The stream initial weights are drawn from.
pub type InitRng = rand_chacha::ChaCha8Rng;

/// N(0, std²) truncated to [−3·std, 3·std] (torch's `trunc_normal_(std=σ, a=−3σ, b=3σ)`): standard
/// normals by Box–Muller, values outside ±3 redrawn.
///
/// # Shapes
/// → `shape`.
pub fn trunc_normal<B: Backend, const D: usize>(
    shape: [usize; D],
    std: f64,
    rng: &mut InitRng,
    device: &B::Device,
) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let mut values = Vec::with_capacity(n);
    while values.len() < n {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let (u1, u2): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random::<f64>());
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = 2.0 * std::f64::consts::PI * u2;
        for z in [r * theta.cos(), r * theta.sin()] {
            if z.abs() <= 3.0 && values.len() < n {
                values.push((z * std) as f32);
            }
        }
    }
    Tensor::from_data(TensorData::new(values, shape), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Mean 0, the variance of a normal truncated at ±3σ (σ²·0.9733), nothing beyond 3σ, and a
    /// seed that repeats.
    #[test]
    fn truncated_normal_moments() {
        let mut rng = InitRng::seed_from_u64(1);
        let t = trunc_normal::<burn::backend::Flex, 1>([200_000], 0.5, &mut rng, &Default::default());
        let v = t.into_data().to_vec::<f32>().unwrap();
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.005, "{mean}");
        // Var of N(0,1) truncated to [-3, 3] = 1 − 6φ(3)/(2Φ(3) − 1) = 0.97333.
        assert!((var / 0.25 - 0.97333).abs() < 0.01, "{var}");
        assert!(v.iter().all(|x| x.abs() <= 1.5));
        let mut again = InitRng::seed_from_u64(1);
        let w = trunc_normal::<burn::backend::Flex, 1>([8], 0.5, &mut again, &Default::default());
        assert_eq!(w.into_data().to_vec::<f32>().unwrap(), v[..8].to_vec());
    }
}
