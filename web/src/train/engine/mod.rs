//! The worker bundle's engine (feature `trainer`): message passing between the page and
//! `lmlab::train`. It opens burn on WebGPU (or the CPU), sets a run up with
//! `lmlab::train::prepare` — the CLI's setup — and drives `lmlab::train::run` with the browser's
//! hooks ([`hooks`]), then stays to answer sample requests until the page asks for something new.
//!
//! One session at a time, generic over the backend. A panic (a lost device, out of memory) is
//! reported through the panic hook before the worker dies; the page then offers the last
//! checkpoint it stored.

mod hooks;
mod sweep;

use std::cell::RefCell;

use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::AutodiffBackend;
use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use lmlab::model::TransformerLm;
use lmlab::tokenize::Bpe;
use lmlab::train::bench::bench_train;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::plan::{default_checkpoint_every, AttentionKernel, Backend, Precision};
use lmlab::train::prepare::{self, DataInput, DeviceLabel, Progress, RunData, TokenizerSource};
use lmlab::hardware::attention::AttentionBench;
use lmlab::train::protocol::{Adapter, BenchRequest, FromWorker, LiveSettings, RunInfo, ToWorker};
use lmlab::train::run::{run, RunEnd};
use lmlab::train::trainer::Trainer;
use lmlab::train::TrainError;

use super::worker::Outbox;
use hooks::Hooks;

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
    wasm_bindgen_futures::spawn_local(main_loop(Engine { inbox, out: outbox, gpu: None, sweep_data: None }));
}

pub struct Engine {
    inbox: UnboundedReceiver<ToWorker>,
    out: Outbox,
    /// The WebGPU device once opened (burn keeps one client per device).
    gpu: Option<Result<(WgpuDevice, Adapter), String>>,
    /// The Scaling lab's tokens, kept between the runs of a sweep.
    sweep_data: Option<sweep::SweepData>,
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

/// The CPU backend as a run's header names it.
fn cpu_label() -> DeviceLabel {
    DeviceLabel {
        backend: Backend::Cpu,
        name: "burn's flex backend, one thread".into(),
        reason: "chosen on the page".into(),
        limits: None,
    }
}

/// A WebGPU adapter as a run's header names it; its buffer limits are checked before a model is built.
fn webgpu_label(adapter: &Adapter) -> DeviceLabel {
    let reason =
        if adapter.emulated { "the browser's WebGPU adapter, a CPU emulation" } else { "the browser's WebGPU adapter" };
    DeviceLabel {
        backend: Backend::WebGpu,
        name: adapter.name.clone(),
        reason: reason.into(),
        limits: Some(adapter.clone()),
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
                // `trunk serve` builds the dev profile: the page says its speeds are not the real ones.
                engine.out.send(FromWorker::Ready { webgpu, optimized: !cfg!(debug_assertions) });
                None
            }
            ToWorker::Start { .. } | ToWorker::Resume { .. } | ToWorker::Load { .. } => {
                engine.out.set_run(msg.run().unwrap_or(0));
                match backend_of(&msg) {
                    Backend::WebGpu => match engine.webgpu().await {
                        Ok((device, adapter)) => {
                            session::<Autodiff<Wgpu>>(device, webgpu_label(&adapter), msg, &mut engine).await
                        }
                        Err(e) => {
                            engine.fail("opening WebGPU", e);
                            None
                        }
                    },
                    _ => session::<Autodiff<Flex>>(Default::default(), cpu_label(), msg, &mut engine).await,
                }
            }
            ToWorker::Bench(request) => {
                bench(request, &mut engine).await;
                None
            }
            ToWorker::BenchAttention(request) => {
                bench_attention(request, &mut engine).await;
                None
            }
            ToWorker::SweepRun(request) => sweep::sweep_run(*request, &mut engine).await,
            // Nothing is loaded: there is nothing to pause, stop or sample.
            _ => None,
        };
    }
}

