//! Will this run fit, and how long will a step take? Asked before a run starts, so the Train page
//! refuses what cannot fit (a wasm module addresses 4 GiB at most) and warns before a step that
//! takes minutes — instead of a tab that grows to gigabytes and never shows step 1.
//!
//! Memory is the Compute lab's accounting (`accounting::memory`): model states (weights,
//! gradients, AdamW's two moments: 16 bytes per parameter in fp32 and in mixed bf16) plus the
//! activations the backward pass keeps, times the batch. Burn's autodiff keeps a few tensors more
//! than that count (and the page holds the corpus and tokenizer), so the estimate is a floor:
//! a run is refused when the floor already exceeds what the CPU backend may use.
//!
//! Time is FLOPs per step (`telemetry::flops_per_step`) over a FLOP/s rate: the rate measured on
//! this backend in this page session when there is one (a run's median step), else a reference
//! rate measured for the `nano` preset in headless Chromium on a 2-core x86 VM (the machine this
//! lab is tested on) — a guide to the order of magnitude, said to be one.

use serde::{Deserialize, Serialize};

use super::plan::{Backend, Precision};
use crate::accounting::{activation_bytes, TrainingPrecision};
use crate::accounting::{training_preset, ModelShape};
use crate::telemetry::flops_per_step;
use crate::units::{format_bytes, format_duration};

/// What a wasm32 module can address.
pub const WASM_MEMORY_BYTES: f64 = 4.0 * (1u64 << 30) as f64;

/// The most a run may take of it on the CPU backend (the rest: the corpus, its tokens, the
/// tokenizer, burn's workspace and the allocator's slack).
pub const CPU_RUN_BUDGET_BYTES: f64 = 3.0 * (1u64 << 30) as f64;

/// A step longer than this gets a warning before the run starts.
pub const SLOW_STEP_SECONDS: f64 = 60.0;

/// Milliseconds per step of `nano` at its default batch (8), measured in headless Chromium on a
/// 2-core x86 VM: burn's flex backend in wasm (one thread), and WebGPU on SwiftShader (a CPU
/// emulation of a GPU). The reference rates below are nano's FLOPs per step over these times.
pub const NANO_CPU_MS: f64 = 94.0;
pub const NANO_SWIFTSHADER_MS: f64 = 1_330.0;

/// A hardware GPU through WebGPU when no run has measured it: 100 GFLOP/s, a low guess (burn's
/// WGSL kernels reach a few percent of an integrated GPU's ~1–2 TFLOP/s f32 peak on small models).
pub const WEBGPU_GUESS_FLOPS: f64 = 100e9;

/// Where the FLOP/s rate of an estimate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RateSource {
    /// A run on this backend in this page session.
    Measured,
    /// The reference measurement of `nano` (see [`NANO_CPU_MS`]).
    Reference,
    /// No measurement for this kind of device: [`WEBGPU_GUESS_FLOPS`].
    Guess,
}

impl RateSource {
    /// Where the time per step comes from, as the page says it.
    pub fn describe(self) -> &'static str {
        match self {
            RateSource::Measured => "from this backend's speed in your last run",
            RateSource::Reference => "from a reference measurement of this kind of backend",
            RateSource::Guess => "a rough guess: no run has measured this GPU yet",
        }
    }
}

/// A run's estimated cost before it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StepEstimate {
    /// Weights, gradients and AdamW's moments.
    pub states_bytes: f64,
    /// Activations kept for the backward pass, whole batch (no recomputation).
    pub activations_bytes: f64,
    pub flops_per_step: f64,
    /// The FLOP/s the time is computed from, and where it comes from.
    pub rate: f64,
    pub rate_source: RateSource,
}

impl StepEstimate {
    pub fn memory_bytes(&self) -> f64 {
        self.states_bytes + self.activations_bytes
    }

    pub fn seconds_per_step(&self) -> f64 {
        self.flops_per_step / self.rate
    }
}

/// What the page does with an estimate.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Fine,
    /// Runs, but slowly: the student should know before starting.
    Slow(String),
    /// Cannot run on this backend: Start stays disabled with this reason.
    TooBig(String),
}

