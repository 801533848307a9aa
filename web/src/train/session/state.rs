//! What the Train page shows of the worker and its runs: plain state, changed by the session's
//! messages ([`super::inbox`]) and drawn by the page.

use std::rc::Rc;

use lmlab::hardware::attention::{AttentionRow, SkippedRow};
use lmlab::telemetry::{BlockRoutes, StepMeter, StepMetrics};
use lmlab::train::protocol::{Adapter, Backend, BenchReport, BenchRequest, Corpus, RunInfo};

use super::super::store::SavedMeta;

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
    pub routes: Vec<BlockRoutes>,
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
            preset: state.meta.preset.clone(),
            parameters: info.parameters,
            points: loss_points(&state.steps),
        })
    }
}

/// (tokens seen, cumulative wall seconds, loss) of each step.
pub fn loss_points(steps: &[StepMetrics]) -> Vec<(f64, f64, f64)> {
    let mut seconds = 0.0;
    steps
        .iter()
        .map(|s| {
            seconds += s.seconds;
            (s.tokens_seen as f64, seconds, s.loss)
        })
        .collect()
}

/// What a run trains on, to label and store its checkpoints.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunMeta {
    pub run: u64,
    /// The corpus (stored with the checkpoints unless it is the bundled one).
    pub corpus: Option<Rc<Corpus>>,
    pub bundled: bool,
    pub preset: String,
    /// The run's length and backend, once it started.
    pub steps: usize,
    pub backend: String,
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
/// The attention benchmark's rows as they arrive.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AttentionBenchState {
    pub running: bool,
    /// Benchmarks asked for so far (the rows shown are the newest's).
    pub runs: u64,
    pub rows: Vec<AttentionRow>,
    pub skipped: Vec<SkippedRow>,
    /// When done: the adapter it ran on, and whether peaks were measured (else the model's).
    pub done: Option<(String, bool)>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainState {
    pub engine: EngineState,
    /// The current run's id: raised the moment a run is asked for (Start, Resume, Load), so what
    /// the page shows — and what a test waits for — is never the previous run's.
    pub run: u64,
    pub phase: Phase,
    pub status: Option<(String, Option<f64>)>,
    pub info: Option<RunInfo>,
    pub steps: Vec<StepMetrics>,
    pub evals: Vec<(usize, f64)>,
    /// Newest first.
    pub samples: Vec<Sample>,
    pub error: Option<String>,
    /// The checkpoint stored in this browser (IndexedDB).
    pub saved: Option<SavedMeta>,
    pub save_error: Option<String>,
    pub latest: Option<Latest>,
    /// What the current run trains on (stored with its checkpoints).
    pub meta: RunMeta,
    /// The run before it, while its last checkpoint (saved when it was replaced) may still come.
    pub replaced: Option<RunMeta>,
    /// A benchmark is running.
    pub benchmarking: bool,
    /// Benchmarks asked for so far (the result shown is the newest's).
    pub benchmarks: u64,
    /// The last benchmark: what was asked, on which device, the measurement.
    pub bench: Option<(BenchRequest, String, BenchReport)>,
    /// The Hardware page's attention benchmark, run in this worker.
    pub attention: AttentionBenchState,
    /// The Scaling lab's sweep, whose runs this worker trains.
    pub sweep: super::SweepState,
    /// The previous run of this page session, for comparison.
    pub previous: Option<PreviousRun>,
    /// Stop was pressed for this run and the worker has not answered yet.
    pub stopping: Option<u64>,
    /// This run's worker was ended mid-step (it did not answer Stop): Resume continues from the
    /// stored checkpoint in a fresh worker.
    pub ended_mid_step: Option<u64>,
    /// Whether the worker bundle is an optimized build (None until it reports).
    pub optimized: Option<bool>,
    /// FLOP/s measured by this session's runs, per backend (the newest run's median step): what
    /// the next run's time per step is estimated from.
    pub rates: Vec<(Backend, f64)>,
}

impl TrainState {
    /// The FLOP/s this session measured on `backend`, if a run went there.
    pub fn measured_rate(&self, backend: Backend) -> Option<f64> {
        self.rates.iter().find(|(b, _)| *b == backend).map(|(_, r)| *r)
    }

    /// Records the current run's speed (after each of its steps): the meter's median of the last
    /// [`StepMeter::WINDOW`] steps, read from only the steps it looks at (it leaves out the first
    /// of those it is given: the compiling step of a short run, an older step of a long one).
    pub fn record_rate(&mut self) {
        let Some(info) = &self.info else { return };
        let recent = &self.steps[self.steps.len().saturating_sub(StepMeter::WINDOW + 1)..];
        let meter = StepMeter::of(info.shape, info.batch_size, None, recent.iter().map(|s| s.seconds));
        if let Some(t) = meter.throughput() {
            self.rates.retain(|(b, _)| *b != info.backend);
            self.rates.push((info.backend, t.flops_per_s));
        }
    }
}
