//! The page's side of training: one worker and what it reported, kept outside the Train page's
//! component so a run goes on (and its curves keep growing) while the student visits other labs.
//!
//! The worker bundle is spawned the first time the Train page opens — that is when the browser
//! fetches it. Each message updates [`TrainState`] and wakes the subscribed views. Checkpoints are
//! stored in IndexedDB as they arrive and kept in memory for the download link.

use std::cell::RefCell;
use std::rc::Rc;

use gloo::worker::{Spawnable, WorkerBridge};
use lmlab::train::archive;
use lmlab::train::protocol::{
    Adapter, BenchReport, BenchRequest, Corpus, Files, FromWorker, RunInfo, StepReport, ToWorker,
};
use yew::Callback;

use super::store::{self, SavedMeta};
use super::worker::TrainWorker;

/// The worker bundle's loader (trunk's `data-loader-shim` beside `train_worker.js`).
pub const WORKER_LOADER: &str = "./train_worker_loader.js";

/// Where the worker bundle stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum EngineState {
    #[default]
    NotLoaded,
    /// Fetching and compiling the worker bundle, then probing WebGPU.
    Loading,
    /// WebGPU's adapter, or why there is none (the CPU backend always works).
    Ready(Result<Adapter, String>),
}

/// Where the run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Preparing,
    Training,
    Paused,
    Stopped,
    Finished,
    /// A checkpoint loaded to sample from.
    Loaded,
    Failed,
}

impl Phase {
    /// A run is in progress (the setup form is locked).
    pub fn busy(self) -> bool {
        matches!(self, Phase::Preparing | Phase::Training | Phase::Paused)
    }
}

/// A sample as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub step: usize,
    pub prompt: String,
    pub text: String,
    pub next: Vec<(String, f64)>,
    /// Prompt + sample as tokens, and where a mixture-of-experts model routed each (empty: dense).
    pub route_tokens: Vec<String>,
    pub routes: Vec<lmlab::train::routing::BlockRoutes>,
}

/// The run before this one, kept for the side-by-side curves (e.g. a MoE model and its dense twin).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousRun {
    pub preset: String,
    pub parameters: u64,
    /// (tokens seen, wall seconds since the first step, training loss) per step.
    pub points: Vec<(f64, f64, f64)>,
}

impl PreviousRun {
    /// The curve of a run's steps, or none for a run without steps.
    pub fn of(state: &TrainState) -> Option<Self> {
        let info = state.info.as_ref()?;
        (!state.steps.is_empty()).then(|| PreviousRun {
            preset: state.preset.clone(),
            parameters: info.parameters,
            points: loss_points(&state.steps),
        })
    }
}

/// (tokens seen, cumulative wall seconds, loss) of each step.
pub fn loss_points(steps: &[StepReport]) -> Vec<(f64, f64, f64)> {
    let mut seconds = 0.0;
    steps
        .iter()
        .map(|s| {
            seconds += s.seconds;
            (s.tokens_seen as f64, seconds, s.loss)
        })
        .collect()
}

/// The newest checkpoint of this page session, for the download link.
#[derive(Debug, Clone, PartialEq)]
pub struct Latest {
    pub step: usize,
    pub file_name: String,
    /// `blob:` URL of the tar (revoked when replaced).
    pub url: String,
    pub bytes: usize,
}

/// Everything the Train page shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainState {
    pub engine: EngineState,
    pub phase: Phase,
    pub status: Option<(String, Option<f64>)>,
    pub info: Option<RunInfo>,
    pub steps: Vec<StepReport>,
    pub evals: Vec<(usize, f64)>,
    /// Newest first.
    pub samples: Vec<Sample>,
    pub error: Option<String>,
    /// The checkpoint stored in this browser (IndexedDB).
    pub saved: Option<SavedMeta>,
    pub save_error: Option<String>,
    pub latest: Option<Latest>,
    /// The current run's corpus (stored with its checkpoints unless it is the bundled one).
    pub corpus: Option<Rc<Corpus>>,
    pub bundled: bool,
    pub preset: String,
    /// A benchmark is running.
    pub benchmarking: bool,
    /// The last benchmark: what was asked, on which device, the measurement.
    pub bench: Option<(BenchRequest, String, BenchReport)>,
    /// The previous run of this page session, for comparison.
    pub previous: Option<PreviousRun>,
}

struct Session {
    bridge: Option<WorkerBridge<TrainWorker>>,
    state: TrainState,
    listeners: Vec<(usize, Callback<()>)>,
    next_listener: usize,
}

