//! The worker bundle's engine (feature `trainer`): sets up burn on WebGPU (or the CPU) and runs
//! `lmlab::train::run` — the loop and model the CLI trains with — answering the page's messages
//! between steps.
//!
//! One session at a time, generic over the backend: [`session`] prepares a run (tokenizer,
//! tokens, trainer) or loads a checkpoint, trains, then stays to answer sample requests until the
//! page asks for something new. A panic (a lost device, out of memory) is reported through the
//! panic hook before the worker dies; the page then offers the last checkpoint it stored.

use std::cell::RefCell;

use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend as BurnBackend};
use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use lmlab::model::moe::sequence_routes;
use lmlab::model::TransformerLm;
use lmlab::sample::{generate, next_token_probabilities, SamplingConfig};
use lmlab::tokenize::train::TrainEvent;
use lmlab::tokenize::{Bpe, Tokenizer};
use lmlab::train::bench::bench_train;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::protocol::{
    check_limits, Adapter, Backend, BenchRequest, FromWorker, LiveSettings, RunInfo, ToWorker,
};
use lmlab::train::run::{run, RunEnd, RunHooks, RunSpec};
use lmlab::train::session::{
    checkpoint_of, files_of, model_config, run_info, train_config, train_tokenizer, Tokens, SPECIAL,
};
use lmlab::train::trainer::{StepMetrics, Trainer};
use lmlab::train::TrainError;
use web_time::Instant;

use super::worker::Outbox;

thread_local! {
    /// The panic hook's way to the page.
    static OUTBOX: RefCell<Option<Outbox>> = const { RefCell::new(None) };
}

/// The engine the worker bundle installs (see `worker::set_engine`).
pub fn start(inbox: UnboundedReceiver<ToWorker>, outbox: Outbox) {
    OUTBOX.with(|o| *o.borrow_mut() = Some(outbox.clone()));
    std::panic::set_hook(Box::new(|info| {
        let mut message = info.to_string();
        if let Some(lost) = lmlab::train::webgpu::LOST.lock().ok().and_then(|l| l.clone()) {
            message = format!("the GPU device was lost ({lost}); {message}");
        } else if message.to_ascii_lowercase().contains("out of memory") || message.contains("OutOfMemory") {
            message = format!("the GPU ran out of memory: choose a smaller preset or batch ({message})");
        }
        OUTBOX.with(|o| {
            if let Some(o) = o.borrow().as_ref() {
                o.send(FromWorker::Failed { during: "training".into(), message, fatal: true });
            }
        });
    }));
    wasm_bindgen_futures::spawn_local(main_loop(Engine { inbox, out: outbox, gpu: None }));
}

struct Engine {
    inbox: UnboundedReceiver<ToWorker>,
    out: Outbox,
    /// The WebGPU device once opened (burn keeps one client per device).
    gpu: Option<Result<(WgpuDevice, Adapter), String>>,
}

impl Engine {
    fn fail(&self, during: &str, message: impl ToString) {
        self.out.send(FromWorker::Failed { during: during.into(), message: message.to_string(), fatal: false });
    }

    /// Opens WebGPU once: the adapter, a device with its full limits, handed to burn.
    async fn webgpu(&mut self) -> Result<(WgpuDevice, Adapter), String> {
        if let Some(r) = &self.gpu {
            return r.clone();
        }
        let r = lmlab::train::webgpu::open().await;
        self.gpu = Some(r.clone());
        r
    }
}

async fn main_loop(mut engine: Engine) {
    let mut next: Option<ToWorker> = None;
    loop {
        let msg = match next.take() {
            Some(m) => m,
            None => match engine.inbox.next().await {
                Some(m) => m,
                None => return,
            },
        };
        next = match msg {
            ToWorker::Hello => {
                let webgpu = engine.webgpu().await.map(|(_, a)| a);
                engine.out.send(FromWorker::Ready { webgpu });
                None
            }
            ToWorker::Start(_) | ToWorker::Resume { .. } | ToWorker::Load { .. } => match backend_of(&msg) {
                Backend::WebGpu => match engine.webgpu().await {
                    Ok((device, adapter)) => {
                        session::<Autodiff<Wgpu>>(
                            device,
                            Backend::WebGpu,
                            adapter.name.clone(),
                            Some(adapter),
                            msg,
                            &mut engine,
                        )
                        .await
                    }
                    Err(e) => {
                        engine.fail("opening WebGPU", e);
                        None
                    }
                },
                Backend::Cpu => {
                    session::<Autodiff<Flex>>(
                        Default::default(),
                        Backend::Cpu,
                        "CPU (wasm, one thread)".into(),
                        None,
                        msg,
                        &mut engine,
                    )
                    .await
                }
            },
            ToWorker::Bench(request) => {
                bench(request, &mut engine).await;
                None
            }
            // Nothing is loaded: there is nothing to pause, stop or sample.
            _ => None,
        };
    }
}

