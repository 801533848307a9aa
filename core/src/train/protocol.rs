//! The messages between the Train page and its training worker.
//!
//! The page (main bundle, no burn) and the worker (its own bundle, burn on WebGPU or the CPU) are
//! two wasm modules that share only these types; they travel as bytes through `postMessage`.
//! Everything is plain data (no `serde_json::Value`, no untagged enums) so a compact binary codec
//! can carry it.

use serde::{Deserialize, Serialize};

pub use super::plan::Backend;
use super::plan::{AttentionKernel, Precision, RunPlan};
use crate::accounting::ModelShape;
use crate::hardware::attention::{AttentionBench, AttentionRow, SkippedRow};
use crate::scaling::sweep::{PlannedRun, SweepSettings};
use crate::scaling::RunRecord;
use crate::telemetry::BlockRoutes;
pub use crate::telemetry::StepMetrics;

/// A checkpoint's files by name (see `train::checkpoint` for the names).
pub type Files = Vec<(String, Vec<u8>)>;

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Probe the backends and answer [`FromWorker::Ready`].
    Hello,
    /// A new run; `run` is the page's id for it (see [`Stamped`]).
    Start {
        run: u64,
        request: Box<RunRequest>,
    },
    /// Continue a run from a checkpoint (saved in the browser, or uploaded), on `corpus`.
    Resume {
        run: u64,
        checkpoint: Files,
        origin: String,
        corpus: Corpus,
        backend: Backend,
        live: LiveSettings,
    },
    /// Load a checkpoint only to sample from it (e.g. a natively trained one).
    Load {
        run: u64,
        checkpoint: Files,
        origin: String,
        backend: Backend,
    },
    Pause,
    Continue,
    /// End the run after the current step; a checkpoint is saved first.
    Stop,
    /// New prompt / temperature / cadence for the samples.
    Live(LiveSettings),
    /// Measure training speed on random tokens (answered by [`FromWorker::Bench`]).
    Bench(BenchRequest),
    /// Naive vs fused attention on WebGPU (the Hardware page; `lmlab bench attention`): answered
    /// by a [`FromWorker::AttentionRow`] per length and kernel, then [`FromWorker::AttentionDone`].
    BenchAttention(AttentionBench),
    /// Sample now from the current model.
    SampleNow,
    /// One run of the Scaling lab's sweep (`lmlab::train::sweep`, as `lmlab scaling sweep` trains
    /// it): answered by [`FromWorker::SweepProgress`] and then [`FromWorker::SweepDone`] (or
    /// `SweepStopped` after a Stop). The page sends the next run when one is done.
    SweepRun(Box<SweepRunRequest>),
}

/// A sweep's run: the sweep's settings, the run, the text (the tokenizer is trained on it once
/// per worker and kept for the following runs) and the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRunRequest {
    pub settings: SweepSettings,
    pub run: PlannedRun,
    pub corpus: Corpus,
    pub backend: Backend,
}

impl ToWorker {
    /// The page's id of the session this message starts, if it starts one.
    pub fn run(&self) -> Option<u64> {
        match self {
            ToWorker::Start { run, .. } | ToWorker::Resume { run, .. } | ToWorker::Load { run, .. } => Some(*run),
            _ => None,
        }
    }
}

/// Worker → page: a message stamped with the session it belongs to (the `run` of the Start,
/// Resume or Load that began it; 0 before any). A run the student replaced may still be sending
/// (its last step, its stop checkpoint): the page keeps only its current run's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamped {
    pub run: u64,
    pub message: FromWorker,
}

/// The training text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corpus {
    /// Shown in messages and stored in checkpoints (a file name, "pasted text").
    pub name: String,
    pub text: String,
}

/// A new run: its plan (tokenizer, shape, settings) and the text it trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    pub plan: RunPlan,
    pub corpus: Corpus,
    pub live: LiveSettings,
    pub backend: Backend,
}

/// A running run in the browser sends a checkpoint at least this often (besides the run's step
/// cadence), so a reload or a worker ended mid-step loses at most this much training.
pub const AUTOSAVE_SECONDS: f64 = 30.0;

