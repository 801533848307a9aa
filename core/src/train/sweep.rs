//! One run of a scaling sweep (`lmlab::scaling`), trained by the ordinary loop: the CLI's
//! `lmlab scaling sweep` and the page's Scaling lab both call [`train_planned`] with their own
//! hooks, so a sweep's run is exactly `lmlab train` with the run plan the sweep made.

use burn::tensor::backend::AutodiffBackend;
use web_time::Instant;

use super::checkpoint::Checkpoint;
use super::plan::DataChoice;
use super::prepare::{self, DeviceLabel, RunData};
use super::run::{run, RunEnd, RunHooks};
use super::TrainError;
use crate::scaling::records::{Identity, RunRecord};
use crate::scaling::sweep::{PlannedRun, SweepSettings};

/// How a sweep's run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepOutcome {
    /// Finished, or diverged (a NaN loss: recorded as such, and the sweep goes on).
    Done(RunRecord),
    /// Stopped by the user (a checkpoint was saved): the sweep resumes it later.
    Stopped { step: usize },
}

/// Trains planned run `run` of the sweep `settings` on `data` — from its checkpoint `resume` if
/// there is one — and returns its record (corpus identity `corpus`).
#[allow(clippy::too_many_arguments)]
pub async fn train_planned<B: AutodiffBackend>(
    run_: &PlannedRun,
    settings: &SweepSettings,
    data: &RunData,
    corpus: &Identity,
    resume: Option<&Checkpoint>,
    device: &B::Device,
    on: &DeviceLabel,
    hooks: &mut impl RunHooks,
) -> Result<SweepOutcome, TrainError> {
    let plan = run_.run_plan(settings, DataChoice::recorded(data.train.name()));
    let (mut trainer, info) = match resume {
        Some(ckpt) => prepare::resume::<B>(ckpt, data, Default::default(), device, on)?,
        None => prepare::start::<B>(&plan, data, device, on)?,
    };
    let spec = data.spec(&trainer, plan.training.checkpoint_every)?;
    let started = Instant::now();
    let val_loss = match run(&mut trainer, &spec, hooks).await {
        Ok(RunEnd::Finished { val_loss, .. }) => Ok(val_loss),
        Ok(RunEnd::Stopped { step }) => return Ok(SweepOutcome::Stopped { step }),
        Err(TrainError::NonFinite { step, value }) => Err(format!("the loss became {value} at step {step}")),
        Err(e) => return Err(e),
    };
    Ok(SweepOutcome::Done(RunRecord::new(
        run_,
        settings.batch_size,
        val_loss,
        corpus.clone(),
        Identity::of_tokenizer(&data.tokenizer, &data.tokenizer_source),
        info.train_tokens,
        info.device.clone(),
        started.elapsed().as_secs_f64(),
    )))
}
