//! The worker's side of the Scaling lab: one sweep run at a time, trained by
//! `lmlab::train::sweep::train_planned` (what `lmlab scaling sweep` runs), with hooks that report
//! progress and listen for Stop between steps. The tokenizer and tokens are kept between runs: a
//! sweep's runs share them, and training the BPE again for each would cost more than a small run.

use burn::backend::wgpu::Wgpu;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::AutodiffBackend;
use lmlab::scaling::records::Identity;
use lmlab::telemetry::StepMetrics;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::plan::{Backend, TokenizerChoice};
use lmlab::train::prepare::{DataInput, DeviceLabel, RunData, TokenizerSource};
use lmlab::train::protocol::{FromWorker, SweepRunRequest, ToWorker};
use lmlab::train::run::RunHooks;
use lmlab::train::sweep::{train_planned, SweepOutcome};
use lmlab::train::TrainError;

use super::{cpu_label, webgpu_label, Engine};

/// The data of the newest sweep: (corpus fingerprint, vocabulary) → tokens.
pub struct SweepData {
    key: (String, usize),
    corpus: Identity,
    data: RunData,
}

/// Trains one sweep run; returns a message that arrived meanwhile and needs the main loop.
pub async fn sweep_run(request: SweepRunRequest, engine: &mut Engine) -> Option<ToWorker> {
    let SweepRunRequest { settings, run, corpus, backend } = request;
    let identity = Identity::of_corpus(&corpus.name, corpus.text.as_bytes());
    let key = (identity.fingerprint.clone(), settings.vocab_size);
    if engine.sweep_data.as_ref().map(|d| &d.key) != Some(&key) {
        engine.out.send(FromWorker::Status {
            message: "training the sweep's tokenizer on the corpus…".into(),
            fraction: None,
        });
        let tokenizer = TokenizerSource::Train(TokenizerChoice::Bpe { vocab_size: settings.vocab_size });
        match RunData::load(DataInput::Text(corpus), None, tokenizer, &mut |_| {}) {
            Ok(data) => engine.sweep_data = Some(SweepData { key, corpus: identity, data }),
            Err(e) => {
                engine.fail("preparing the sweep", e);
                return None;
            }
        }
    }
    let out = engine.out.clone();
    let id = run.id.clone();
    let result = match backend {
        Backend::WebGpu => match engine.webgpu().await {
            Ok((device, adapter)) => {
                let label = webgpu_label(&adapter);
                train::<Autodiff<Wgpu>>(engine, &settings, &run, device, label).await
            }
            Err(e) => {
                engine.fail("opening WebGPU", e);
                return None;
            }
        },
        _ => train::<Autodiff<Flex>>(engine, &settings, &run, Default::default(), cpu_label()).await,
    };
    match result {
        Ok((SweepOutcome::Done(record), pending)) => {
            out.send(FromWorker::SweepDone(Box::new(record)));
            pending
        }
        Ok((SweepOutcome::Stopped { .. }, pending)) => {
            out.send(FromWorker::SweepStopped { id });
            pending
        }
        Err(e) => {
            engine.fail("training a sweep run", e);
            None
        }
    }
}

async fn train<B: AutodiffBackend>(
    engine: &mut Engine,
    settings: &lmlab::scaling::SweepSettings,
    run: &lmlab::scaling::sweep::PlannedRun,
    device: B::Device,
    on: DeviceLabel,
) -> Result<(SweepOutcome, Option<ToWorker>), TrainError> {
    let SweepData { data, corpus, .. } = engine.sweep_data.take().expect("loaded above");
    let mut hooks =
        SweepHooks { engine, id: run.id.clone(), every: (run.steps / 100).max(1), stop: false, pending: None };
    let outcome = train_planned::<B>(run, settings, &data, &corpus, None, &device, &on, &mut hooks).await;
    let pending = hooks.pending.take();
    let key = (corpus.fingerprint.clone(), settings.vocab_size);
    engine.sweep_data = Some(SweepData { key, corpus, data });
    outcome.map(|o| (o, pending))
}

/// A sweep run's hooks: progress about a hundred times per run, Stop (or any new request) heard
/// between steps. No checkpoints go to the page: a sweep run is short, and one cut off restarts.
struct SweepHooks<'a> {
    engine: &'a mut Engine,
    id: String,
    every: usize,
    stop: bool,
    pending: Option<ToWorker>,
}

impl RunHooks for SweepHooks<'_> {
    fn on_step(&mut self, m: &StepMetrics) -> bool {
        if (m.step + 1) % self.every == 0 {
            self.engine.out.send(FromWorker::SweepProgress { id: self.id.clone(), step: m.step + 1, loss: m.loss });
        }
        !self.stop
    }

    fn on_eval(&mut self, _step: usize, _val_loss: f64) {}

    fn on_checkpoint(&mut self, _checkpoint: Checkpoint) -> Result<(), TrainError> {
        Ok(())
    }

    async fn between_steps<B: AutodiffBackend>(&mut self, _trainer: &lmlab::train::trainer::Trainer<B>) -> bool {
        gloo::timers::future::TimeoutFuture::new(0).await;
        while let Ok(msg) = self.engine.inbox.try_recv() {
            match msg {
                ToWorker::Stop => self.stop = true,
                m if super::ends_session(&m) => {
                    self.pending = Some(m);
                    self.stop = true;
                }
                _ => {}
            }
        }
        !self.stop
    }
}
