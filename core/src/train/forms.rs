//! The Train page's form as typed: every field a string, parsed into a run's settings with errors
//! keyed by field, so the page only draws (and the parsing is tested natively).

use super::presets::{training_preset, TRAINING_PRESETS};
use super::protocol::{Backend, LiveSettings, RunSettings, TokenizerChoice};
use crate::accounting::{ModelShape, MoeShape};
use crate::units::{parse_count, parse_number, parse_positive, parse_whole};
use crate::InputError;

/// The Train page's choice of a custom shape instead of a preset.
pub const CUSTOM: &str = "custom";

/// The form, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainForm {
    /// A training preset's name or [`CUSTOM`].
    pub preset: String,
    pub context_length: String,
    pub d_model: String,
    pub num_layers: String,
    pub num_heads: String,
    pub d_ff: String,
    /// Routed experts per block; empty for a dense model.
    pub experts: String,
    pub top_k: String,
    pub d_ff_expert: String,
    pub shared_experts: String,
    /// `bpe` or `bytes`.
    pub tokenizer: String,
    pub vocab_size: String,
    pub steps: String,
    pub batch_size: String,
    pub lr: String,
    pub warmup: String,
    pub eval_every: String,
    pub seed: String,
    pub prompt: String,
    pub temperature: String,
    pub sample_every: String,
    /// `webgpu` or `cpu`.
    pub backend: String,
}

/// A parsed form: everything of a run request but the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedForm {
    /// The shape; its vocabulary is what the tokenizer will have (BPE: as asked; bytes: 257).
    pub shape: ModelShape,
    pub tokenizer: TokenizerChoice,
    pub settings: RunSettings,
    pub live: LiveSettings,
    pub backend: Backend,
}

impl TrainForm {
    /// The form filled in for a preset (steps sized for a browser: nano 200, others 400).
    pub fn for_preset(name: &str) -> TrainForm {
        let p = training_preset(name).unwrap_or(&TRAINING_PRESETS[0]);
        let steps = if p.name.starts_with("nano") { 200 } else { 400 };
        let live = LiveSettings::default();
        TrainForm {
            preset: p.name.to_string(),
            context_length: p.context_length.to_string(),
            d_model: p.d_model.to_string(),
            num_layers: p.num_layers.to_string(),
            num_heads: p.num_heads.to_string(),
            d_ff: p.d_ff.to_string(),
            experts: p.moe.map_or(String::new(), |m| m.num_experts.to_string()),
            top_k: p.moe.map_or(String::new(), |m| m.top_k.to_string()),
            d_ff_expert: p.moe.map_or(String::new(), |m| m.d_ff_expert.to_string()),
            shared_experts: p.moe.map_or(String::new(), |m| m.num_shared_experts.to_string()),
            tokenizer: "bpe".into(),
            vocab_size: p.default_vocab.to_string(),
            steps: steps.to_string(),
            batch_size: p.default_batch.to_string(),
            lr: "3e-3".into(),
            warmup: (steps / 20).to_string(),
            eval_every: (steps / 10).to_string(),
            seed: "0".into(),
            prompt: live.prompt,
            temperature: live.temperature.to_string(),
            sample_every: live.sample_every.to_string(),
            backend: "webgpu".into(),
        }
    }

    /// Switches the preset, keeping the run settings but taking the preset's shape and defaults.
    pub fn with_preset(&self, name: &str) -> TrainForm {
        if name == CUSTOM {
            return TrainForm { preset: CUSTOM.into(), ..self.clone() };
        }
        let fresh = TrainForm::for_preset(name);
        TrainForm {
            prompt: self.prompt.clone(),
            temperature: self.temperature.clone(),
            sample_every: self.sample_every.clone(),
            backend: self.backend.clone(),
            tokenizer: self.tokenizer.clone(),
            seed: self.seed.clone(),
            ..fresh
        }
    }

    /// The same run with the preset's twin of equal active FLOPs: a mixture-of-experts preset's
    /// dense twin (`tiny-moe` → `tiny`) or a dense preset's MoE twin (`tiny` → `tiny-moe`). Every run
    /// setting (steps, batch, learning rate, seed, vocabulary …) is kept, so the two curves compare.
    pub fn with_twin(&self) -> Option<TrainForm> {
        let current = training_preset(&self.preset).ok()?;
        let twin = match current.dense_twin() {
            Some(dense) => dense,
            None => TRAINING_PRESETS.iter().find(|p| p.dense_twin().is_some_and(|d| d.name == current.name))?,
        };
        let fresh = TrainForm::for_preset(twin.name);
        Some(TrainForm {
            preset: fresh.preset,
            context_length: fresh.context_length,
            d_model: fresh.d_model,
            num_layers: fresh.num_layers,
            num_heads: fresh.num_heads,
            d_ff: fresh.d_ff,
            experts: fresh.experts,
            top_k: fresh.top_k,
            d_ff_expert: fresh.d_ff_expert,
            shared_experts: fresh.shared_experts,
            ..self.clone()
        })
    }

