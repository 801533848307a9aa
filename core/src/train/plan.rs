//! # The run plan: everything a training run is, before it runs (no burn)
//!
//! One value — the model, the training settings, the tokenizer and the data — that both front ends
//! produce: the CLI from its flags and `--config`, the Train page from its form (both through
//! [`PlanForm`](super::plan_form::PlanForm)). Every default lives here, so `lmlab train --preset
//! nano` and the page's nano run are the same run; [`prepare`](super::prepare) (behind `model`)
//! turns a plan into the trainer, the data splits and the run header.

use serde::{Deserialize, Serialize};

use crate::accounting::{ModelShape, Preset};
pub use crate::model::plan::{AttentionKernel, ModelPlan, Precision, RouterPlan};
use crate::InputError;

/// The name a run trained on the bundled corpus records (Tiny Shakespeare, `data/`).
pub const BUNDLED_CORPUS: &str = "tinyshakespeare.txt (bundled)";

/// A training run's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The preset the shape started from, `custom`, or the `--config` file's name.
    pub preset: String,
    pub model: ModelPlan,
    pub training: TrainingPlan,
    pub tokenizer: TokenizerChoice,
    pub data: DataChoice,
    /// Separate validation data; `None`: the last `val_fraction` of the training data.
    pub val: Option<DataChoice>,
}

/// The optimizer loop's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingPlan {
    /// Optimizer steps in the whole run (the cosine schedule ends here).
    pub steps: usize,
    /// Sequences per step.
    pub batch_size: usize,
    pub max_lr: f64,
    pub min_lr: f64,
    pub warmup_steps: usize,
    /// Global L2 norm the gradients are clipped to.
    pub max_grad_norm: f64,
    /// Validation every this many steps (and before the first and after the last).
    pub eval_every: usize,
    /// Batches averaged for one validation loss (the same batches every time).
    pub eval_batches: usize,
    /// Share of the tokens held out for validation when no validation data is given.
    pub val_fraction: f64,
    /// Save a checkpoint every this many steps (and at a stop and the end).
    pub checkpoint_every: usize,
    /// Seeds the initialization and the batch order.
    pub seed: u64,
    pub precision: Precision,
    /// The fused FlashAttention kernels (where the backend has them) or the reference; plans
    /// written before the kernels existed read as the default, fused.
    #[serde(default)]
    pub attention: AttentionKernel,
}

impl TrainingPlan {
    /// The defaults of a run of `steps` steps of `batch_size` sequences: peak learning rate 3e-3
    /// decaying to a tenth, warm-up over the first 5% (1 to 100 steps), validation every 10% on 8
    /// batches, a checkpoint every 10% (at most every 1,000 steps), seed 0.
    pub fn defaults(steps: usize, batch_size: usize) -> Self {
        let max_lr = 3e-3;
        Self {
            steps,
            batch_size,
            max_lr,
            min_lr: max_lr / 10.0,
            warmup_steps: default_warmup(steps),
            max_grad_norm: 1.0,
            eval_every: default_eval_every(steps),
            eval_batches: 8,
            val_fraction: 0.1,
            checkpoint_every: default_checkpoint_every(steps),
            seed: 0,
            precision: Precision::Fp32,
            attention: AttentionKernel::Fused,
        }
    }

    /// Refuses settings that cannot train, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        let bad = |what: &str, why: String| Err(format!("{what}: {why}"));
        if self.steps == 0 {
            return bad("steps", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch size", "must be at least 1".into());
        }
        if !(self.max_lr.is_finite() && self.max_lr > 0.0) {
            return bad("learning rate", format!("{} must be a positive number", self.max_lr));
        }
        if !(self.min_lr.is_finite() && self.min_lr >= 0.0 && self.min_lr <= self.max_lr) {
            return bad(
                "minimum learning rate",
                format!("{} must be between 0 and the maximum {}", self.min_lr, self.max_lr),
            );
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm <= 0.0 {
            return bad("max grad norm", "must be positive".into());
        }
        if !(self.val_fraction > 0.0 && self.val_fraction < 1.0) {
            return bad("validation fraction", format!("{} must be between 0 and 1", self.val_fraction));
        }
        if self.eval_batches == 0 || self.eval_every == 0 {
            return bad("evaluation", "eval_every and eval_batches must be at least 1".into());
        }
        Ok(())
    }
}

/// Steps of a preset's run when none are asked for: 200 for the nano models (a browser on a
/// software GPU), 400 for the others (the main job: a few minutes on two CPU cores).
pub fn default_steps(preset: &Preset) -> usize {
    if preset.name.starts_with("nano") {
        200
    } else {
        400
    }
}

/// Warm-up steps of a run of `steps`: 5%, between 1 and 100.
pub fn default_warmup(steps: usize) -> usize {
    (steps / 20).clamp(1, 100)
}

/// Validation cadence of a run of `steps`: every 10%.
pub fn default_eval_every(steps: usize) -> usize {
    (steps / 10).max(1)
}

/// Checkpoint cadence of a run of `steps`: every 10%, at most 1,000 steps apart, so a crash (or a
/// closed browser tab) loses at most a tenth of the run.
pub fn default_checkpoint_every(steps: usize) -> usize {
    (steps / 10).clamp(1, 1000)
}

/// Which tokenizer the run uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TokenizerChoice {
    /// One token per byte (256 ids + `<|endoftext|>`): characters, for ASCII text.
    Bytes,
    /// A byte-level BPE with this many ids, trained on the training text first.
    Bpe { vocab_size: usize },
    /// The tokenizer files in a directory (the CLI's `--tokenizer-dir`; the page has none).
    Dir { path: String },
}

