//! The compute lab's inputs as people type them.
//!
//! The CLI flags and the Compute page's text fields are the same forms: strings in, one estimate
//! or one [`InputError`] out. Keeping the parsing here means a value that the CLI rejects is
//! rejected on the page with the same words, and both show the same numbers.

use serde::Serialize;

use super::flops::training_flops;
use super::hardware::{custom_gpu, find_gpu, Gpu};
use super::memory::{estimate_memory, MemoryEstimate, MemoryQuery, TrainingPrecision};
use super::model_shape::{ModelShape, MoeShape};
use super::presets::model_preset;
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

    /// The shape, or one error per field that is wrong (parsing first, then the shape's own rules,
    /// keyed by the field they are about). `label` names a field in the messages: the Compute page
    /// says "heads", the CLI "--heads". Empty optional fields take their defaults: KV heads = heads,
    /// shared experts 0, expert d_ff = d_ff, first dense layers 0; empty experts: a dense model
    /// (the other MoE fields are then ignored).
    pub fn parse_fields(
        &self,
        label: &dyn Fn(ShapeField) -> &'static str,
    ) -> Result<ModelShape, Vec<(ShapeField, InputError)>> {
        use ShapeField as F;
        let mut errors = Vec::new();
        let mut field = |f: ShapeField, text: &str, parse: fn(&str, &str) -> Result<u64, InputError>, default| match (
            text.trim(),
            default,
        ) {
            ("", Some(d)) => d,
            (t, _) => parse(label(f), t).unwrap_or_else(|e| {
                errors.push((f, e));
                1
            }),
        };
        let num_heads = field(F::NumHeads, &self.num_heads, parse_count, None);
        let d_ff = field(F::DFf, &self.d_ff, parse_count, None);
        let mut shape = ModelShape {
            vocab_size: field(F::VocabSize, &self.vocab_size, parse_count, None),
            context_length: field(F::ContextLength, &self.context_length, parse_count, None),
            d_model: field(F::DModel, &self.d_model, parse_count, None),
            num_layers: field(F::NumLayers, &self.num_layers, parse_count, None),
            num_heads,
            num_kv_heads: field(F::NumKvHeads, &self.num_kv_heads, parse_count, Some(num_heads)),
            d_ff,
            moe: None,
        };
        if !self.num_experts.trim().is_empty() {
            shape.moe = Some(MoeShape {
                num_experts: field(F::NumExperts, &self.num_experts, parse_count, None),
                top_k: field(F::TopK, &self.top_k, parse_count, None),
                num_shared_experts: field(F::NumSharedExperts, &self.num_shared_experts, parse_whole, Some(0)),
                d_ff_expert: field(F::DFfExpert, &self.d_ff_expert, parse_count, Some(d_ff)),
                first_dense_layers: field(F::FirstDenseLayers, &self.first_dense_layers, parse_whole, Some(0)),
            });
        }
        if errors.is_empty() {
            if let Err(e) = shape.validate() {
                errors.push((ShapeField::of_rule(&e), e));
            }
        }
        if errors.is_empty() {
            Ok(shape)
        } else {
            Err(errors)
        }
    }

    /// The shape, or the first field's error (the Compute lab's wording).
    pub fn parse(&self) -> Result<ModelShape, InputError> {
        self.parse_fields(&ShapeField::compute_label).map_err(|mut e| e.remove(0).1)
    }
}

/// A field of [`ShapeForm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeField {
    VocabSize,
    ContextLength,
    DModel,
    NumLayers,
    NumHeads,
    NumKvHeads,
    DFf,
    NumExperts,
    TopK,
    NumSharedExperts,
    DFfExpert,
    FirstDenseLayers,
}

impl ShapeField {
    /// The field's name on the Compute page and in `lmlab estimate`'s messages.
    pub fn compute_label(self) -> &'static str {
        match self {
            ShapeField::VocabSize => "vocab",
            ShapeField::ContextLength => "context",
            ShapeField::DModel => "d_model",
            ShapeField::NumLayers => "layers",
            ShapeField::NumHeads => "heads",
            ShapeField::NumKvHeads => "kv heads",
            ShapeField::DFf => "d_ff",
            ShapeField::NumExperts => "experts",
            ShapeField::TopK => "top-k",
            ShapeField::NumSharedExperts => "shared experts",
            ShapeField::DFfExpert => "expert d_ff",
            ShapeField::FirstDenseLayers => "first dense layers",
        }
    }

    /// The field a rule of [`ModelShape::validate`] (or `validate_trainable`) is about.
    pub fn of_rule(e: &InputError) -> ShapeField {
        match e.field.as_str() {
            "vocab size" => ShapeField::VocabSize,
            "context length" => ShapeField::ContextLength,
            "layers" => ShapeField::NumLayers,
            "KV heads" => ShapeField::NumKvHeads,
            "d_ff" => ShapeField::DFf,
            "experts" => ShapeField::NumExperts,
            "top-k" => ShapeField::TopK,
            "expert d_ff" => ShapeField::DFfExpert,
            "first dense layers" => ShapeField::FirstDenseLayers,
            "heads" => ShapeField::NumHeads,
            _ => ShapeField::DModel,
        }
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
