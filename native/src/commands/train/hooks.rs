//! The CLI's view of a run (`lmlab::train::run`'s hooks): a progress bar or JSON lines, checkpoints
//! written to disk atomically, Ctrl-C asking the loop to save and stop.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use lmlab::telemetry::{CommTiming, MoeMetrics, StepMeter, StepMetrics, Throughput};
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::protocol::RunInfo;
use lmlab::train::run::RunHooks;
use lmlab::train::TrainError;
use serde_json::json;

use crate::checkpoint_dir;

pub struct CliHooks {
    bar: ProgressBar,
    json: bool,
    log_every: usize,
    out: PathBuf,
    stop: Arc<AtomicBool>,
    meter: StepMeter,
    speed: Option<Throughput>,
    pub val_loss: Option<f64>,
    pub started: Instant,
    /// The step of the newest checkpoint written.
    pub saved_step: Option<usize>,
    /// The newest step's router statistics (MoE models).
    moe: Option<MoeMetrics>,
    /// A file every checkpoint carries (`corpus.txt`, when the resumed checkpoint had one).
    pub carry: Option<Vec<u8>>,
    /// A data-parallel run's communication so far (steps, totals), for the log and the summary.
    pub comm: Option<(usize, CommTiming)>,
}

impl CliHooks {
    /// Hooks for the run `info` describes, from step `info.step`; MFU against `peak` FLOP/s.
    pub fn new(info: &RunInfo, peak: Option<f64>, out: PathBuf, log_every: usize, json: bool) -> Self {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(info.steps as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(info.step as u64);
            bar
        };
        Self {
            bar,
            json,
            log_every,
            out,
            stop: ctrl_c(),
            meter: StepMeter::new(info.shape, info.batch_size, peak),
            speed: None,
            val_loss: None,
            started: Instant::now(),
            saved_step: None,
            moe: None,
            carry: None,
            comm: None,
        }
    }

    /// Ends the progress bar (before the run's last lines are printed).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Throughput for plain-text logs.
    fn progress_note(&self) -> String {
        let speed = self.speed.map_or(String::new(), |t| format!(", {:.0} tokens/s", t.tokens_per_s));
        let mfu = self.speed.and_then(|t| t.mfu).map_or(String::new(), |u| format!(", MFU {:.1}%", 100.0 * u));
        format!(" ({:.0} s{speed}{mfu}{})", self.started.elapsed().as_secs_f64(), self.comm_note())
    }

    /// A data-parallel run's communication per step so far: what hid behind packing the next
    /// buckets and what the steps waited for.
    pub fn comm_note(&self) -> String {
        self.comm.as_ref().map_or(String::new(), |(steps, t)| {
            let n = (*steps).max(1) as f64;
            format!(
                ", all-reduce {} in {} bucket(s)/step: {:.1} ms hidden, {:.1} ms exposed",
                lmlab::units::format_bytes(t.bytes as f64 / n),
                (t.buckets as f64 / n).round(),
                1e3 * t.hidden_s / n,
                1e3 * t.exposed_s / n
            )
        })
    }

    /// The router's health for logs: balance loss (1 = even), the busiest expert against an even
    /// share, z-loss and dropped pairs.
    fn router_note(&self) -> String {
        self.moe.as_ref().map_or(String::new(), |m| {
            format!(
                "  router: balance {:.3}, busiest expert {:.2}× even, z-loss {:.3}, dropped {:.1}%",
                m.balance_loss,
                m.max_load(),
                m.z_loss,
                100.0 * m.dropped_fraction
            )
        })
    }
}

/// The flag Ctrl-C (or SIGTERM) sets (one per process: a sweep's runs share it); a second one
/// while saving exits at once.
pub fn ctrl_c() -> Arc<AtomicBool> {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    STOP.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let _ = ctrlc::set_handler(move || {
            // A rank of a data-parallel job is being ended by its launcher: it reports and exits.
            if crate::ranks::on_signal() {
                return;
            }
            if flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
        stop
    })
    .clone()
}

impl RunHooks for CliHooks {
    /// Queue the next step before reading this one's loss: on a GPU the device never waits for
    /// the host to print.
    fn read_ahead(&self) -> bool {
        true
    }

    fn on_step(&mut self, m: &StepMetrics) -> bool {
        // Tokens/s and MFU: the median of the recent steps, the first (compiling) step left out —
        // the page's live panel uses the same meter.
        self.meter.record(m.seconds);
        self.speed = self.meter.throughput();
        if let Some(c) = &m.comm {
            let (steps, total) = self.comm.get_or_insert((0, CommTiming::default()));
            *steps += 1;
            total.add(c);
        }
        if m.step % self.log_every == 0 && self.json {
            println!(
                "{}",
                json!({"event": "step", "step": m.step, "loss": m.loss, "lr": m.lr, "grad_norm": m.grad_norm,
                       "tokens_seen": m.tokens_seen, "step_seconds": m.seconds,
                       "tokens_per_s": self.speed.map(|t| t.tokens_per_s), "mfu": self.speed.and_then(|t| t.mfu),
                       "moe": m.moe, "comm": m.comm})
            );
        }
        let val = self.val_loss.map_or(String::new(), |v| format!("  val {v:.3}"));
        let speed = self.speed.map_or(String::new(), |t| format!("  {:.0} tok/s", t.tokens_per_s));
        let mfu = self.speed.and_then(|t| t.mfu).map_or(String::new(), |u| format!("  MFU {:.1}%", 100.0 * u));
        let balance = m.moe.as_ref().map_or(String::new(), |r| format!("  balance {:.2}", r.balance_loss));
        self.moe = m.moe.clone();
        self.bar.set_message(format!("loss {:.3}{val}{speed}{mfu}{balance}", m.loss));
        self.bar.inc(1);
        !self.stop.load(Ordering::SeqCst)
    }

    fn on_eval(&mut self, step: usize, val_loss: f64) {
        self.val_loss = Some(val_loss);
        if self.json {
            let seconds = self.started.elapsed().as_secs_f64();
            println!("{}", json!({"event": "eval", "step": step, "val_loss": val_loss, "seconds": seconds}));
        } else if self.bar.is_hidden() {
            // Not a terminal (a log file, CI): plain lines instead of the bar.
            println!("step {step:>6}: validation loss {val_loss:.4}{}{}", self.progress_note(), self.router_note());
        } else {
            self.bar.println(format!("step {step:>6}: validation loss {val_loss:.4}{}", self.router_note()));
        }
    }

    fn on_checkpoint(&mut self, mut checkpoint: Checkpoint) -> Result<(), TrainError> {
        checkpoint.origin = self.out.display().to_string();
        if let Some(corpus) = &self.carry {
            checkpoint.files.insert(lmlab::train::archive::CORPUS_FILE.into(), corpus.clone());
        }
        checkpoint_dir::write(&self.out, &checkpoint)?;
        let state = checkpoint.state()?;
        self.saved_step = Some(state.step);
        crate::ranks::saved(state.step);
        if self.json {
            println!("{}", json!({"event": "checkpoint", "step": state.step, "dir": self.out.display().to_string()}));
        }
        Ok(())
    }
}
