//! Transformer shapes, their parameter counts and their forward FLOPs (CS336 architecture).
//!
//! The architecture is the one of CS336 assignment 1: token embedding → L pre-norm blocks
//! (RMSNorm → causal multi-head attention with RoPE → residual → RMSNorm → SwiGLU → residual) →
//! final RMSNorm → untied LM head. No biases; RoPE has no parameters. Optional grouped-query
//! attention (`num_kv_heads < num_heads`) covers Llama-style models, and an optional
//! mixture-of-experts feed-forward ([`MoeShape`]) covers Mixtral- and DeepSeek-style models.

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
    /// The dense feed-forward width (every block of a dense model; the first
    /// `moe.first_dense_layers` blocks of a mixture-of-experts model).
    pub d_ff: u64,
    /// Mixture-of-experts feed-forward layers; `None` for a dense model. Always serialized (as
    /// `null` when dense): the Train page's worker messages are bincode, which cannot skip a field.
    #[serde(default)]
    pub moe: Option<MoeShape>,
}

/// The mixture-of-experts part of a shape: blocks `first_dense_layers ..` replace their SwiGLU by
/// a router over `num_experts` SwiGLU experts of width `d_ff_expert`, of which each token uses
/// `top_k`, plus `num_shared_experts` experts every token uses (DeepSeek's shared experts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoeShape {
    pub num_experts: u64,
    pub top_k: u64,
    #[serde(default)]
    pub num_shared_experts: u64,
    pub d_ff_expert: u64,
    /// Leading blocks that keep the dense SwiGLU (DeepSeek-V3: 3).
    #[serde(default)]
    pub first_dense_layers: u64,
}

impl MoeShape {
    /// Parameters of one SwiGLU expert of width `d_ff_expert`: W1, W3 (d_ff_expert × d) and W2.
    fn expert_params(&self, d_model: u64) -> u64 {
        3 * d_model * self.d_ff_expert
    }

    /// Experts every token runs through: its `top_k` routed ones and the shared ones.
    pub fn experts_per_token(&self) -> u64 {
        self.top_k + self.num_shared_experts
    }

    /// Checks the expert counts against each other and against the `num_layers` of the model.
    fn validate(&self, num_layers: u64) -> Result<(), InputError> {
        if self.num_experts == 0 {
            return Err(InputError::new("experts", "0", "a whole number of at least 1"));
        }
        if self.top_k == 0 || self.top_k > self.num_experts {
            return Err(InputError::new(
                "top-k",
                self.top_k.to_string(),
                format!("at least 1 and at most the {} experts", self.num_experts),
            ));
        }
        if self.d_ff_expert == 0 {
            return Err(InputError::new("expert d_ff", "0", "a whole number of at least 1"));
        }
        if self.first_dense_layers > num_layers {
            return Err(InputError::new(
                "first dense layers",
                self.first_dense_layers.to_string(),
                format!("at most the {num_layers} layers"),
            ));
        }
        Ok(())
    }
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
    ModelShape { vocab_size, context_length, d_model, num_layers, num_heads, num_kv_heads: num_heads, d_ff, moe: None }
}

/// The model presets of the compute lab.
///
/// GPT-2 shapes are from Radford et al. 2019 (Table 2) with d_ff = 4·d_model, in the CS336
/// architecture (SwiGLU with three matrices, untied head), as in the assignment's accounting
/// problem; the TinyStories model is the assignment's §7 model; the 70B is Llama 2 70B's shape
/// (Touvron et al. 2023: d_model 8192, 80 layers, 64 heads with 8 KV heads, d_ff 28672, vocab 32000).
/// The two mixture-of-experts shapes are Mixtral 8x7B (Jiang et al. 2024) and DeepSeek-V3
/// (DeepSeek-AI 2024), the latter with plain multi-head attention standing in for its multi-head
/// latent attention (see [`DEEPSEEK_V3`]).
pub const MODEL_PRESETS: [ModelPreset; 8] = [
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
            moe: None,
        },
    },
    ModelPreset {
        name: "mixtral-8x7b",
        description: "Mixtral-8x7B shape (32 layers, 8 experts, top-2 routing)",
        shape: MIXTRAL_8X7B,
    },
    ModelPreset {
        name: "deepseek-v3",
        description: "DeepSeek-V3-shaped MoE (61 layers, 256 + 1 shared experts, top-8; MHA for MLA)",
        shape: DEEPSEEK_V3,
    },
];

