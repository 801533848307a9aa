//! The built site (trunk's `dist/`) in headless Chromium, used as a student would: type numbers,
//! flip bits, pick presets, make mistakes, check exercises, reload a shared link, train. One test
//! binary, one module per lab; screenshots go to `tests/screenshots/`.
//!
//! Needs `trunk build --release` first and Debian's chromium + chromium-driver, so every test is
//! ignored by a plain `cargo test`; `tests/run-all.sh` runs them with `--ignored`, one at a time.

mod hardware;
mod layout;
mod precision_compute;
mod scaling;
mod tokenizers;
mod train;
mod train_cpu;
mod train_moe;
mod train_student;

/// Why the tests are ignored by default.
pub const NEEDS: &str = "needs dist/ (trunk build --release) and chromedriver: run tests/run-all.sh";
