//! Transformer shapes, their parameter counts and their forward FLOPs (CS336 architecture).
//!
//! The architecture is the one of CS336 assignment 1: token embedding → L pre-norm blocks
//! (RMSNorm → causal multi-head attention with RoPE → residual → RMSNorm → SwiGLU → residual) →
//! final RMSNorm → untied LM head. No biases; RoPE has no parameters. Optional grouped-query
//! attention (`num_kv_heads < num_heads`) covers Llama-style models.

use serde::{Deserialize, Serialize};

use crate::InputError;

/// The shape of a decoder-only transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShape {
    pub vocab_size: u64,
    pub context_length: u64,
    pub d_model: u64,
    pub num_layers: u64,
    pub num_heads: u64,
    /// Key/value heads (grouped-query attention); equal to `num_heads` for plain multi-head attention.
    pub num_kv_heads: u64,
    pub d_ff: u64,
}

/// A named model shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelPreset {
    pub name: &'static str,
    pub description: &'static str,
    pub shape: ModelShape,
}

const fn mha(
    vocab_size: u64,
    context_length: u64,
    d_model: u64,
    num_layers: u64,
    num_heads: u64,
    d_ff: u64,
) -> ModelShape {
    ModelShape { vocab_size, context_length, d_model, num_layers, num_heads, num_kv_heads: num_heads, d_ff }
}

/// The model presets of the compute lab.
///
/// GPT-2 shapes are from Radford et al. 2019 (Table 2) with d_ff = 4·d_model, in the CS336
/// architecture (SwiGLU with three matrices, untied head), as in the assignment's accounting
/// problem; the TinyStories model is the assignment's §7 model; the 70B is Llama 2 70B's shape
/// (Touvron et al. 2023: d_model 8192, 80 layers, 64 heads with 8 KV heads, d_ff 28672, vocab 32000).
pub const MODEL_PRESETS: [ModelPreset; 6] = [
    ModelPreset {
        name: "gpt2-small",
        description: "GPT-2 small shape (12 layers, d_model 768)",
        shape: mha(50_257, 1024, 768, 12, 12, 3072),
    },
    ModelPreset {
        name: "gpt2-medium",
        description: "GPT-2 medium shape (24 layers, d_model 1024)",
        shape: mha(50_257, 1024, 1024, 24, 16, 4096),
    },
    ModelPreset {
        name: "gpt2-large",
        description: "GPT-2 large shape (36 layers, d_model 1280)",
        shape: mha(50_257, 1024, 1280, 36, 20, 5120),
    },
    ModelPreset {
        name: "gpt2-xl",
        description: "GPT-2 XL shape (48 layers, d_model 1600)",
        shape: mha(50_257, 1024, 1600, 48, 25, 6400),
    },
    ModelPreset {
        name: "cs336-tinystories",
        description: "CS336 assignment 1 TinyStories model (4 layers, d_model 512)",
        shape: mha(10_000, 256, 512, 4, 16, 1344),
    },
    ModelPreset {
        name: "llama-70b",
        description: "Llama-2-70B shape (80 layers, d_model 8192, grouped-query attention)",
        shape: ModelShape {
            vocab_size: 32_000,
            context_length: 4096,
            d_model: 8192,
            num_layers: 80,
            num_heads: 64,
            num_kv_heads: 8,
            d_ff: 28_672,
        },
    },
];

/// Finds a model preset by name (case-insensitive; `_` and `-` interchangeable).
pub fn model_preset(name: &str) -> Result<&'static ModelPreset, InputError> {
    let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
    MODEL_PRESETS.iter().find(|p| p.name == wanted).ok_or_else(|| {
        let names: Vec<&str> = MODEL_PRESETS.iter().map(|p| p.name).collect();
        InputError::new("model preset", name, format!("one of: {}", names.join(", ")))
    })
}

/// Parameters by component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamCount {
    pub token_embedding: u64,
    /// Q, K, V and output projections, all layers.
    pub attention: u64,
    /// SwiGLU W1, W2, W3, all layers.
    pub feed_forward: u64,
    /// The two RMSNorm gains per layer plus the final one.
    pub norms: u64,
    pub lm_head: u64,
    pub total: u64,
    /// Everything but the token embedding and the LM head (Kaplan et al.'s N).
    pub non_embedding: u64,
}

/// One line of the FLOPs breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlopsComponent {
    pub name: &'static str,
    /// Forward FLOPs of this component for the whole sequence batch, all layers.
    pub flops: f64,
    /// Whether this is a matrix multiply (tensor-core work) or elementwise work.
    pub matmul: bool,
    pub formula: &'static str,
}

