//! # The model (lectures 3–4; CS336 assignment 1 §3)
//!
//! The transformer's building blocks as functions generic over burn's [`Backend`], so one
//! definition runs on the CPU (flex), on WebGPU in the browser and on CUDA. Each function carries
//! a `# Shapes` note; all are checked against CS336's published vectors in `core/tests/lessons/model_cs336.rs`.
//!
//! Behind the `model` feature (all but [`plan`], the model as a run plan describes it): the app's
//! main bundle never links burn.
//!
//! [`Backend`]: burn::tensor::backend::Backend

#[cfg(feature = "model")]
pub mod attention;
#[cfg(feature = "model")]
pub mod init;
#[cfg(feature = "model")]
pub mod layers;
#[cfg(feature = "model")]
pub mod moe;
#[cfg(feature = "model")]
pub mod ops;
pub mod plan;
#[cfg(feature = "model")]
pub mod transformer;
#[cfg(feature = "model")]
pub mod weights;

#[cfg(feature = "model")]
pub use moe::MoeConfig;
pub use plan::{AttentionKernel, ModelPlan, RouterPlan};
#[cfg(feature = "model")]
pub use transformer::{TransformerConfig, TransformerLm};