/// The reference FLOP/s of a backend (see [`NANO_CPU_MS`]); `emulated`: WebGPU is a software
/// adapter.
pub fn reference_rate(backend: Backend, emulated: bool) -> (f64, RateSource) {
    let nano = training_preset("nano").expect("the nano preset");
    let nano_flops = flops_per_step(&nano.shape, nano.train_batch.expect("a trainable preset"));
    match backend {
        Backend::Cpu => (nano_flops / (NANO_CPU_MS / 1e3), RateSource::Reference),
        Backend::WebGpu if emulated => (nano_flops / (NANO_SWIFTSHADER_MS / 1e3), RateSource::Reference),
        _ => (WEBGPU_GUESS_FLOPS, RateSource::Guess),
    }
}

/// The memory and step time of `shape` at `batch` in `precision`, at `rate` FLOP/s (a
/// measurement of this session) or else the backend's reference rate.
pub fn estimate(
    shape: &ModelShape,
    batch: usize,
    precision: Precision,
    backend: Backend,
    emulated: bool,
    measured_rate: Option<f64>,
) -> StepEstimate {
    let accounting = match precision {
        Precision::Fp32 => TrainingPrecision::Fp32,
        Precision::Bf16 => TrainingPrecision::MixedBf16,
    };
    let states_bytes = shape.params().total as f64 * accounting.state_bytes().total() as f64;
    let activations_bytes = activation_bytes(shape, accounting).total * batch as f64;
    let (rate, rate_source) = match measured_rate.filter(|r| r.is_finite() && *r > 0.0) {
        Some(r) => (r, RateSource::Measured),
        None => reference_rate(backend, emulated),
    };
    StepEstimate { states_bytes, activations_bytes, flops_per_step: flops_per_step(shape, batch), rate, rate_source }
}

