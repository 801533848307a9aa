//! One module per command family; each only parses, calls `lmlab`, and prints.

pub mod attention;
pub mod bench;
pub mod convert;
pub mod estimate;
pub mod exercises;
pub mod float;
pub mod hardware;
pub mod route;
pub mod sample;
pub mod scaling;
pub mod tokenize;
pub mod train;
pub mod welcome;