    /// The run's settings, or every field's error keyed by the field's name in this struct.
    pub fn parse(&self) -> Result<ParsedForm, Vec<(&'static str, String)>> {
        let mut errors: Vec<(&'static str, String)> = Vec::new();
        fn keep(errors: &mut Vec<(&'static str, String)>, field: &'static str, r: Result<u64, InputError>) -> u64 {
            r.unwrap_or_else(|e| {
                errors.push((field, e.to_string()));
                1
            })
        }
        let context_length = keep(&mut errors, "context_length", parse_count("context length", &self.context_length));
        let d_model = keep(&mut errors, "d_model", parse_count("d_model", &self.d_model));
        let num_layers = keep(&mut errors, "num_layers", parse_count("layers", &self.num_layers));
        let num_heads = keep(&mut errors, "num_heads", parse_count("heads", &self.num_heads));
        let d_ff = keep(&mut errors, "d_ff", parse_count("d_ff", &self.d_ff));
        let moe = (!self.experts.trim().is_empty()).then(|| MoeShape {
            num_experts: keep(&mut errors, "experts", parse_count("experts", &self.experts)),
            top_k: keep(&mut errors, "top_k", parse_count("top-k", &self.top_k)),
            d_ff_expert: keep(&mut errors, "d_ff_expert", parse_count("d_ff per expert", &self.d_ff_expert)),
            num_shared_experts: if self.shared_experts.trim().is_empty() {
                0
            } else {
                keep(&mut errors, "shared_experts", parse_whole("shared experts", &self.shared_experts))
            },
            first_dense_layers: 0,
        });
        let tokenizer = match self.tokenizer.as_str() {
            "bytes" => TokenizerChoice::Bytes,
            _ => {
                let v = keep(&mut errors, "vocab_size", parse_count("vocabulary", &self.vocab_size));
                if v > 0 && v < 257 {
                    errors.push((
                        "vocab_size",
                        format!("vocabulary {v}: a byte-level BPE has at least 257 ids (256 bytes and <|endoftext|>)"),
                    ));
                } else if v > 65_536 {
                    errors.push(("vocab_size", format!("vocabulary {v}: at most 65,536 ids in the page")));
                }
                TokenizerChoice::Bpe { vocab_size: v as usize }
            }
        };
        let vocab_size = match tokenizer {
            TokenizerChoice::Bytes => 257,
            TokenizerChoice::Bpe { vocab_size } => vocab_size as u64,
        };
        let steps = keep(&mut errors, "steps", parse_count("steps", &self.steps));
        let batch_size = keep(&mut errors, "batch_size", parse_count("batch size", &self.batch_size));
        let warmup = keep(&mut errors, "warmup", parse_whole("warm-up steps", &self.warmup));
        let eval_every = keep(&mut errors, "eval_every", parse_count("evaluate every", &self.eval_every));
        let seed = keep(&mut errors, "seed", parse_whole("seed", &self.seed));
        let sample_every = keep(&mut errors, "sample_every", parse_whole("sample every", &self.sample_every));
        let max_lr = parse_positive("learning rate", &self.lr).unwrap_or_else(|e| {
            errors.push(("lr", e.to_string()));
            1e-3
        });
        let temperature = match parse_number("temperature", &self.temperature) {
            Ok(t) if (0.0..=10.0).contains(&t) => t,
            Ok(_) | Err(_) => {
                errors.push((
                    "temperature",
                    format!("temperature {:?}: a number from 0 (greedy) to 10", self.temperature),
                ));
                0.8
            }
        };
        if self.prompt.len() > 10_000 {
            errors.push(("prompt", format!("the prompt is {} bytes; keep it under 10,000", self.prompt.len())));
        }
        let shape = ModelShape {
            vocab_size,
            context_length,
            d_model,
            num_layers,
            num_heads,
            num_kv_heads: num_heads,
            d_ff,
            moe,
        };
        if errors.iter().all(|(f, _)| !["d_model", "num_heads", "experts", "top_k", "d_ff_expert"].contains(f)) {
            if let Err(e) = shape.validate() {
                let field = match e.field.as_str() {
                    "experts" => "experts",
                    "top-k" => "top_k",
                    "expert d_ff" => "d_ff_expert",
                    _ => "num_heads",
                };
                errors.push((field, e.to_string()));
            } else if (d_model / num_heads) % 2 != 0 {
                errors.push((
                    "num_heads",
                    format!("d_model {d_model} must split into {num_heads} heads of an even size (RoPE rotates pairs)"),
                ));
            }
        }
        let backend = if self.backend == "cpu" { Backend::Cpu } else { Backend::WebGpu };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ParsedForm {
            shape,
            tokenizer,
            settings: RunSettings {
                steps: steps as usize,
                batch_size: batch_size as usize,
                max_lr,
                warmup_steps: (warmup as usize).min(steps as usize),
                eval_every: eval_every as usize,
                checkpoint_every: 0,
                seed,
            },
            live: LiveSettings {
                prompt: self.prompt.clone(),
                temperature,
                sample_every: sample_every as usize,
                sample_tokens: LiveSettings::default().sample_tokens,
            },
            backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_fill_the_form_and_parse() {
        let f = TrainForm::for_preset("nano");
        let p = f.parse().unwrap();
        assert_eq!(p.shape, training_preset("nano").unwrap().shape(512));
        assert_eq!(p.settings.steps, 200);
        assert_eq!(p.tokenizer, TokenizerChoice::Bpe { vocab_size: 512 });
        let bytes = TrainForm { tokenizer: "bytes".into(), ..f.with_preset("tiny") }.parse().unwrap();
        assert_eq!(bytes.shape.vocab_size, 257);
        assert_eq!(bytes.shape.d_model, 128);
    }

    #[test]
    fn bad_fields_are_named() {
        let f = TrainForm {
            steps: "0".into(),
            lr: "fast".into(),
            num_heads: "3".into(),
            vocab_size: "100".into(),
            temperature: "-1".into(),
            ..TrainForm::for_preset("nano")
        };
        let errors = f.parse().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.0).collect();
        assert_eq!(fields, ["vocab_size", "steps", "lr", "temperature", "num_heads"], "{errors:?}");
        assert!(errors[0].1.contains("at least 257"), "{errors:?}");
        assert!(errors[4].1.contains("3"), "{errors:?}");
    }

    #[test]
    fn moe_presets_and_bad_moe_fields() {
        let p = TrainForm::for_preset("tiny-moe").parse().unwrap();
        assert_eq!(p.shape, training_preset("tiny-moe").unwrap().shape(1024));
        assert_eq!(p.shape.moe.unwrap().num_experts, 8);
        // Back to a dense preset: the MoE fields empty again.
        assert!(TrainForm::for_preset("tiny-moe").with_preset("nano").parse().unwrap().shape.moe.is_none());
        let f = TrainForm { top_k: "9".into(), ..TrainForm::for_preset("tiny-moe") };
        let errors = f.parse().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "top_k");
        assert!(errors[0].1.contains('9') && errors[0].1.contains('8'), "{errors:?}");
        let f = TrainForm { experts: "0".into(), ..TrainForm::for_preset("tiny-moe") };
        assert_eq!(f.parse().unwrap_err()[0].0, "experts");
        // Twins keep the run's settings and have equal forward FLOPs per token (router aside).
        let moe = TrainForm { steps: "37".into(), lr: "1e-3".into(), ..TrainForm::for_preset("nano-moe") };
        let dense = moe.with_twin().unwrap();
        assert_eq!((dense.preset.as_str(), dense.steps.as_str(), dense.lr.as_str()), ("nano", "37", "1e-3"));
        assert_eq!(dense.with_twin().unwrap().preset, "nano-moe");
        let (a, b) = (moe.parse().unwrap().shape, dense.parse().unwrap().shape);
        let ffn = |s: &ModelShape| {
            let f = s.forward_flops(1, 64);
            f.components
                .iter()
                .filter(|c| c.name.contains("SwiGLU") || c.name.contains("experts"))
                .map(|c| c.flops)
                .sum::<f64>()
        };
        assert_eq!(ffn(&a), ffn(&b));
        assert!(a.params().total > b.params().total);
        assert!(TrainForm::for_preset("small").with_twin().is_none());
    }
}
