//! `lmlab scaling sweep` and `lmlab scaling fit`: an IsoFLOP sweep planned by `lmlab::scaling`,
//! each run trained by the ordinary loop (`lmlab::train::sweep`) and checkpointed, one JSON line
//! per finished run in `DIR/runs.jsonl`; then the fits. This file maps flags, keeps the sweep's
//! directory and prints.
//!
//! The directory: `sweep.json` (the settings and the corpus: a second run of the command must ask
//! for the same sweep, or it is refused), `runs.jsonl`, and `runs/<id>/`, each run's checkpoint.
//! Run again after a stop (Ctrl-C, a crash): finished runs are skipped, a run cut short resumes
//! from its last checkpoint.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use lmlab::scaling::analysis::SweepFit;
use lmlab::scaling::records::{check_same_source, Identity};
use lmlab::scaling::sweep::{parse_budgets, PlannedRun};
use lmlab::scaling::{analyze, parse_runs, RunRecord, StartGrid, SweepPlan, SweepSettings};
use lmlab::telemetry::StepMetrics;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::plan::{DataChoice, TokenizerChoice};
use lmlab::train::prepare::{RunData, TokenizerSource};
use lmlab::train::run::RunHooks;
use lmlab::train::sweep::{train_planned, SweepOutcome};
use lmlab::train::TrainError;
use lmlab::units::{format_count, format_duration, format_number, parse_count, parse_positive};
use lmlab::InputError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::{FitArgs, SweepArgs};
use crate::commands::train::{data, hooks::ctrl_c};
use crate::CliResult;

/// `DIR/sweep.json`: what the directory's sweep is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SweepFile {
    settings: SweepSettings,
    corpus: Identity,
}

fn settings_of(args: &SweepArgs) -> Result<SweepSettings, InputError> {
    let count = |flag: &str, text: &str| parse_count(flag, text).map(|n| n as usize);
    let mut s = SweepSettings::new(parse_budgets("--budgets", &args.budgets)?);
    s.sizes_per_budget = count("--sizes", &args.sizes)?;
    s.context_length = count("--context", &args.context)?;
    s.batch_size = count("--batch", &args.batch)?;
    s.vocab_size = count("--vocab-size", &args.vocab_size)?;
    s.tokens_per_param = parse_positive("--tokens-per-param", &args.tokens_per_param)?;
    s.max_lr = parse_positive("--lr", &args.lr)?;
    s.seed = lmlab::units::parse_whole("--seed", &args.seed)?;
    Ok(s)
}

fn io(path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Data { file: path.display().to_string(), message: e.to_string() }
}

/// The runs already in `DIR/runs.jsonl` (none if there is no file yet).
fn read_records(path: &Path) -> Result<Vec<RunRecord>, Box<dyn std::error::Error>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(parse_runs(&path.display().to_string(), &text).map_err(TrainError::Config)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io(path, e).into()),
    }
}

/// Appends one record to runs.jsonl and syncs it: a crash afterwards never loses a finished run.
fn append_record(path: &Path, record: &RunRecord) -> Result<(), TrainError> {
    let mut f = fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| io(path, e))?;
    writeln!(f, "{}", record.to_line()).map_err(|e| io(path, e))?;
    f.sync_all().map_err(|e| io(path, e))
}