/// The page's benchmark: `lmlab bench train`'s measurement on this backend.
async fn bench(request: BenchRequest, engine: &mut Engine) {
    let model = lmlab::model::TransformerConfig::from_shape(&request.shape);
    engine.out.send(FromWorker::Status {
        message: format!(
            "benchmark: {} warm-up and {} timed steps of {}…",
            request.warmup, request.steps, request.preset
        ),
        fraction: None,
    });
    let (result, device) = match request.backend {
        Backend::WebGpu => match engine.webgpu().await {
            Ok((device, adapter)) => (
                bench_train::<Autodiff<Wgpu>>(
                    &model,
                    request.batch,
                    request.warmup,
                    request.steps,
                    request.peak,
                    &device,
                )
                .await,
                adapter.name,
            ),
            Err(e) => return engine.fail("opening WebGPU", e),
        },
        Backend::Cpu => (
            bench_train::<Autodiff<Flex>>(
                &model,
                request.batch,
                request.warmup,
                request.steps,
                request.peak,
                &Default::default(),
            )
            .await,
            "CPU (wasm, one thread)".to_string(),
        ),
    };
    match result {
        Ok(report) => engine.out.send(FromWorker::Bench { request, device, report }),
        Err(e) => engine.fail("benchmarking", e),
    }
}

/// Messages a session hands back to the main loop: they need a new session (or none).
fn ends_session(msg: &ToWorker) -> bool {
    matches!(
        msg,
        ToWorker::Start(_) | ToWorker::Resume { .. } | ToWorker::Load { .. } | ToWorker::Bench(_) | ToWorker::Hello
    )
}

fn backend_of(msg: &ToWorker) -> Backend {
    match msg {
        ToWorker::Start(r) => r.backend,
        ToWorker::Resume { backend, .. } | ToWorker::Load { backend, .. } => *backend,
        _ => Backend::Cpu,
    }
}

/// What a session holds: a run (trainer and its tokens), or a model loaded only to sample from.
#[allow(clippy::large_enum_variant)] // one value per session
enum Loaded<B: AutodiffBackend> {
    Run {
        trainer: Trainer<B>,
        tokens: Tokens,
    },
    Model {
        model: TransformerLm<B::InnerBackend>,
        tokenizer: Bpe,
        shape: lmlab::accounting::ModelShape,
        step: usize,
        data: String,
        source: String,
    },
}

