//! The page's side of training: one worker and what it reported, kept outside the Train page's
//! component so a run goes on (and its curves keep growing) while the student visits other labs.
//! The setup the student typed — the form, the corpus choice, the pasted text — is kept here too,
//! so leaving the page and coming back never swaps the student's text for the bundled one.
//!
//! The worker bundle is spawned the first time the Train page opens — that is when the browser
//! fetches it. Each message updates [`TrainState`] and wakes the subscribed views. Checkpoints are
//! stored in IndexedDB as they arrive and kept in memory for the download link. Stop always
//! works: a worker busy inside a long step cannot read it, so after [`STOP_GRACE_MS`] the page
//! ends that worker and starts a fresh one (the last checkpoint stays stored).

use std::cell::RefCell;
use std::rc::Rc;

use lmlab::train::protocol::{Backend, BenchRequest, Corpus, Files, LiveSettings, RunRequest, ToWorker};
use yew::Callback;

use super::store;
use super::worker::Bridge;

mod inbox;
mod state;
mod sweep;

pub use inbox::blob_url;
pub use state::*;
pub use sweep::{continue_sweep, forget_sweep, restore_sweep, start_sweep, stop_sweep, SweepState};

/// The worker bundle's loader (web/train_worker_loader.js, copied beside `train_worker.js`).
pub const WORKER_LOADER: &str = "./train_worker_loader.js";

/// How long Stop waits for the worker to answer before ending it (a step of a small model takes
/// well under this; a step that does not end within it is a long one).
pub const STOP_GRACE_MS: u32 = 1_500;

struct Session {
    bridge: Option<Bridge>,
    state: TrainState,
    listeners: Vec<(usize, Callback<()>)>,
    next_listener: usize,
}

/// Where the Train page's corpus comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Bundled,
    Upload,
    Paste,
}

/// The corpus as the student chose it: kept across visits of the page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorpusChoice {
    pub source: Source,
    pub pasted: String,
    pub uploaded: Option<Result<Rc<Corpus>, String>>,
}

thread_local! {
    /// The Train page's form as last typed, so a visit to another lab does not reset it.
    static FORM: RefCell<Option<lmlab::train::forms::TrainForm>> = const { RefCell::new(None) };
    static CORPUS: RefCell<CorpusChoice> = RefCell::new(CorpusChoice::default());
    /// The student picked "Run on" themselves: the page's default no longer applies.
    static BACKEND_CHOSEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static SESSION: RefCell<Session> = RefCell::new(Session {
        bridge: None,
        state: TrainState::default(),
        listeners: Vec::new(),
        next_listener: 0,
    });
}

/// The corpus choice as the student left it.
pub fn corpus_choice() -> CorpusChoice {
    CORPUS.with(|c| c.borrow().clone())
}

/// Records that the student picked the backend.
pub fn keep_backend_choice() {
    BACKEND_CHOSEN.with(|c| c.set(true));
}

/// Whether the student picked the backend (else the page picks the fastest).
pub fn backend_chosen() -> bool {
    BACKEND_CHOSEN.with(|c| c.get())
}

/// Remembers the corpus choice (no redraw: the page that made it shows it already).
pub fn keep_corpus_choice(choice: CorpusChoice) {
    CORPUS.with(|c| *c.borrow_mut() = choice);
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
            return Ok(false);
        }
        let bridge = Bridge::spawn(WORKER_LOADER, inbox::on_message)?;
        bridge.send(ToWorker::Hello);
        s.bridge = Some(bridge);
        Ok(true)
    });
    match spawned {
        Ok(true) => {
            update(|s| s.engine = EngineState::Loading);
            refresh_saved();
        }
        Ok(false) => {}
        Err(e) => update(|s| s.error = Some(e)),
    }
}

/// Stop: asks the worker to stop after its step (it saves a checkpoint and answers), and ends the
/// worker if no answer comes within [`STOP_GRACE_MS`] — it is inside a long step, or still
/// preparing — starting a fresh one. The stored checkpoint is untouched either way.
pub fn stop() {
    let run = SESSION.with(|s| s.borrow().state.run);
    send(ToWorker::Stop);
    update(|s| s.stopping = Some(run));
    gloo::timers::callback::Timeout::new(STOP_GRACE_MS, move || {
        let unanswered = SESSION.with(|s| {
            let st = &s.borrow().state;
            st.run == run && st.stopping == Some(run) && st.phase.busy()
        });
        if unanswered {
            end_worker(run);
        }
    })
    .forget();
}

/// Ends the worker mid-step and starts a fresh one; run `run` is stopped where its last
/// checkpoint is.
fn end_worker(run: u64) {
    // Dropping the bridge terminates the worker.
    SESSION.with(|s| s.borrow_mut().bridge = None);
    update(|s| {
        s.phase = Phase::Stopped;
        s.stopping = None;
        s.status = None;
        s.ended_mid_step = Some(run);
        s.engine = EngineState::NotLoaded;
    });
    ensure_worker();
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
        s.stopping = None;
        s.ended_mid_step = None;
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

/// Whether run `run` is still the one being prepared (not replaced, not stopped while its corpus
/// or checkpoint was still being read).
fn still_wanted(run: u64) -> bool {
    SESSION.with(|s| {
        let st = &s.borrow().state;
        st.run == run && st.phase == Phase::Preparing
    })
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
    if !still_wanted(run) {
        return;
    }
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
    if !still_wanted(run) {
        return;
    }
    keep_corpus(run, &corpus, bundled, preset);
    send(ToWorker::Resume { run, checkpoint: files, origin, corpus, backend, live });
}

/// Loads a checkpoint to sample from, as run `run`.
pub fn load(run: u64, files: Files, origin: String, backend: Backend) {
    if !still_wanted(run) {
        return;
    }
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

/// Runs the Hardware page's attention benchmark (`lmlab bench attention`'s measurement) in the
/// worker; rows arrive one by one.
pub fn bench_attention(request: lmlab::hardware::attention::AttentionBench) {
    update(|s| {
        s.attention = AttentionBenchState { running: true, runs: s.attention.runs + 1, ..Default::default() };
    });
    send(ToWorker::BenchAttention(request));
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
