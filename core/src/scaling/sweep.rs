//! Planning an IsoFLOP sweep: for each compute budget C, a handful of models of one family around
//! the size expected to be optimal, each trained on exactly the tokens the budget buys.
//!
//! * **The family** — one width-to-depth rule, so that a single number (k) sets the size:
//!   d_model = 8·k, k heads of 8, ⌈k/4⌉ layers (d_model / layers ≈ 32), d_ff = 8/3·d_model
//!   rounded up to a multiple of 8 (SwiGLU's usual ratio), context and vocabulary from the sweep.
//!   Steps of 8 in width keep neighbouring sizes within ≈ 1.3–2.3× of each other, so a budget's
//!   sizes can be spread evenly in log N; heads of 8 keep the smallest model small (a sweep of
//!   GPU-sized budgets would want wider heads for speed, not for the law).
//! * **N** — every parameter but the token embedding (a lookup costs no FLOPs; the LM head, a
//!   matmul, counts). At the lab's tiny sizes the embedding table would otherwise be most of N.
//! * **Tokens** — D = C / (training FLOPs per token), with the accounting's exact count: 3 × the
//!   forward matmuls, attention's T×T scores and the LM head included (`telemetry::flops_per_step`,
//!   the same FLOPs MFU is measured with) — not 6·N, which at d_model 32 and context 64 undercounts
//!   by half. D is rounded to whole steps of batch × context; a run records the FLOPs it actually
//!   trained.
//! * **The sizes** — centred on the N at which D = `tokens_per_param`·N (Chinchilla's 20 by
//!   default), `spread`× apart, so a parabola through the losses has its minimum inside.
//! * **The schedule** — warm-up then cosine decay sized to the run's own steps (Chinchilla's
//!   finding: a cosine longer than the run overstates the loss of small-D runs).

use serde::{Deserialize, Serialize};

use crate::accounting::ModelShape;
use crate::telemetry::flops_per_step;
use crate::train::plan::{DataChoice, ModelPlan, RunPlan, TokenizerChoice, TrainingPlan};
use crate::units::format_number;

/// Fewest optimizer steps a run of the sweep may have: fewer and warm-up and noise dominate.
pub const MIN_STEPS: usize = 20;
/// Largest family member (d_model 1,024, 32 layers).
pub const MAX_FAMILY_K: u64 = 128;

/// What a sweep is: budgets and the settings every run shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Compute budgets in FLOPs, ascending.
    pub budgets: Vec<f64>,
    /// Model sizes per budget (the parabola needs at least 3; 4 or more give it an uncertainty).
    pub sizes_per_budget: usize,
    pub context_length: usize,
    pub batch_size: usize,
    /// The byte-level BPE's vocabulary, trained once on the corpus and shared by every run.
    pub vocab_size: usize,
    /// Where the sizes are centred: D = this × N.
    pub tokens_per_param: f64,
    /// Factor between neighbouring sizes.
    pub spread: f64,
    pub max_lr: f64,
    pub seed: u64,
}

impl SweepSettings {
    /// The defaults for `budgets`: 5 sizes 2× apart around 20 tokens per parameter, context 64,
    /// batch 8, a BPE of 512 ids, learning rate 3e-3, seed 0.
    pub fn new(budgets: Vec<f64>) -> Self {
        Self {
            budgets,
            sizes_per_budget: 5,
            context_length: 64,
            batch_size: 8,
            vocab_size: 512,
            tokens_per_param: 20.0,
            spread: 2.0,
            max_lr: 3e-3,
            seed: 0,
        }
    }

    /// Refuses settings no sweep can run, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.budgets.is_empty() {
            return Err("budgets: give at least one compute budget (FLOPs), e.g. 1e11,3e11,1e12".into());
        }
        if let Some(b) = self.budgets.iter().find(|b| !(b.is_finite() && **b > 0.0)) {
            return Err(format!("budgets: {b} is not a positive number of FLOPs"));
        }
        if self.sizes_per_budget < super::fit::MIN_PARABOLA_POINTS {
            return Err(format!(
                "sizes per budget: {} is too few; an IsoFLOP parabola needs at least {}",
                self.sizes_per_budget,
                super::fit::MIN_PARABOLA_POINTS
            ));
        }
        if self.context_length < 2 || self.batch_size == 0 {
            return Err("context and batch: the context must be at least 2 tokens and the batch at least 1".into());
        }
        if self.vocab_size < 257 {
            return Err(format!("vocabulary: {} is below 257 (256 bytes and <|endoftext|>)", self.vocab_size));
        }
        if !(self.tokens_per_param > 0.0 && self.spread > 1.0 && self.max_lr > 0.0) {
            return Err("tokens per parameter and learning rate must be positive, spread above 1".into());
        }
        Ok(())
    }
}

