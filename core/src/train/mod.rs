//! # Training (CS336 assignment 1 §4)
//!
//! The learning-rate schedule is plain arithmetic and always available; the optimizer (and, next,
//! the training loop) need burn and come behind the `model` feature.

#[cfg(feature = "model")]
pub mod adamw;
#[cfg(feature = "model")]
pub mod optimizer;
pub mod schedule;
