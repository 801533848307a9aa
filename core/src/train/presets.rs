//! The Train page's "predict, then check" questions. The shapes themselves are in the lab's one
//! catalogue, [`crate::accounting::presets`], which the CLI's `--preset` and the page both read.

use crate::accounting::training_preset;
use crate::exercise::{Exercise, Tolerance};
use crate::telemetry::flops_per_step;

/// "Predict, then check" questions of the Train page; answers from the presets and accounting.
pub fn exercises() -> Vec<Exercise> {
    let nano = training_preset("nano").expect("listed").shape_with_vocab(512);
    let tokens_per_step = (8 * nano.context_length) as f64;
    let flops = flops_per_step(&nano, 8);
    let tiny_moe = training_preset("tiny-moe").expect("listed");
    let (total, active) = {
        let p = tiny_moe.shape_with_vocab(1024).params();
        (p.total as f64, p.active as f64)
    };
    vec![
        Exercise::new(
            "train-untrained-loss",
            "An untrained model spreads its probability evenly over its vocabulary. With the nano preset's \
             BPE of 512 ids, what cross-entropy loss (nats per token) should the very first step show?",
            (512f64).ln(),
            Tolerance::Absolute(0.05),
            "nats",
            "Uniform over V ids: loss = −ln(1/V) = ln V = ln 512 ≈ 6.24. Start a nano run and compare with \
             the first point of the loss curve (the dashed line is ln V); CS336's init makes it close.",
        ),
        Exercise::new(
            "train-flops-per-step",
            "How many FLOPs does one training step of the nano preset (vocabulary 512, context 64) take at \
             batch 8? Count matmuls only, with backward = 2 × forward.",
            flops,
            Tolerance::Relative(0.02),
            "FLOPs",
            "3 × the forward matmul FLOPs of 8 × 64 tokens (the Compute lab's breakdown, attention included); \
             the page shows it beside the parameter count, and MFU is this over step time and the GPU's peak.",
        ),
        Exercise::new(
            "train-tokens-at-full-mfu",
            "A GPU that sustains 1 TFLOP/s trains the nano preset at batch 8: how many tokens per second at \
             100% MFU?",
            tokens_per_step / (flops / 1e12),
            Tolerance::Relative(0.02),
            "tokens/s",
            "tokens/s = tokens per step ÷ (FLOPs per step ÷ FLOP/s) = 512 ÷ (FLOPs per step / 10¹²). Compare \
             with the tokens/s the page measures: the ratio is your MFU against that peak.",
        ),
        Exercise::new(
            "train-moe-active-share",
            "tiny-moe routes each token to the top 2 of its 8 experts in every block. What fraction of the model's \
             parameters (embeddings, attention and all experts counted, vocabulary 1,024) does one token use?",
            active / total,
            Tolerance::Relative(0.02),
            "",
            "Everything but the 6 experts a token skips in each block: active = total − blocks × (E − k) × 3·d·d_ff_expert. \
             The page shows both counts under the model choice; the expert weights alone are used 2/8 = 25%.",
        ),
        Exercise::new(
            "train-moe-balanced-loss",
            "The load-balancing loss is E·Σᵢ fᵢ·Pᵢ (fᵢ: share of routed tokens, Pᵢ: mean router probability of \
             expert i). What is it for tiny-moe's router when every expert gets exactly its share?",
            1.0,
            Tolerance::Absolute(1e-6),
            "",
            "fᵢ = Pᵢ = 1/E, so E · E · (1/E)² = 1, whatever E. Everything on one expert gives E (8 for tiny-moe); \
             watch the Router panel's balance loss fall toward 1 as a run trains.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_from_the_presets() {
        // ln V for the untrained-loss question; 3 × forward for FLOPs per step.
        let ex = exercises();
        assert!((ex[0].answer - 6.2383).abs() < 1e-4);
        let nano = training_preset("nano").unwrap().shape;
        assert_eq!(ex[1].answer, 3.0 * nano.forward_flops(8, 64).matmul_flops);
    }
}