/// Mixtral 8x7B (Jiang et al. 2024, Table 1): Mistral 7B's attention (32 heads, 8 KV heads) with
/// every SwiGLU replaced by 8 experts of width 14,336, 2 per token; vocab 32,000, context 32,768.
const MIXTRAL_8X7B: ModelShape = ModelShape {
    vocab_size: 32_000,
    context_length: 32_768,
    d_model: 4096,
    num_layers: 32,
    num_heads: 32,
    num_kv_heads: 8,
    d_ff: 14_336,
    moe: Some(MoeShape { num_experts: 8, top_k: 2, num_shared_experts: 0, d_ff_expert: 14_336, first_dense_layers: 0 }),
};

/// DeepSeek-V3 (DeepSeek-AI 2024, §2 and §4.2): d_model 7168, 61 layers, the first 3 dense
/// (d_ff 18,432), the rest with 1 shared and 256 routed experts of width 2,048, 8 routed per
/// token; vocab 129,280; pre-training context 4,096. Its multi-head latent attention (MLA) is
/// approximated by plain multi-head attention with 128 heads, which this architecture can
/// express: that has ≈ 1.1B more parameters over the 61 layers (4·d² = 206M per layer against
/// MLA's 187M), so the counts run ≈ 0.2% high in total and ≈ 3% high in active parameters. The
/// multi-token-prediction module is left out, as in the published 671B.
const DEEPSEEK_V3: ModelShape = ModelShape {
    vocab_size: 129_280,
    context_length: 4096,
    d_model: 7168,
    num_layers: 61,
    num_heads: 128,
    num_kv_heads: 128,
    d_ff: 18_432,
    moe: Some(MoeShape { num_experts: 256, top_k: 8, num_shared_experts: 1, d_ff_expert: 2048, first_dense_layers: 3 }),
};

