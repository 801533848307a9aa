//! # lmlab — the logic behind every lesson
//!
//! One module per lesson of the lab. Everything here is plain Rust that compiles both natively and
//! to `wasm32-unknown-unknown`, so the web app and the CLI show the very same numbers: a figure that
//! appears on a page and in the terminal comes from one function in this crate.
//!
//! * [`tokenize`] — character, byte, word and byte-level BPE tokenizers, BPE training, file formats.
//! * [`precision`] — floating-point formats (fp64 … fp8), exact rounding, tensor memory, accumulation error.
//! * [`accounting`] — FLOPs, parameter counts, memory and training time of transformers on real hardware.
//! * [`model`], [`train`], [`sample`] (feature `model`) — the CS336 transformer generic over burn's
//!   backends, its training loop and checkpoints, and decoding.
//! * [`scaling`] — IsoFLOP sweeps, their parabolas and power laws, and L(N, D) fitted as Chinchilla did.
//! * [`telemetry`] — what a run reports: step metrics, FLOPs per step, tokens/s and MFU (no burn).
//! * [`hardware`] — WGSL kernels (bandwidth, naive → register-blocked matmul) that measure a GPU
//!   through wgpu (feature `hardware`), checked against a CPU reference and placed on a roofline.
//! * [`exercise`] — "predict, then check" questions whose answers are computed by the modules above.
//! * [`units`] — parsing and printing of human quantities (`70B`, `15e12`, `1.5 GiB`, `143.9 days`).

pub mod accounting;
pub mod error;
pub mod exercise;
pub mod hardware;
pub mod model;
pub mod precision;
#[cfg(feature = "model")]
pub mod sample;
pub mod scaling;
pub mod telemetry;
pub mod tokenize;
pub mod train;
pub mod units;

pub use error::InputError;
