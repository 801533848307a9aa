//! # Training (CS336 assignment 1 §4)
//!
//! The learning-rate schedule is plain arithmetic and always available; the optimizer and the
//! training loop (burn) come behind the `model` feature.

pub mod schedule;
