//! From a sweep's runs to its laws: per budget an IsoFLOP parabola in ln N (and in ln D) through
//! the final losses, whose vertex is that budget's N_opt (D_opt); power laws through those optima
//! against C; and L(N, D) fitted to every run (approach 3). Diverged runs are listed, not fitted.

use serde::{Deserialize, Serialize};

use super::fit::{Parabola, PowerLaw, MIN_PARABOLA_POINTS};
use super::law::{fit_law, Law, LawFit, Observation, Optimum, StartGrid, MIN_LAW_RUNS};
use super::records::{check_same_source, RunRecord};
use super::reference;

/// One budget's IsoFLOP curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetFit {
    pub budget: f64,
    /// (N, D, loss) of its finished runs, small to large N.
    pub runs: Vec<(f64, f64, f64)>,
    /// The parabola in ln N (None with fewer than three runs).
    pub parabola: Option<Parabola>,
    pub n_opt: Option<f64>,
    /// Standard error of ln N_opt: N_opt is uncertain by a factor exp(±this).
    pub n_opt_ln_se: Option<f64>,
    pub d_opt: Option<f64>,
    /// Whether the minimum lies inside the sizes swept (outside, it is an extrapolation).
    pub inside: bool,
    /// Why this budget gave no optimum, if it did not.
    pub note: Option<String>,
}

/// A run left out of the fit, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excluded {
    pub id: String,
    pub why: String,
}

/// Everything fitted from a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepFit {
    pub corpus: String,
    pub tokenizer: String,
    pub budgets: Vec<BudgetFit>,
    pub excluded: Vec<Excluded>,
    /// N_opt = k·C^a through the budgets' optima.
    pub n_opt_law: Option<PowerLaw>,
    /// D_opt = k·C^b.
    pub d_opt_law: Option<PowerLaw>,
    /// L(N, D) by approach 3.
    pub law: Option<LawFit>,
    /// What could not be fitted and why (too few runs, no minimum…).
    pub notes: Vec<String>,
}

/// What a budget's compute buys by each law.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub flops: f64,
    /// The sweep's own L(N, D) (approach 3), under C = 6ND.
    pub law: Option<Optimum>,
    /// The sweep's IsoFLOP power laws: (N_opt, D_opt).
    pub power_laws: Option<(f64, f64)>,
    /// Chinchilla's fitted law (approach 3).
    pub chinchilla: Optimum,
    /// Chinchilla's rule of thumb: D = 20·N with C = 6ND.
    pub chinchilla_rule: (f64, f64),
    /// Kaplan et al. (2020): N_opt = 1.3e9·(C / 1 PF-day)^0.73, D = C / 6N.
    pub kaplan: (f64, f64),
}

/// Fits everything a set of runs allows; an error only when nothing at all can be fitted (names
/// the minimum) or the runs mix corpora or tokenizers.
pub fn analyze(records: &[RunRecord], grid: &StartGrid) -> Result<SweepFit, String> {
    check_same_source(records)?;
    let mut excluded = Vec::new();
    let mut finished = Vec::new();
    for r in records {
        match r.val_loss {
            Some(l) if l.is_finite() && l > 0.0 => finished.push(r),
            _ => excluded
                .push(Excluded { id: r.id.clone(), why: r.diverged.clone().unwrap_or_else(|| "no final loss".into()) }),
        }
    }
    let mut budgets: Vec<f64> = finished.iter().map(|r| r.budget).collect();
    budgets.sort_by(f64::total_cmp);
    budgets.dedup();
    let fits: Vec<BudgetFit> = budgets.iter().map(|&c| budget_fit(c, &finished)).collect();
    if fits.iter().all(|f| f.parabola.is_none()) {
        return Err(format!(
            "too few runs to fit: an IsoFLOP curve needs at least {MIN_PARABOLA_POINTS} finished runs of one budget \
             (there are {} finished runs{}{})",
            finished.len(),
            if budgets.is_empty() { String::new() } else { format!(" over {} budget(s)", budgets.len()) },
            if excluded.is_empty() { String::new() } else { format!("; {} diverged", excluded.len()) }
        ));
    }
    let mut notes = Vec::new();
    let optima: Vec<(f64, f64, f64)> = fits.iter().filter_map(|f| Some((f.budget, f.n_opt?, f.d_opt?))).collect();
    let n_opt_law = power_law(optima.iter().map(|o| (o.0, o.1)), "N_opt", &mut notes);
    let d_opt_law = power_law(optima.iter().map(|o| (o.0, o.2)), "D_opt", &mut notes);
    let obs: Vec<Observation> = finished
        .iter()
        .map(|r| Observation { params: r.params as f64, tokens: r.tokens as f64, loss: r.val_loss.unwrap_or(f64::NAN) })
        .collect();
    let law = if obs.len() >= MIN_LAW_RUNS {
        match fit_law(&obs, grid) {
            Ok(f) => Some(f),
            Err(e) => {
                notes.push(format!("L(N, D): {e}"));
                None
            }
        }
    } else {
        notes.push(format!("L(N, D) needs at least {MIN_LAW_RUNS} finished runs; there are {}", obs.len()));
        None
    };
    let first = records.first().expect("at least three runs");
    Ok(SweepFit {
        corpus: first.corpus.name.clone(),
        tokenizer: first.tokenizer.name.clone(),
        budgets: fits,
        excluded,
        n_opt_law,
        d_opt_law,
        law,
        notes,
    })
}

