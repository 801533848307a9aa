//! Transformer shapes, their parameter counts and their forward FLOPs (CS336 architecture).
//!
//! The architecture is the one of CS336 assignment 1: token embedding → L pre-norm blocks
//! (RMSNorm → causal multi-head attention with RoPE → residual → RMSNorm → SwiGLU → residual) →
//! final RMSNorm → untied LM head. No biases; RoPE has no parameters. Optional grouped-query
//! attention (`num_kv_heads < num_heads`) covers Llama-style models, and an optional
//! mixture-of-experts feed-forward ([`MoeShape`]) covers Mixtral- and DeepSeek-style models.
//!
//! FLOPs are in [`super::flops`], the named shapes in [`super::presets`].

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

    /// [`validate`](Self::validate) plus what the lab's transformer needs to be built: plain
    /// multi-head attention (no grouped-query heads) and an even head size (RoPE rotates pairs).
    pub fn validate_trainable(&self) -> Result<(), InputError> {
        self.validate()?;
        if self.num_kv_heads != self.num_heads {
            return Err(InputError::new(
                "KV heads",
                self.num_kv_heads.to_string(),
                format!("the {} heads (the lab's transformer has no grouped-query attention)", self.num_heads),
            ));
        }
        if let Some(m) = self.moe.filter(|m| m.first_dense_layers >= self.num_layers) {
            return Err(InputError::new(
                "first dense layers",
                m.first_dense_layers.to_string(),
                format!("fewer than the {} layers (it leaves no mixture-of-experts block)", self.num_layers),
            ));
        }
        if self.head_dim() % 2 != 0 {
            return Err(InputError::new(
                "heads",
                self.num_heads.to_string(),
                format!(
                    "a head count that splits d_model {} into heads of an even size (RoPE rotates pairs)",
                    self.d_model
                ),
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
    pub(crate) fn attention_params_per_layer(&self) -> u64 {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::presets::{model_preset, DEEPSEEK_MOE_16B};

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
}
