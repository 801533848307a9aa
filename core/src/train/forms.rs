//! The Train page's form as typed: the run plan's fields ([`PlanForm`], the same parse the CLI
//! uses) plus the page's own — the sample settings and where to run. Parsed into a plan with
//! errors keyed by field, so the page only draws (and the parsing is tested natively).

use super::plan::{Backend, Precision, RunPlan};
use super::plan_form::{shape_fields, Field, Labels, PlanForm, CUSTOM};
use super::protocol::LiveSettings;
use crate::accounting::{training_preset, training_presets};
use crate::units::{parse_number, parse_whole};

/// The most BPE ids the page trains (the tokenizer and embeddings live in a browser tab).
pub const MAX_PAGE_VOCAB: usize = 65_536;

/// The form, field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainForm {
    pub plan: PlanForm,
    pub prompt: String,
    pub temperature: String,
    pub sample_every: String,
    /// `webgpu` or `cpu`.
    pub backend: String,
}

/// A parsed form: the run's plan (its data still to be chosen) and the page's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedForm {
    pub plan: RunPlan,
    pub live: LiveSettings,
    pub backend: Backend,
}

impl TrainForm {
    /// The form filled in with a preset's plan (its defaults, as the CLI's `--preset` has them).
    /// Warm-up and validation cadence stay blank: their defaults follow the steps (5%, 10%), so
    /// changing the steps changes them as it does for `lmlab train --steps`.
    pub fn for_preset(name: &str) -> TrainForm {
        let preset = training_preset(name).unwrap_or_else(|_| training_presets().next().expect("a preset"));
        let plan = RunPlan::for_preset(preset);
        let t = &plan.training;
        let live = LiveSettings::default();
        TrainForm {
            plan: PlanForm {
                preset: preset.name.to_string(),
                shape: shape_fields(&preset.shape),
                tokenizer: "bpe".into(),
                vocab_size: preset.default_vocab().to_string(),
                steps: t.steps.to_string(),
                batch_size: t.batch_size.to_string(),
                lr: format!("{:e}", t.max_lr),
                seed: t.seed.to_string(),
                precision: t.precision.key().into(),
                attention: t.attention.key().into(),
                ..PlanForm::default()
            },
            prompt: live.prompt,
            temperature: live.temperature.to_string(),
            sample_every: live.sample_every.to_string(),
            backend: "webgpu".into(),
        }
    }

    /// Switches the preset, taking its shape and defaults but keeping the sample settings, the
    /// backend, the tokenizer kind, the precision, the attention kernel and the seed.
    pub fn with_preset(&self, name: &str) -> TrainForm {
        if name == CUSTOM {
            return TrainForm { plan: PlanForm { preset: CUSTOM.into(), ..self.plan.clone() }, ..self.clone() };
        }
        let fresh = TrainForm::for_preset(name);
        TrainForm {
            plan: PlanForm {
                tokenizer: self.plan.tokenizer.clone(),
                seed: self.plan.seed.clone(),
                precision: self.plan.precision.clone(),
                attention: self.plan.attention.clone(),
                ..fresh.plan
            },
            ..self.clone()
        }
    }

    /// The same run with the preset's twin of equal active FLOPs: a mixture-of-experts preset's
    /// dense twin (`tiny-moe` → `tiny`) or a dense preset's MoE twin (`tiny` → `tiny-moe`). Every run
    /// setting (steps, batch, learning rate, seed, vocabulary …) is kept, so the two curves compare.
    pub fn with_twin(&self) -> Option<TrainForm> {
        let twin = training_preset(&self.plan.preset).ok()?.twin()?;
        Some(TrainForm {
            plan: PlanForm { preset: twin.name.into(), shape: shape_fields(&twin.shape), ..self.plan.clone() },
            ..self.clone()
        })
    }

