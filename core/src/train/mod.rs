//! # Training (CS336 assignment 1 §4–5)
//!
//! The learning-rate schedule is plain arithmetic and always available. Everything else needs burn
//! and sits behind the `model` feature:
//!
//! * [`data`] — token files as slices and `get_batch` (random windows, targets shifted by one);
//! * [`adamw`] / [`optimizer`] — AdamW with decoupled weight decay and global gradient clipping;
//! * [`trainer`] — one training step, validation and the run's metrics, written `async` with only
//!   asynchronous device reads, so the browser (WebGPU forbids blocking reads) runs the very same loop;
//! * [`parallel`] — data parallelism: the batch sharded across ranks, gradients averaged in buckets
//!   by a [`parallel::Collective`] (the CLI's is MPI), replicas checked for drift;
//! * [`run`] — the loop both front ends drive (validation and checkpoint cadence, user stops);
//! * [`plan`] / [`plan_form`] — a run's plan (model, settings, tokenizer, data) and its defaults,
//!   parsed from the CLI's flags and the page's form alike (no burn);
//! * [`prepare`] — a plan turned into tokens, splits, the trainer and the run header: the one setup
//!   the CLI and the page's worker share;
//! * [`sweep`] — one run of a scaling sweep (`lmlab::scaling`) through the same loop;
//! * [`feasibility`] — memory and seconds per step of a run before it starts (the page refuses or warns);
//! * [`forms`] — the Train page's form (the plan's fields and the sample settings; no burn);
//! * [`presets`] — the Train page's exercises (the shapes are in `accounting::presets`);
//! * [`protocol`] — the messages between the Train page and its worker (no burn);
//! * [`archive`] — a checkpoint's files as one `.tar` (the page's download, the CLI reads it);
//! * [`checkpoint`] — a checkpoint as a set of named files (config, weights, optimizer state, RNG,
//!   tokenizer) that the CLI writes to a directory and the browser to IndexedDB.

#[cfg(feature = "model")]
pub mod adamw;
pub mod archive;
#[cfg(feature = "model")]
pub mod bench;
#[cfg(feature = "model")]
pub mod checkpoint;
#[cfg(feature = "model")]
pub mod data;
pub mod feasibility;
pub mod forms;
#[cfg(feature = "model")]
pub mod optimizer;
#[cfg(feature = "model")]
pub mod parallel;
pub mod plan;
pub mod plan_form;
#[cfg(feature = "model")]
pub mod prepare;
pub mod presets;
pub mod protocol;
#[cfg(feature = "model")]
pub mod run;
pub mod schedule;
#[cfg(feature = "model")]
pub mod sweep;
#[cfg(feature = "model")]
pub mod trainer;
#[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
pub mod webgpu;

#[cfg(feature = "model")]
pub use error::TrainError;

#[cfg(feature = "model")]
mod error {
    use thiserror::Error;

    use crate::model::weights::WeightsError;
    use crate::tokenize::TokenizeError;

    /// Everything that stops a run, each with what the user can change.
    #[derive(Debug, Error)]
    pub enum TrainError {
        #[error("{file}: {message}")]
        Data { file: String, message: String },
        #[error("{file}: {tokens} tokens is too short: {why} needs at least {needed}; use more text or a smaller context length")]
        TooShort { file: String, tokens: usize, needed: usize, why: &'static str },
        #[error("{file}: token id {id} is outside the model's vocabulary of {vocab_size} (the data was tokenized with another tokenizer?)")]
        VocabMismatch { file: String, id: u32, vocab_size: usize },
        #[error("the loss became {value} at step {step}; stopped without saving (the last good checkpoint is kept). Lower --lr or check the data")]
        NonFinite { step: usize, value: f64 },
        #[error("{file}: {message}")]
        Checkpoint { file: String, message: String },
        #[error(transparent)]
        Weights(#[from] WeightsError),
        #[error(transparent)]
        Tokenizer(#[from] TokenizeError),
        #[error("invalid configuration: {0}")]
        Config(String),
        #[error("the device failed: {0}")]
        Device(String),
        #[error(transparent)]
        Sample(#[from] crate::sample::SampleError),
    }
}