/// Forward FLOPs of one batch of sequences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForwardFlops {
    pub batch: u64,
    pub seq_len: u64,
    pub components: Vec<FlopsComponent>,
    /// Sum of the matrix multiplies (the number the course quotes).
    pub matmul_flops: f64,
    /// Matmuls plus the elementwise estimate.
    pub total_flops: f64,
}

impl ModelShape {
    /// Checks that every dimension is positive and that heads divide the model width.
    pub fn validate(&self) -> Result<(), InputError> {
        let dims = [
            ("vocab size", self.vocab_size),
            ("context length", self.context_length),
            ("d_model", self.d_model),
            ("layers", self.num_layers),
            ("heads", self.num_heads),
            ("KV heads", self.num_kv_heads),
            ("d_ff", self.d_ff),
        ];
        for (name, v) in dims {
            if v == 0 {
                return Err(InputError::new(name, "0", "a whole number of at least 1"));
            }
        }
        if self.d_model % self.num_heads != 0 {
            return Err(InputError::new(
                "heads",
                self.num_heads.to_string(),
                format!("a divisor of d_model = {}", self.d_model),
            ));
        }
        if self.checked_param_total().is_none() || self.context_length > 1 << 24 {
            return Err(InputError::new(
                "model",
                format!("d_model {} × {} layers × context {}", self.d_model, self.num_layers, self.context_length),
                "a shape whose parameter count fits in 64 bits and a context of at most 16,777,216 tokens",
            ));
        }
        if self.num_heads % self.num_kv_heads != 0 {
            return Err(InputError::new(
                "KV heads",
                self.num_kv_heads.to_string(),
                format!("a divisor of heads = {}", self.num_heads),
            ));
        }
        Ok(())
    }

    /// The parameter total with overflow checks (absurd shapes typed into a form must not wrap).
    fn checked_param_total(&self) -> Option<u64> {
        let d = self.d_model;
        let per_layer = d
            .checked_mul(d)?
            .checked_mul(4)?
            .checked_add(d.checked_mul(self.d_ff)?.checked_mul(3)?)?
            .checked_add(d.checked_mul(2)?)?;
        let layers = per_layer.checked_mul(self.num_layers)?;
        let embeddings = self.vocab_size.checked_mul(d)?.checked_mul(2)?;
        layers.checked_add(embeddings)?.checked_add(d)
    }

    pub fn head_dim(&self) -> u64 {
        self.d_model / self.num_heads
    }

    /// Width of the K and V projections (smaller than d_model under grouped-query attention).
    pub fn kv_dim(&self) -> u64 {
        self.num_kv_heads * self.head_dim()
    }

    /// Attention weights of one layer: W_q (d×d), W_k and W_v (d×kv_dim), W_o (d×d).
    fn attention_params_per_layer(&self) -> u64 {
        2 * self.d_model * self.d_model + 2 * self.d_model * self.kv_dim()
    }

    /// Parameter count by component.
    pub fn params(&self) -> ParamCount {
        let d = self.d_model;
        let l = self.num_layers;
        let token_embedding = self.vocab_size * d;
        let attention = l * self.attention_params_per_layer();
        let feed_forward = l * 3 * d * self.d_ff;
        let norms = (2 * l + 1) * d;
        let lm_head = d * self.vocab_size;
        let non_embedding = attention + feed_forward + norms;
        ParamCount {
            token_embedding,
            attention,
            feed_forward,
            norms,
            lm_head,
            total: token_embedding + non_embedding + lm_head,
            non_embedding,
        }
    }