/// The page's benchmark: `lmlab bench train`'s measurement on this backend.
async fn bench(request: BenchRequest, engine: &mut Engine) {
    let model = lmlab::model::TransformerConfig::from_shape(&request.shape);
    let message =
        format!("benchmark: {} warm-up and {} timed steps of {}…", request.warmup, request.steps, request.preset);
    engine.out.send(FromWorker::Status { message, fraction: None });
    let (b, w, s, peak) = (request.batch, request.warmup, request.steps, request.peak);
    let (result, device) = match request.backend {
        Backend::WebGpu => match engine.webgpu().await {
            Ok((device, adapter)) => {
                (bench_train::<Autodiff<Wgpu>>(&model, b, Precision::Fp32, AttentionKernel::Fused, w, s, peak, &device).await, adapter.name)
            }
            Err(e) => return engine.fail("opening WebGPU", e),
        },
        _ => (
            bench_train::<Autodiff<Flex>>(&model, b, Precision::Fp32, AttentionKernel::Fused, w, s, peak, &Default::default()).await,
            cpu_label().name,
        ),
    };
    match result {
        Ok(report) => engine.out.send(FromWorker::Bench { request, device, report }),
        Err(e) => engine.fail("benchmarking", e),
    }
}

/// The Hardware page's attention benchmark: `lmlab bench attention`'s measurement on WebGPU (the
/// fused kernels and the reference), or on the CPU backend (the reference alone) without WebGPU.
/// Each row goes to the page as it is measured.
async fn bench_attention(mut request: AttentionBench, engine: &mut Engine) {
    use lmlab::model::attention::bench::{measures_memory, run, Progress};
    let message = format!("attention benchmark: T = {:?}…", request.lengths);
    engine.out.send(FromWorker::Status { message, fraction: None });
    let out = engine.out.clone();
    let report = move |p: Progress<'_>| match p {
        Progress::Row(r) => out.send(FromWorker::AttentionRow(r.clone())),
        Progress::Skipped(s) => out.send(FromWorker::AttentionSkipped(s.clone())),
    };
    let (device, peak_measured) = match engine.webgpu().await {
        Ok((device, adapter)) => {
            // A reference row whose T × T scores exceed one buffer would fail to allocate.
            request.max_buffer = Some(adapter.max_storage_buffer_binding_size.min(adapter.max_buffer_size) as f64);
            run::<Autodiff<Wgpu>>(&request, &device, report).await;
            (adapter.name, measures_memory::<Autodiff<Wgpu>>(&device))
        }
        Err(_) => {
            run::<Autodiff<Flex>>(&request, &Default::default(), report).await;
            (cpu_label().name, false)
        }
    };
    engine.out.send(FromWorker::AttentionDone { device, peak_measured });
}

/// Messages a session hands back to the main loop: they need a new session (or none).
fn ends_session(msg: &ToWorker) -> bool {
    matches!(
        msg,
        ToWorker::Start { .. }
            | ToWorker::Resume { .. }
            | ToWorker::Load { .. }
            | ToWorker::Bench(_)
            | ToWorker::BenchAttention(_)
            | ToWorker::SweepRun(_)
            | ToWorker::Hello
    )
}

fn backend_of(msg: &ToWorker) -> Backend {
    match msg {
        ToWorker::Start { request, .. } => request.backend,
        ToWorker::Resume { backend, .. } | ToWorker::Load { backend, .. } => *backend,
        _ => Backend::Cpu,
    }
}

/// What a session holds: a run (trainer and its data), or a model loaded only to sample from.
#[allow(clippy::large_enum_variant)] // one value per session
enum Loaded<B: AutodiffBackend> {
    Run { trainer: Trainer<B>, data: RunData, info: RunInfo, checkpoint_every: usize },
    Model { model: TransformerLm<B::InnerBackend>, tokenizer: Bpe, info: RunInfo },
}

