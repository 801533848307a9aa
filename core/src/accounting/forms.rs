//! The compute lab's inputs as people type them.
//!
//! The CLI flags and the Compute page's text fields are the same forms: strings in, one estimate
//! or one [`InputError`] out. Keeping the parsing here means a value that the CLI rejects is
//! rejected on the page with the same words, and both show the same numbers.

use serde::Serialize;

use super::hardware::{custom_gpu, find_gpu, Gpu};
use super::memory::{estimate_memory, MemoryEstimate, MemoryQuery, TrainingPrecision};
use super::model_shape::{model_preset, training_flops, ModelShape, MoeShape};
use super::training_time::{estimate_time, TimeEstimate, TimeQuery};
use crate::precision::Format;
use crate::units::{parse_count, parse_number, parse_positive, parse_whole};
use crate::InputError;

/// A custom model shape, field by field as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeForm {
    pub vocab_size: String,
    pub context_length: String,
    pub d_model: String,
    pub num_layers: String,
    pub num_heads: String,
    /// Empty: same as `num_heads`.
    pub num_kv_heads: String,
    pub d_ff: String,
    /// Mixture of experts: routed experts per MoE layer. Empty: a dense model (the other MoE
    /// fields are then ignored).
    pub num_experts: String,
    /// Routed experts per token.
    pub top_k: String,
    /// Always-on experts. Empty: 0.
    pub num_shared_experts: String,
    /// Width of one expert's SwiGLU. Empty: `d_ff`.
    pub d_ff_expert: String,
    /// Leading blocks that keep the dense SwiGLU. Empty: 0.
    pub first_dense_layers: String,
}

impl ShapeForm {
    /// The form filled with an existing shape (what the page shows when a preset is picked).
    pub fn from_shape(s: &ModelShape) -> Self {
        Self {
            vocab_size: s.vocab_size.to_string(),
            context_length: s.context_length.to_string(),
            d_model: s.d_model.to_string(),
            num_layers: s.num_layers.to_string(),
            num_heads: s.num_heads.to_string(),
            num_kv_heads: s.num_kv_heads.to_string(),
            d_ff: s.d_ff.to_string(),
            ..Self::default()
        }
        .with_moe(s.moe.as_ref())
    }

    /// The MoE fields filled from `moe` (left empty for a dense shape).
    fn with_moe(self, moe: Option<&MoeShape>) -> Self {
        let Some(m) = moe else { return self };
        Self {
            num_experts: m.num_experts.to_string(),
            top_k: m.top_k.to_string(),
            num_shared_experts: m.num_shared_experts.to_string(),
            d_ff_expert: m.d_ff_expert.to_string(),
            first_dense_layers: m.first_dense_layers.to_string(),
            ..self
        }
    }

    /// The mixture-of-experts part, when `num_experts` is filled in. Zero shared experts and
    /// zero dense layers are valid; zero experts, a zero top-k or a zero width are not.
    fn parse_moe(&self, d_ff: u64) -> Result<Option<MoeShape>, InputError> {
        if self.num_experts.trim().is_empty() {
            return Ok(None);
        }
        let or_default = |field: &str, text: &str, default: u64| match text.trim() {
            "" => Ok(default),
            t => parse_whole(field, t),
        };
        Ok(Some(MoeShape {
            num_experts: parse_count("experts", &self.num_experts)?,
            top_k: parse_count("top-k", &self.top_k)?,
            num_shared_experts: or_default("shared experts", &self.num_shared_experts, 0)?,
            d_ff_expert: match self.d_ff_expert.trim() {
                "" => d_ff,
                t => parse_count("expert d_ff", t)?,
            },
            first_dense_layers: or_default("first dense layers", &self.first_dense_layers, 0)?,
        }))
    }

    pub fn parse(&self) -> Result<ModelShape, InputError> {
        let num_heads = parse_count("heads", &self.num_heads)?;
        let mut shape = ModelShape {
            vocab_size: parse_count("vocab", &self.vocab_size)?,
            context_length: parse_count("context", &self.context_length)?,
            d_model: parse_count("d_model", &self.d_model)?,
            num_layers: parse_count("layers", &self.num_layers)?,
            num_heads,
            num_kv_heads: if self.num_kv_heads.trim().is_empty() {
                num_heads
            } else {
                parse_count("kv heads", &self.num_kv_heads)?
            },
            d_ff: parse_count("d_ff", &self.d_ff)?,
            moe: None,
        };
        shape.moe = self.parse_moe(shape.d_ff)?;
        shape.validate()?;
        Ok(shape)
    }
}

/// Where the model comes from: a preset name or a custom shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    Preset(String),
    Custom(ShapeForm),
}

