//! The Train page as a test drives it. Each run has an id the page shows (`#train-phase`'s
//! `data-run`, raised the moment a run is asked for) and a phase (`data-phase`): a test clicks,
//! learns the new run's id, and waits for that run's phase — never for time to pass, never for an
//! old element to go away. The run's own error (`#train-error`) fails the wait at once.

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use crate::browser::Browser;

/// Error boxes of the Train page that fail any wait (see [`Browser::fail_on`]).
pub const TRAIN_ERRORS: [&str; 2] = ["#train-error", "#train-save-error"];

impl Browser {
    /// The current run's id (0 before any).
    pub async fn train_run(&self) -> u64 {
        self.wait_attr("#train-phase", "data-run", 30, |_| true).await.parse().expect("a run id")
    }

    /// The current run's phase: `idle`, `preparing`, `training`, `paused`, `stopped`, `finished`,
    /// `loaded` or `failed`.
    pub async fn train_phase(&self) -> String {
        self.attr("#train-phase", "data-phase").await
    }

    /// Clicks `button` (Start, Continue training it, Sample from it …), which begins a run, and
    /// returns the new run's id once the page shows it.
    pub async fn begin_run(&self, button: &str) -> u64 {
        let before = self.train_run().await;
        self.click(button).await;
        let want = (before + 1).to_string();
        self.wait_attr("#train-phase", "data-run", 30, |v| v == want).await.parse().expect("a run id")
    }

    /// Waits until run `run` is in one of `phases` (up to `secs`) and returns the phase. If the run
    /// fails while `failed` is not among them, the page's error is the panic message.
    pub async fn wait_phase(&self, run: u64, phases: &[&str], secs: u64) -> String {
        let start = Instant::now();
        loop {
            let shown: u64 = self.attr("#train-phase", "data-run").await.parse().expect("a run id");
            assert_eq!(shown, run, "another run began while waiting for run {run} to be {phases:?}");
            let phase = self.train_phase().await;
            if phases.contains(&phase.as_str()) {
                return phase;
            }
            if phase == "failed" {
                let e = self.driver.find(By::Css("#train-error")).await;
                let text = match e {
                    Ok(e) => e.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("run {run} failed while waiting for {phases:?}: {text}");
            }
            if let Ok(e) = self.driver.find(By::Css("#train-save-error")).await {
                panic!("saving the checkpoint failed: {}", e.text().await.unwrap_or_default());
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "run {run} was still {phase} after {secs} s, not {phases:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Run `run`'s error, once it failed (the run must fail within `secs`).
    pub async fn run_error(&self, run: u64, secs: u64) -> String {
        self.wait_phase(run, &["failed"], secs).await;
        self.wait_for("#train-error", 10).await.text().await.unwrap()
    }

    /// The number of steps done, from the live panel's "N / total".
    pub async fn steps_done(&self) -> usize {
        let t = self.wait_for("#train-step", 30).await.text().await.unwrap();
        t.split(" / ").next().unwrap().trim().parse().unwrap_or_else(|_| panic!("step text {t:?}"))
    }

    /// Waits until run `run` has done at least `n` steps.
    pub async fn wait_steps(&self, run: u64, n: usize, secs: u64) {
        let start = Instant::now();
        while self.steps_done().await < n {
            self.wait_phase(run, &["training", "paused", "stopped", "finished"], secs).await;
            assert!(start.elapsed() < Duration::from_secs(secs), "run {run}: fewer than {n} steps in {secs} s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