/// Settings that may change while a run goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSettings {
    pub prompt: String,
    pub temperature: f64,
    /// A sample every this many steps (0: only on request).
    pub sample_every: usize,
    pub sample_tokens: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self { prompt: "ROMEO:".into(), temperature: 0.8, sample_every: 20, sample_tokens: 60 }
    }
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The backends found: WebGPU's adapter name, or why there is none. `optimized`: the worker
    /// was built with optimizations (`trunk build --release`); a development build (`trunk
    /// serve`) is slower, and the page says so beside its speeds.
    Ready {
        webgpu: Result<Adapter, String>,
        optimized: bool,
    },
    /// Work before the first step (tokenizer training, tokenizing, compiling kernels).
    Status {
        message: String,
        fraction: Option<f64>,
    },
    /// The run is set up.
    Started(Box<RunInfo>),
    Step(StepMetrics),
    Eval {
        step: usize,
        val_loss: f64,
    },
    /// A sample, and the model's most likely next tokens after the prompt (text, probability).
    /// For a mixture-of-experts model, where each token of prompt + sample went (`route_tokens`
    /// are those tokens as text, `routes` one entry per MoE block).
    Sample {
        step: usize,
        prompt: String,
        text: String,
        next: Vec<(String, f64)>,
        route_tokens: Vec<String>,
        routes: Vec<BlockRoutes>,
    },
    /// A checkpoint to store (the newest replaces the older).
    Checkpoint {
        step: usize,
        files: Files,
    },
    Paused {
        step: usize,
    },
    Continued,
    Finished {
        step: usize,
        val_loss: f64,
    },
    Stopped {
        step: usize,
    },
    /// A loaded checkpoint ready to sample from.
    Loaded(Box<RunInfo>),
    Bench {
        request: BenchRequest,
        device: String,
        report: BenchReport,
    },
    /// One measured row of the attention benchmark, as it is measured.
    AttentionRow(AttentionRow),
    /// A row of the attention benchmark not run, and why.
    AttentionSkipped(SkippedRow),
    /// The attention benchmark is over: the adapter it ran on, and whether peaks were measured.
    AttentionDone {
        device: String,
        peak_measured: bool,
    },
    /// A sweep run's progress: steps done of its planned steps, the newest training loss.
    SweepProgress {
        id: String,
        step: usize,
        loss: f64,
    },
    /// A sweep run is over: its record (a final loss, or why it diverged).
    SweepDone(Box<RunRecord>),
    /// A sweep run was stopped by the page (it restarts from its beginning when the sweep continues).
    SweepStopped {
        id: String,
    },
    /// Something failed; `during` says what was being done. The last checkpoint stored is intact.
    /// `fatal`: the worker cannot go on (a panic: a lost device, out of memory) and must be restarted.
    Failed {
        during: String,
        message: String,
        fatal: bool,
    },
}

/// A speed measurement: `steps` timed steps after `warmup` of a preset on random tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRequest {
    pub preset: String,
    pub shape: ModelShape,
    pub batch: usize,
    pub warmup: usize,
    pub steps: usize,
    pub backend: Backend,
    /// FLOP/s the MFU is measured against (the student's GPU), if known.
    pub peak: Option<f64>,
}

/// What `lmlab bench train` and the page's benchmark measure (the CLI prints it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub parameters: u64,
    pub batch: usize,
    pub context: usize,
    pub steps: usize,
    pub warmup: usize,
    pub warmup_seconds: f64,
    pub seconds: f64,
    pub ms_per_step: f64,
    pub tokens_per_s: f64,
    pub flops_per_s: f64,
    pub mfu: Option<f64>,
    /// The first step's loss (≈ ln V on random tokens): what a reference implementation of the
    /// same model must start from.
    pub first_loss: f64,
}

/// The WebGPU adapter the worker got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    pub name: String,
    /// A software emulation (SwiftShader, lavapipe): slow, and the page says so.
    pub emulated: bool,
    /// `maxStorageBufferBindingSize`, the limit a large model meets first.
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
}

/// What a run is: the header the CLI prints and the page shows, and what MFU is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub backend: Backend,
    /// The device's name (GPU model, adapter, CPU).
    pub device: String,
    /// Why this device (what was tried before it).
    pub device_reason: String,
    pub shape: ModelShape,
    pub parameters: u64,
    /// Parameters one token uses (less than `parameters` for a mixture of experts).
    pub active_parameters: u64,
    pub flops_per_step: f64,
    pub batch_size: usize,
    pub steps: usize,
    /// Updates already made (a resumed run starts past 0).
    pub step: usize,
    pub train_tokens: usize,
    pub val_tokens: usize,
    pub tokenizer: String,
    pub vocab_size: usize,
    pub data: String,
    /// The unigram entropy of the validation tokens (nats/token): the loss of the best model that
    /// ignores context, on the data the validation loss is measured on.
    pub unigram_entropy: f64,
    /// What the run computes in.
    pub precision: Precision,
    /// How its attention is computed: the kernel actually used on this backend (the reference on
    /// the CPU whatever the plan asks).
    pub attention: AttentionKernel,
}

/// The backend a page trains on unless the student picks one, and why (shown beside the choice):
/// WebGPU only on a hardware adapter. A software adapter (SwiftShader, lavapipe — the adapter says
/// so: `isFallbackAdapter` or a CPU device type) runs GPU kernels on the CPU through an emulation,
/// far slower than burn's CPU backend on the same CPU (nano: see `feasibility::NANO_CPU_MS`).
pub fn recommended_backend(webgpu: &Result<Adapter, String>) -> (Backend, String) {
    use super::feasibility::{NANO_CPU_MS, NANO_SWIFTSHADER_MS};
    match webgpu {
        Err(_) => (Backend::Cpu, "this browser has no WebGPU".into()),
        Ok(a) if a.emulated => (
            Backend::Cpu,
            format!(
                "WebGPU here is {}, a CPU emulation of a GPU: nano took {:.0} ms per step on it against {:.0} ms \
                 on the CPU backend (measured on a 2-core machine)",
                a.name, NANO_SWIFTSHADER_MS, NANO_CPU_MS
            ),
        ),
        Ok(a) => (Backend::WebGpu, format!("{} is a hardware GPU", a.name)),
    }
}

