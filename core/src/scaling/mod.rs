//! # Scaling laws (CS336 assignment 3; Kaplan et al. 2020, Hoffmann et al. 2022)
//!
//! Given a compute budget, how big a model, on how many tokens? The lab answers it the way the
//! Chinchilla paper did, with the student's own runs:
//!
//! * [`sweep`] — an IsoFLOP sweep's plan: per budget C, models of one family spanning the
//!   expected optimum, each trained on the tokens C buys (the accounting's exact FLOPs per token);
//! * [`records`] — a finished run as one line of `runs.jsonl` (N, D, FLOPs, final loss, and the
//!   corpus and tokenizer it was measured on);
//! * [`fit`] — least squares in log space: IsoFLOP parabolas, power laws;
//! * [`law`] — L(N, D) = E + A/N^α + B/D^β fitted by Huber loss and L-BFGS from a grid (approach 3),
//!   and the compute-optimal N and D it predicts;
//! * [`analysis`] — all of the above from a set of runs, with predictions for any budget;
//! * [`reference`] — Chinchilla's and Kaplan's published laws, for side-by-side plots.
//!
//! No burn here: the page fits in its main bundle; the runs themselves are `train::run`'s.

pub mod analysis;
pub mod fit;
pub mod law;
pub mod records;
pub mod reference;
pub mod sweep;

pub use analysis::{analyze, Prediction, SweepFit};
pub use law::{Law, StartGrid};
pub use records::{parse_runs, RunRecord};
pub use sweep::{SweepPlan, SweepSettings};

use crate::exercise::{Exercise, Tolerance};

/// The seed's example budget (FLOPs): the lab's recurring "what would a frontier run buy".
pub const SEED_BUDGET: f64 = 6.3e24;

/// The lab's predict-then-check questions; answers computed by the functions above.
pub fn exercises() -> Vec<Exercise> {
    let (_, d_70b) = reference::chinchilla_rule(6.0 * 70e9 * 70e9 * reference::CHINCHILLA_TOKENS_PER_PARAM);
    let (n_rule, _) = reference::chinchilla_rule(SEED_BUDGET);
    let fitted = Law::CHINCHILLA.optimum(SEED_BUDGET);
    let (n_kaplan, _) = reference::kaplan_optimum(SEED_BUDGET);
    vec![
        Exercise::new(
            "chinchilla-tokens-70b",
            "How many training tokens are Chinchilla-optimal for a 70B-parameter model (about 20 tokens per parameter)?",
            d_70b,
            Tolerance::Relative(0.05),
            "tokens",
            "20 × 70e9 = 1.4e12: Chinchilla itself was 70B parameters on 1.4T tokens.",
        ),
        Exercise::new(
            "chinchilla-rule-seed",
            "With 6.3e24 FLOPs, what N does the rule D = 20·N (with C = 6·N·D) recommend?",
            n_rule,
            Tolerance::Relative(0.05),
            "parameters",
            "C = 6·N·20N = 120·N², so N = √(6.3e24 / 120) ≈ 2.3e11 parameters, trained on 4.6e12 tokens.",
        ),
        Exercise::new(
            "chinchilla-law-seed",
            "And Chinchilla's fitted law L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28: its N_opt at 6.3e24 FLOPs?",
            fitted.params,
            Tolerance::Relative(0.1),
            "parameters",
            "N_opt = G·(C/6)^(β/(α+β)) with G = (αA/βB)^(1/(α+β)): ≈ 9.5e10 — less than the rule of thumb, \
             because the fitted exponent β/(α+β) = 0.45 is below 0.5 (the paper's approaches 1 and 2 gave ≈ 0.5).",
        ),
        Exercise::new(
            "chinchilla-loss-70b",
            "What loss does Chinchilla's law predict for 70B parameters on 1.4T tokens (nats/token)?",
            Law::CHINCHILLA.loss(70e9, 1.4e12),
            Tolerance::Absolute(0.02),
            "nats",
            "1.69 + 406.4/70e9^0.34 + 410.7/1.4e12^0.28 ≈ 1.69 + 0.08 + 0.16 = 1.94: most of it is E, the text's own \
             entropy.",
        ),
        Exercise::new(
            "kaplan-seed",
            "Kaplan et al.'s frontier, N_opt = 1.3e9·(C / 1 PF-day)^0.73: its N at 6.3e24 FLOPs (1 PF-day = 8.64e19)?",
            n_kaplan,
            Tolerance::Relative(0.1),
            "parameters",
            "1.3e9 × (7.3e4)^0.73 ≈ 4.6e12: twenty times Chinchilla's answer. Kaplan's runs used one learning-rate \
             schedule for every D, overstating the loss of short runs, and so favoured big models on few tokens.",
        ),
    ]
}