impl TokenizerChoice {
    /// The vocabulary the tokenizer will have, when the choice says it.
    pub fn vocab_size(&self) -> Option<usize> {
        match self {
            TokenizerChoice::Bytes => Some(257),
            TokenizerChoice::Bpe { vocab_size } => Some(*vocab_size),
            TokenizerChoice::Dir { .. } => None,
        }
    }
}

/// Where the training (or validation) text comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataChoice {
    /// Tiny Shakespeare, bundled with the lab.
    Bundled,
    /// A file: text, or a `.bin` of token ids with its `.bin.json` sidecar (the CLI).
    File { path: String },
    /// Text the page holds (pasted, or an uploaded file's), by its name.
    Text { name: String },
}

impl DataChoice {
    /// The name runs record (checkpoints, the header).
    pub fn name(&self) -> &str {
        match self {
            DataChoice::Bundled => BUNDLED_CORPUS,
            DataChoice::File { path } => path,
            DataChoice::Text { name } => name,
        }
    }

    /// A `.bin` token file (ids, not text).
    pub fn is_token_file(&self) -> bool {
        matches!(self, DataChoice::File { path } if path.ends_with(".bin"))
    }

    /// The data a checkpoint says it trained on, to continue on the same data.
    pub fn recorded(name: &str) -> DataChoice {
        if name == BUNDLED_CORPUS {
            DataChoice::Bundled
        } else {
            DataChoice::File { path: name.to_string() }
        }
    }
}

/// Where a run's model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// burn's CUDA backend (native).
    Cuda,
    /// burn's wgpu backend on Vulkan / Metal / DX12 (native).
    Wgpu,
    /// burn's wgpu backend on the browser's WebGPU.
    WebGpu,
    /// burn's pure-Rust CPU backend (flex), natively or compiled to wasm.
    Cpu,
}

impl Backend {
    /// The CLI's `--device` name and the JSON logs' `device`.
    pub fn key(self) -> &'static str {
        match self {
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
            Backend::WebGpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }

    /// How the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Cuda => "CUDA",
            Backend::Wgpu => "wgpu",
            Backend::WebGpu => "WebGPU",
            Backend::Cpu if cfg!(target_arch = "wasm32") => "CPU (wasm)",
            Backend::Cpu => "CPU",
        }
    }

    /// Whether a WGSL backend runs it (no bf16, the browser's buffer limits).
    pub fn is_webgpu(self) -> bool {
        self == Backend::WebGpu
    }
}

impl RunPlan {
    /// A preset's run with every default: its shape and vocabulary, its batch, its steps.
    pub fn for_preset(preset: &Preset) -> Self {
        let batch = preset.train_batch.unwrap_or(16);
        Self {
            preset: preset.name.to_string(),
            model: ModelPlan::of_preset(preset),
            training: TrainingPlan::defaults(default_steps(preset), batch),
            tokenizer: TokenizerChoice::Bpe { vocab_size: preset.default_vocab() },
            data: DataChoice::Bundled,
            val: None,
        }
    }

    /// The model's shape once its tokenizer has `vocab_size` ids (a fixed vocabulary stays).
    pub fn shape_for_vocab(&self, vocab_size: usize) -> ModelShape {
        let mut shape = self.model.shape;
        if !self.model.fixed_vocab {
            shape.vocab_size = vocab_size as u64;
        }
        shape
    }

    /// Refuses a plan that cannot run, before anything is trained.
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        self.training.validate()?;
        if let Some(v) = self.tokenizer.vocab_size() {
            if v < 257 {
                return Err(InputError::new("vocabulary", v.to_string(), byte_level_minimum()).to_string());
            }
        }
        Ok(())
    }
}

/// What a byte-level BPE's vocabulary must at least hold.
pub fn byte_level_minimum() -> &'static str {
    "at least 257 ids (256 bytes and <|endoftext|>) for a byte-level BPE"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::training_preset;

    #[test]
    fn presets_plan_with_their_defaults() {
        let nano = RunPlan::for_preset(training_preset("nano").unwrap());
        assert_eq!((nano.training.steps, nano.training.batch_size), (200, 8));
        assert_eq!(nano.tokenizer, TokenizerChoice::Bpe { vocab_size: 512 });
        assert_eq!(
            (nano.training.warmup_steps, nano.training.eval_every, nano.training.checkpoint_every),
            (10, 20, 20)
        );
        assert_eq!(nano.training.min_lr, nano.training.max_lr / 10.0);
        let tiny = RunPlan::for_preset(training_preset("tiny").unwrap());
        assert_eq!((tiny.training.steps, tiny.training.batch_size), (400, 16));
        assert!(tiny.validate().is_ok());
        assert_eq!(default_warmup(1), 1);
        assert_eq!(default_checkpoint_every(100_000), 1000);
        assert_eq!(tiny.shape_for_vocab(300).vocab_size, 300);
    }

    #[test]
    fn bad_plans_are_named() {
        let mut p = RunPlan::for_preset(training_preset("nano").unwrap());
        p.training.max_lr = -1.0;
        assert!(p.validate().unwrap_err().contains("learning rate"));
        let mut p = RunPlan::for_preset(training_preset("tiny-moe").unwrap());
        p.model.router.capacity_factor = Some(0.0);
        assert!(p.validate().unwrap_err().contains("capacity factor"));
        let mut p = RunPlan::for_preset(training_preset("nano").unwrap());
        (p.model.shape.num_heads, p.model.shape.num_kv_heads) = (64, 64); // heads of 1: odd
        assert!(p.validate().unwrap_err().contains("even"));
        (p.model.shape.num_heads, p.model.shape.num_kv_heads) = (2, 2);
        p.tokenizer = TokenizerChoice::Bpe { vocab_size: 100 };
        assert!(p.validate().unwrap_err().contains("257"));
    }
}