/// Creates the sweep's directory, or checks that the one there holds this very sweep.
fn claim_dir(out: &Path, file: &SweepFile) -> Result<(), Box<dyn std::error::Error>> {
    let path = out.join("sweep.json");
    if path.exists() {
        let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let old: SweepFile = serde_json::from_str(&text).map_err(|e| TrainError::Data {
            file: path.display().to_string(),
            message: format!("is not a sweep file ({e}); it is left untouched: choose another --out"),
        })?;
        if old.corpus.fingerprint != file.corpus.fingerprint {
            return Err(TrainError::Config(format!(
                "{} holds a sweep on {} (fingerprint {}), not on {} ({}): choose another --out",
                out.display(),
                old.corpus.name,
                old.corpus.fingerprint,
                file.corpus.name,
                file.corpus.fingerprint
            ))
            .into());
        }
        if old.settings != file.settings {
            return Err(TrainError::Config(format!(
                "{} holds a sweep with other settings ({}); to continue it give the same flags, or choose another --out",
                out.display(),
                serde_json::to_string(&old.settings).unwrap_or_default()
            ))
            .into());
        }
        return Ok(());
    }
    if out.exists() && fs::read_dir(out).map_err(|e| io(out, e))?.next().is_some() {
        return Err(TrainError::Config(format!(
            "{} exists and is not a sweep directory (no sweep.json); it is left untouched: choose another --out",
            out.display()
        ))
        .into());
    }
    fs::create_dir_all(out).map_err(|e| io(out, e))?;
    fs::write(&path, serde_json::to_string_pretty(file)?).map_err(|e| io(&path, e))?;
    Ok(())
}

pub fn sweep(args: &SweepArgs) -> CliResult {
    let settings = settings_of(args)?;
    let plan = SweepPlan::new(settings).map_err(|e| InputError::new("--budgets", &args.budgets, e))?;
    let choice =
        args.data.as_deref().map_or(DataChoice::Bundled, |p| DataChoice::File { path: p.display().to_string() });
    if choice.is_token_file() {
        return Err(TrainError::Config(
            "a sweep trains its BPE on text: give a text file with --data, not a .bin of token ids".into(),
        )
        .into());
    }
    let input = data::read(&choice)?;
    let corpus = match &input {
        lmlab::train::prepare::DataInput::Text(c) => Identity::of_corpus(&c.name, c.text.as_bytes()),
        lmlab::train::prepare::DataInput::TokenFile { .. } => unreachable!("refused above"),
    };
    let file = SweepFile { settings: plan.settings.clone(), corpus: corpus.clone() };
    claim_dir(&args.out, &file)?;
    let records_path = args.out.join("runs.jsonl");
    let done = read_records(&records_path)?;
    check_same_source(&done).map_err(TrainError::Config)?;
    let todo: Vec<PlannedRun> = plan.runs.iter().filter(|r| !done.iter().any(|d| d.id == r.id)).cloned().collect();
    if args.json {
        println!("{}", json!({"event": "plan", "settings": plan.settings, "runs": plan.runs, "done": done.len()}));
    } else {
        println!(
            "sweep: {} budgets × {} sizes = {} runs, {} FLOPs in all; {} already done in {}",
            plan.settings.budgets.len(),
            plan.settings.sizes_per_budget,
            plan.runs.len(),
            format_number(plan.total_flops()),
            done.len(),
            records_path.display()
        );
        for r in &plan.runs {
            println!(
                "  {:<14} N {:>10}  D {:>11}  {:>6} steps  (d_model {}, {} layers)",
                r.id,
                format_count(r.params as f64),
                format_count(r.tokens as f64),
                r.steps,
                r.shape.d_model,
                r.shape.num_layers
            );
        }
    }
    if !todo.is_empty() {
        let tokenizer = TokenizerSource::Train(TokenizerChoice::Bpe { vocab_size: plan.settings.vocab_size });
        let run_data = RunData::load(input, None, tokenizer, &mut |_| {})?;
        if let Some(r) = done.first() {
            let now = Identity::of_tokenizer(&run_data.tokenizer, &run_data.tokenizer_source);
            if now.fingerprint != r.tokenizer.fingerprint {
                return Err(TrainError::Config(format!(
                    "the tokenizer trained now ({}) differs from the one run {} used ({}): choose another --out",
                    now.fingerprint, r.id, r.tokenizer.fingerprint
                ))
                .into());
            }
        }
        let picked = pick_device(&args.device)?;
        if !args.json {
            println!("device: {}", picked.describe());
        }
        let job = SweepJob { plan: &plan, todo, data: run_data, corpus, out: args.out.clone(), json: args.json };
        run_job(&picked, job)?;
    }
    let records = read_records(&records_path)?;
    match analyze(&records, &StartGrid::paper()) {
        Ok(fit) if args.json => println!("{}", json!({"event": "fit", "fit": fit})),
        Ok(fit) => print_fit(&fit, None),
        Err(e) if !args.json => println!("not fitted yet: {e}"),
        Err(_) => {}
    }
    Ok(())
}

