//! The training loop both front ends drive: steps, validation at a fixed cadence (and before the
//! first step, where the loss should be ≈ ln V), checkpoints at a fixed cadence and at the end,
//! and a stop requested by the user (Ctrl-C, the page's Stop button) that still saves.
//!
//! The CLI and the browser differ only in their [`RunHooks`]: how they show a step, how they store
//! a checkpoint, when they ask to stop.
//!
//! In a data-parallel run (`super::parallel`) every rank runs this loop in lockstep: the losses
//! the hooks see are averaged over the ranks, a stop asked on any rank stops all of them at the
//! same step, the replicas are checked for drift at every checkpoint and every
//! `parallel::CHECK_EVERY` steps, and only rank 0 saves checkpoints.

use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::{save, Checkpoint};
use super::data::TokenSlice;
use super::parallel::CHECK_EVERY;
use super::trainer::{PendingStep, Trainer};
use super::TrainError;
use crate::telemetry::StepMetrics;
use crate::tokenize::Bpe;
use web_time::Instant;

/// What a front end does with a run's events.
pub trait RunHooks {
    /// After every step. Return false to stop: the run then saves a checkpoint and ends.
    fn on_step(&mut self, metrics: &StepMetrics) -> bool;
    /// After every validation, with the number of updates made so far.
    fn on_eval(&mut self, step: usize, val_loss: f64);
    /// Stores a checkpoint (the newest replaces the older).
    fn on_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<(), TrainError>;
    /// Before every step, with the model as it stands. The browser's worker awaits here: it yields
    /// to its event loop (so Pause/Stop messages arrive even on the CPU backend, whose reads never
    /// wait), holds while paused, and samples every N steps. Return false to stop (a checkpoint
    /// is saved). The CLI needs none of that.
    #[allow(async_fn_in_trait)]
    async fn between_steps<B: AutodiffBackend>(&mut self, trainer: &Trainer<B>) -> bool {
        let _ = trainer;
        true
    }
    /// Whether the loop may queue step n+1 before reading step n's loss (a GPU then runs one
    /// step while the host builds the next, instead of idling at every read). The steps are the
    /// same; `on_step` just hears of each one step later, except at a validation, a checkpoint or
    /// the end, which always see their own step's numbers. The browser keeps one step at a time:
    /// it samples and pauses between steps.
    fn read_ahead(&self) -> bool {
        false
    }
    /// Whether to save a checkpoint after the step about to run, besides the fixed cadence. The
    /// browser autosaves by wall time (a reload, a crash or a killed worker then loses seconds, not
    /// the run); the CLI saves on its cadence and on Ctrl-C.
    fn checkpoint_due(&mut self) -> bool {
        false
    }
}

/// The data and bookkeeping of a run.
pub struct RunSpec<'a> {
    pub train: TokenSlice<'a>,
    pub val: TokenSlice<'a>,
    pub tokenizer: &'a Bpe,
    /// Where the tokenizer came from (recorded in the checkpoint).
    pub tokenizer_source: &'a str,
    /// The training data's name (recorded in the checkpoint).
    pub data_name: &'a str,
    /// Save every this many steps (0: only at the end or on a stop).
    pub checkpoint_every: usize,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunEnd {
    /// All steps done; the final validation loss.
    Finished { step: usize, val_loss: f64 },
    /// Stopped by the user after `step` updates (a checkpoint was saved).
    Stopped { step: usize },
}

