//! `lmlab train` (and `lmlab` with no arguments): the flags become a run plan
//! (`lmlab::train::plan`, the same plan the Train page makes from its form), the data is read or
//! memory-mapped ([`data`]), `lmlab::train::prepare` sets the run up on the device, and
//! `lmlab::train::run` trains it with the CLI's hooks ([`hooks`]). This file only maps flags and
//! prints. Under `mpirun` each process joins the job as one rank first (`crate::ranks`); the
//! flags mean the same, `--batch` being each rank's share.

pub mod data;
pub mod hooks;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use lmlab::accounting::ShapeForm;
use lmlab::train::archive;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::train::parallel::Collective;
use lmlab::train::plan::{default_checkpoint_every, AttentionKernel, DataChoice, Precision, RunPlan, TokenizerChoice};
use lmlab::train::plan_form::{Labels, PlanForm};
use lmlab::train::prepare::{self, DataInput, ResumeChanges, RunData, TokenizerSource};
use lmlab::train::protocol::{Corpus, RunInfo};
use lmlab::train::run::{run, RunEnd};
use lmlab::train::trainer::Trainer;
use lmlab::train::TrainError;
use lmlab::units::parse_count;
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::{Cli, Command, TrainModelArgs};
use crate::commands::sample::print_samples;
use crate::commands::tokenize::read_text;
use crate::ranks::{self, Launch};
use crate::CliResult;
use hooks::CliHooks;

/// The main job: `lmlab train` with every default — the tiny preset on the bundled Shakespeare,
/// sized to finish in a few minutes on two CPU cores and still learn visibly.
pub fn main_job() -> CliResult {
    println!("lmlab: training the tiny transformer on the bundled Shakespeare (lmlab --help for every command).\n");
    match Cli::parse_from(["lmlab", "train"]).command {
        Some(Command::Train(args)) => train(&args),
        _ => unreachable!("`lmlab train` parses as the train command"),
    }
}

/// Optional flag text as a form field ("" = the default).
fn field(flag: &Option<String>) -> String {
    flag.clone().unwrap_or_default()
}

/// The plan of a new run: the flags over the preset (or `--config`'s model).
fn plan_of(args: &TrainModelArgs) -> Result<RunPlan, Box<dyn std::error::Error>> {
    let base = match &args.config {
        Some(path) => Some(prepare::model_of_config(&path.display().to_string(), &read_text(path)?)?),
        None => None,
    };
    let m = &args.moe;
    let form = PlanForm {
        preset: field(&args.preset),
        shape: ShapeForm {
            context_length: field(&args.context),
            num_experts: field(&m.experts),
            top_k: field(&m.top_k),
            d_ff_expert: field(&m.expert_d_ff),
            num_shared_experts: field(&m.shared_experts),
            first_dense_layers: field(&m.first_dense_layers),
            ..ShapeForm::default()
        },
        tokenizer: String::new(),
        vocab_size: field(&args.vocab_size),
        steps: field(&args.steps),
        batch_size: field(&args.batch),
        lr: field(&args.lr),
        warmup: field(&args.warmup),
        eval_every: field(&args.eval_every),
        checkpoint_every: field(&args.checkpoint_every),
        seed: field(&args.seed),
        precision: field(&args.precision),
        attention: field(&args.attention),
        capacity_factor: field(&m.capacity_factor),
        balance_weight: field(&m.balance_weight),
        z_weight: field(&m.z_weight),
    };
    let mut plan = form.parse(base.as_ref(), Labels::Cli).map_err(|mut errors| errors.remove(0).1)?;
    if let Some(path) = &args.config {
        plan.preset = path.display().to_string();
    }
    if let Some(dir) = &args.tokenizer_dir {
        plan.tokenizer = TokenizerChoice::Dir { path: dir.display().to_string() };
    }
    let file = |p: &Path| DataChoice::File { path: p.display().to_string() };
    plan.data = args.data.as_deref().map_or(DataChoice::Bundled, file);
    plan.val = args.val.as_deref().map(file);
    plan.validate().map_err(TrainError::Config)?;
    Ok(plan)
}

/// How the run starts.
enum Start {
    New(Box<RunPlan>),
    Resume { checkpoint: Box<Checkpoint>, changes: ResumeChanges },
}

