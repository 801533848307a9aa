//! Forward and training FLOPs of a [`ModelShape`], by component (CS336's conventions: a matmul of
//! (B×D)·(D×K) costs 2·B·D·K FLOPs, training ≈ 3 × forward ≈ 6·N·D).

use serde::Serialize;

use super::model_shape::ModelShape;

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
    use crate::accounting::presets::model_preset;
    use crate::accounting::MoeShape;

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
    fn lecture_matmul() {
        assert_eq!(matmul_flops(16384.0, 32768.0, 8192.0), 2.0 * 16384.0 * 32768.0 * 8192.0);
        assert_eq!(training_flops(70e9, 15e12), 6.3e24);
    }
}
