//! The training loop both front ends drive: steps, validation at a fixed cadence (and before the
//! first step, where the loss should be ≈ ln V), checkpoints at a fixed cadence and at the end,
//! and a stop requested by the user (Ctrl-C, the page's Stop button) that still saves.
//!
//! The CLI and the browser differ only in their [`RunHooks`]: how they show a step, how they store
//! a checkpoint, when they ask to stop.

use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::{save, Checkpoint};
use super::data::TokenSlice;
use super::trainer::Trainer;
use super::TrainError;
use crate::telemetry::StepMetrics;
use crate::tokenize::Bpe;

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
    while !trainer.is_done() {
        if !hooks.between_steps(trainer).await {
            let ckpt =
                save(trainer, spec.tokenizer, spec.tokenizer_source, last_loss, val_loss, spec.data_name).await?;
            hooks.on_checkpoint(ckpt)?;
            return Ok(RunEnd::Stopped { step: trainer.step() });
        }
        let metrics = trainer.train_step(&spec.train).await?;
        last_loss = Some(metrics.loss);
        let keep_going = hooks.on_step(&metrics);
        let step = trainer.step();
        if step % eval_every == 0 || trainer.is_done() {
            let v = trainer.evaluate(&spec.val).await?;
            hooks.on_eval(step, v);
            val_loss = Some(v);
        }
        let due = spec.checkpoint_every > 0 && step % spec.checkpoint_every == 0;
        if due || trainer.is_done() || !keep_going {
            let ckpt =
                save(trainer, spec.tokenizer, spec.tokenizer_source, last_loss, val_loss, spec.data_name).await?;
            hooks.on_checkpoint(ckpt)?;
        }
        if !keep_going {
            return Ok(RunEnd::Stopped { step });
        }
    }
    Ok(RunEnd::Finished { step: trainer.step(), val_loss: val_loss.unwrap_or(f64::NAN) })
}
