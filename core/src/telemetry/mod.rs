//! # What a run reports as it goes (no burn)
//!
//! The numbers a student compares between the terminal and the page come from here: each step's
//! metrics, the FLOPs of a step, and the speed meter that turns step times into tokens/s and MFU.
//! The CLI's log, the Train page's live panel and `bench train` all use these functions, so one
//! run gives one number wherever it is shown.

pub mod routing;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::accounting::ModelShape;
pub use routing::{BlockRoutes, MoeMetrics};

/// What one training step measured. `step` counts the updates made before this batch, so the
/// first record is step 0 with the untrained model's loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: usize,
    /// Cross-entropy (the router's auxiliary losses are in `moe`, so dense and MoE runs compare).
    pub loss: f64,
    pub lr: f64,
    /// Global gradient L2 norm before clipping.
    pub grad_norm: f64,
    /// Tokens processed in the whole run after this step.
    pub tokens_seen: u64,
    /// Wall time of the step: batch, forward, backward, optimizer and the read-back of the loss.
    pub seconds: f64,
    /// The router's statistics, for a mixture-of-experts model. Always serialized (`null` when
    /// dense): the page's worker messages are bincode, which cannot skip a field.
    pub moe: Option<MoeMetrics>,
    /// The gradient reduction's communication, in a data-parallel run (`train::parallel`).
    pub comm: Option<CommTiming>,
}

/// The communication of one data-parallel gradient reduction (`train::parallel`): what hid behind
/// the rank's other work and what the step waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CommTiming {
    /// Seconds communication was in flight while this rank packed later buckets: free.
    pub hidden_s: f64,
    /// Seconds this rank did nothing but wait for the reduction: added to the step.
    pub exposed_s: f64,
    /// Gradient bytes this rank sent into the reduction.
    pub bytes: u64,
    pub buckets: usize,
}

impl CommTiming {
    /// Adds another reduction's numbers (a run's totals).
    pub fn add(&mut self, other: &CommTiming) {
        self.hidden_s += other.hidden_s;
        self.exposed_s += other.exposed_s;
        self.bytes += other.bytes;
        self.buckets += other.buckets;
    }
}

/// Training FLOPs of one step: 3 × the forward matmul FLOPs (forward + backward ≈ 2× forward),
/// attention scores included, from `lmlab::accounting`.
pub fn flops_per_step(shape: &ModelShape, batch_size: usize) -> f64 {
    3.0 * shape.forward_flops(batch_size as u64, shape.context_length).matmul_flops
}

/// Speed of training: tokens/s, achieved FLOP/s and model FLOPs utilization against a peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub tokens_per_s: f64,
    pub flops_per_s: f64,
    /// None when the device's peak is unknown.
    pub mfu: Option<f64>,
}

/// Throughput of `steps` steps of `batch_size` sequences that took `seconds`, against `peak` FLOP/s.
pub fn throughput(shape: &ModelShape, batch_size: usize, steps: usize, seconds: f64, peak: Option<f64>) -> Throughput {
    let tokens = (batch_size as u64 * shape.context_length * steps as u64) as f64;
    let flops_per_s = flops_per_step(shape, batch_size) * steps as f64 / seconds;
    Throughput { tokens_per_s: tokens / seconds, flops_per_s, mfu: peak.map(|p| flops_per_s / p) }
}

/// The live speed of a run: the median time of the last [`StepMeter::WINDOW`] steps, leaving out
/// the first step of a session (kernel compilation and autotuning make it many times slower). A
/// median, not a mean: a checkpoint save or a validation between steps, or a browser tab in the
/// background, makes single steps slow without the run being slower.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMeter {
    shape: ModelShape,
    batch_size: usize,
    peak: Option<f64>,
    recorded: usize,
    recent: VecDeque<f64>,
}

impl StepMeter {
    /// Steps the median is taken over.
    pub const WINDOW: usize = 10;

    pub fn new(shape: ModelShape, batch_size: usize, peak: Option<f64>) -> Self {
        Self { shape, batch_size, peak, recorded: 0, recent: VecDeque::with_capacity(Self::WINDOW) }
    }