fn power_law(points: impl Iterator<Item = (f64, f64)>, what: &str, notes: &mut Vec<String>) -> Option<PowerLaw> {
    let points: Vec<(f64, f64)> = points.collect();
    match PowerLaw::fit(&points) {
        Ok(p) => Some(p),
        Err(e) => {
            notes.push(format!("{what} vs C: {e}"));
            None
        }
    }
}

fn budget_fit(budget: f64, finished: &[&RunRecord]) -> BudgetFit {
    let mut runs: Vec<(f64, f64, f64)> = finished
        .iter()
        .filter(|r| r.budget == budget)
        .map(|r| (r.params as f64, r.tokens as f64, r.val_loss.unwrap_or(f64::NAN)))
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut fit = BudgetFit {
        budget,
        runs: runs.clone(),
        parabola: None,
        n_opt: None,
        n_opt_ln_se: None,
        d_opt: None,
        inside: false,
        note: None,
    };
    let by_n: Vec<(f64, f64)> = runs.iter().map(|r| (r.0.ln(), r.2)).collect();
    let by_d: Vec<(f64, f64)> = runs.iter().map(|r| (r.1.ln(), r.2)).collect();
    match (Parabola::fit(&by_n), Parabola::fit(&by_d)) {
        (Ok(pn), Ok(pd)) => {
            fit.parabola = Some(pn);
            match (pn.minimum(), pd.minimum()) {
                (Some((x, se)), Some((xd, _))) => {
                    fit.n_opt = Some(x.exp());
                    fit.n_opt_ln_se = (runs.len() > MIN_PARABOLA_POINTS).then_some(se);
                    fit.d_opt = Some(xd.exp());
                    fit.inside = x >= pn.x_min && x <= pn.x_max;
                    if !fit.inside {
                        fit.note = Some("the minimum lies outside the sizes swept: an extrapolation".into());
                    }
                }
                _ => fit.note = Some("the losses do not curve upward at both ends: no minimum".into()),
            }
        }
        (Err(e), _) | (_, Err(e)) => fit.note = Some(e),
    }
    fit
}