    /// Forward FLOPs for `batch` sequences of `seq_len` tokens, by component.
    ///
    /// A matmul of (B×D)·(D×K) costs 2·B·D·K FLOPs. Attention scores are computed for the full
    /// T×T matrix (as the reference implementation does; a causal kernel could skip half).
    /// Elementwise work (RMSNorm ≈ 4 FLOPs per element) is listed but is tiny next to the matmuls.
    pub fn forward_flops(&self, batch: u64, seq_len: u64) -> ForwardFlops {
        let tokens = batch as f64 * seq_len as f64;
        let d = self.d_model as f64;
        let l = self.num_layers as f64;
        let t = seq_len as f64;
        let components = vec![
            FlopsComponent { name: "token embedding", flops: 0.0, matmul: false, formula: "a table lookup: no FLOPs" },
            FlopsComponent {
                name: "RMSNorm",
                flops: 4.0 * tokens * d * (2.0 * l + 1.0),
                matmul: false,
                formula: "≈4 FLOPs per element, 2 per layer + final",
            },
            FlopsComponent {
                name: "attention projections (Q, K, V, O)",
                flops: 2.0 * tokens * self.attention_params_per_layer() as f64 * l,
                matmul: true,
                formula: "2·B·T·(2·d² + 2·d·d_kv) per layer",
            },
            FlopsComponent {
                name: "attention scores QKᵀ",
                flops: 2.0 * tokens * t * d * l,
                matmul: true,
                formula: "2·B·T²·d per layer",
            },
            FlopsComponent {
                name: "attention values AV",
                flops: 2.0 * tokens * t * d * l,
                matmul: true,
                formula: "2·B·T²·d per layer",
            },
            FlopsComponent {
                name: "SwiGLU feed-forward (W1, W3, W2)",
                flops: 2.0 * tokens * 3.0 * d * self.d_ff as f64 * l,
                matmul: true,
                formula: "3 · 2·B·T·d·d_ff per layer",
            },
            FlopsComponent {
                name: "LM head",
                flops: 2.0 * tokens * d * self.vocab_size as f64,
                matmul: true,
                formula: "2·B·T·d·V",
            },
        ];
        let matmul_flops = components.iter().filter(|c| c.matmul).map(|c| c.flops).sum();
        let total_flops = components.iter().map(|c| c.flops).sum();
        ForwardFlops { batch, seq_len, components, matmul_flops, total_flops }
    }

    /// Forward attention-score FLOPs per token at full context: QKᵀ and AV, 4·L·T·d.
    /// This is the term that 2·N per token leaves out.
    pub fn attention_flops_per_token(&self) -> f64 {
        4.0 * self.num_layers as f64 * self.context_length as f64 * self.d_model as f64
    }
}

/// FLOPs of a (B×D)·(D×K) matrix multiply: 2·B·D·K (one multiply and one add per term).
pub fn matmul_flops(b: f64, d: f64, k: f64) -> f64 {
    2.0 * b * d * k
}

/// Forward FLOPs of a model with `params` parameters over `tokens` tokens: ≈ 2·N·D.
pub fn forward_flops_approx(params: f64, tokens: f64) -> f64 {
    2.0 * params * tokens
}

/// Training FLOPs: forward (2·N·D) + backward (4·N·D) ≈ 6·N·D.
pub fn training_flops(params: f64, tokens: f64) -> f64 {
    6.0 * params * tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CS336 assignment 1, problem transformer_accounting: GPT-2 XL has 2.127B parameters and needs
    /// ≈4.51e12 FLOPs for one 1,024-token forward pass.
    #[test]
    fn gpt2_xl_matches_the_assignment() {
        let xl = model_preset("gpt2-xl").unwrap().shape;
        let p = xl.params();
        assert_eq!(p.total, 2_127_057_600);
        let f = xl.forward_flops(1, 1024);
        assert!((f.matmul_flops / 4.51e12 - 1.0).abs() < 0.005, "{}", f.matmul_flops);
        // The feed-forward dominates at this size (≈ 2/3 of the matmul FLOPs).
        let ffn = f.components.iter().find(|c| c.name.starts_with("SwiGLU")).unwrap().flops;
        assert!((ffn / f.matmul_flops - 0.669).abs() < 0.01);
    }

    #[test]
    fn llama_70b_has_about_69b_parameters() {
        let p = model_preset("llama-70b").unwrap().shape.params();
        assert!((p.total as f64 / 68.98e9 - 1.0).abs() < 0.001, "{}", p.total);
    }

    #[test]
    fn validation_names_the_bad_dimension() {
        let mut s = model_preset("gpt2-small").unwrap().shape;
        s.num_heads = 7;
        assert!(s.validate().unwrap_err().to_string().contains("d_model = 768"));
        s.num_heads = 12;
        s.num_layers = u64::MAX / 2;
        assert!(s.validate().unwrap_err().to_string().contains("64 bits"));
        s.num_layers = 0;
        assert!(s.validate().unwrap_err().to_string().contains("layers"));
        assert!(model_preset("gpt5").unwrap_err().to_string().contains("gpt2-xl"));
    }

    #[test]
    fn lecture_matmul() {
        assert_eq!(matmul_flops(16384.0, 32768.0, 8192.0), 2.0 * 16384.0 * 32768.0 * 8192.0);
        assert_eq!(training_flops(70e9, 15e12), 6.3e24);
    }
}
