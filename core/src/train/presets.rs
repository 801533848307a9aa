//! The shapes a student trains: one list for the CLI (`--preset`) and the Train page, so both offer
//! the same models and the page can count parameters and FLOPs without linking burn.
//!
//! `nano` is sized for a browser on a software GPU (seconds per step on SwiftShader), `tiny` is the
//! main job's model (minutes on a laptop CPU), `small` wants a real GPU; the last two are the
//! course's models.

use crate::accounting::{ModelShape, MoeShape};
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
    /// Mixture-of-experts feed-forward layers (`None`: dense).
    pub moe: Option<MoeShape>,
}

/// Every training preset, smallest first. d_ff ≈ 8/3·d_model rounded to a multiple of 64 (CS336).
pub const TRAINING_PRESETS: [TrainingPreset; 7] = [
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
        moe: None,
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
        moe: None,
    },
    TrainingPreset {
        name: "nano-moe",
        description: "nano, with 4 half-width experts, top-2: nano's active FLOPs",
        context_length: 64,
        d_model: 64,
        num_layers: 2,
        num_heads: 2,
        d_ff: 192,
        default_vocab: 512,
        default_batch: 8,
        moe: Some(MoeShape { num_experts: 4, top_k: 2, num_shared_experts: 0, d_ff_expert: 96, first_dense_layers: 0 }),
    },
    TrainingPreset {
        name: "tiny-moe",
        description: "tiny, with 8 half-width experts, top-2: tiny's active FLOPs",
        context_length: 128,
        d_model: 128,
        num_layers: 4,
        num_heads: 4,
        d_ff: 384,
        default_vocab: 1024,
        default_batch: 16,
        moe: Some(MoeShape {
            num_experts: 8,
            top_k: 2,
            num_shared_experts: 0,
            d_ff_expert: 192,
            first_dense_layers: 0,
        }),
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
        moe: None,
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
        moe: None,
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
        moe: None,
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
            moe: self.moe,
        }
    }

    /// The dense preset whose forward FLOPs per token equal this one's active FLOPs (for a
    /// mixture-of-experts preset; the router's few FLOPs aside), e.g. `tiny` for `tiny-moe`.
    pub fn dense_twin(&self) -> Option<&'static TrainingPreset> {
        let moe = self.moe?;
        TRAINING_PRESETS.iter().find(|p| {
            p.moe.is_none()
                && (p.context_length, p.d_model, p.num_layers, p.num_heads)
                    == (self.context_length, self.d_model, self.num_layers, self.num_heads)
                && p.d_ff == (moe.top_k + moe.num_shared_experts) * moe.d_ff_expert
        })
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
    let tiny_moe = training_preset("tiny-moe").expect("listed");
    let (total, active) = {
        let p = tiny_moe.shape(1024).params();
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