/// Runs one session on backend `B`; returns the message that ended it (a new Start, Resume or
/// Load), if any.
async fn session<B: AutodiffBackend>(
    device: B::Device,
    backend: Backend,
    device_name: String,
    adapter: Option<Adapter>,
    msg: ToWorker,
    engine: &mut Engine,
) -> Option<ToWorker> {
    let out = engine.out.clone();
    let status = |message: &str, fraction: Option<f64>| {
        out.send(FromWorker::Status { message: message.to_string(), fraction });
    };
    let mut live = LiveSettings::default();
    let prepared: Result<Loaded<B>, TrainError> = async {
        match msg {
            ToWorker::Start(request) => {
                live = request.live.clone();
                status("training the tokenizer on the corpus…", Some(0.0));
                let mut last = 0.0;
                let mut progress = |e: TrainEvent| {
                    if let TrainEvent::Merge { done, total } = e {
                        let f = done as f64 / total.max(1) as f64;
                        if f - last >= 0.05 {
                            last = f;
                            status("training the tokenizer on the corpus…", Some(f));
                        }
                    }
                };
                let (bpe, source) = train_tokenizer(&request.corpus, request.tokenizer, &mut progress)?;
                status("tokenizing the corpus…", None);
                let tokens = Tokens::new(&request.corpus, bpe, source)?;
                let model = model_config(&request, &tokens.tokenizer);
                let config = train_config(&request.settings)?;
                if let Some(a) = &adapter {
                    check_limits(&model.shape(), config.batch_size, a).map_err(TrainError::Config)?;
                }
                tokens.split(config.val_fraction, model.context_length)?;
                status("initializing the model and compiling its GPU kernels…", None);
                let trainer = Trainer::new(model, config, &device)?;
                Ok(Loaded::Run { trainer, tokens })
            }
            ToWorker::Resume { checkpoint, origin, corpus, live: l, .. } => {
                live = l;
                status("loading the checkpoint…", None);
                let ckpt = checkpoint_of(&origin, checkpoint);
                let source = ckpt.config()?.tokenizer.source;
                let (trainer, bpe, _) = ckpt.resume::<B>(&device)?;
                if let Some(a) = &adapter {
                    check_limits(&trainer.model_config.shape(), trainer.config.batch_size, a)
                        .map_err(TrainError::Config)?;
                }
                status("tokenizing the corpus…", None);
                let tokens = Tokens::new(&corpus, bpe, source)?;
                tokens.split(trainer.config.val_fraction, trainer.model_config.context_length)?;
                Ok(Loaded::Run { trainer, tokens })
            }
            ToWorker::Load { checkpoint, origin, .. } => {
                status("loading the checkpoint…", None);
                let ckpt = checkpoint_of(&origin, checkpoint);
                let (model, config, tokenizer) = ckpt.load_model::<B::InnerBackend>(&device)?;
                // Bare converted weights have no state.json: step 0.
                let step = ckpt.state().map_or(0, |s| s.step);
                let data = ckpt.state().map_or_else(|_| String::new(), |s| s.data);
                Ok(Loaded::Model {
                    model,
                    tokenizer,
                    shape: config.model.shape(),
                    step,
                    data,
                    source: config.tokenizer.source,
                })
            }
            _ => unreachable!("sessions start with Start, Resume or Load"),
        }
    }
    .await;
    let loaded = match prepared {
        Ok(l) => l,
        Err(e) => {
            engine.fail("setting up the run", e);
            return None;
        }
    };
    match loaded {
        Loaded::Run { mut trainer, tokens } => {
            let info = match run_info(&trainer, &tokens, backend, &device_name) {
                Ok(i) => i,
                Err(e) => {
                    engine.fail("setting up the run", e);
                    return None;
                }
            };
            let context_length = trainer.model_config.context_length;
            engine.out.send(FromWorker::Started(Box::new(info)));
            let mut hooks = Hooks::new(engine, live, &tokens.tokenizer);
            loop {
                let (train, val) = tokens.split(trainer.config.val_fraction, context_length).expect("checked above");
                let spec = RunSpec {
                    train,
                    val,
                    tokenizer: &tokens.tokenizer,
                    tokenizer_source: &tokens.tokenizer_source,
                    data_name: &tokens.data_name,
                    checkpoint_every: hooks.checkpoint_every(&trainer),
                };
                hooks.stop = false;
                match run(&mut trainer, &spec, &mut hooks).await {
                    Ok(RunEnd::Finished { step, val_loss }) => {
                        hooks.sample(trainer.model(), context_length).await;
                        hooks.engine.out.send(FromWorker::Finished { step, val_loss })
                    }
                    Ok(RunEnd::Stopped { step }) => hooks.engine.out.send(FromWorker::Stopped { step }),
                    Err(e) => hooks.engine.fail("training", e),
                }
                if let Some(next) = hooks.pending.take() {
                    return Some(next);
                }
                // Idle: answer samples; Continue resumes a stopped run.
                loop {
                    let msg = hooks.engine.inbox.next().await?;
                    match msg {
                        ToWorker::Live(l) => hooks.live = l,
                        ToWorker::SampleNow => hooks.sample(trainer.model(), context_length).await,
                        ToWorker::Continue if !trainer.is_done() => {
                            hooks.engine.out.send(FromWorker::Continued);
                            break;
                        }
                        m if ends_session(&m) => return Some(m),
                        _ => {}
                    }
                }
            }
        }
        Loaded::Model { model, tokenizer, shape, step, data, source } => {
            let context_length = shape.context_length as usize;
            engine.out.send(FromWorker::Loaded(Box::new(RunInfo {
                backend,
                device: device_name,
                shape,
                parameters: shape.params().total,
                flops_per_step: 0.0,
                batch_size: 0,
                steps: step,
                step,
                train_tokens: 0,
                val_tokens: 0,
                tokenizer: source,
                vocab_size: tokenizer.vocab_size(),
                data,
                unigram_entropy: f64::NAN,
            })));
            let mut hooks = Hooks::new(engine, live, &tokenizer);
            loop {
                let msg = hooks.engine.inbox.next().await?;
                match msg {
                    ToWorker::Live(l) => hooks.live = l,
                    ToWorker::SampleNow => hooks.sample_model(&model, context_length, step).await,
                    m if ends_session(&m) => return Some(m),
                    _ => {}
                }
            }
        }
    }
}

