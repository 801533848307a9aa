//! Every named model shape of the lab, in one catalogue: the published models the Compute lab
//! counts (GPT-2, Llama 2 70B, Mixtral, DeepSeek-V3) and the models a student trains (`nano` …
//! `gpt2-small`), so a shape is written once and the CLI, the pages and the benchmarks agree on it.
//!
//! A trainable preset's vocabulary is the one its byte-level BPE is trained to by default; the run
//! replaces it with the tokenizer's actual size. `nano` is sized for a browser on a software GPU
//! (seconds per step on SwiftShader), `tiny` is the main job's model (minutes on a laptop CPU),
//! `small` wants a real GPU; `cs336-tinystories` and `gpt2-small` are the course's models.

use super::model_shape::{ModelShape, MoeShape};
use crate::InputError;

/// A named shape and what the lab does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// The shape; for a trainable preset, with the BPE vocabulary trained for it by default.
    pub shape: ModelShape,
    /// Sequences per step a run of it starts from (CLI, Train page and `bench train`); `None` for a
    /// shape only counted in the Compute lab.
    pub train_batch: Option<usize>,
    /// Listed in the Compute lab's model menu.
    pub in_compute: bool,
}

impl Preset {
    /// The shape with a tokenizer of `vocab_size` ids.
    pub fn shape_with_vocab(&self, vocab_size: usize) -> ModelShape {
        ModelShape { vocab_size: vocab_size as u64, ..self.shape }
    }

    /// The BPE vocabulary a run trains for this shape when the student does not choose one.
    pub fn default_vocab(&self) -> usize {
        self.shape.vocab_size as usize
    }

    /// Whether the CLI and the Train page offer it for training.
    pub fn trainable(&self) -> bool {
        self.train_batch.is_some()
    }

    /// The dense preset whose forward FLOPs per token equal this one's active FLOPs (for a
    /// mixture-of-experts preset; the router's few FLOPs aside), e.g. `tiny` for `tiny-moe`.
    pub fn dense_twin(&self) -> Option<&'static Preset> {
        let moe = self.shape.moe?;
        let s = &self.shape;
        training_presets().find(|p| {
            let t = &p.shape;
            t.moe.is_none()
                && (t.context_length, t.d_model, t.num_layers, t.num_heads)
                    == (s.context_length, s.d_model, s.num_layers, s.num_heads)
                && t.d_ff == (moe.top_k + moe.num_shared_experts) * moe.d_ff_expert
        })
    }

    /// The twin of equal active FLOPs in either direction: a MoE preset's dense twin, or the MoE
    /// preset whose dense twin this is.
    pub fn twin(&self) -> Option<&'static Preset> {
        self.dense_twin().or_else(|| training_presets().find(|p| p.dense_twin().is_some_and(|d| d.name == self.name)))
    }
}

const fn mha(
    vocab_size: u64,
    context_length: u64,
    d_model: u64,
    num_layers: u64,
    num_heads: u64,
    d_ff: u64,
) -> ModelShape {
    ModelShape { vocab_size, context_length, d_model, num_layers, num_heads, num_kv_heads: num_heads, d_ff, moe: None }
}

/// A preset the lab trains (d_ff ≈ 8/3·d_model rounded to a multiple of 64, as CS336 does).
const fn trained(name: &'static str, description: &'static str, shape: ModelShape, batch: usize) -> Preset {
    Preset { name, description, shape, train_batch: Some(batch), in_compute: false }
}

/// A published shape of the Compute lab.
const fn counted(name: &'static str, description: &'static str, shape: ModelShape) -> Preset {
    Preset { name, description, shape, train_batch: None, in_compute: true }
}

/// Top-k of `e` experts of width `d_ff_expert`, no shared experts, every block MoE.
const fn experts(e: u64, k: u64, d_ff_expert: u64) -> Option<MoeShape> {
    Some(MoeShape { num_experts: e, top_k: k, num_shared_experts: 0, d_ff_expert, first_dense_layers: 0 })
}