/// A list of budgets as typed (`1e11,3e11,1e12`, spaces allowed), each a positive number of FLOPs.
pub fn parse_budgets(field: &str, text: &str) -> Result<Vec<f64>, crate::InputError> {
    let budgets = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| crate::units::parse_positive(field, s))
        .collect::<Result<Vec<f64>, _>>()?;
    if budgets.is_empty() {
        return Err(crate::InputError::new(field, text, "one or more compute budgets in FLOPs, e.g. 1e11,3e11,1e12"));
    }
    Ok(budgets)
}

/// The smallest budget a sweep with `settings` accepts: [`MIN_STEPS`] steps of the smallest model,
/// and an expected optimum (D = tokens_per_param·N) no smaller than it.
pub fn min_budget(settings: &SweepSettings) -> f64 {
    let smallest = family_shape(1, settings.vocab_size, settings.context_length);
    let steps = MIN_STEPS as f64 * flops_per_step(&smallest, settings.batch_size);
    let centre = settings.tokens_per_param * fitted_params(&smallest) as f64 * flops_per_token(&smallest);
    steps.max(centre)
}

/// Three budgets a factor 2 apart (x, 2x, 4x) whose sweep takes about `seconds` at `rate` FLOP/s,
/// rounded to one significant digit and never below [`min_budget`]: the page's "a sweep sized to
/// this device".
pub fn budgets_for(rate: f64, seconds: f64, settings: &SweepSettings) -> Vec<f64> {
    let x = rate * seconds / (7.0 * settings.sizes_per_budget as f64);
    let round = |v: f64| {
        let mag = 10f64.powf(v.log10().floor());
        (v / mag).round() * mag
    };
    let x = round(x.max(min_budget(settings) * 1.5));
    vec![x, round(2.0 * x), round(4.0 * x)]
}

/// Member k of the family (see the module docs).
pub fn family_shape(k: u64, vocab_size: usize, context_length: usize) -> ModelShape {
    let d_model = 8 * k;
    ModelShape {
        vocab_size: vocab_size as u64,
        context_length: context_length as u64,
        d_model,
        num_layers: k.div_ceil(4),
        num_heads: k,
        num_kv_heads: k,
        d_ff: (8 * d_model).div_ceil(3).div_ceil(8) * 8,
        moe: None,
    }
}

/// The N a sweep fits with: all parameters but the token embedding.
pub fn fitted_params(shape: &ModelShape) -> u64 {
    let p = shape.params();
    p.total - p.token_embedding
}

/// Training FLOPs per token of `shape` at its full context (3 × forward matmuls).
pub fn flops_per_token(shape: &ModelShape) -> f64 {
    flops_per_step(shape, 1) / shape.context_length as f64
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// `<budget>-d<d_model>`, e.g. `1e11-d64`: the run's directory and its key in runs.jsonl.
    pub id: String,
    pub budget: f64,
    pub shape: ModelShape,
    pub params: u64,
    pub steps: usize,
    /// steps × batch × context.
    pub tokens: u64,
    /// steps × FLOPs per step: the budget up to the rounding to whole steps.
    pub flops: f64,
}

/// Validation batches behind each run's final loss: the loss the fit sees, so more than a
/// training run's 8 (the same batches for every run of the sweep: same seed, same split).
pub const EVAL_BATCHES: usize = 32;

impl PlannedRun {
    /// The run plan of this run (the one the CLI and the page train): the family shape, the
    /// sweep's batch, learning rate and seed, a cosine schedule over exactly its steps, validation
    /// only before the first and after the last step, a checkpoint every quarter.
    pub fn run_plan(&self, settings: &SweepSettings, data: DataChoice) -> RunPlan {
        let mut training = TrainingPlan::defaults(self.steps, settings.batch_size);
        training.max_lr = settings.max_lr;
        training.min_lr = settings.max_lr / 10.0;
        training.eval_every = self.steps;
        training.eval_batches = EVAL_BATCHES;
        training.checkpoint_every = (self.steps / 4).max(1);
        training.seed = settings.seed;
        RunPlan {
            preset: format!("scaling {}", self.id),
            model: ModelPlan {
                shape: self.shape,
                rope_theta: 10_000.0,
                router: Default::default(),
                fixed_vocab: false,
            },
            training,
            tokenizer: TokenizerChoice::Bpe { vocab_size: settings.vocab_size },
            data,
            val: None,
        }
    }
}