/// Sets a session up from the page's message: a new run or a resumed one through
/// `lmlab::train::prepare` (as `lmlab train` does), or a checkpoint loaded to sample from.
async fn load<B: AutodiffBackend>(
    device: &B::Device,
    on: &DeviceLabel,
    msg: ToWorker,
    engine: &Engine,
    live: &mut LiveSettings,
) -> Result<Loaded<B>, TrainError> {
    let status = |message: &str, fraction: Option<f64>| {
        engine.out.send(FromWorker::Status { message: message.to_string(), fraction });
    };
    let mut progress = |p: Progress| match p {
        Progress::TrainingTokenizer { fraction } => status("training the tokenizer on the corpus…", Some(fraction)),
        Progress::Tokenizing => status("tokenizing the corpus…", None),
    };
    match msg {
        ToWorker::Start { request, .. } => {
            *live = request.live.clone();
            let plan = &request.plan;
            let tokenizer = TokenizerSource::Train(plan.tokenizer.clone());
            let data = RunData::load(DataInput::Text(request.corpus.clone()), None, tokenizer, &mut progress)?;
            status(
                if on.backend.is_webgpu() {
                    "initializing the model and compiling its GPU kernels (the first steps take longest)…"
                } else {
                    "initializing the model on the CPU…"
                },
                None,
            );
            let (trainer, info) = prepare::start::<B>(plan, &data, device, on)?;
            Ok(Loaded::Run { trainer, data, info, checkpoint_every: plan.training.checkpoint_every })
        }
        ToWorker::Resume { checkpoint, origin, corpus, live: l, .. } => {
            *live = l;
            status("loading the checkpoint…", None);
            let ckpt = Checkpoint::from_files(&origin, checkpoint);
            let tokenizer = TokenizerSource::of_checkpoint(&ckpt)?;
            let data = RunData::load(DataInput::Text(corpus), None, tokenizer, &mut progress)?;
            let (trainer, info) = prepare::resume::<B>(&ckpt, &data, Default::default(), device, on)?;
            let checkpoint_every = default_checkpoint_every(info.steps);
            Ok(Loaded::Run { trainer, data, info, checkpoint_every })
        }
        ToWorker::Load { checkpoint, origin, .. } => {
            status("loading the checkpoint…", None);
            let ckpt = Checkpoint::from_files(&origin, checkpoint);
            let (model, _, tokenizer) = ckpt.load_model::<B::InnerBackend>(device)?;
            let info = prepare::checkpoint_info(&ckpt, on)?;
            Ok(Loaded::Model { model, tokenizer, info })
        }
        _ => unreachable!("sessions start with Start, Resume or Load"),
    }
}

/// Runs one session on backend `B`; returns the message that ended it (a new Start, Resume or
/// Load), if any.
async fn session<B: AutodiffBackend>(
    device: B::Device,
    on: DeviceLabel,
    msg: ToWorker,
    engine: &mut Engine,
) -> Option<ToWorker> {
    let mut live = LiveSettings::default();
    let loaded = match load::<B>(&device, &on, msg, engine, &mut live).await {
        Ok(l) => l,
        Err(e) => {
            engine.fail("setting up the run", e);
            return None;
        }
    };
    match loaded {
        Loaded::Run { mut trainer, data, info, checkpoint_every } => {
            let context_length = trainer.model_config.context_length;
            engine.out.send(FromWorker::Started(Box::new(info)));
            let mut hooks = Hooks::new(engine, live, &data.tokenizer);
            loop {
                let spec = data.spec(&trainer, checkpoint_every).expect("checked when the run was set up");
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
                    match hooks.engine.inbox.next().await? {
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
        Loaded::Model { model, tokenizer, info } => {
            let (context_length, step) = (info.shape.context_length as usize, info.step);
            engine.out.send(FromWorker::Loaded(Box::new(info)));
            let mut hooks = Hooks::new(engine, live, &tokenizer);
            loop {
                match hooks.engine.inbox.next().await? {
                    ToWorker::Live(l) => hooks.live = l,
                    ToWorker::SampleNow => hooks.sample_model(&model, context_length, step).await,
                    m if ends_session(&m) => return Some(m),
                    _ => {}
                }
            }
        }
    }
}