/// The catalogue, trainable shapes smallest first, then the published ones.
///
/// GPT-2 shapes are from Radford et al. 2019 (Table 2) with d_ff = 4·d_model, in the CS336
/// architecture (SwiGLU with three matrices, untied head), as in the assignment's accounting
/// problem; the TinyStories model is the assignment's §7 model; the 70B is Llama 2 70B's shape
/// (Touvron et al. 2023: d_model 8192, 80 layers, 64 heads with 8 KV heads, d_ff 28672, vocab 32000).
/// The two mixture-of-experts shapes are Mixtral 8x7B (Jiang et al. 2024) and DeepSeek-V3
/// (DeepSeek-AI 2024), the latter with plain multi-head attention standing in for its multi-head
/// latent attention (see [`DEEPSEEK_V3`]).
pub const PRESETS: [Preset; 13] = [
    trained(
        "nano",
        "2 layers, d_model 64, context 64 — seconds per step even on a software GPU",
        mha(512, 64, 64, 2, 2, 192),
        8,
    ),
    trained("tiny", "4 layers, d_model 128, context 128 — the main job's model", mha(1024, 128, 128, 4, 4, 384), 16),
    trained(
        "nano-moe",
        "nano, with 4 half-width experts, top-2: nano's active FLOPs",
        ModelShape { moe: experts(4, 2, 96), ..mha(512, 64, 64, 2, 2, 192) },
        8,
    ),
    trained(
        "tiny-moe",
        "tiny, with 8 half-width experts, top-2: tiny's active FLOPs",
        ModelShape { moe: experts(8, 2, 192), ..mha(1024, 128, 128, 4, 4, 384) },
        16,
    ),
    trained("small", "6 layers, d_model 256, context 256 — wants a real GPU", mha(2048, 256, 256, 6, 8, 704), 16),
    Preset {
        in_compute: true,
        ..trained(
            "cs336-tinystories",
            "CS336 assignment 1's TinyStories model (4 layers, d_model 512)",
            mha(10_000, 256, 512, 4, 16, 1344),
            64,
        )
    },
    Preset {
        in_compute: true,
        ..trained(
            "gpt2-small",
            "GPT-2 small's shape in the CS336 architecture (12 layers, d_model 768)",
            mha(50_257, 1024, 768, 12, 12, 3072),
            16,
        )
    },
    counted("gpt2-medium", "GPT-2 medium shape (24 layers, d_model 1024)", mha(50_257, 1024, 1024, 24, 16, 4096)),
    counted("gpt2-large", "GPT-2 large shape (36 layers, d_model 1280)", mha(50_257, 1024, 1280, 36, 20, 5120)),
    counted("gpt2-xl", "GPT-2 XL shape (48 layers, d_model 1600)", mha(50_257, 1024, 1600, 48, 25, 6400)),
    counted(
        "llama-70b",
        "Llama-2-70B shape (80 layers, d_model 8192, grouped-query attention)",
        ModelShape { num_kv_heads: 8, ..mha(32_000, 4096, 8192, 80, 64, 28_672) },
    ),
    counted("mixtral-8x7b", "Mixtral-8x7B shape (32 layers, 8 experts, top-2 routing)", MIXTRAL_8X7B),
    counted(
        "deepseek-v3",
        "DeepSeek-V3-shaped MoE (61 layers, 256 + 1 shared experts, top-8; MHA for MLA)",
        DEEPSEEK_V3,
    ),
];

/// Mixtral 8x7B (Jiang et al. 2024, Table 1): Mistral 7B's attention (32 heads, 8 KV heads) with
/// every SwiGLU replaced by 8 experts of width 14,336, 2 per token; vocab 32,000, context 32,768.
const MIXTRAL_8X7B: ModelShape =
    ModelShape { num_kv_heads: 8, moe: experts(8, 2, 14_336), ..mha(32_000, 32_768, 4096, 32, 32, 14_336) };