/// A sweep: its settings and every run, budget by budget, small to large.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub settings: SweepSettings,
    pub runs: Vec<PlannedRun>,
}

/// A budget's name in ids and messages: `1e11`, `3e11`, `2.5e10`.
pub fn budget_key(budget: f64) -> String {
    let exp = budget.log10().floor() as i32;
    let mantissa = budget / 10f64.powi(exp);
    let m = format!("{:.2}", mantissa);
    let m = m.trim_end_matches('0').trim_end_matches('.');
    format!("{m}e{exp}")
}

impl SweepPlan {
    /// Plans every budget; a budget too small for the family's smallest model (fewer than
    /// [`MIN_STEPS`] steps) is refused, naming both.
    pub fn new(mut settings: SweepSettings) -> Result<Self, String> {
        settings.validate()?;
        settings.budgets.sort_by(f64::total_cmp);
        settings.budgets.dedup();
        let mut runs = Vec::new();
        for &budget in &settings.budgets {
            runs.extend(plan_budget(&settings, budget)?);
        }
        Ok(Self { settings, runs })
    }

    /// The runs of one budget.
    pub fn runs_of(&self, budget: f64) -> impl Iterator<Item = &PlannedRun> {
        self.runs.iter().filter(move |r| r.budget == budget)
    }

    /// All the FLOPs the sweep trains.
    pub fn total_flops(&self) -> f64 {
        self.runs.iter().map(|r| r.flops).sum()
    }
}

fn planned(settings: &SweepSettings, budget: f64, k: u64) -> PlannedRun {
    let shape = family_shape(k, settings.vocab_size, settings.context_length);
    let per_step_tokens = (settings.batch_size * settings.context_length) as f64;
    let steps = (budget / flops_per_token(&shape) / per_step_tokens).round() as usize;
    PlannedRun {
        id: format!("{}-d{}", budget_key(budget), shape.d_model),
        budget,
        shape,
        params: fitted_params(&shape),
        steps,
        tokens: (steps as f64 * per_step_tokens) as u64,
        flops: steps as f64 * flops_per_step(&shape, settings.batch_size),
    }
}

