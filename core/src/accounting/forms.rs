//! The compute lab's inputs as people type them.
//!
//! The CLI flags and the Compute page's text fields are the same forms: strings in, one estimate
//! or one [`InputError`] out. Keeping the parsing here means a value that the CLI rejects is
//! rejected on the page with the same words, and both show the same numbers.

use serde::Serialize;

use super::hardware::{custom_gpu, find_gpu, Gpu};
use super::memory::{estimate_memory, MemoryEstimate, MemoryQuery, TrainingPrecision};
use super::model_shape::{model_preset, training_flops, ModelShape};
use super::training_time::{estimate_time, TimeEstimate, TimeQuery};
use crate::precision::Format;
use crate::units::{parse_count, parse_number, parse_positive};
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
        }
    }

    pub fn parse(&self) -> Result<ModelShape, InputError> {
        let num_heads = parse_count("heads", &self.num_heads)?;
        let shape = ModelShape {
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
        };
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
    pub params: f64,
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
        let (params, attention) = match &self.model {
            Some(choice) => {
                let shape = choice.shape()?;
                (shape.params().total as f64, 3.0 * shape.attention_flops_per_token() * tokens)
            }
            None => (parse_positive("--params", &self.params)?, 0.0),
        };
        let dense = training_flops(params, tokens);
        let flops = TrainingFlops { params, tokens, dense, attention, total: dense + attention };
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

    #[test]
    fn custom_shape_errors_name_the_field() {
        let mut s = ShapeForm::from_shape(&model_preset("gpt2-small").unwrap().shape);
        assert_eq!(s.parse().unwrap(), model_preset("gpt2-small").unwrap().shape);
        s.d_model = "-3".into();
        assert!(s.parse().unwrap_err().to_string().contains("d_model"));
    }
}
