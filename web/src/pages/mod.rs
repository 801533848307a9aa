//! One module per page. Pages hold UI state only; every number comes from `lmlab`.

pub mod compute;
pub mod compute_parallel;
pub mod hardware;
pub mod hardware_attention;
pub mod home;
pub mod precision;
pub mod scaling;
pub mod tokenizers;
pub mod train;