    /// The plan and settings, or every field's error keyed by [`Field::key`] (`prompt`,
    /// `temperature` and `sample_every` for the page's own).
    pub fn parse(&self) -> Result<ParsedForm, Vec<(&'static str, String)>> {
        let mut errors: Vec<(&'static str, String)> = Vec::new();
        let plan = match self.plan.parse(None, Labels::Page) {
            Ok(plan) => Some(plan),
            Err(e) => {
                errors.extend(e.into_iter().map(|(f, e)| (f.key(), e.to_string())));
                None
            }
        };
        if let Some(v) = plan.as_ref().and_then(|p| p.tokenizer.vocab_size()).filter(|&v| v > MAX_PAGE_VOCAB) {
            errors.push((Field::VocabSize.key(), format!("vocabulary {v}: at most 65,536 ids in the page")));
        }
        let sample_every = parse_whole("sample every", &self.sample_every).unwrap_or_else(|e| {
            errors.push(("sample_every", e.to_string()));
            0
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
        let backend = if self.backend == "cpu" { Backend::Cpu } else { Backend::WebGpu };
        if plan.as_ref().is_some_and(|p| backend.is_webgpu() && p.training.precision == Precision::Bf16) {
            errors.push((
                Field::Precision.key(),
                "bf16 mixed precision runs on the CPU backend here: WebGPU's shading language (WGSL) has no bf16. \
                 Choose fp32, or Run on: CPU"
                    .into(),
            ));
        }
        match plan {
            Some(plan) if errors.is_empty() => Ok(ParsedForm {
                plan,
                live: LiveSettings {
                    prompt: self.prompt.clone(),
                    temperature,
                    sample_every: sample_every as usize,
                    sample_tokens: LiveSettings::default().sample_tokens,
                },
                backend,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::ModelShape;
    use crate::train::plan::TokenizerChoice;

    #[test]
    fn presets_fill_the_form_with_the_plans_defaults() {
        for p in training_presets() {
            let parsed = TrainForm::for_preset(p.name).parse().unwrap();
            assert_eq!(parsed.plan, RunPlan::for_preset(p), "{}", p.name);
        }
        let f = TrainForm::for_preset("nano");
        assert_eq!((f.plan.steps.as_str(), f.plan.lr.as_str()), ("200", "3e-3"));
        let bytes = TrainForm { plan: PlanForm { tokenizer: "bytes".into(), ..f.with_preset("tiny").plan }, ..f };
        let bytes = bytes.parse().unwrap();
        assert_eq!(bytes.plan.tokenizer, TokenizerChoice::Bytes);
        assert_eq!(bytes.plan.model.shape.vocab_size, 257);
        assert_eq!(bytes.plan.model.shape.d_model, 128);
    }

    #[test]
    fn bad_fields_are_named() {
        let nano = TrainForm::for_preset("nano");
        let f = TrainForm {
            plan: PlanForm {
                preset: CUSTOM.into(),
                steps: "0".into(),
                lr: "fast".into(),
                vocab_size: "100".into(),
                ..nano.plan.clone()
            },
            temperature: "-1".into(),
            ..nano.clone()
        };
        let f = TrainForm {
            plan: PlanForm {
                shape: crate::accounting::ShapeForm { num_heads: "3".into(), ..f.plan.shape.clone() },
                ..f.plan.clone()
            },
            ..f
        };
        let errors = f.parse().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.0).collect();
        assert_eq!(fields, ["num_heads", "vocab_size", "steps", "lr", "temperature"], "{errors:?}");
        assert!(errors[0].1.contains('3'), "{errors:?}");
        assert!(errors[1].1.contains("257"), "{errors:?}");
        let big = TrainForm { plan: PlanForm { vocab_size: "70000".into(), ..nano.plan.clone() }, ..nano.clone() };
        assert_eq!(big.parse().unwrap_err()[0].0, "vocab_size");
        // bf16 where the backend has it (the CPU), and a clear no on WebGPU.
        let bf16 = TrainForm { plan: PlanForm { precision: "bf16".into(), ..nano.plan.clone() }, ..nano };
        let errors = bf16.parse().unwrap_err();
        assert_eq!(errors[0].0, "precision");
        assert!(errors[0].1.contains("WGSL") && errors[0].1.contains("CPU"), "{errors:?}");
        let on_cpu = TrainForm { backend: "cpu".into(), ..bf16 }.parse().unwrap();
        assert_eq!(on_cpu.plan.training.precision, Precision::Bf16);
    }

    #[test]
    fn moe_presets_and_bad_moe_fields() {
        let p = TrainForm::for_preset("tiny-moe").parse().unwrap();
        assert_eq!(p.plan.model.shape, training_preset("tiny-moe").unwrap().shape);
        // Back to a dense preset: the MoE fields empty again.
        let dense = TrainForm::for_preset("tiny-moe").with_preset("nano");
        assert!(dense.parse().unwrap().plan.model.shape.moe.is_none());
        let f = TrainForm::for_preset("tiny-moe");
        let f = TrainForm {
            plan: PlanForm {
                shape: crate::accounting::ShapeForm { top_k: "9".into(), ..f.plan.shape.clone() },
                ..f.plan.clone()
            },
            ..f
        };
        let errors = f.parse().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "top_k");
        assert!(errors[0].1.contains('9') && errors[0].1.contains('8'), "{errors:?}");
        // Twins keep the run's settings and have equal forward FLOPs per token (router aside).
        let nano_moe = TrainForm::for_preset("nano-moe");
        let moe =
            TrainForm { plan: PlanForm { steps: "37".into(), lr: "1e-3".into(), ..nano_moe.plan.clone() }, ..nano_moe };
        let dense = moe.with_twin().unwrap();
        assert_eq!(
            (dense.plan.preset.as_str(), dense.plan.steps.as_str(), dense.plan.lr.as_str()),
            ("nano", "37", "1e-3")
        );
        assert_eq!(dense.with_twin().unwrap().plan.preset, "nano-moe");
        let (a, b) = (moe.parse().unwrap().plan.model.shape, dense.parse().unwrap().plan.model.shape);
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