/// The largest single buffer a training step of `shape` at `batch` allocates, in bytes (f32), and
/// what it holds. WebGPU refuses a buffer above `maxStorageBufferBindingSize` (128 MiB by default),
/// so a preset too large for the adapter is caught before it starts, naming the limit.
pub fn largest_buffer(shape: &ModelShape, batch: usize) -> (u64, String) {
    let b = batch as u64;
    let candidates = [
        (b * shape.context_length * shape.vocab_size, "the logits (batch × context × vocabulary)"),
        (
            b * shape.num_heads * shape.context_length * shape.context_length,
            "the attention scores (batch × heads × context²)",
        ),
        (shape.vocab_size * shape.d_model, "the embedding matrix (vocabulary × d_model)"),
        (shape.d_ff * shape.d_model, "a feed-forward matrix (d_ff × d_model)"),
        (b * shape.context_length * shape.d_ff, "the feed-forward activations (batch × context × d_ff)"),
    ];
    let (n, what) = candidates.into_iter().max_by_key(|c| c.0).expect("non-empty");
    (4 * n, what.to_string())
}

/// Refuses a run whose largest buffer exceeds the adapter's limits, naming the limit.
pub fn check_limits(shape: &ModelShape, batch: usize, adapter: &Adapter) -> Result<(), String> {
    let (bytes, what) = largest_buffer(shape, batch);
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    for (limit, name) in [
        (adapter.max_storage_buffer_binding_size, "maxStorageBufferBindingSize"),
        (adapter.max_buffer_size, "maxBufferSize"),
    ] {
        if bytes > limit {
            return Err(format!(
                "too large for this GPU: {what} needs {:.1} MiB, above the adapter's {name} of {:.1} MiB; \
                 lower the batch size, context length or vocabulary, or pick a smaller preset",
                mib(bytes),
                mib(limit)
            ));
        }
    }
    Ok(())
}

impl Corpus {
    /// A corpus from a file's bytes, refusing what cannot be training text: an empty file, invalid
    /// UTF-8 (the byte offset named), a binary file (NUL bytes: an image, an archive, a `.bin`).
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Corpus, String> {
        if bytes.is_empty() {
            return Err(format!("{name}: the file is empty"));
        }
        if let Some(at) = bytes.iter().position(|&b| b == 0) {
            return Err(format!(
                "{name}: looks like a binary file (a NUL byte at offset {at}); train on plain UTF-8 text"
            ));
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Corpus { name: name.to_string(), text: text.to_string() }),
            Err(e) => Err(format!(
                "{name}: invalid UTF-8 at byte offset {} (line {}); save the file as UTF-8 text",
                e.valid_up_to(),
                1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_buffer_and_the_limit() {
        let shape = crate::accounting::training_preset("gpt2-small").unwrap().shape;
        // 8 × 1024 × 50257 logits × 4 bytes = 1.65 GB: the logits are the largest buffer.
        let (bytes, what) = largest_buffer(&shape, 8);
        assert_eq!(bytes, 4 * 8 * 1024 * 50_257);
        assert!(what.contains("logits"), "{what}");
        let adapter = Adapter {
            name: "x".into(),
            emulated: false,
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: 256 << 20,
        };
        let e = check_limits(&shape, 8, &adapter).unwrap_err();
        assert!(e.contains("maxStorageBufferBindingSize") && e.contains("128.0 MiB"), "{e}");
        let nano = crate::accounting::training_preset("nano").unwrap().shape;
        assert_eq!(check_limits(&nano, 8, &adapter), Ok(()));
    }

    #[test]
    fn corpus_files_that_cannot_be_text_are_refused_by_name() {
        assert_eq!(Corpus::from_bytes("a.txt", "héllo".as_bytes()).unwrap().text, "héllo");
        assert_eq!(Corpus::from_bytes("a.txt", b"").unwrap_err(), "a.txt: the file is empty");
        let e = Corpus::from_bytes("p.png", b"\x89PNG\r\n\x1a\n\0\0").unwrap_err();
        assert!(e.contains("binary file") && e.contains("offset 8"), "{e}");
        let e = Corpus::from_bytes("l.txt", b"ok\nline two \xff\xfe").unwrap_err();
        assert!(e.contains("byte offset 12") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn the_default_backend_is_webgpu_only_on_a_hardware_adapter() {
        let adapter = |name: &str, emulated| Adapter {
            name: name.into(),
            emulated,
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: 256 << 20,
        };
        let (b, why) = recommended_backend(&Ok(adapter("SwiftShader Device (Subzero)", true)));
        assert_eq!(b, Backend::Cpu);
        assert!(why.contains("SwiftShader") && why.contains("emulation"), "{why}");
        assert_eq!(recommended_backend(&Ok(adapter("NVIDIA GeForce RTX 4090", false))).0, Backend::WebGpu);
        assert_eq!(recommended_backend(&Err("navigator.gpu is missing".into())).0, Backend::Cpu);
    }
}