pub fn train(args: &TrainModelArgs) -> CliResult {
    // A rank of a data-parallel job joins it before anything else, so every rank fails alike.
    let launch = ranks::launch();
    let group = launch.as_ref().map(ranks::join).transpose()?;
    if let Some(l) = launch.filter(|l| l.rank != 0) {
        ranks::quiet_stdout(&l, args.ranks.rank_log.as_deref())?;
    }
    let bucket_mb = lmlab::units::parse_positive("--bucket-mb", &args.ranks.bucket_mb)?;
    let log_every = parse_count("--log-every", &args.log_every)? as usize;
    let steps = args.steps.as_deref().map(|s| parse_count("--steps", s)).transpose()?.map(|s| s as usize);
    let checkpoint_every =
        args.checkpoint_every.as_deref().map(|s| parse_count("--checkpoint-every", s)).transpose()?.map(|s| s as usize);
    let precision = args.precision.as_deref().map(|p| Precision::parse("--precision", p)).transpose()?;
    let attention = args.attention.as_deref().map(|a| AttentionKernel::parse("--attention", a)).transpose()?;
    // The corpus a checkpoint carries (the Train page's .tar of a run on the student's own text).
    let mut embedded: Option<(Corpus, Vec<u8>)> = None;
    let (start, data_choice, val_choice, tokenizer, out) = match &args.resume {
        Some(dir) => {
            let checkpoint = checkpoint_dir::read(dir)?;
            let recorded = DataChoice::recorded(&checkpoint.state()?.data);
            if let (None, Some(bytes)) = (&args.data, checkpoint.files.get(archive::CORPUS_FILE)) {
                let corpus = archive::embedded_corpus(&checkpoint.origin, bytes)
                    .map_err(|e| TrainError::Checkpoint { file: e.file, message: e.message })?;
                embedded = Some((corpus, bytes.clone()));
            } else if let (None, DataChoice::File { path }) = (&args.data, &recorded) {
                if !Path::new(path).exists() {
                    let message = format!(
                        "the run's training data is not on disk here (the Train page puts text up to {} into its \
                         .tar; a larger text stays in the browser): give it with --data FILE",
                        lmlab::units::format_bytes(archive::MAX_EMBEDDED_CORPUS_BYTES as f64)
                    );
                    return Err(lmlab::tokenize::TokenizeError::Io { file: path.clone(), message }.into());
                }
            }
            let data = args.data.as_ref().map_or(recorded, |p| DataChoice::File { path: p.display().to_string() });
            let val = args.val.as_ref().map(|p| DataChoice::File { path: p.display().to_string() });
            let tokenizer = TokenizerSource::of_checkpoint(&checkpoint)?;
            // A .tar (the Train page's download) continues into the directory of the same name.
            let out =
                args.out.clone().unwrap_or_else(|| if dir.is_file() { dir.with_extension("") } else { dir.clone() });
            let changes = ResumeChanges { steps, precision, attention };
            (Start::Resume { checkpoint: Box::new(checkpoint), changes }, data, val, tokenizer, out)
        }
        None => {
            let mut plan = plan_of(args)?;
            // --batch is each rank's: the run (and its checkpoints) keep the global batch.
            plan.training.batch_size *= launch.map_or(1, |l| l.ranks);
            let tokenizer = data::tokenizer(&plan.tokenizer)?;
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&plan.preset));
            let (data, val) = (plan.data.clone(), plan.val.clone());
            (Start::New(Box::new(plan)), data, val, tokenizer, out)
        }
    };
    checkpoint_dir::check_writable(&out)?;
    let trains_tokenizer = matches!(tokenizer, TokenizerSource::Train(_));
    let started = Instant::now();
    let (train_data, carried) = match embedded {
        Some((corpus, bytes)) => (DataInput::Text(corpus), Some(bytes)),
        None => (data::read(&data_choice)?, None),
    };
    let val_data = val_choice.as_ref().map(data::read).transpose()?;
    let data = RunData::load(train_data, val_data, tokenizer, &mut |_| {})?;
    if trains_tokenizer && !args.json {
        println!("tokenizer: {} in {:.1} s", data.tokenizer_source, started.elapsed().as_secs_f64());
    }
    let mut picked = pick_device(&args.device)?;
    if let Some(l) = &launch {
        picked = picked.for_local_rank(l.local_rank);
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        if args.json {
            let e = json!({"event": "rank", "rank": l.rank, "ranks": l.ranks, "local_rank": l.local_rank,
                           "pid": std::process::id(), "host": host, "device": picked.describe()});
            println!("{e}");
        } else {
            println!("rank {} of {} (pid {}{}): {}", l.rank, l.ranks, std::process::id(), host, picked.describe());
        }
    } else if !args.json {
        println!("device: {}", picked.describe());
    }
    let bucket_bytes = (bucket_mb * (1u64 << 20) as f64).round().max(4.0) as usize;
    let job = TrainJob {
        start,
        data,
        out,
        checkpoint_every,
        log_every,
        json: args.json,
        carried,
        parallel: launch.zip(group).map(|(launch, group)| Parallel { launch, group, bucket_bytes }),
    };
    run_job(&picked, job)
}

