//! The model as a run plan holds it, without burn: an accounting shape plus what the shape does
//! not say (RoPE's θ, how a mixture of experts routes while training). The Train page builds it in
//! its main bundle; [`super::TransformerConfig::from_plan`] (behind `model`) turns it into the
//! burn model's config.

use serde::{Deserialize, Serialize};

use crate::accounting::{ModelShape, Preset};
use crate::InputError;

/// The numeric precision a model trains in.
///
/// Mixed precision as in Micikevicius et al. (2018) and PyTorch's autocast: the weights (the
/// "master" copy), the gradients that reach them and AdamW's moments stay f32; inside the forward
/// pass the inputs of every matmul (the projections, the attention scores and their weighted sum
/// of values, the experts, the LM head) are rounded to bf16, and the products come back as f32.
/// RMSNorm, softmax, RoPE, the loss and the optimizer run in f32. It is the Precision lab's
/// accumulation lesson in training: bf16 keeps f32's range (no loss scaling) but only 8
/// significant bits, so sums stay in f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere (on CUDA burn runs f32 matmuls on tf32 tensor cores).
    #[default]
    Fp32,
    /// bf16 matmul inputs, f32 master weights, gradients, optimizer state and reductions.
    Bf16,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::Fp32, Precision::Bf16];

    /// The CLI's `--precision` value and the logs' `precision`.
    pub fn key(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    /// How the header and the page name it.
    pub fn label(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16 mixed (f32 master weights)",
        }
    }

    /// `fp32` or `bf16` (`bf16-mixed` and `mixed` too); anything else is refused by name.
    pub fn parse(flag: &str, value: &str) -> Result<Self, InputError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Ok(Precision::Fp32),
            "bf16" | "bf16-mixed" | "mixed" | "bfloat16" => Ok(Precision::Bf16),
            _ => Err(InputError::new(flag, value, "fp32 or bf16 (mixed precision: bf16 matmuls, f32 weights)")),
        }
    }
}

/// The largest head size the fused attention kernels take: a unit keeps four rows of this many
/// f32 in registers.
pub const MAX_FUSED_HEAD: usize = 128;

/// How attention is computed: FlashAttention's fused kernels or the decomposed textbook form.
///
/// Both compute the same function; they differ in memory and speed. The decomposed form writes the
/// `[batch, heads, t, t]` scores and probabilities to memory and keeps them for the backward; the
/// fused kernels ([`crate::model::attention`]) never materialise them (memory linear in t). The
/// fused kernels exist on burn's GPU backends (CUDA, wgpu, WebGPU); the CPU backend always runs the
/// reference, whatever is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionKernel {
    /// The fused FlashAttention-2 kernels where the backend has them, else the reference.
    #[default]
    Fused,
    /// softmax(Q·Kᵀ/√d + causal bias)·V in burn's tensor operations.
    Reference,
}

impl AttentionKernel {
    pub const ALL: [AttentionKernel; 2] = [AttentionKernel::Fused, AttentionKernel::Reference];

    /// The CLI's `--attention` value and the logs' `attention`.
    pub fn key(self) -> &'static str {
        match self {
            AttentionKernel::Fused => "fused",
            AttentionKernel::Reference => "reference",
        }
    }

    /// How the header and the page name it.
    pub fn label(self) -> &'static str {
        match self {
            AttentionKernel::Fused => "fused (FlashAttention-2 kernels)",
            AttentionKernel::Reference => "reference (decomposed)",
        }
    }

    /// `fused` (`flash`) or `reference` (`naive`, `decomposed`); anything else is refused by name.
    pub fn parse(flag: &str, value: &str) -> Result<Self, InputError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "fused" | "flash" | "flash-attention" => Ok(AttentionKernel::Fused),
            "reference" | "naive" | "decomposed" => Ok(AttentionKernel::Reference),
            _ => Err(InputError::new(flag, value, "fused (FlashAttention kernels) or reference (the decomposed form)")),
        }
    }
}

/// The model: an accounting shape plus what the shape does not say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPlan {
    /// The shape. Its vocabulary becomes the tokenizer's when the run is prepared, unless
    /// `fixed_vocab` (then the tokenizer must fit in it).
    pub shape: ModelShape,
    pub rope_theta: f64,
    /// How a mixture-of-experts shape routes (ignored for a dense shape).
    pub router: RouterPlan,
    /// The vocabulary was given (a `--config` file), not taken from the tokenizer.
    pub fixed_vocab: bool,
}

/// The training-time settings of a mixture-of-experts router.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RouterPlan {
    /// Slots per expert = factor × tokens × top-k / experts; `None`: no limit.
    pub capacity_factor: Option<f64>,
    /// α of the load-balancing loss, per MoE block.
    pub balance_loss_weight: f64,
    /// β of the router z-loss, per MoE block.
    pub z_loss_weight: f64,
}

impl Default for RouterPlan {
    /// Switch Transformer's training capacity 1.25; α = 0.01 (Switch), β = 0.001 (ST-MoE).
    fn default() -> Self {
        Self { capacity_factor: Some(1.25), balance_loss_weight: 0.01, z_loss_weight: 0.001 }
    }
}

impl RouterPlan {
    /// Refuses settings that cannot route, naming the setting and its value.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(c) = self.capacity_factor {
            if !(c.is_finite() && c > 0.0) {
                return Err(format!("MoE capacity factor: {c} must be a positive number (or none for no limit)"));
            }
        }
        for (name, w) in [("balance loss weight", self.balance_loss_weight), ("z-loss weight", self.z_loss_weight)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("MoE {name}: {w} must be a number ≥ 0"));
            }
        }
        Ok(())
    }
}

impl ModelPlan {
    /// A preset's model with the default RoPE θ and router.
    pub fn of_preset(preset: &Preset) -> Self {
        Self { shape: preset.shape, rope_theta: 10_000.0, router: RouterPlan::default(), fixed_vocab: false }
    }

    /// Refuses a model the lab cannot build, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        self.shape.validate_trainable().map_err(|e| e.to_string())?;
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(format!("rope_theta {} must be a number above 1", self.rope_theta));
        }
        if self.shape.moe.is_some() {
            self.router.validate()?;
        }
        Ok(())
    }
}