impl ModelChoice {
    pub fn shape(&self) -> Result<ModelShape, InputError> {
        match self {
            ModelChoice::Preset(name) => Ok(model_preset(name)?.shape),
            ModelChoice::Custom(form) => form.parse(),
        }
    }
}

/// The cluster: a catalog GPU (or `custom` with its peak and memory) and a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterForm {
    pub gpu: String,
    pub gpus: String,
    /// Only for `custom`: peak TFLOP/s (empty: the catalog placeholder).
    pub peak_tflops: String,
    /// Only for `custom`: memory per GPU in GB (empty: the catalog placeholder).
    pub memory_gb: String,
}

impl ClusterForm {
    pub fn parse(&self) -> Result<(Gpu, u64), InputError> {
        let mut gpu = find_gpu(&self.gpu)?;
        if gpu.name == "custom" {
            let placeholder = custom_gpu(gpu.peak_bf16 / 1e12, gpu.memory_bytes / 1e9);
            let peak = match self.peak_tflops.trim() {
                "" => placeholder.peak_bf16 / 1e12,
                t => parse_positive("--peak-tflops", t)?,
            };
            let memory = match self.memory_gb.trim() {
                "" => placeholder.memory_bytes / 1e9,
                t => parse_positive("--memory-gb", t)?,
            };
            gpu = custom_gpu(peak, memory);
        }
        Ok((gpu, parse_count("--gpus", &self.gpus)?))
    }
}

/// Training FLOPs, split into the 6·N·D rule and the attention term it leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainingFlops {
    /// N of 6·N·D: the parameters one token uses (a mixture of experts' active parameters).
    pub params: f64,
    /// Every parameter of the model (more than `params` only for a mixture of experts).
    pub total_params: f64,
    pub tokens: f64,
    /// 6·N·D.
    pub dense: f64,
    /// 3 × (QKᵀ + AV forward FLOPs per token at full context) × D; 0 without a model shape.
    pub attention: f64,
    pub total: f64,
}

/// The training-time form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeForm {
    /// Parameter count as typed; ignored when `model` is given.
    pub params: String,
    pub model: Option<ModelChoice>,
    pub tokens: String,
    pub cluster: ClusterForm,
    pub mfu: String,
    pub dtype: String,
    /// Empty: no cost.
    pub usd_per_gpu_hour: String,
}

/// The form's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeReport {
    pub training_flops: TrainingFlops,
    #[serde(flatten)]
    pub estimate: TimeEstimate,
}

impl TimeForm {
    pub fn evaluate(&self) -> Result<TimeReport, InputError> {
        let tokens = parse_positive("--tokens", &self.tokens)?;
        let (params, total_params, attention) = match &self.model {
            Some(choice) => {
                let shape = choice.shape()?;
                let p = shape.params();
                (p.active as f64, p.total as f64, 3.0 * shape.attention_flops_per_token() * tokens)
            }
            None => {
                let n = parse_positive("--params", &self.params)?;
                (n, n, 0.0)
            }
        };
        let dense = training_flops(params, tokens);
        let flops = TrainingFlops { params, total_params, tokens, dense, attention, total: dense + attention };
        let (gpu, gpus) = self.cluster.parse()?;
        let mfu = parse_number("--mfu", &self.mfu)?;
        let dtype = Format::parse(&self.dtype).map_err(|e| InputError { field: "--dtype".into(), ..e })?;
        let usd_per_gpu_hour = match self.usd_per_gpu_hour.trim() {
            "" => None,
            t => Some(parse_number("--usd-per-gpu-hour", t)?),
        };
        let estimate = estimate_time(&TimeQuery { flops: flops.total, gpu, gpus, mfu, dtype, usd_per_gpu_hour })?;
        Ok(TimeReport { training_flops: flops, estimate })
    }
}

/// The training-memory form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryForm {
    /// Parameter count as typed; ignored when `model` is given.
    pub params: String,
    pub model: Option<ModelChoice>,
    pub precision: String,
    /// `None`: no cluster (no "does it fit").
    pub cluster: Option<ClusterForm>,
    pub batch: String,
}