struct TrainJob {
    start: Start,
    data: RunData,
    out: PathBuf,
    /// `--checkpoint-every`, over the plan's (or, resuming, the default for the run's steps).
    checkpoint_every: Option<usize>,
    log_every: usize,
    json: bool,
    /// The corpus file the resumed checkpoint carried: every checkpoint of this run carries it too.
    carried: Option<Vec<u8>>,
    /// This process's place in a data-parallel job (`mpirun`).
    parallel: Option<Parallel>,
}

/// A rank's job and its collective.
struct Parallel {
    launch: Launch,
    group: Box<dyn Collective>,
    bucket_bytes: usize,
}

impl Job for TrainJob {
    fn run<B: AutodiffBackend>(mut self, device: B::Device, picked: &Picked) -> CliResult {
        let on = picked.label();
        let (mut trainer, info, every) = match &self.start {
            Start::New(plan) => {
                let (trainer, info) = prepare::start::<B>(plan, &self.data, &device, &on)?;
                (trainer, info, plan.training.checkpoint_every)
            }
            Start::Resume { checkpoint, changes } => {
                let (trainer, info) = prepare::resume::<B>(checkpoint, &self.data, *changes, &device, &on)?;
                if !self.json {
                    println!("resuming {} at step {} of {}", checkpoint.origin, info.step, info.steps);
                }
                let every = default_checkpoint_every(info.steps);
                (trainer, info, every)
            }
        };
        let ranks = self.parallel.as_ref().map_or(1, |p| p.launch.ranks);
        if let Some(p) = self.parallel.take() {
            trainer.join(p.group)?;
            trainer.bucket_bytes = p.bucket_bytes;
            ranks::remember(&p.launch, &self.out, trainer.config.batch_size);
        }
        print_header(&info, &trainer, &self.out, self.json);
        // MFU of a data-parallel run: against every rank's device together.
        let peak = picked.peak_flops(trainer.config.precision()).map(|p| p * ranks as f64);
        let mut hooks = CliHooks::new(&info, peak, self.out.clone(), self.log_every, self.json);
        hooks.carry = self.carried.clone();
        let spec = self.data.spec(&trainer, self.checkpoint_every.unwrap_or(every))?;
        let outcome = pollster::block_on(run(&mut trainer, &spec, &mut hooks));
        hooks.finish();
        let end = match outcome {
            Ok(end) => end,
            Err(TrainError::NonFinite { step, value }) => {
                let kept = match hooks.saved_step {
                    Some(s) => format!("the checkpoint of step {s} in {} is kept", self.out.display()),
                    None => "no checkpoint was saved before it".into(),
                };
                if self.json {
                    let e = json!({"event": "error", "step": step, "loss": value.to_string(), "message": "non-finite loss"});
                    println!("{e}");
                }
                return Err(TrainError::Config(format!(
                    "the loss became {value} at step {step}: training stopped; {kept}. Lower --lr (now {}) or check the data",
                    trainer.config.max_lr
                ))
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        print_end(end, &info, &hooks, &trainer, &self)
    }
}

/// The run's header: one `setup` JSON line, or the model and data lines.
fn print_header<B: AutodiffBackend>(info: &RunInfo, trainer: &Trainer<B>, out: &Path, json: bool) {
    let model = &trainer.model_config;
    let ranks = trainer.shard().ranks;
    if json {
        let setup = json!({
            "event": "setup",
            "device": info.backend.key(),
            "device_name": info.device,
            "device_reason": info.device_reason,
            "vocab_size": model.vocab_size,
            "params": info.parameters,
            "active_params": info.active_parameters,
            "model": model,
            "train": trainer.config,
            "precision": trainer.config.precision().key(),
            "attention": info.attention.key(),
            "train_tokens": info.train_tokens,
            "val_tokens": info.val_tokens,
            "val_unigram_entropy": info.unigram_entropy,
            "flops_per_step": info.flops_per_step,
            "start_step": info.step,
            "ranks": ranks,
            "batch_per_rank": trainer.config.batch_size / ranks,
            "out": out.display().to_string(),
            "tokenizer": info.tokenizer,
        });
        println!("{setup}");
        return;
    }
    println!(
        "model: {} parameters (d_model {}, {} layers, {} heads, d_ff {}, context {}, vocabulary {}), precision {}, \
         attention {}",
        info.parameters,
        model.d_model,
        model.num_layers,
        model.num_heads,
        model.d_ff,
        model.context_length,
        model.vocab_size,
        trainer.config.precision().label(),
        info.attention.label()
    );
    if let Some(m) = &model.moe {
        println!(
            "mixture of experts: {} of {} parameters active per token; {} experts of d_ff {}, top-{}, {} \
             shared, capacity factor {}, balance weight {}, z-loss weight {}",
            info.active_parameters,
            info.parameters,
            m.num_experts,
            m.d_ff_expert,
            m.top_k,
            m.num_shared_experts,
            m.capacity_factor.map_or("none".to_string(), |c| c.to_string()),
            m.balance_loss_weight,
            m.z_loss_weight
        );
    }
    if ranks > 1 {
        println!(
            "data parallel: {ranks} ranks × {} windows = {} per step (one stream draws each global batch, every rank \
             trains on its slice); gradients averaged over MPI in {} buckets; replicas compared every {} steps",
            trainer.config.batch_size / ranks,
            trainer.config.batch_size,
            lmlab::units::format_bytes(trainer.bucket_bytes as f64),
            lmlab::train::parallel::CHECK_EVERY
        );
    }
    println!(
        "data: {} — {} training tokens, {} validation tokens; unigram entropy {:.3} nats/token (ln V = {:.3})",
        info.data,
        info.train_tokens,
        info.val_tokens,
        info.unigram_entropy,
        (model.vocab_size as f64).ln()
    );
}

/// How the run ended: one `end` JSON line, or the summary, three samples and what to try next.
fn print_end<B: AutodiffBackend>(
    end: RunEnd,
    info: &RunInfo,
    hooks: &CliHooks,
    trainer: &Trainer<B>,
    job: &TrainJob,
) -> CliResult {
    let seconds = hooks.started.elapsed().as_secs_f64();
    let out = job.out.display();
    let (step, val_loss, stopped) = match end {
        RunEnd::Finished { step, val_loss } => (step, val_loss, false),
        RunEnd::Stopped { step } => (step, hooks.val_loss.unwrap_or(f64::NAN), true),
    };
    let entropy = info.unigram_entropy;
    if job.json {
        let comm = hooks.comm.map(|(steps, t)| json!({"steps": steps, "total": t}));
        println!(
            "{}",
            json!({"event": "end", "step": step, "stopped": stopped, "val_loss": val_loss, "seconds": seconds,
                   "val_unigram_entropy": entropy, "checkpoint": out.to_string(), "comm": comm})
        );
        return Ok(());
    }
    if hooks.comm.is_some() {
        println!("communication:{}", hooks.comm_note().trim_start_matches(','));
    }
    if stopped {
        println!("interrupted at step {step}: checkpoint saved to {out}; continue with: lmlab train --resume {out}");
        return Ok(());
    }
    println!(
        "done: {step} steps in {seconds:.0} s; validation loss {val_loss:.3} nats/token vs unigram entropy {entropy:.3} ({:.0}% lower); checkpoint: {out}",
        100.0 * (1.0 - val_loss / entropy),
    );
    if !trainer.is_lead() {
        return Ok(());
    }
    print_samples(
        trainer.model(),
        &trainer.model_config,
        &job.data.tokenizer,
        &["ROMEO:", "First Citizen:\n", "The king"],
        60,
    );
    println!("\nmore: lmlab sample --checkpoint {out} --prompt 'JULIET:'");
    Ok(())
}