    /// A meter fed with the step times of a run so far, in order.
    pub fn of(shape: ModelShape, batch_size: usize, peak: Option<f64>, seconds: impl IntoIterator<Item = f64>) -> Self {
        let mut m = Self::new(shape, batch_size, peak);
        seconds.into_iter().for_each(|s| m.record(s));
        m
    }

    /// Records one step's wall time.
    pub fn record(&mut self, seconds: f64) {
        self.recorded += 1;
        if self.recorded == 1 || seconds.is_nan() || seconds <= 0.0 {
            return;
        }
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
    }

    /// The median step time of the window; `None` before the second step.
    pub fn step_seconds(&self) -> Option<f64> {
        let mut t: Vec<f64> = self.recent.iter().copied().collect();
        if t.is_empty() {
            return None;
        }
        t.sort_by(f64::total_cmp);
        let n = t.len();
        Some(if n % 2 == 1 { t[n / 2] } else { 0.5 * (t[n / 2 - 1] + t[n / 2]) })
    }

    /// Tokens/s, FLOP/s and MFU at the median step time.
    pub fn throughput(&self) -> Option<Throughput> {
        self.step_seconds().map(|s| throughput(&self.shape, self.batch_size, 1, s, self.peak))
    }
}

/// The validation loss has risen past its best: `(best step, best loss, latest loss)` when the
/// newest validation is above the lowest so far by more than 1 % (noise of a few batches stays
/// below that) and at least two validations came after the best. On a small paste this is the
/// model memorizing its training text (overfitting); the page says so while the run goes.
pub fn rising_validation(evals: &[(usize, f64)]) -> Option<(usize, f64, f64)> {
    let (at, &(best_step, best)) =
        evals.iter().enumerate().filter(|(_, e)| e.1.is_finite()).min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))?;
    let &(_, last) = evals.last()?;
    (evals.len() - at > 2 && last > best * 1.01).then_some((best_step, best, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::training_preset;

    #[test]
    fn flops_per_step_is_three_forwards() {
        let nano = training_preset("nano").unwrap().shape;
        assert_eq!(flops_per_step(&nano, 8), 3.0 * nano.forward_flops(8, 64).matmul_flops);
    }

    /// tokens/s = batch · context / median step time (the first step left out); MFU = FLOPs per
    /// step / step time / peak.
    #[test]
    fn the_meter_takes_the_median_after_the_first_step() {
        let nano = training_preset("nano").unwrap().shape;
        let mut m = StepMeter::new(nano, 8, Some(1e12));
        m.record(30.0);
        assert_eq!(m.step_seconds(), None, "the compiling step alone says nothing");
        for s in [0.2, 0.1, 0.4, 0.3] {
            m.record(s);
        }
        assert!((m.step_seconds().unwrap() - 0.25).abs() < 1e-15);
        let t = m.throughput().unwrap();
        assert!((t.tokens_per_s - 8.0 * 64.0 / 0.25).abs() < 1e-9);
        assert!((t.mfu.unwrap() - flops_per_step(&nano, 8) / 0.25 / 1e12).abs() < 1e-15);
        // Only the last WINDOW steps count.
        for _ in 0..StepMeter::WINDOW {
            m.record(1.0);
        }
        assert_eq!(m.step_seconds(), Some(1.0));
        let again = StepMeter::of(nano, 8, Some(1e12), [30.0, 0.2, 0.1, 0.4, 0.3]);
        assert_eq!(again.step_seconds(), Some(0.25));
    }

    #[test]
    fn a_validation_loss_that_rises_past_its_best_is_flagged() {
        let falling = [(0, 6.2), (10, 4.0), (20, 3.5), (30, 3.4)];
        assert_eq!(rising_validation(&falling), None);
        // Within 1 % of the best: noise.
        assert_eq!(rising_validation(&[(0, 6.2), (10, 3.40), (20, 3.42), (30, 3.43)]), None);
        // One validation above the best is not yet a trend.
        assert_eq!(rising_validation(&[(0, 6.2), (10, 3.4), (20, 3.6)]), None);
        assert_eq!(rising_validation(&[(0, 6.2), (10, 3.4), (20, 3.6), (30, 3.8)]), Some((10, 3.4, 3.8)));
        assert_eq!(rising_validation(&[]), None);
    }
}
