//! The `lmlab` command line end to end, in one test binary (one link of the CLI's backends): the
//! labs' numbers, the hardware kernels, training and its checkpoints, the main job, and the
//! agreement of the CLI and the Train page on one run plan.

mod agreement;
mod attention;
mod hardware;
mod labs;
mod main_job;
mod parallel;
mod precision;
mod scaling;
mod train;