thread_local! {
    /// The Train page's form as last typed, so a visit to another lab does not reset it.
    static FORM: RefCell<Option<lmlab::train::forms::TrainForm>> = const { RefCell::new(None) };
    static SESSION: RefCell<Session> = RefCell::new(Session {
        bridge: None,
        state: TrainState::default(),
        listeners: Vec::new(),
        next_listener: 0,
    });
}

/// The form as the student left it (None on the first visit).
pub fn form() -> Option<lmlab::train::forms::TrainForm> {
    FORM.with(|f| f.borrow().clone())
}

/// Remembers the form (no redraw: the page that typed it shows it already).
pub fn keep_form(form: lmlab::train::forms::TrainForm) {
    FORM.with(|f| *f.borrow_mut() = Some(form));
}

/// A copy of the state for rendering.
pub fn state() -> TrainState {
    SESSION.with(|s| s.borrow().state.clone())
}

/// Calls `cb` after every change; returns the id for [`unsubscribe`].
pub fn subscribe(cb: Callback<()>) -> usize {
    SESSION.with(|s| {
        let mut s = s.borrow_mut();
        s.next_listener += 1;
        let id = s.next_listener;
        s.listeners.push((id, cb));
        id
    })
}

pub fn unsubscribe(id: usize) {
    SESSION.with(|s| s.borrow_mut().listeners.retain(|(i, _)| *i != id));
}

/// Changes the state, then wakes the views (outside the borrow: they read the state).
pub fn update(f: impl FnOnce(&mut TrainState)) {
    let listeners = SESSION.with(|s| {
        let mut s = s.borrow_mut();
        f(&mut s.state);
        s.listeners.iter().map(|(_, cb)| cb.clone()).collect::<Vec<_>>()
    });
    for cb in listeners {
        cb.emit(());
    }
}

/// Spawns the worker (fetching its bundle) unless it runs already, and asks it to probe WebGPU.
pub fn ensure_worker() {
    let spawned = SESSION.with(|s| {
        let mut s = s.borrow_mut();
        if s.bridge.is_some() {
            return false;
        }
        let bridge = TrainWorker::spawner().callback(on_message).spawn_with_loader(WORKER_LOADER);
        bridge.send(ToWorker::Hello);
        s.bridge = Some(bridge);
        true
    });
    if spawned {
        update(|s| s.engine = EngineState::Loading);
        refresh_saved();
    }
}

/// Sends a message to the worker (spawning it if needed).
pub fn send(msg: ToWorker) {
    ensure_worker();
    SESSION.with(|s| {
        if let Some(b) = &s.borrow().bridge {
            b.send(msg);
        }
    });
}

/// New sample settings for the session in the worker (nothing to do before it exists).
pub fn send_live(live: lmlab::train::protocol::LiveSettings) {
    SESSION.with(|s| {
        if let Some(b) = &s.borrow().bridge {
            b.send(ToWorker::Live(live));
        }
    });
}

/// Clears the previous run's curves and records what the next one trains on.
fn new_run(corpus: &Corpus, bundled: bool, preset: String, status: &str) {
    let corpus = Rc::new(corpus.clone());
    update(|s| {
        if let Some(previous) = PreviousRun::of(s) {
            s.previous = Some(previous);
        }
        s.phase = Phase::Preparing;
        s.info = None;
        s.steps.clear();
        s.evals.clear();
        s.samples.clear();
        s.error = None;
        s.status = Some((status.into(), None));
        s.corpus = Some(corpus);
        s.bundled = bundled;
        s.preset = preset;
    });
}

/// Starts a new run.
pub fn start(request: lmlab::train::protocol::RunRequest, bundled: bool, preset: String) {
    new_run(&request.corpus, bundled, preset, "starting…");
    send(ToWorker::Start(Box::new(request)));
}

/// Continues the stored run (or an uploaded checkpoint) on `corpus`.
pub fn resume(
    files: Files,
    origin: String,
    corpus: Corpus,
    bundled: bool,
    preset: String,
    backend: lmlab::train::protocol::Backend,
    live: lmlab::train::protocol::LiveSettings,
) {
    new_run(&corpus, bundled, preset, "loading the checkpoint…");
    send(ToWorker::Resume { checkpoint: files, origin, corpus, backend, live });
}

/// Loads a checkpoint to sample from.
pub fn load(files: Files, origin: String, backend: lmlab::train::protocol::Backend) {
    update(|s| {
        s.phase = Phase::Preparing;
        s.error = None;
        s.samples.clear();
        s.status = Some(("loading the checkpoint…".into(), None));
    });
    send(ToWorker::Load { checkpoint: files, origin, backend });
}