impl SweepFit {
    /// What `flops` buys by the sweep's laws and by the published ones.
    pub fn predict(&self, flops: f64) -> Prediction {
        Prediction {
            flops,
            law: self.law.as_ref().map(|l| l.law.optimum(flops)),
            power_laws: self.n_opt_law.zip(self.d_opt_law).map(|(n, d)| (n.at(flops), d.at(flops))),
            chinchilla: Law::CHINCHILLA.optimum(flops),
            chinchilla_rule: reference::chinchilla_rule(flops),
            kaplan: reference::kaplan_optimum(flops),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::records::Identity;

    /// Records of a synthetic sweep whose losses follow `law` (times 1 + noise).
    pub(crate) fn synthetic(law: &Law, budgets: &[f64], noise: impl Fn(usize) -> f64) -> Vec<RunRecord> {
        let id = |n: &str| Identity { name: n.into(), fingerprint: "0123456789abcdef".into() };
        let mut out = Vec::new();
        for &c in budgets {
            let n_star = law.optimum(c).params;
            for j in -3..=3 {
                let n = n_star * 2f64.powi(j);
                let d = c / (6.0 * n);
                let i = out.len();
                out.push(RunRecord {
                    id: format!("{c:e}-{j}"),
                    budget: c,
                    flops: c,
                    params: n as u64,
                    total_params: n as u64,
                    tokens: d as u64,
                    steps: 1,
                    d_model: 0,
                    num_layers: 0,
                    num_heads: 0,
                    d_ff: 0,
                    context_length: 0,
                    batch_size: 0,
                    val_loss: Some(law.loss(n as u64 as f64, d as u64 as f64) * (1.0 + noise(i))),
                    diverged: None,
                    corpus: id("synthetic"),
                    tokenizer: id("synthetic"),
                    epochs: 1.0,
                    device: "none".into(),
                    seconds: 0.0,
                });
            }
        }
        out
    }

    /// A deterministic noise in [−amp, amp] (a fixed LCG: no rand dependency in this crate's
    /// default features).
    pub(crate) fn noise(amp: f64) -> impl Fn(usize) -> f64 {
        move |i| {
            let mut x = (i as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51afd7ed558ccd);
            x ^= x >> 33;
            amp * (2.0 * (x as f64 / u64::MAX as f64) - 1.0)
        }
    }

    #[test]
    fn synthetic_chinchilla_losses_give_chinchilla_back() {
        // Seven sizes × five budgets, 0.5% multiplicative noise: α, β within 0.02, E within 0.05.
        let budgets = [1e18, 1e19, 1e20, 1e21, 1e22];
        let records = synthetic(&Law::CHINCHILLA, &budgets, noise(0.005));
        let fit = analyze(&records, &StartGrid::paper()).unwrap();
        let law = fit.law.as_ref().unwrap().law;
        assert!((law.alpha - 0.34).abs() < 0.02, "α {}", law.alpha);
        assert!((law.beta - 0.28).abs() < 0.02, "β {}", law.beta);
        assert!((law.e - 1.69).abs() < 0.05, "E {}", law.e);
        // Every IsoFLOP minimum inside, near the law's own optimum; the exponent near β/(α+β).
        for b in &fit.budgets {
            assert!(b.inside, "{b:?}");
            let truth = Law::CHINCHILLA.optimum(b.budget).params;
            assert!((b.n_opt.unwrap() / truth).ln().abs() < 0.35, "{} vs {truth}", b.n_opt.unwrap());
        }
        let a = fit.n_opt_law.unwrap().exponent;
        assert!((a - Law::CHINCHILLA.params_exponent()).abs() < 0.05, "a {a}");
        let p = fit.predict(6.3e24);
        assert!((p.law.unwrap().params / p.chinchilla.params).ln().abs() < 0.5);
    }

    #[test]
    fn diverged_runs_are_excluded_and_too_few_are_named() {
        let mut records = synthetic(&Law::CHINCHILLA, &[1e20], noise(0.0));
        records[2].val_loss = None;
        records[2].diverged = Some("the loss became NaN at step 7".into());
        let fit = analyze(&records, &StartGrid::paper()).unwrap();
        assert_eq!(fit.excluded.len(), 1);
        assert!(fit.excluded[0].why.contains("NaN"));
        assert_eq!(fit.budgets[0].runs.len(), 6);
        assert!(fit.notes.iter().any(|n| n.contains("two or more")), "{:?}", fit.notes);
        let e = analyze(&records[..3], &StartGrid::paper()).unwrap_err();
        assert!(e.contains("at least 3 finished runs"), "{e}");
    }

    #[test]
    fn mixed_corpora_are_refused() {
        let mut records = synthetic(&Law::CHINCHILLA, &[1e20], noise(0.0));
        records[4].corpus = Identity { name: "other.txt".into(), fingerprint: "ffffffffffffffff".into() };
        let e = analyze(&records, &StartGrid::paper()).unwrap_err();
        assert!(e.contains("other.txt") && e.contains("different corpora"), "{e}");
    }
}
