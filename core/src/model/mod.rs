//! # The model (lectures 3–4; CS336 assignment 1 §3)
//!
//! The transformer's building blocks as functions generic over burn's [`Backend`], so one
//! definition runs on the CPU (flex), on WebGPU in the browser and on CUDA. Each function carries
//! a `# Shapes` note; all are checked against CS336's published vectors in `core/tests/model_cs336.rs`.
//!
//! Behind the `model` feature: the app's main bundle never links burn.
//!
//! [`Backend`]: burn::tensor::backend::Backend

pub mod init;
pub mod layers;
pub mod moe;
pub mod ops;
pub mod transformer;
pub mod weights;

pub use moe::MoeConfig;
pub use transformer::{TransformerConfig, TransformerLm};