/// DeepSeekMoE 16B (Dai et al. 2024, §5 and Appendix A): d_model 2048, 28 layers with 16 heads,
/// the first one dense (d_ff 10,944), the rest 2 shared + 64 routed experts of width 1,408, 6
/// routed per token; vocab 102,400. Published: 16.4B parameters, 2.8B activated. Not a preset
/// (it is the compute lab's exercise on expert sparsity).
pub(crate) const DEEPSEEK_MOE_16B: ModelShape = ModelShape {
    vocab_size: 102_400,
    context_length: 4096,
    d_model: 2048,
    num_layers: 28,
    num_heads: 16,
    num_kv_heads: 16,
    d_ff: 10_944,
    moe: Some(MoeShape { num_experts: 64, top_k: 6, num_shared_experts: 2, d_ff_expert: 1408, first_dense_layers: 1 }),
};

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
    /// SwiGLU W1, W2, W3, all layers: the dense blocks' and every expert's (routed and shared).
    pub feed_forward: u64,
    /// The mixture-of-experts routers (num_experts × d_model per MoE layer); 0 for a dense model.
    pub router: u64,
    /// The two RMSNorm gains per layer plus the final one.
    pub norms: u64,
    pub lm_head: u64,
    pub total: u64,
    /// Everything but the token embedding and the LM head (Kaplan et al.'s N).
    pub non_embedding: u64,
    /// The parameters one token uses: `total` less the routed experts it is not sent to. This is
    /// the N of the 2·N forward and 6·N training FLOPs; memory holds `total`. Equal to `total`
    /// for a dense model.
    pub active: u64,
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
        if let Some(moe) = &self.moe {
            moe.validate(self.num_layers)?;
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
    /// Attention is bounded by 4·d² (K and V are at most d wide), so this is ≥ `params().total`.
    fn checked_param_total(&self) -> Option<u64> {
        let d = self.d_model;
        let per_layer = d.checked_mul(d)?.checked_mul(4)?.checked_add(d.checked_mul(2)?)?;
        let layers = per_layer.checked_mul(self.num_layers)?;
        let dense_ffn = d.checked_mul(self.d_ff)?.checked_mul(3)?.checked_mul(self.dense_layers())?;
        let moe_ffn = match &self.moe {
            Some(m) => {
                let experts = m.num_experts.checked_add(m.num_shared_experts)?;
                let per_layer = d.checked_mul(m.d_ff_expert)?.checked_mul(3)?.checked_mul(experts)?;
                let router = m.num_experts.checked_mul(d)?;
                per_layer.checked_add(router)?.checked_mul(self.moe_layers())?
            }
            None => 0,
        };
        let embeddings = self.vocab_size.checked_mul(d)?.checked_mul(2)?;
        layers.checked_add(dense_ffn)?.checked_add(moe_ffn)?.checked_add(embeddings)?.checked_add(d)
    }

    /// Blocks whose feed-forward is a mixture of experts (0 for a dense model).
    pub fn moe_layers(&self) -> u64 {
        self.moe.map_or(0, |m| self.num_layers.saturating_sub(m.first_dense_layers))
    }

    /// Blocks with the dense SwiGLU of width `d_ff` (all of them for a dense model).
    pub fn dense_layers(&self) -> u64 {
        self.num_layers - self.moe_layers()
    }

    /// One line describing the shape, as the CLI and the Compute page print it.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "vocab {} · context {} · d_model {} · {} layers · {} heads ({} KV) · d_ff {}",
            self.vocab_size,
            self.context_length,
            self.d_model,
            self.num_layers,
            self.num_heads,
            self.num_kv_heads,
            self.d_ff
        );
        if let Some(m) = &self.moe {
            line.push_str(&format!(
                " · MoE in {} layers: {} experts, top-{}, {} shared, d_ff {} per expert",
                self.moe_layers(),
                m.num_experts,
                m.top_k,
                m.num_shared_experts,
                m.d_ff_expert
            ));
        }
        line
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
    ///
    /// A mixture-of-experts block holds a router (E × d, no bias), E routed SwiGLU experts and
    /// the shared ones; a token runs through `top_k` routed experts, so the other E − top_k are
    /// not part of its active parameters.
    pub fn params(&self) -> ParamCount {
        let d = self.d_model;
        let l = self.num_layers;
        let token_embedding = self.vocab_size * d;
        let attention = l * self.attention_params_per_layer();
        let dense_ffn = self.dense_layers() * 3 * d * self.d_ff;
        let moe_layers = self.moe_layers();
        let (experts, router, idle) = match &self.moe {
            Some(m) => (
                moe_layers * (m.num_experts + m.num_shared_experts) * m.expert_params(d),
                moe_layers * m.num_experts * d,
                moe_layers * m.num_experts.saturating_sub(m.top_k) * m.expert_params(d),
            ),
            None => (0, 0, 0),
        };
        let feed_forward = dense_ffn + experts;
        let norms = (2 * l + 1) * d;
        let lm_head = d * self.vocab_size;
        let non_embedding = attention + feed_forward + router + norms;
        let total = token_embedding + non_embedding + lm_head;
        ParamCount {
            token_embedding,
            attention,
            feed_forward,
            router,
            norms,
            lm_head,
            total,
            non_embedding,
            active: total - idle,
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
        let mut components = vec![
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
        ];
        components.extend(self.feed_forward_flops(tokens));
        components.push(FlopsComponent {
            name: "LM head",
            flops: 2.0 * tokens * d * self.vocab_size as f64,
            matmul: true,
            formula: "2·B·T·d·V",
        });
        let matmul_flops = components.iter().filter(|c| c.matmul).map(|c| c.flops).sum();
        let total_flops = components.iter().map(|c| c.flops).sum();
        ForwardFlops { batch, seq_len, components, matmul_flops, total_flops }
    }

    /// Forward FLOPs of the feed-forward layers for `tokens` tokens.
    ///
    /// A dense model has one line. A mixture of experts lists its dense blocks (if any), its
    /// routers, and the experts a token actually runs through (top-k routed + shared): the idle
    /// experts cost memory but no FLOPs. Expert-parallel token dispatch is communication, not
    /// FLOPs, and is not counted.
    fn feed_forward_flops(&self, tokens: f64) -> Vec<FlopsComponent> {
        let d = self.d_model as f64;
        let swiglu = |layers: u64, formula| FlopsComponent {
            name: "SwiGLU feed-forward (W1, W3, W2)",
            flops: 2.0 * tokens * 3.0 * d * self.d_ff as f64 * layers as f64,
            matmul: true,
            formula,
        };
        let Some(m) = &self.moe else {
            return vec![swiglu(self.num_layers, "3 · 2·B·T·d·d_ff per layer")];
        };
        let moe_layers = self.moe_layers() as f64;
        let mut lines = Vec::new();
        if self.dense_layers() > 0 {
            lines.push(swiglu(self.dense_layers(), "3 · 2·B·T·d·d_ff per dense layer"));
        }
        lines.push(FlopsComponent {
            name: "MoE router",
            flops: 2.0 * tokens * d * m.num_experts as f64 * moe_layers,
            matmul: true,
            formula: "2·B·T·d·E per MoE layer",
        });
        lines.push(FlopsComponent {
            name: "MoE experts (top-k + shared)",
            flops: 2.0 * tokens * 3.0 * d * m.d_ff_expert as f64 * m.experts_per_token() as f64 * moe_layers,
            matmul: true,
            formula: "3 · 2·B·T·d·d_ff_expert·(top-k + shared) per MoE layer",
        });
        lines
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

    /// Mixtral 8x7B: 46.7B parameters, 12.9B active (Jiang et al. 2024, §2). The total is also
    /// the exact count of the released checkpoint (Hugging Face mistralai/Mixtral-8x7B-v0.1,
    /// safetensors metadata: 46,702,792,704), which pins the router (8 × 4096 per layer) too.
    #[test]
    fn mixtral_has_46_7b_parameters_12_9b_active() {
        let p = model_preset("mixtral-8x7b").unwrap().shape.params();
        assert_eq!(p.total, 46_702_792_704);
        assert!((p.total as f64 / 46.7e9 - 1.0).abs() < 0.005, "{}", p.total);
        assert!((p.active as f64 / 12.9e9 - 1.0).abs() < 0.005, "{}", p.active);
        assert_eq!(p.router, 32 * 8 * 4096);
        assert_eq!(p.total, p.token_embedding + p.non_embedding + p.lm_head);
    }

    /// DeepSeek-V3: 671B parameters, 37B activated per token (DeepSeek-AI 2024, abstract). The
    /// preset's plain multi-head attention has more weights than MLA, so the raw counts run high
    /// (672.1B / 38.7B); swapping in MLA's published projections (§4.2: q rank 1536, kv rank 512,
    /// 128 heads of 128 + 64 RoPE dims for Q·K and 128 for V, and the two latent RMSNorms) brings
    /// them to 671.0B / 37.6B — close enough that a missing shared expert (2.6B active) fails.
    #[test]
    fn deepseek_v3_has_671b_parameters_37b_active() {
        let s = model_preset("deepseek-v3").unwrap().shape;
        let p = s.params();
        assert!((p.total as f64 / 671e9 - 1.0).abs() < 0.01, "{}", p.total);
        assert!((p.active as f64 / 37e9 - 1.0).abs() < 0.05, "{}", p.active);
        let (d, heads) = (7168, 128);
        let mla_per_layer = d * 1536 + 1536 + 1536 * heads * (128 + 64) // Q: down, norm, up
            + d * (512 + 64) + 512 + 512 * heads * (128 + 128) // KV: down (+ RoPE key), norm, up
            + heads * 128 * d; // output
        let mha_surplus = s.num_layers * (4 * d * d - mla_per_layer);
        let total = (p.total - mha_surplus) as f64;
        let active = (p.active - mha_surplus) as f64;
        assert!((total / 671e9 - 1.0).abs() < 0.001, "{total}");
        assert!((active / 37e9 - 1.0).abs() < 0.02, "{active}");
    }

    /// DeepSeekMoE 16B: 16.4B parameters, 2.8B activated (Dai et al. 2024, Table 4 and §5).
    #[test]
    fn deepseek_moe_16b_has_16_4b_parameters_2_8b_active() {
        let p = DEEPSEEK_MOE_16B.params();
        assert!((p.total as f64 / 16.4e9 - 1.0).abs() < 0.005, "{}", p.total);
        assert!((p.active as f64 / 2.8e9 - 1.0).abs() < 0.02, "{}", p.active);
    }

    /// One expert of the dense width, always chosen, is the dense model plus a 1-wide router.
    #[test]
    fn a_single_expert_costs_the_dense_flops_plus_the_router() {
        let dense = model_preset("gpt2-small").unwrap().shape;
        let moe = ModelShape {
            moe: Some(MoeShape {
                num_experts: 1,
                top_k: 1,
                num_shared_experts: 0,
                d_ff_expert: dense.d_ff,
                first_dense_layers: 0,
            }),
            ..dense
        };
        let (b, t) = (4, 1024);
        let router = 2.0 * (b * t) as f64 * dense.d_model as f64 * dense.num_layers as f64;
        let (f_dense, f_moe) = (dense.forward_flops(b, t), moe.forward_flops(b, t));
        assert_eq!(f_moe.matmul_flops, f_dense.matmul_flops + router);
        assert_eq!(f_moe.total_flops, f_dense.total_flops + router);
        let (p_dense, p_moe) = (dense.params(), moe.params());
        assert_eq!(p_moe.total, p_dense.total + dense.d_model * dense.num_layers);
        assert_eq!(p_moe.active, p_moe.total);
        assert_eq!(p_dense.active, p_dense.total);
        assert_eq!(p_dense.router, 0);
    }

    /// The active FLOPs follow the active parameters: 2 FLOPs per active weight per token, plus
    /// the attention scores the 2·N rule leaves out.
    #[test]
    fn moe_forward_flops_are_two_per_active_parameter() {
        for name in ["mixtral-8x7b", "deepseek-v3"] {
            let s = model_preset(name).unwrap().shape;
            let p = s.params();
            let t = 512;
            let f = s.forward_flops(1, t);
            let weights = p.active - p.token_embedding - p.norms;
            let scores = 4.0 * (s.num_layers * t * t * s.d_model) as f64;
            assert!((f.matmul_flops / (2.0 * (weights * t) as f64 + scores) - 1.0).abs() < 1e-12, "{name}");
        }
    }

    #[test]
    fn moe_validation_names_the_field() {
        let base = model_preset("mixtral-8x7b").unwrap().shape;
        assert!(base.validate().is_ok());
        let with = |edit: fn(&mut MoeShape)| {
            let mut s = base;
            edit(s.moe.as_mut().unwrap());
            s.validate().unwrap_err().to_string()
        };
        assert!(with(|m| m.num_experts = 0).contains("experts"));
        let e = with(|m| m.top_k = 9);
        assert!(e.contains("top-k") && e.contains('9') && e.contains("at most the 8 experts"), "{e}");
        assert!(with(|m| m.top_k = 0).contains("top-k"));
        assert!(with(|m| m.d_ff_expert = 0).contains("expert d_ff"));
        let e = with(|m| m.first_dense_layers = 33);
        assert!(e.contains("first dense layers") && e.contains("32 layers"), "{e}");
        assert!(with(|m| m.num_experts = u64::MAX / 2).contains("64 bits"));
    }

    #[test]
    fn lecture_matmul() {
        assert_eq!(matmul_flops(16384.0, 32768.0, 8192.0), 2.0 * 16384.0 * 32768.0 * 8192.0);
        assert_eq!(training_flops(70e9, 15e12), 6.3e24);
    }
}