/// DeepSeek-V3 (DeepSeek-AI 2024, §2 and §4.2): d_model 7168, 61 layers, the first 3 dense
/// (d_ff 18,432), the rest with 1 shared and 256 routed experts of width 2,048, 8 routed per
/// token; vocab 129,280; pre-training context 4,096. Its multi-head latent attention (MLA) is
/// approximated by plain multi-head attention with 128 heads, which this architecture can
/// express: that has ≈ 1.1B more parameters over the 61 layers (4·d² = 206M per layer against
/// MLA's 187M), so the counts run ≈ 0.2% high in total and ≈ 3% high in active parameters. The
/// multi-token-prediction module is left out, as in the published 671B.
const DEEPSEEK_V3: ModelShape = ModelShape {
    moe: Some(MoeShape { num_experts: 256, top_k: 8, num_shared_experts: 1, d_ff_expert: 2048, first_dense_layers: 3 }),
    ..mha(129_280, 4096, 7168, 61, 128, 18_432)
};

/// DeepSeekMoE 16B (Dai et al. 2024, §5 and Appendix A): d_model 2048, 28 layers with 16 heads,
/// the first one dense (d_ff 10,944), the rest 2 shared + 64 routed experts of width 1,408, 6
/// routed per token; vocab 102,400. Published: 16.4B parameters, 2.8B activated. Not a preset
/// (it is the compute lab's exercise on expert sparsity).
pub(crate) const DEEPSEEK_MOE_16B: ModelShape = ModelShape {
    moe: Some(MoeShape { num_experts: 64, top_k: 6, num_shared_experts: 2, d_ff_expert: 1408, first_dense_layers: 1 }),
    ..mha(102_400, 4096, 2048, 28, 16, 10_944)
};

/// The Compute lab's menu.
pub fn model_presets() -> impl Iterator<Item = &'static Preset> {
    PRESETS.iter().filter(|p| p.in_compute)
}

/// The shapes the CLI (`--preset`) and the Train page offer for training, smallest first.
pub fn training_presets() -> impl Iterator<Item = &'static Preset> {
    PRESETS.iter().filter(|p| p.trainable())
}

fn normalized(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

fn lookup(field: &str, name: &str, among: Vec<&'static Preset>) -> Result<&'static Preset, InputError> {
    let wanted = normalized(name);
    among.iter().find(|p| p.name == wanted).copied().ok_or_else(|| {
        let names: Vec<&str> = among.iter().map(|p| p.name).collect();
        InputError::new(field, name, format!("one of: {}", names.join(", ")))
    })
}

/// Any preset by name, for counting (case-insensitive; `_` and `-` interchangeable).
pub fn model_preset(name: &str) -> Result<&'static Preset, InputError> {
    lookup("model preset", name, PRESETS.iter().collect())
}

/// A trainable preset by name, or an error listing them.
pub fn training_preset(name: &str) -> Result<&'static Preset, InputError> {
    lookup("--preset", name, training_presets().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_catalogue_of_valid_shapes() {
        let mut names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PRESETS.len(), "a name appears twice");
        for p in training_presets() {
            p.shape.validate_trainable().unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(p.shape.d_ff % 64, 0, "{}", p.name);
        }
        // The tiny preset is the one the README quotes: 1.1 M parameters with 1,024 ids.
        let tiny = training_preset("TINY").unwrap().shape.params().total;
        assert!((1_000_000..1_200_000).contains(&tiny), "{tiny}");
        let err = training_preset("huge").unwrap_err().to_string();
        assert!(err.contains("huge") && err.contains("nano, tiny"), "{err}");
        assert!(training_preset("gpt2-xl").is_err(), "counted, not trained");
        assert_eq!(model_presets().count(), 8);
    }

    #[test]
    fn moe_presets_have_dense_twins_of_equal_active_ffn() {
        let twin = training_preset("tiny-moe").unwrap().dense_twin().unwrap();
        assert_eq!(twin.name, "tiny");
        assert_eq!(training_preset("tiny").unwrap().twin().unwrap().name, "tiny-moe");
        assert_eq!(training_preset("nano-moe").unwrap().twin().unwrap().name, "nano");
        assert!(training_preset("small").unwrap().twin().is_none());
    }
}