/// The browser's side of `run`: reports each event to the page and answers its messages between
/// steps.
struct Hooks<'a> {
    engine: &'a mut Engine,
    tokenizer: &'a Bpe,
    live: LiveSettings,
    paused: bool,
    stop: bool,
    /// A new session asked for mid-run: the run stops (saving) and the session hands this back.
    pending: Option<ToWorker>,
    sample_now: bool,
    /// Updates made so far (the step a checkpoint holds).
    step: usize,
    step_started: Instant,
}

impl<'a> Hooks<'a> {
    fn new(engine: &'a mut Engine, live: LiveSettings, tokenizer: &'a Bpe) -> Self {
        Self {
            engine,
            tokenizer,
            live,
            paused: false,
            stop: false,
            pending: None,
            sample_now: false,
            step: 0,
            step_started: Instant::now(),
        }
    }

    /// Saves to the browser every 50 steps on a GPU-sized run, never less than every 10%.
    fn checkpoint_every<B: AutodiffBackend>(&self, trainer: &Trainer<B>) -> usize {
        (trainer.config.steps / 10).clamp(1, 50)
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

    async fn sample<B: AutodiffBackend>(&mut self, model: &TransformerLm<B>, context_length: usize) {
        let valid = model.valid();
        self.sample_model(&valid, context_length, self.step).await;
    }

    /// A sample from the live prompt and temperature, and the next-token probabilities.
    async fn sample_model<B: BurnBackend>(&mut self, model: &TransformerLm<B>, context_length: usize, step: usize) {
        let prompt_text = self.live.prompt.clone();
        let special = self.tokenizer.special_tokens().into_iter().find(|(s, _)| s == SPECIAL).map(|(_, id)| id);
        let mut prompt = self.tokenizer.encode_text(&prompt_text);
        if prompt.is_empty() {
            // An empty prompt starts a new document.
            prompt = special.into_iter().collect();
        }
        if prompt.is_empty() {
            return;
        }
        let config = SamplingConfig::new()
            .with_max_tokens(self.live.sample_tokens.max(1))
            .with_temperature(self.live.temperature)
            .with_seed(step as u64);
        let result = async {
            let ids = generate(model, context_length, &prompt, &config, special, |_| true).await?;
            let kept: Vec<u32> = ids.into_iter().filter(|&i| Some(i) != special).collect();
            let text = self.tokenizer.decode(&kept)?;
            let next = next_token_probabilities(model, context_length, &prompt, 5)
                .await?
                .into_iter()
                .map(|(id, p)| (self.token_text(id), p))
                .collect();
            // Where the router sends each token of prompt + sample, from the prompt's start (at
            // most one context: the positions the model was trained on).
            let mut routed: Vec<u32> = prompt.iter().copied().filter(|&i| Some(i) != special).collect();
            routed.extend(&kept);
            routed.truncate(context_length);
            let routes = sequence_routes(model, &routed).await.map_err(TrainError::Device)?;
            let route_tokens =
                if routes.is_empty() { Vec::new() } else { routed.iter().map(|&id| self.token_text(id)).collect() };
            Ok::<_, TrainError>((text, next, route_tokens, routes))
        }
        .await;
        match result {
            Ok((text, next, route_tokens, routes)) => {
                self.engine.out.send(FromWorker::Sample { step, prompt: prompt_text, text, next, route_tokens, routes })
            }
            Err(e) => self.engine.fail("sampling", e),
        }
    }

    /// One token as text (a token that is not valid UTF-8 on its own shows as its bytes' lossy text).
    fn token_text(&self, id: u32) -> String {
        self.tokenizer.decode(&[id]).unwrap_or_else(|_| {
            String::from_utf8_lossy(&self.tokenizer.token_bytes(id).unwrap_or_default()).into_owned()
        })
    }
}

impl RunHooks for Hooks<'_> {
    fn on_step(&mut self, m: &StepMetrics) -> bool {
        self.step = m.step + 1;
        let seconds = self.step_started.elapsed().as_secs_f64();
        self.engine.out.send(FromWorker::Step(lmlab::train::protocol::StepReport {
            step: m.step,
            loss: m.loss,
            lr: m.lr,
            grad_norm: m.grad_norm,
            tokens_seen: m.tokens_seen,
            seconds,
            moe: m.moe.clone(),
        }));
        !self.stop
    }

    fn on_eval(&mut self, step: usize, val_loss: f64) {
        self.engine.out.send(FromWorker::Eval { step, val_loss });
    }

    fn on_checkpoint(&mut self, checkpoint: Checkpoint) -> Result<(), TrainError> {
        self.engine.out.send(FromWorker::Checkpoint { step: self.step, files: files_of(checkpoint) });
        Ok(())
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
        self.step_started = Instant::now();
        !self.stop
    }
}
