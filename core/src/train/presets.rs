//! The shapes a student trains: one list for the CLI (`--preset`) and the Train page, so both offer
//! the same models and the page can count parameters and FLOPs without linking burn.
//!
//! `nano` is sized for a browser on a software GPU (seconds per step on SwiftShader), `tiny` is the
//! main job's model (minutes on a laptop CPU), `small` wants a real GPU; the last two are the
//! course's models.

use crate::accounting::ModelShape;
use crate::exercise::{Exercise, Tolerance};
use crate::InputError;

/// A named training shape; the vocabulary is the tokenizer's, so it is filled in later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingPreset {
    pub name: &'static str,
    pub description: &'static str,
    pub context_length: u64,
    pub d_model: u64,
    pub num_layers: u64,
    pub num_heads: u64,
    pub d_ff: u64,
    /// The BPE vocabulary trained for it when the student does not choose one.
    pub default_vocab: usize,
    /// Batch size the CLI and page start from.
    pub default_batch: usize,
}

/// Every training preset, smallest first. d_ff ≈ 8/3·d_model rounded to a multiple of 64 (CS336).
pub const TRAINING_PRESETS: [TrainingPreset; 5] = [
    TrainingPreset {
        name: "nano",
        description: "2 layers, d_model 64, context 64 — seconds per step even on a software GPU",
        context_length: 64,
        d_model: 64,
        num_layers: 2,
        num_heads: 2,
        d_ff: 192,
        default_vocab: 512,
        default_batch: 8,
    },
    TrainingPreset {
        name: "tiny",
        description: "4 layers, d_model 128, context 128 — the main job's model",
        context_length: 128,
        d_model: 128,
        num_layers: 4,
        num_heads: 4,
        d_ff: 384,
        default_vocab: 1024,
        default_batch: 16,
    },
    TrainingPreset {
        name: "small",
        description: "6 layers, d_model 256, context 256 — wants a real GPU",
        context_length: 256,
        d_model: 256,
        num_layers: 6,
        num_heads: 8,
        d_ff: 704,
        default_vocab: 2048,
        default_batch: 16,
    },
    TrainingPreset {
        name: "cs336-tinystories",
        description: "CS336 assignment 1's TinyStories model (4 layers, d_model 512)",
        context_length: 256,
        d_model: 512,
        num_layers: 4,
        num_heads: 16,
        d_ff: 1344,
        default_vocab: 10_000,
        default_batch: 32,
    },
    TrainingPreset {
        name: "gpt2-small",
        description: "GPT-2 small's shape in the CS336 architecture (12 layers, d_model 768)",
        context_length: 1024,
        d_model: 768,
        num_layers: 12,
        num_heads: 12,
        d_ff: 3072,
        default_vocab: 50_257,
        default_batch: 8,
    },
];

impl TrainingPreset {
    /// The model's shape for a tokenizer of `vocab_size` ids.
    pub fn shape(&self, vocab_size: usize) -> ModelShape {
        ModelShape {
            vocab_size: vocab_size as u64,
            context_length: self.context_length,
            d_model: self.d_model,
            num_layers: self.num_layers,
            num_heads: self.num_heads,
            num_kv_heads: self.num_heads,
            d_ff: self.d_ff,
        }
    }
}

/// Training FLOPs of one step: 3 × the forward matmul FLOPs (forward + backward ≈ 2× forward),
/// attention scores included, from `lmlab::accounting`.
pub fn flops_per_step(shape: &ModelShape, batch_size: usize) -> f64 {
    3.0 * shape.forward_flops(batch_size as u64, shape.context_length).matmul_flops
}

/// "Predict, then check" questions of the Train page; answers from the presets and accounting.
pub fn exercises() -> Vec<Exercise> {
    let nano = training_preset("nano").expect("listed").shape(512);
    let tokens_per_step = (8 * nano.context_length) as f64;
    let flops = flops_per_step(&nano, 8);
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
    ]
}

/// A training preset by name, or an error listing the names.
pub fn training_preset(name: &str) -> Result<&'static TrainingPreset, InputError> {
    let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
    TRAINING_PRESETS.iter().find(|p| p.name == wanted).ok_or_else(|| {
        let names: Vec<&str> = TRAINING_PRESETS.iter().map(|p| p.name).collect();
        InputError::new("--preset", name, format!("one of: {}", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_shapes_with_even_heads() {
        for p in TRAINING_PRESETS {
            let s = p.shape(p.default_vocab);
            s.validate().unwrap();
            assert_eq!((s.d_model / s.num_heads) % 2, 0, "{}: RoPE needs even head sizes", p.name);
            assert_eq!(p.d_ff % 64, 0, "{}", p.name);
        }
        // The tiny preset is the one the README quotes: 1.1 M parameters with 1,024 ids.
        let tiny = training_preset("TINY").unwrap().shape(1024).params().total;
        assert!((1_000_000..1_200_000).contains(&tiny), "{tiny}");
        // ln V for the untrained-loss question; 3 × forward for FLOPs per step.
        let ex = exercises();
        assert!((ex[0].answer - 6.2383).abs() < 1e-4);
        assert_eq!(ex[1].answer, 3.0 * training_preset("nano").unwrap().shape(512).forward_flops(8, 64).matmul_flops);
        let err = training_preset("huge").unwrap_err().to_string();
        assert!(err.contains("huge") && err.contains("nano, tiny"), "{err}");
    }
}
