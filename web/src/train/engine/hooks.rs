//! The browser's side of `lmlab::train::run`: each event goes to the page as a message, the page's
//! messages are answered between steps (pause, resume, stop, new sample settings), and samples are
//! drawn every N steps with `lmlab::sample::complete` — the CLI's sampler.

use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend as BurnBackend};
use futures::StreamExt;
use lmlab::model::moe::sequence_routes;
use lmlab::model::TransformerLm;
use lmlab::sample::{complete, next_token_probabilities, SamplingConfig};
use lmlab::telemetry::StepMetrics;
use lmlab::tokenize::{display_token, Bpe, Tokenizer};
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::protocol::{FromWorker, LiveSettings, ToWorker, AUTOSAVE_SECONDS};
use lmlab::train::run::RunHooks;
use lmlab::train::trainer::Trainer;
use lmlab::train::TrainError;

use super::Engine;

/// A run's hooks in the worker.
pub struct Hooks<'a> {
    pub engine: &'a mut Engine,
    tokenizer: &'a Bpe,
    pub live: LiveSettings,
    paused: bool,
    pub stop: bool,
    /// A new session asked for mid-run: the run stops (saving) and the session hands this back.
    pub pending: Option<ToWorker>,
    sample_now: bool,
    /// Updates made so far (the step a checkpoint holds).
    step: usize,
    /// When the last checkpoint went to the page (autosave by wall time).
    last_saved: web_time::Instant,
}


impl<'a> Hooks<'a> {
    pub fn new(engine: &'a mut Engine, live: LiveSettings, tokenizer: &'a Bpe) -> Self {
        let last_saved = web_time::Instant::now();
        Self { engine, tokenizer, live, paused: false, stop: false, pending: None, sample_now: false, step: 0, last_saved }
    }

    fn handle(&mut self, msg: ToWorker) {
        match msg {
            ToWorker::Pause => {
                if !self.paused {
                    self.paused = true;
                    self.engine.out.send(FromWorker::Paused { step: self.step });
                }
            }
            ToWorker::Continue => {
                if self.paused {
                    self.paused = false;
                    self.engine.out.send(FromWorker::Continued);
                }
            }
            ToWorker::Stop => {
                self.stop = true;
                self.paused = false;
            }
            ToWorker::Live(l) => self.live = l,
            ToWorker::SampleNow => self.sample_now = true,
            ToWorker::Hello => {}
            other => {
                self.pending = Some(other);
                self.stop = true;
                self.paused = false;
            }
        }
    }

    /// A sample from the training model (its inference copy).
    pub async fn sample<B: AutodiffBackend>(&mut self, model: &TransformerLm<B>, context_length: usize) {
        let valid = model.valid();
        self.sample_model(&valid, context_length, self.step).await;
    }

    /// A sample from the live prompt and temperature, the next-token probabilities, and (for a
    /// mixture of experts) where each token of prompt + sample went.
    pub async fn sample_model<B: BurnBackend>(&mut self, model: &TransformerLm<B>, context_length: usize, step: usize) {
        let prompt_text = self.live.prompt.clone();
        let config = SamplingConfig::new()
            .with_max_tokens(self.live.sample_tokens.max(1))
            .with_temperature(self.live.temperature)
            .with_seed(step as u64);
        let tokenizer = self.tokenizer;
        let result = async {
            let done = complete(model, context_length, tokenizer, &prompt_text, &config, |_| true).await?;
            let next = next_token_probabilities(model, context_length, &done.prompt, 5)
                .await?
                .into_iter()
                .map(|(id, p)| (display_token(tokenizer, id), p))
                .collect();
            // Where the router sends each token of prompt + sample, from the prompt's start (at
            // most one context: the positions the model was trained on).
            let special = tokenizer.token_id(lmlab::tokenize::END_OF_TEXT.as_bytes());
            let mut routed: Vec<u32> = done.prompt.iter().copied().filter(|&i| Some(i) != special).collect();
            routed.extend(done.text_ids(tokenizer));
            routed.truncate(context_length);
            let routes = sequence_routes(model, &routed).await.map_err(TrainError::Device)?;
            let route_tokens = if routes.is_empty() {
                Vec::new()
            } else {
                routed.iter().map(|&id| display_token(tokenizer, id)).collect()
            };
            Ok::<_, TrainError>((done.text, next, route_tokens, routes))
        }
        .await;
        match result {
            Ok((text, next, route_tokens, routes)) => {
                self.engine.out.send(FromWorker::Sample { step, prompt: prompt_text, text, next, route_tokens, routes })
            }
            Err(e) => self.engine.fail("sampling", e),
        }
    }
}

impl RunHooks for Hooks<'_> {
    fn on_step(&mut self, m: &StepMetrics) -> bool {
        self.step = m.step + 1;
        self.engine.out.send(FromWorker::Step(m.clone()));
        !self.stop
    }

    fn on_eval(&mut self, step: usize, val_loss: f64) {
        self.engine.out.send(FromWorker::Eval { step, val_loss });
    }

    fn on_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<(), TrainError> {
        self.last_saved = web_time::Instant::now();
        self.engine.out.send(FromWorker::Checkpoint { step: self.step, files: checkpoint.into_files() });
        Ok(())
    }

    fn checkpoint_due(&mut self) -> bool {
        self.last_saved.elapsed().as_secs_f64() >= AUTOSAVE_SECONDS
    }

    async fn between_steps<B: AutodiffBackend>(&mut self, trainer: &Trainer<B>) -> bool {
        self.step = trainer.step();
        // Let the worker's event loop run: the page's messages arrive here.
        gloo::timers::future::TimeoutFuture::new(0).await;
        while let Ok(msg) = self.engine.inbox.try_recv() {
            self.handle(msg);
        }
        while self.paused && !self.stop {
            match self.engine.inbox.next().await {
                Some(msg) => self.handle(msg),
                None => self.stop = true,
            }
        }
        let every = self.live.sample_every;
        let due = every > 0 && self.step > 0 && self.step % every == 0;
        if (due || self.sample_now) && !self.stop {
            self.sample_now = false;
            self.sample(trainer.model(), trainer.model_config.context_length).await;
        }
        !self.stop
    }
}
