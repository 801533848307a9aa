//! The page's side of training: one worker and what it reported, kept outside the Train page's
//! component so a run goes on (and its curves keep growing) while the student visits other labs.
//!
//! The worker bundle is spawned the first time the Train page opens — that is when the browser
//! fetches it. Each message updates [`TrainState`] and wakes the subscribed views. Checkpoints are
//! stored in IndexedDB as they arrive and kept in memory for the download link.

use std::cell::RefCell;
use std::rc::Rc;

use gloo::worker::{Spawnable, WorkerBridge};
use lmlab::train::protocol::{Backend, BenchRequest, Corpus, Files, LiveSettings, RunRequest, ToWorker};
use yew::Callback;

use super::store;
use super::worker::TrainWorker;

mod inbox;
mod state;

pub use inbox::blob_url;
pub use state::*;

/// The worker bundle's loader (trunk's `data-loader-shim` beside `train_worker.js`).
pub const WORKER_LOADER: &str = "./train_worker_loader.js";

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
        let bridge = TrainWorker::spawner().callback(inbox::on_message).spawn_with_loader(WORKER_LOADER);
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
pub fn send_live(live: LiveSettings) {
    SESSION.with(|s| {
        if let Some(b) = &s.borrow().bridge {
            b.send(ToWorker::Live(live));
        }
    });
}

/// Begins a new run the moment it is asked for: a new run id, the previous run's error and curves
/// cleared (its curve kept for comparison), "Preparing" shown. Returns the run's id. A run whose
/// corpus is still being fetched is already the current one, so nothing of the previous run can
/// be mistaken for it.
pub fn begin(status: &str) -> u64 {
    let mut run = 0;
    update(|s| {
        if let Some(previous) = PreviousRun::of(s) {
            s.previous = Some(previous);
        }
        s.run += 1;
        run = s.run;
        s.replaced = Some(std::mem::replace(&mut s.meta, RunMeta { run, ..RunMeta::default() }));
        s.phase = Phase::Preparing;
        s.info = None;
        s.steps.clear();
        s.evals.clear();
        s.samples.clear();
        s.error = None;
        s.status = Some((status.into(), None));
    });
    run
}

/// A run that could not even be asked for (the bundled corpus did not load): it failed.
pub fn fail(run: u64, message: String) {
    update(|s| {
        if s.run == run {
            s.phase = Phase::Failed;
            s.status = None;
            s.error = Some(message);
        }
    });
}

/// Records what run `run` trains on.
fn keep_corpus(run: u64, corpus: &Corpus, bundled: bool, preset: String) {
    let corpus = Rc::new(corpus.clone());
    update(|s| {
        if s.meta.run == run {
            s.meta = RunMeta { run, corpus: Some(corpus), bundled, preset, ..RunMeta::default() };
        }
    });
}

/// Starts run `run` (from [`begin`]).
pub fn start(run: u64, request: RunRequest, bundled: bool, preset: String) {
    keep_corpus(run, &request.corpus, bundled, preset);
    send(ToWorker::Start { run, request: Box::new(request) });
}

/// Continues the stored run (or an uploaded checkpoint) on `corpus` as run `run`.
#[allow(clippy::too_many_arguments)]
pub fn resume(
    run: u64,
    files: Files,
    origin: String,
    corpus: Corpus,
    bundled: bool,
    preset: String,
    backend: Backend,
    live: LiveSettings,
) {
    keep_corpus(run, &corpus, bundled, preset);
    send(ToWorker::Resume { run, checkpoint: files, origin, corpus, backend, live });
}

/// Loads a checkpoint to sample from, as run `run`.
pub fn load(run: u64, files: Files, origin: String, backend: Backend) {
    send(ToWorker::Load { run, checkpoint: files, origin, backend });
}

/// Measures training speed (the page's side of `lmlab bench train`).
pub fn bench(request: BenchRequest) {
    update(|s| {
        s.benchmarking = true;
        s.benchmarks += 1;
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
