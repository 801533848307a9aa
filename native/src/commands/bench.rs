//! `lmlab bench train` (steps per second on random tokens: `lmlab::train::bench::bench_train`, the
//! measurement the Train page's benchmark runs too) and `lmlab bench moe` (a mixture-of-experts
//! preset against its dense twin of equal active FLOPs, same device, same run).

use burn::tensor::backend::AutodiffBackend;
use lmlab::accounting::training_preset;
use lmlab::model::TransformerConfig;
use lmlab::train::bench::bench_train;
use lmlab::train::plan::{AttentionKernel, Precision};
use lmlab::train::plan_form::{Labels, PlanForm};
use lmlab::units::parse_count;
use lmlab::InputError;
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::cli::BenchTrainArgs;
use crate::CliResult;

/// The preset's model and batch with the flags over the plan's defaults (the preset's vocabulary
/// and batch, as `lmlab train` and the page start from).
fn model_and_batch(preset: &str, args: &BenchTrainArgs) -> Result<(TransformerConfig, usize), InputError> {
    let form = PlanForm {
        preset: preset.into(),
        vocab_size: args.vocab_size.clone().unwrap_or_default(),
        batch_size: args.batch.clone().unwrap_or_default(),
        shape: lmlab::accounting::ShapeForm {
            context_length: args.context.clone().unwrap_or_default(),
            ..Default::default()
        },
        ..PlanForm::default()
    };
    let plan = form.parse(None, Labels::Cli).map_err(|mut e| e.remove(0).1)?;
    Ok((TransformerConfig::from_plan(&plan.model), plan.training.batch_size))
}

/// `lmlab bench train`: forward + backward + AdamW steps on random tokens, after warm-up.
pub fn train(args: &BenchTrainArgs) -> CliResult {
    let (model, batch) = model_and_batch(&args.preset, args)?;
    let steps = parse_count("--steps", &args.steps)? as usize;
    let warmup = parse_count("--warmup", &args.warmup)? as usize;
    let precision = Precision::parse("--precision", &args.precision)?;
    let attention = AttentionKernel::parse("--attention", &args.attention)?;
    let picked = pick_device(&args.device)?;
    if !args.json {
        println!("device: {}", picked.describe());
    }
    let preset = args.preset.clone();
    run_job(&picked, BenchJob { model, batch, precision, attention, steps, warmup, json: args.json, preset })
}

struct BenchJob {
    model: TransformerConfig,
    batch: usize,
    precision: Precision,
    attention: AttentionKernel,
    steps: usize,
    warmup: usize,
    json: bool,
    preset: String,
}

impl Job for BenchJob {
    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let peak = picked.peak_flops(self.precision);
        let r = pollster::block_on(bench_train::<B>(
            &self.model,
            self.batch,
            self.precision,
            self.attention,
            self.warmup,
            self.steps,
            peak,
            &device,
        ))?;
        let shape = self.model.shape();
        if self.json {
            let report = json!({
                "preset": self.preset,
                "device": picked.kind.key(),
                "device_name": picked.name,
                "device_reason": picked.reason,
                "params": shape.params().total,
                "batch": self.batch,
                "precision": self.precision.key(),
                "attention": lmlab::model::attention::effective::<B>(self.attention).key(),
                "context": self.model.context_length,
                "steps": self.steps,
                "warmup_steps": self.warmup,
                "warmup_seconds": r.warmup_seconds,
                "seconds": r.seconds,
                "ms_per_step": r.ms_per_step,
                "tokens_per_s": r.tokens_per_s,
                "tflops": r.flops_per_s / 1e12,
                "mfu": r.mfu,
                "peak_tflops": peak.map(|p| p / 1e12),
                "first_loss": r.first_loss,
                "model": self.model,
            });
            println!("{report}");
            return Ok(());
        }
        let peak_name = match self.precision {
            Precision::Fp32 => "tf32",
            Precision::Bf16 => "bf16",
        };
        let mfu = r.mfu.map_or(" (MFU: unknown peak; pass --gpu)".to_string(), |u| {
            format!(", MFU {:.1}% of {peak_name} peak", 100.0 * u)
        });
        println!(
            "{} ({}, {} attention): {} params, batch {} × {} tokens: {:.1} ms/step, {:.0} tokens/s, {:.3} TFLOP/s{mfu}",
            self.preset,
            self.precision.key(),
            lmlab::model::attention::effective::<B>(self.attention).key(),
            shape.params().total,
            self.batch,
            self.model.context_length,
            r.ms_per_step,
            r.tokens_per_s,
            r.flops_per_s / 1e12,
        );
        Ok(())
    }
}

/// `lmlab bench moe`: a mixture-of-experts preset and the dense preset of equal active FLOPs
/// (`tiny-moe` ↔ `tiny`), the same batch on the same device in one run; the ratio of step times
/// is the cost of routing (router, dispatch, capacity padding, combine).
pub fn moe(args: &BenchTrainArgs) -> CliResult {
    let name = if args.preset == "tiny" { "tiny-moe".to_string() } else { args.preset.clone() };
    let moe_preset = training_preset(&name)?;
    let dense_preset = moe_preset.dense_twin().ok_or_else(|| {
        InputError::new("--preset", &name, "a mixture-of-experts preset with a dense twin: nano-moe or tiny-moe")
    })?;
    let (moe_model, batch) = model_and_batch(moe_preset.name, args)?;
    let batch_flag = BenchTrainArgs { batch: Some(batch.to_string()), ..args.clone() };
    let (dense_model, _) = model_and_batch(dense_preset.name, &batch_flag)?;
    let steps = parse_count("--steps", &args.steps)? as usize;
    let warmup = parse_count("--warmup", &args.warmup)? as usize;
    let picked = pick_device(&args.device)?;
    if !args.json {
        println!("device: {}", picked.describe());
    }
    let models = [(dense_preset.name, dense_model), (moe_preset.name, moe_model)];
    run_job(&picked, BenchMoeJob { models, batch, steps, warmup, json: args.json })
}

struct BenchMoeJob {
    /// The dense model first, then the MoE model.
    models: [(&'static str, TransformerConfig); 2],
    batch: usize,
    steps: usize,
    warmup: usize,
    json: bool,
}

impl Job for BenchMoeJob {
    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let mut rows = Vec::new();
        let mut ms = Vec::new();
        for (name, model) in &self.models {
            let r = pollster::block_on(bench_train::<B>(
                model,
                self.batch,
                Precision::Fp32,
                AttentionKernel::Fused,
                self.warmup,
                self.steps,
                None,
                &device,
            ))?;
            let p = model.shape().params();
            rows.push(json!({"preset": name, "params": p.total, "active_params": p.active,
                             "ms_per_step": r.ms_per_step, "tokens_per_s": r.tokens_per_s}));
            ms.push(r.ms_per_step);
            if !self.json {
                println!(
                    "{name:>9}: {:>9} params ({:>9} active), batch {} × {}: {:8.1} ms/step, {:8.0} tokens/s",
                    p.total, p.active, self.batch, model.context_length, r.ms_per_step, r.tokens_per_s
                );
            }
        }
        let ratio = ms[1] / ms[0];
        if self.json {
            println!(
                "{}",
                json!({"device": picked.kind.key(), "device_name": picked.name, "batch": self.batch,
                       "steps": self.steps, "warmup_steps": self.warmup, "dense": rows[0], "moe": rows[1],
                       "moe_over_dense_step_time": ratio})
            );
        } else {
            println!("MoE step time / dense step time at equal active FLOPs: {ratio:.2}× (goal ≤ 1.5×)");
        }
        Ok(())
    }
}
