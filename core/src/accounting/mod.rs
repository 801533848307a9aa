//! # Compute accounting (lecture 2: "Resource accounting")
//!
//! How many FLOPs a transformer costs, how many parameters it has, how much memory training needs,
//! and how long it takes on real hardware. All numbers follow CS336's conventions: a matmul of
//! (B×D)·(D×K) costs 2·B·D·K FLOPs; training costs ≈ 6·N·D (forward 2·N·D + backward 4·N·D);
//! time = FLOPs / (GPUs × peak × MFU). [`parallel`]: what spreading training over GPUs costs in
//! communication and saves in memory.

mod flops;
mod forms;
mod hardware;
mod memory;
mod model_shape;
pub mod parallel;
pub mod presets;
mod training_time;

pub use flops::{forward_flops_approx, matmul_flops, training_flops, FlopsComponent, ForwardFlops};
pub use forms::{ClusterForm, MemoryForm, ModelChoice, ShapeField, ShapeForm, TimeForm, TimeReport, TrainingFlops};
pub use hardware::{custom_gpu, find_gpu, gpu_catalog, match_device_name, Gpu};
pub use memory::{
    activation_bytes, estimate_memory, ActivationBytes, MemoryEstimate, MemoryQuery, StateBytes, TrainingPrecision,
};
pub use model_shape::{ModelShape, MoeShape, ParamCount};
pub use presets::{model_preset, model_presets, training_preset, training_presets, Preset};
pub use training_time::{estimate_time, TimeEstimate, TimeQuery};

use crate::exercise::{Exercise, Tolerance};
use crate::precision::Format;

/// "Predict, then check" questions of the compute lab; every answer is computed by this module.
pub fn exercises() -> Vec<Exercise> {
    let days_70b = find_gpu("h100")
        .and_then(|gpu| {
            estimate_time(&TimeQuery {
                flops: training_flops(70e9, 15e12),
                gpu,
                gpus: 1024,
                mfu: 0.5,
                dtype: Format::Bf16,
                usd_per_gpu_hour: None,
            })
        })
        .map(|e| e.days)
        .unwrap_or(f64::NAN);
    let xl = model_preset("gpt2-xl").map(|p| p.shape).ok();
    let largest = find_gpu("h100")
        .map(|gpu| gpu.memory_bytes * 8.0 / TrainingPrecision::MixedBf16.state_bytes().total() as f64)
        .unwrap_or(f64::NAN);
    vec![
        Exercise::new(
            "matmul-flops",
            "How many FLOPs does multiplying a 16,384 × 32,768 matrix by a 32,768 × 8,192 one take?",
            matmul_flops(16384.0, 32768.0, 8192.0),
            Tolerance::Relative(0.02),
            "FLOPs",
            "2·B·D·K: each of the B·K outputs needs D multiplies and D adds — 8.8e12 FLOPs.",
        ),
        Exercise::new(
            "70b-training-days",
            "How many days does training a 70B model on 15T tokens take on 1,024 H100s (bf16) at 50% MFU?",
            days_70b,
            Tolerance::Relative(0.02),
            "days",
            "6·N·D = 6.3e24 FLOPs; the cluster does 1,024 × 989.5e12 × 0.5 = 5.07e17 FLOP/s; \
             6.3e24 / 5.07e17 s ≈ 144 days.",
        ),
        Exercise::new(
            "largest-model-8xh100",
            "AdamW in mixed precision needs 16 bytes per parameter. What is the largest model (in parameters) \
             whose training state fits on 8 H100s with 80 GB each?",
            largest,
            Tolerance::Relative(0.05),
            "parameters",
            "8 × 80 GB = 640 GB; 640e9 / 16 = 40B parameters — before any activations.",
        ),
        Exercise::new(
            "gpt2-xl-params",
            "How many parameters does GPT-2 XL have in the CS336 architecture (SwiGLU, untied LM head)?",
            xl.map(|s| s.params().total as f64).unwrap_or(f64::NAN),
            Tolerance::Relative(0.02),
            "parameters",
            "48 layers × (4·1600² attention + 3·1600·6400 SwiGLU) + 2 × 50,257·1600 embeddings ≈ 2.127B.",
        ),
        Exercise::new(
            "moe-routed-fraction",
            "A DeepSeek-MoE-16B-like model has 64 routed experts per layer, sends each token to 6 of them, \
             and adds 2 shared experts every token uses. What fraction of the routed-expert parameters does \
             one token use?",
            routed_fraction_used(&presets::DEEPSEEK_MOE_16B),
            Tolerance::Relative(0.02),
            "of the routed experts",
            "Top-6 of 64: 6/64 ≈ 0.094. The shared experts are extra (always on) and do not change it. In \
             all, 2.8B of the 16.4B parameters are active: the model is stored like a 16B one and computes \
             like a 3B one.",
        ),
    ]
    .into_iter()
    .chain(parallel::exercises())
    .collect()
}

/// The share of a mixture of experts' routed-expert parameters one token runs through, from the
/// parameter counts: (routed − idle) / routed.
fn routed_fraction_used(shape: &ModelShape) -> f64 {
    let Some(moe) = shape.moe else { return f64::NAN };
    let p = shape.params();
    let routed = (shape.moe_layers() * moe.num_experts * 3 * shape.d_model * moe.d_ff_expert) as f64;
    let idle = (p.total - p.active) as f64;
    (routed - idle) / routed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moe_exercise_is_top_k_over_experts() {
        let e = exercises().into_iter().find(|e| e.id == "moe-routed-fraction").unwrap();
        assert!((e.answer - 6.0 / 64.0).abs() < 1e-12, "{}", e.answer);
    }
}