/// Measures training speed (the page's side of `lmlab bench train`).
pub fn bench(request: BenchRequest) {
    update(|s| {
        s.benchmarking = true;
        s.error = None;
        s.bench = None;
    });
    send(ToWorker::Bench(request));
}

/// Re-reads what IndexedDB holds.
pub fn refresh_saved() {
    wasm_bindgen_futures::spawn_local(async {
        match store::meta().await {
            Ok(saved) => update(|s| s.saved = saved),
            Err(e) => update(|s| s.save_error = Some(e)),
        }
    });
}

fn on_message(msg: FromWorker) {
    match msg {
        FromWorker::Ready { webgpu } => {
            // The page's own verdict wins: a browser that hides WebGPU from pages (a policy, an
            // extension, a test) may still leave it visible to workers.
            let webgpu = if crate::webgpu::has_webgpu() { webgpu } else { Err(crate::webgpu::MISSING.to_string()) };
            update(|s| s.engine = EngineState::Ready(webgpu))
        }
        FromWorker::Status { message, fraction } => update(|s| s.status = Some((message, fraction))),
        FromWorker::Started(info) => update(|s| {
            s.phase = Phase::Training;
            s.status = None;
            s.info = Some(*info);
        }),
        FromWorker::Loaded(info) => update(|s| {
            s.phase = Phase::Loaded;
            s.status = None;
            s.info = Some(*info);
        }),
        FromWorker::Step(r) => update(|s| s.steps.push(r)),
        FromWorker::Eval { step, val_loss } => update(|s| s.evals.push((step, val_loss))),
        FromWorker::Sample { step, prompt, text, next, route_tokens, routes } => update(|s| {
            s.samples.insert(0, Sample { step, prompt, text, next, route_tokens, routes });
            s.samples.truncate(12);
        }),
        FromWorker::Checkpoint { step, files } => keep_checkpoint(step, files),
        FromWorker::Bench { request, device, report } => update(|s| {
            s.benchmarking = false;
            s.status = None;
            s.bench = Some((request, device, report));
        }),
        FromWorker::Paused { .. } => update(|s| s.phase = Phase::Paused),
        FromWorker::Continued => update(|s| s.phase = Phase::Training),
        FromWorker::Finished { .. } => update(|s| s.phase = Phase::Finished),
        FromWorker::Stopped { .. } => update(|s| s.phase = Phase::Stopped),
        FromWorker::Failed { during, message, fatal } => {
            if fatal {
                // The worker is dead (a panic traps the wasm instance): drop it; the next action
                // spawns a fresh one. The stored checkpoint is untouched.
                SESSION.with(|s| s.borrow_mut().bridge = None);
            }
            update(|s| {
                s.error = Some(format!("{during}: {message}"));
                s.status = None;
                s.benchmarking = false;
                if fatal {
                    s.engine = EngineState::NotLoaded;
                }
                if fatal || s.phase == Phase::Preparing {
                    s.phase = Phase::Failed;
                }
            });
        }
    }
}

/// Offers a checkpoint for download and stores it in IndexedDB.
fn keep_checkpoint(step: usize, files: Files) {
    let tar = archive::pack(&files);
    let (corpus, bundled, preset, steps, backend) = SESSION.with(|s| {
        let s = &s.borrow().state;
        (
            s.corpus.clone(),
            s.bundled,
            s.preset.clone(),
            s.info.as_ref().map_or(0, |i| i.steps),
            s.info.as_ref().map_or_else(String::new, |i| i.backend.label().to_string()),
        )
    });
    let file_name = format!("lmlab-{}-step{step}.tar", if preset.is_empty() { "run" } else { &preset });
    let url = blob_url(&tar).unwrap_or_default();
    update(|s| {
        if let Some(old) = s.latest.take() {
            let _ = web_sys::Url::revoke_object_url(&old.url);
        }
        s.latest = Some(Latest { step, file_name, url, bytes: tar.len() });
    });
    let meta = SavedMeta {
        step,
        steps,
        data: corpus.as_ref().map_or_else(String::new, |c| c.name.clone()),
        bundled,
        preset,
        backend,
        bytes: tar.len(),
        saved_at: String::from(js_sys::Date::new_0().to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)),
    };
    wasm_bindgen_futures::spawn_local(async move {
        let own = if bundled { None } else { corpus.as_deref() };
        match store::save(&files, &meta, own).await {
            Ok(()) => update(|s| {
                s.saved = Some(meta);
                s.save_error = None;
            }),
            Err(e) => update(|s| s.save_error = Some(e)),
        }
    });
}

/// A `blob:` URL for bytes (the download link's target).
pub fn blob_url(bytes: &[u8]) -> Option<String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/x-tar");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}