/// Trains until `trainer.config.steps` or a stop. A non-finite loss returns the error without
/// saving, so the last checkpoint stored is the last good one.
pub async fn run<B: AutodiffBackend>(
    trainer: &mut Trainer<B>,
    spec: &RunSpec<'_>,
    hooks: &mut impl RunHooks,
) -> Result<RunEnd, TrainError> {
    let eval_every = trainer.config.eval_every;
    let mut val_loss = None;
    if trainer.step() == 0 {
        let v = trainer.evaluate(&spec.val).await?;
        hooks.on_eval(0, v);
        val_loss = Some(v);
    }
    let mut last_loss = None;
    // A data-parallel step already waits for its gradients' reduction; reading ahead would also
    // make the ranks' loss averages interleave with the next step's reduction.
    let read_ahead = hooks.read_ahead() && trainer.shard().ranks == 1;
    // A step queued but not read yet (read-ahead), and when the last step was read: with
    // read-ahead a step's time is the interval between reads (queue-to-read would span two steps).
    let mut pending: Option<PendingStep<B>> = None;
    let mut last_read = Instant::now();
    while !trainer.is_done() {
        if !hooks.between_steps(trainer).await {
            if let Some(p) = pending.take() {
                let m = read(trainer, p, read_ahead.then_some(last_read)).await?;
                last_loss = Some(m.loss);
                hooks.on_step(&m);
            }
            save_if_lead(trainer, spec, hooks, last_loss, val_loss).await?;
            return Ok(RunEnd::Stopped { step: trainer.step() });
        }
        let queued = trainer.queue_step(&spec.train);
        let step = trainer.step();
        let checkpoint_due = (spec.checkpoint_every > 0 && step % spec.checkpoint_every == 0) | hooks.checkpoint_due();
        let boundary = step % eval_every == 0 || trainer.is_done() || checkpoint_due;
        let mut keep_going = true;
        if let Some(p) = pending.take() {
            let m = read(trainer, p, read_ahead.then_some(last_read)).await?;
            last_read = Instant::now();
            last_loss = Some(m.loss);
            keep_going = hooks.on_step(&m);
        }
        if read_ahead && !boundary && keep_going {
            pending = Some(queued);
            continue;
        }
        let metrics = read(trainer, queued, read_ahead.then_some(last_read)).await?;
        last_read = Instant::now();
        last_loss = Some(metrics.loss);
        let keep_going = trainer.all_continue(hooks.on_step(&metrics) && keep_going);
        if step % eval_every == 0 || trainer.is_done() {
            let v = trainer.evaluate(&spec.val).await?;
            hooks.on_eval(step, v);
            val_loss = Some(v);
        }
        let saves = checkpoint_due || trainer.is_done() || !keep_going;
        if saves || step % CHECK_EVERY == 0 {
            trainer.check_replicas()?;
        }
        if saves {
            save_if_lead(trainer, spec, hooks, last_loss, val_loss).await?;
        }
        if !keep_going {
            return Ok(RunEnd::Stopped { step });
        }
    }
    Ok(RunEnd::Finished { step: trainer.step(), val_loss: val_loss.unwrap_or(f64::NAN) })
}

/// A queued step's numbers, its loss averaged over the ranks; `since` (read-ahead) makes its time
/// the interval since the last read.
async fn read<B: AutodiffBackend>(
    trainer: &mut Trainer<B>,
    step: PendingStep<B>,
    since: Option<Instant>,
) -> Result<StepMetrics, TrainError> {
    let mut m = step.read().await?;
    if let Some(t) = since {
        m.seconds = t.elapsed().as_secs_f64();
    }
    m.loss = trainer.mean_across_ranks(m.loss);
    Ok(m)
}

/// Saves a checkpoint through the hooks, on the only process or rank 0 (the ranks' weights are
/// identical, checked before every save).
async fn save_if_lead<B: AutodiffBackend>(
    trainer: &Trainer<B>,
    spec: &RunSpec<'_>,
    hooks: &mut impl RunHooks,
    loss: Option<f64>,
    val_loss: Option<f64>,
) -> Result<(), TrainError> {
    if trainer.is_lead() {
        let ckpt = save(trainer, spec.tokenizer, spec.tokenizer_source, loss, val_loss, spec.data_name).await?;
        hooks.on_checkpoint(ckpt)?;
    }
    Ok(())
}