struct SweepJob<'a> {
    plan: &'a SweepPlan,
    todo: Vec<PlannedRun>,
    data: RunData,
    corpus: Identity,
    out: PathBuf,
    json: bool,
}

impl Job for SweepJob<'_> {
    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let on = picked.label();
        let stop = ctrl_c();
        let total = self.todo.len();
        for (i, run) in self.todo.iter().enumerate() {
            let dir = self.out.join("runs").join(&run.id);
            let resume = if dir.exists() { Some(checkpoint_dir::read(&dir)?) } else { None };
            let resume_step = resume.as_ref().and_then(|c| c.state().ok()).map(|s| s.step);
            if self.json {
                println!("{}", json!({"event": "start", "id": run.id, "resume_step": resume_step}));
            } else {
                let from = resume_step.map_or(String::new(), |s| format!(", resuming at step {s}"));
                println!(
                    "run {}/{total}: {} — N {}, D {}{from}",
                    i + 1,
                    run.id,
                    format_count(run.params as f64),
                    format_count(run.tokens as f64)
                );
            }
            let mut hooks = SweepHooks::new(run, dir, stop.clone(), self.json);
            let outcome = pollster::block_on(train_planned::<B>(
                run,
                &self.plan.settings,
                &self.data,
                &self.corpus,
                resume.as_ref(),
                &device,
                &on,
                &mut hooks,
            ));
            hooks.bar.finish_and_clear();
            match outcome? {
                SweepOutcome::Done(record) => {
                    append_record(&self.out.join("runs.jsonl"), &record)?;
                    if self.json {
                        println!("{}", json!({"event": "run", "record": record}));
                    } else {
                        let result = match (record.val_loss, &record.diverged) {
                            (Some(l), _) => format!("validation loss {l:.4}"),
                            (None, Some(why)) => format!("diverged ({why}): recorded, left out of the fit"),
                            (None, None) => "no loss".into(),
                        };
                        let epochs = if record.epochs > 1.0 {
                            format!(", {:.1} epochs of the data", record.epochs)
                        } else {
                            String::new()
                        };
                        println!("  {result} in {}{epochs}", format_duration(record.seconds));
                    }
                }
                SweepOutcome::Stopped { step } if self.json => {
                    println!("{}", json!({"event": "stopped", "id": run.id, "step": step}));
                    return Ok(());
                }
                SweepOutcome::Stopped { step } => {
                    println!(
                        "interrupted in run {} at step {step}: its checkpoint is saved; run the same command again to continue",
                        run.id
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// A sweep run's hooks: a progress bar (or nothing with --json), checkpoints to the run's
/// directory, Ctrl-C to stop (the run saves; the next invocation resumes it).
struct SweepHooks {
    bar: ProgressBar,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
}

impl SweepHooks {
    fn new(run: &PlannedRun, dir: PathBuf, stop: Arc<AtomicBool>, json: bool) -> Self {
        let bar = if json { ProgressBar::hidden() } else { ProgressBar::new(run.steps as u64) };
        bar.set_style(
            ProgressStyle::with_template("  {bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Self { bar, dir, stop }
    }
}

impl RunHooks for SweepHooks {
    fn read_ahead(&self) -> bool {
        true
    }

    fn on_step(&mut self, m: &StepMetrics) -> bool {
        self.bar.set_position(m.step as u64);
        self.bar.set_message(format!("loss {:.3}", m.loss));
        !self.stop.load(Ordering::SeqCst)
    }

    fn on_eval(&mut self, _step: usize, _val_loss: f64) {}

    fn on_checkpoint(&mut self, mut checkpoint: Checkpoint) -> Result<(), TrainError> {
        checkpoint.origin = self.dir.display().to_string();
        checkpoint_dir::write(&self.dir, &checkpoint)
    }
}

pub fn fit(args: &FitArgs) -> CliResult {
    let budget = parse_positive("--budget", &args.budget)?;
    let path = if args.runs.is_dir() { args.runs.join("runs.jsonl") } else { args.runs.clone() };
    if !path.exists() {
        return Err(
            TrainError::Data { file: path.display().to_string(), message: "not found (no runs yet?)".into() }.into()
        );
    }
    let records = read_records(&path)?;
    let fit =
        analyze(&records, &StartGrid::paper()).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
    if args.json {
        println!("{}", json!({"fit": fit, "prediction": fit.predict(budget)}));
    } else {
        print_fit(&fit, Some(budget));
    }
    Ok(())
}

/// The fits as text: per budget the IsoFLOP curve and its optimum, the power laws, L(N, D), and
/// (with a budget) what it buys by each law.
fn print_fit(fit: &SweepFit, budget: Option<f64>) {
    println!("\nIsoFLOP fits ({}; {}):", fit.corpus, fit.tokenizer);
    for b in &fit.budgets {
        let losses: Vec<String> = b.runs.iter().map(|(n, _, l)| format!("{}→{l:.3}", format_count(*n))).collect();
        let opt = match (b.n_opt, b.d_opt) {
            (Some(n), Some(d)) => {
                let unc = b.n_opt_ln_se.map_or(String::new(), |s| format!(" (×/÷ {:.2})", s.exp()));
                format!("N_opt {}{unc}, D_opt {}", format_count(n), format_count(d))
            }
            _ => "no optimum".into(),
        };
        let note = b.note.as_ref().map_or(String::new(), |n| format!("  [{n}]"));
        println!("  C = {:<8} {opt}   losses {}{note}", format_number(b.budget), losses.join(", "));
    }
    for e in &fit.excluded {
        println!("  left out: {} — {}", e.id, e.why);
    }
    let se = |s: Option<f64>| s.map_or(String::new(), |s| format!(" ± {s:.3}"));
    if let Some(p) = &fit.n_opt_law {
        println!(
            "N_opt = {:.3e} · C^{:.3}{}   (Chinchilla's law: C^{:.3}; its rule of thumb: C^0.5)",
            p.coefficient,
            p.exponent,
            se(p.exponent_se),
            lmlab::scaling::Law::CHINCHILLA.params_exponent()
        );
    }
    if let Some(p) = &fit.d_opt_law {
        println!("D_opt = {:.3e} · C^{:.3}{}", p.coefficient, p.exponent, se(p.exponent_se));
    }
    if let Some(l) = &fit.law {
        let law = l.law;
        println!(
            "L(N, D) = {:.3} + {:.4}/N^{:.3} + {:.4}/D^{:.3}   (Huber δ 1e-3 + L-BFGS from {} starts, {} reached the best; \
             rms log residual {:.4})",
            law.e, law.a, law.alpha, law.b, law.beta, l.starts, l.starts_at_best, l.rms_log_residual
        );
    }
    for n in &fit.notes {
        println!("note: {n}");
    }
    if let Some(c) = budget {
        let p = fit.predict(c);
        println!("\nat C = {} FLOPs (C = 6·N·D):", format_number(c));
        let row = |who: &str, n: f64, d: f64, loss: Option<f64>| {
            let loss = loss.map_or(String::new(), |l| format!(", loss {l:.3}"));
            println!(
                "  {who:<28} N {:>10}, D {:>10}, {:.1} tokens/parameter{loss}",
                format_count(n),
                format_count(d),
                d / n
            );
        };
        if let Some(o) = p.law {
            row("your L(N, D)", o.params, o.tokens, Some(o.loss));
        }
        if let Some((n, d)) = p.power_laws {
            row("your IsoFLOP power laws", n, d, None);
        }
        row("Chinchilla's L(N, D)", p.chinchilla.params, p.chinchilla.tokens, Some(p.chinchilla.loss));
        row("Chinchilla's 20 tokens/param", p.chinchilla_rule.0, p.chinchilla_rule.1, None);
        row("Kaplan et al. 2020", p.kaplan.0, p.kaplan.1, None);
    }
}