/// The sizes of one budget: the family members nearest to N*·spread^j (j centred on 0), distinct,
/// every one with at least [`MIN_STEPS`] steps.
fn plan_budget(settings: &SweepSettings, budget: f64) -> Result<Vec<PlannedRun>, String> {
    let smallest = planned(settings, budget, 1);
    if smallest.steps < MIN_STEPS {
        // The budget at which the smallest model gets MIN_STEPS steps.
        let needed = MIN_STEPS as f64 * flops_per_step(&smallest.shape, settings.batch_size);
        return Err(format!(
            "budget {} FLOPs is too small for the smallest model of the family (d_model {}, {} layer, N = {}): it \
             buys {} steps of {} × {} tokens, and a run needs at least {MIN_STEPS}; use budgets from {} FLOPs, or a \
             smaller batch or context",
            format_number(budget),
            smallest.shape.d_model,
            smallest.shape.num_layers,
            smallest.params,
            smallest.steps,
            settings.batch_size,
            settings.context_length,
            format_number(needed)
        ));
    }
    // The optimum a budget is expected to have must be within the family: below its smallest
    // model no size could be swept on the small side of the IsoFLOP curve.
    let smallest_centre = settings.tokens_per_param * smallest.params as f64 * flops_per_token(&smallest.shape);
    if budget < smallest_centre {
        return Err(format!(
            "budget {} FLOPs is too small for the smallest model of the family (d_model {}, {} layer, N = {}): at \
             {} tokens per parameter its optimum is expected below that model, so the sweep could not bracket it; use \
             budgets from {} FLOPs",
            format_number(budget),
            smallest.shape.d_model,
            smallest.shape.num_layers,
            smallest.params,
            settings.tokens_per_param,
            format_number(smallest_centre)
        ));
    }
    let members: Vec<PlannedRun> = (1..=MAX_FAMILY_K).map(|k| planned(settings, budget, k)).collect();
    let usable: Vec<&PlannedRun> = members.iter().filter(|r| r.steps >= MIN_STEPS).collect();
    // N*: the member whose D is closest to tokens_per_param·N.
    let centre = usable
        .iter()
        .enumerate()
        .min_by(|a, b| {
            let gap = |r: &PlannedRun| (r.tokens as f64 / (settings.tokens_per_param * r.params as f64)).ln().abs();
            gap(a.1).total_cmp(&gap(b.1))
        })
        .map(|(i, _)| i)
        .expect("the smallest member is usable");
    let n_star = usable[centre].params as f64;
    let want = settings.sizes_per_budget;
    if usable.len() < super::fit::MIN_PARABOLA_POINTS {
        return Err(format!(
            "budget {} FLOPs leaves only {} model size(s) with {MIN_STEPS} steps or more; a parabola needs {}: \
             raise the budget",
            format_number(budget),
            usable.len(),
            super::fit::MIN_PARABOLA_POINTS
        ));
    }
    let mut chosen: Vec<usize> = Vec::new();
    for j in 0..want {
        let target = (n_star * settings.spread.powf(j as f64 - (want as f64 - 1.0) / 2.0)).ln();
        let nearest = (0..usable.len()).filter(|i| !chosen.contains(i)).min_by(|&a, &b| {
            ((usable[a].params as f64).ln() - target).abs().total_cmp(&((usable[b].params as f64).ln() - target).abs())
        });
        if let Some(i) = nearest {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    Ok(chosen.into_iter().map(|i| usable[i].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_grows_monotonically() {
        let ns: Vec<u64> = (1..=MAX_FAMILY_K).map(|k| fitted_params(&family_shape(k, 512, 64))).collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]));
        let s = family_shape(8, 512, 64);
        assert_eq!((s.d_model, s.num_layers, s.num_heads, s.d_ff), (64, 2, 8, 176));
        assert!(s.validate_trainable().is_ok());
    }

    #[test]
    fn each_budget_gets_distinct_sizes_around_its_optimum() {
        let plan = SweepPlan::new(SweepSettings::new(vec![1e12, 1e11, 3e11])).unwrap();
        assert_eq!(plan.settings.budgets, vec![1e11, 3e11, 1e12]);
        for &c in &plan.settings.budgets {
            let runs: Vec<_> = plan.runs_of(c).collect();
            assert_eq!(runs.len(), 5);
            assert!(runs.windows(2).all(|w| w[0].params < w[1].params));
            // Within one step's rounding of the budget.
            for r in &runs {
                assert!(r.steps >= MIN_STEPS);
                let per_step = r.flops / r.steps as f64;
                assert!((r.flops - c).abs() <= per_step / 2.0 + 1.0, "{} {}", r.flops, c);
            }
            // The middle size trains on about 20 tokens per parameter; the ends bracket it.
            let tpp: Vec<f64> = runs.iter().map(|r| r.tokens as f64 / r.params as f64).collect();
            assert!(tpp[0] > 20.0 && tpp[4] < 20.0, "{tpp:?}");
        }
        assert_eq!(plan.runs[0].id, format!("1e11-d{}", plan.runs[0].shape.d_model));
        assert_eq!(budget_key(2.5e10), "2.5e10");
        let run = &plan.runs[0];
        let rp = run.run_plan(&plan.settings, DataChoice::Bundled);
        assert!(rp.validate().is_ok());
        assert_eq!((rp.training.steps, rp.training.eval_every, rp.model.shape), (run.steps, run.steps, run.shape));
    }

    #[test]
    fn device_sized_budgets_fit_their_time() {
        let s = SweepSettings::new(vec![]);
        let b = budgets_for(1e10, 120.0, &s);
        assert_eq!(b.len(), 3);
        let total = 5.0 * b.iter().sum::<f64>();
        assert!((total / 1.2e12 - 1.0).abs() < 0.5, "{b:?}");
        let mut s = SweepSettings::new(budgets_for(1.0, 1.0, &s));
        assert!(s.budgets[0] >= min_budget(&s));
        s.sizes_per_budget = 4;
        assert!(SweepPlan::new(s).is_ok());
    }

    #[test]
    fn a_budget_too_small_is_named() {
        let e = SweepPlan::new(SweepSettings::new(vec![1e6])).unwrap_err();
        assert!(e.contains("budget 1") && e.contains("smallest model") && e.contains("d_model 8"), "{e}");
        assert!(SweepPlan::new(SweepSettings::new(vec![])).unwrap_err().contains("at least one"));
        let mut s = SweepSettings::new(vec![1e11]);
        s.sizes_per_budget = 2;
        assert!(SweepPlan::new(s).unwrap_err().contains("at least 3"));
    }
}