/// Refuses a run whose memory floor exceeds the CPU backend's budget in wasm; warns about a step
/// longer than [`SLOW_STEP_SECONDS`]. WebGPU's own limits are checked per buffer
/// (`protocol::check_limits`): the browser does not say how much memory the GPU has.
pub fn verdict(e: &StepEstimate, backend: Backend) -> Verdict {
    let memory = e.memory_bytes();
    if backend == Backend::Cpu && memory > CPU_RUN_BUDGET_BYTES {
        return Verdict::TooBig(format!(
            "too large for the CPU backend in this tab: it needs at least {} ({} of weights, gradients and AdamW \
             state + {} of activations), and WebAssembly addresses {} in all (this lab keeps {} for the run); \
             choose a smaller preset, batch or context length — or train it natively with `lmlab train`",
            format_bytes(memory),
            format_bytes(e.states_bytes),
            format_bytes(e.activations_bytes),
            format_bytes(WASM_MEMORY_BYTES),
            format_bytes(CPU_RUN_BUDGET_BYTES),
        ));
    }
    let seconds = e.seconds_per_step();
    if seconds > SLOW_STEP_SECONDS {
        return Verdict::Slow(format!(
            "slow here: about {} per step ({} FLOPs at ≈ {} FLOP/s, {}); a smaller preset or batch gives a curve in minutes",
            format_duration(seconds),
            crate::units::format_number(e.flops_per_step),
            crate::units::format_number(e.rate),
            e.rate_source.describe(),
        ));
    }
    Verdict::Fine
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preset(name: &str) -> (ModelShape, usize) {
        let p = training_preset(name).unwrap();
        (p.shape, p.train_batch.unwrap())
    }

    #[test]
    fn memory_is_the_accounting_of_states_and_activations() {
        let (shape, batch) = preset("nano");
        let e = estimate(&shape, batch, Precision::Fp32, Backend::Cpu, false, None);
        // 16 bytes per parameter: weights, gradients, m, v in fp32.
        assert_eq!(e.states_bytes, 16.0 * shape.params().total as f64);
        // nano: T = 64, d = 64, 2 heads, d_ff 192, 2 layers, V = 512, fp32 — by hand:
        // per layer (4Td + 3Td + hT² + Td + 4T·d_ff)·4 + 2T·4, plus the logits T·V·4.
        let (t, d, h, ff, v) = (64.0, 64.0, 2.0, 192.0, 512.0);
        let layer = (4.0 * t * d + 3.0 * t * d + h * t * t + t * d + 4.0 * t * ff) * 4.0 + 8.0 * t;
        let per_sequence = 2.0 * layer + t * v * 4.0;
        assert!((e.activations_bytes - per_sequence * batch as f64).abs() < 1.0, "{e:?}");
        assert_eq!(verdict(&e, Backend::Cpu), Verdict::Fine);
    }

    #[test]
    fn gpt2_small_is_refused_on_the_cpu_backend_before_it_starts() {
        let (shape, batch) = preset("gpt2-small");
        let e = estimate(&shape, batch, Precision::Fp32, Backend::Cpu, false, None);
        // 124 M parameters × 16 bytes ≈ 2 GB of states alone, activations of 16 × 1024 tokens on top.
        assert!(e.states_bytes > 1.9e9 && e.memory_bytes() > WASM_MEMORY_BYTES, "{e:?}");
        match verdict(&e, Backend::Cpu) {
            Verdict::TooBig(why) => assert!(why.contains("CPU backend") && why.contains("lmlab train"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Even one sequence of 1,024 tokens is too much next to ≈ 2.6 GB of states (untied head).
        let one = estimate(&shape, 1, Precision::Fp32, Backend::Cpu, false, None);
        assert!(matches!(verdict(&one, Backend::Cpu), Verdict::TooBig(_)), "{one:?}");
    }

    #[test]
    fn a_run_that_fits_but_takes_minutes_per_step_is_warned() {
        // 8 layers of d_model 512 over 256 tokens, batch 12: ≈ 1.8 GB, ≈ 10¹¹·⁷ FLOPs per step.
        let tiny = training_preset("tiny").unwrap().shape;
        let shape = ModelShape { d_model: 512, num_layers: 8, num_heads: 8, num_kv_heads: 8, d_ff: 2048, context_length: 256, ..tiny };
        let e = estimate(&shape, 12, Precision::Fp32, Backend::Cpu, false, None);
        assert!(e.memory_bytes() < CPU_RUN_BUDGET_BYTES, "{e:?}");
        assert!(e.seconds_per_step() > SLOW_STEP_SECONDS, "{e:?}");
        match verdict(&e, Backend::Cpu) {
            Verdict::Slow(why) => assert!(why.contains("per step") && why.contains("reference"), "{why}"),
            other => panic!("{other:?}"),
        }
        // The same run on a GPU measured at 1 TFLOP/s: fine.
        let fast = estimate(&shape, 12, Precision::Fp32, Backend::WebGpu, false, Some(1e12));
        assert_eq!(verdict(&fast, Backend::WebGpu), Verdict::Fine);
    }

    #[test]
    fn the_reference_rate_reproduces_the_measured_nano_step() {
        let (shape, batch) = preset("nano");
        let cpu = estimate(&shape, batch, Precision::Fp32, Backend::Cpu, false, None);
        assert!((cpu.seconds_per_step() - NANO_CPU_MS / 1e3).abs() < 1e-9);
        let swiftshader = estimate(&shape, batch, Precision::Fp32, Backend::WebGpu, true, None);
        assert!((swiftshader.seconds_per_step() - NANO_SWIFTSHADER_MS / 1e3).abs() < 1e-9);
        assert_eq!(swiftshader.rate_source, RateSource::Reference);
        // A measurement of this session wins.
        let measured = estimate(&shape, batch, Precision::Fp32, Backend::Cpu, false, Some(cpu.flops_per_step));
        assert_eq!((measured.seconds_per_step(), measured.rate_source), (1.0, RateSource::Measured));
        let gpu = estimate(&shape, batch, Precision::Fp32, Backend::WebGpu, false, None);
        assert_eq!(gpu.rate_source, RateSource::Guess);
    }
}