impl MemoryForm {
    pub fn evaluate(&self) -> Result<MemoryEstimate, InputError> {
        let shape = self.model.as_ref().map(ModelChoice::shape).transpose()?;
        // Every expert's weights, gradients and optimizer state are held, used or not.
        let params = match &shape {
            Some(s) => s.params().total as f64,
            None => parse_positive("--params", &self.params)?,
        };
        let precision = TrainingPrecision::parse(&self.precision)?;
        let cluster = self.cluster.as_ref().map(ClusterForm::parse).transpose()?;
        let batch = parse_count("--batch", &self.batch)?;
        estimate_memory(&MemoryQuery { params, shape, precision, cluster, batch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lecture_form() -> TimeForm {
        TimeForm {
            params: "70e9".into(),
            model: None,
            tokens: "15T".into(),
            cluster: ClusterForm { gpu: "h100".into(), gpus: "1024".into(), ..Default::default() },
            mfu: "0.5".into(),
            dtype: "bf16".into(),
            usd_per_gpu_hour: "".into(),
        }
    }

    #[test]
    fn time_form_gives_the_lecture_number_and_names_bad_fields() {
        let r = lecture_form().evaluate().unwrap();
        assert!((r.estimate.days - 143.9).abs() < 0.05);
        let mut f = lecture_form();
        f.mfu = "1.5".into();
        assert!(f.evaluate().unwrap_err().to_string().contains("--mfu"));
        f = lecture_form();
        f.cluster.gpu = "v100".into();
        assert!(f.evaluate().unwrap_err().to_string().contains("v100"));
        f = lecture_form();
        f.params = "".into();
        assert!(f.evaluate().unwrap_err().to_string().contains("--params is empty"));
        f = lecture_form();
        f.cluster.gpu = "custom".into();
        f.cluster.peak_tflops = "989.5".into();
        assert!((f.evaluate().unwrap().estimate.days - 143.9).abs() < 0.05);
    }

    #[test]
    fn a_preset_adds_its_attention_flops() {
        let mut f = lecture_form();
        f.model = Some(ModelChoice::Preset("gpt2-small".into()));
        let r = f.evaluate().unwrap();
        assert!(r.training_flops.attention > 0.0);
        assert_eq!(r.training_flops.total, r.training_flops.dense + r.training_flops.attention);
    }

    /// Training compute follows the 12.9B active parameters of Mixtral, memory its 46.7B.
    #[test]
    fn moe_compute_uses_active_and_memory_total_parameters() {
        let mut f = lecture_form();
        f.model = Some(ModelChoice::Preset("mixtral-8x7b".into()));
        let r = f.evaluate().unwrap();
        assert_eq!(r.training_flops.params, 12_879_925_248.0);
        assert_eq!(r.training_flops.total_params, 46_702_792_704.0);
        assert_eq!(r.training_flops.dense, 6.0 * 12_879_925_248.0 * 15e12);
        let m = MemoryForm {
            params: String::new(),
            model: f.model.clone(),
            precision: "mixed-bf16".into(),
            cluster: None,
            batch: "1".into(),
        };
        assert_eq!(m.evaluate().unwrap().params, 46_702_792_704.0);
    }

    fn mixtral_form() -> ShapeForm {
        ShapeForm::from_shape(&model_preset("mixtral-8x7b").unwrap().shape)
    }

    #[test]
    fn moe_shape_round_trips_and_empty_experts_mean_dense() {
        let mixtral = model_preset("mixtral-8x7b").unwrap().shape;
        assert_eq!(mixtral_form().parse().unwrap(), mixtral);
        let dense = ShapeForm { num_experts: " ".into(), ..mixtral_form() }.parse().unwrap();
        assert_eq!(dense, ModelShape { moe: None, ..mixtral });
        let defaults = ShapeForm {
            num_shared_experts: "".into(),
            d_ff_expert: "".into(),
            first_dense_layers: "".into(),
            ..mixtral_form()
        };
        assert_eq!(defaults.parse().unwrap(), mixtral);
        assert_eq!(ShapeForm::from_shape(&model_preset("gpt2-small").unwrap().shape).num_experts, "");
    }

    #[test]
    fn moe_field_errors_name_the_field() {
        let error = |edit: fn(&mut ShapeForm)| {
            let mut f = mixtral_form();
            edit(&mut f);
            f.parse().unwrap_err().to_string()
        };
        assert!(error(|f| f.num_experts = "0".into()).contains("experts"));
        assert!(error(|f| f.num_experts = "eight".into()).contains("experts"));
        assert!(error(|f| f.top_k = "".into()).contains("top-k"));
        let e = error(|f| f.top_k = "9".into());
        assert!(e.contains("top-k") && e.contains("at most the 8 experts"), "{e}");
        assert!(error(|f| f.num_shared_experts = "-1".into()).contains("shared experts"));
        assert!(error(|f| f.d_ff_expert = "0".into()).contains("expert d_ff"));
        assert!(error(|f| f.first_dense_layers = "1.5".into()).contains("first dense layers"));
        assert!(error(|f| f.first_dense_layers = "40".into()).contains("first dense layers"));
    }

    #[test]
    fn custom_shape_errors_name_the_field() {
        let mut s = ShapeForm::from_shape(&model_preset("gpt2-small").unwrap().shape);
        assert_eq!(s.parse().unwrap(), model_preset("gpt2-small").unwrap().shape);
        s.d_model = "-3".into();
        assert!(s.parse().unwrap_err().to_string().contains("d_model"));
    }
}
