//! `lmlab train` (and `lmlab` with no arguments): the data and tokenizer, the device, then
//! `lmlab::train::run` with a progress bar or JSON lines, checkpoints written atomically, Ctrl-C
//! saving before it exits. `lmlab bench train`: steps per second on random tokens.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};
use lmlab::model::{MoeConfig, TransformerConfig};
use lmlab::tokenize::token_file::{encode_ids, id_width, TokenFileInfo};
use lmlab::tokenize::train::{train_bpe, TrainEvent};
use lmlab::tokenize::{Bpe, TokenizeError, Tokenizer};
use lmlab::train::bench::bench_train;
use lmlab::train::checkpoint::{check_vocab, Checkpoint};
use lmlab::train::data::{split_validation, unigram_entropy, TokenSlice};
use lmlab::train::presets::training_preset;
use lmlab::train::routing::MoeMetrics;
use lmlab::train::run::{run, RunEnd, RunHooks, RunSpec};
use lmlab::train::trainer::{flops_per_step, throughput, validate_model, StepMetrics, TrainConfig, Trainer};
use lmlab::train::TrainError;
use lmlab::units::{parse_count, parse_number, parse_positive, parse_whole};
use lmlab::InputError;
use serde_json::json;

use crate::backend::{catch_quietly, dispatch, pick, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::{BenchTrainArgs, BpeSource, DeviceArg, MoeArgs, TrainModelArgs};
use crate::commands::sample::print_samples;
use crate::commands::tokenize::{load_bpe, read_text};
use crate::CliResult;

/// The corpus `lmlab` trains on with no arguments (public domain; see data/README.md).
const DEFAULT_CORPUS: &str = include_str!("../../../data/tinyshakespeare.txt");
const DEFAULT_CORPUS_NAME: &str = "tinyshakespeare.txt (bundled)";
const SPECIAL: &str = "<|endoftext|>";

/// The main job: the tiny preset on the bundled Shakespeare, sized to finish in a few minutes on
/// two CPU cores and still learn visibly.
pub fn main_job() -> CliResult {
    println!("lmlab: training the tiny transformer on the bundled Shakespeare (lmlab --help for every command).\n");
    let args = TrainModelArgs {
        preset: Some("tiny".into()),
        config: None,
        data: None,
        val: None,
        tokenizer_dir: None,
        vocab_size: None,
        context: None,
        steps: None,
        batch: None,
        lr: None,
        warmup: None,
        eval_every: None,
        checkpoint_every: None,
        out: None,
        resume: None,
        moe: Default::default(),
        device: DeviceArg { device: "auto".into(), gpu: None },
        seed: None,
        log_every: "10".into(),
        json: false,
    };
    train(&args)
}

/// Token ids in the `.bin` layout, owned or memory-mapped.
enum Storage {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

/// A token array and where it came from.
struct Tokens {
    name: String,
    storage: Storage,
    width: usize,
}

impl Tokens {
    fn slice(&self) -> Result<TokenSlice<'_>, TrainError> {
        let bytes = match &self.storage {
            Storage::Owned(v) => v.as_slice(),
            Storage::Mapped(m) => &m[..],
        };
        TokenSlice::new(&self.name, bytes, self.width)
    }

    fn from_ids(name: String, ids: &[u32], tokenizer: &Bpe) -> Result<Self, TrainError> {
        let (bytes, _) = encode_ids(ids, tokenizer.vocab_size(), "")?;
        Ok(Self { name, storage: Storage::Owned(bytes), width: id_width(tokenizer.vocab_size()) })
    }
}

fn is_bin(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bin")
}

/// Maps a `.bin` token file with its sidecar, checked against the tokenizer.
fn map_bin(path: &Path, tokenizer: &Bpe) -> Result<Tokens, Box<dyn std::error::Error>> {
    let name = path.display().to_string();
    let sidecar = PathBuf::from(format!("{name}.json"));
    let info: TokenFileInfo = serde_json::from_str(&read_text(&sidecar)?).map_err(|e| TokenizeError::Malformed {
        file: sidecar.display().to_string(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let width = match info.dtype.as_str() {
        "uint16" => 2,
        "uint32" => 4,
        other => {
            return Err(TokenizeError::Malformed {
                file: sidecar.display().to_string(),
                line: 0,
                message: format!("dtype {other:?}, expected \"uint16\" or \"uint32\""),
            }
            .into())
        }
    };
    if info.vocab_size as usize != tokenizer.vocab_size() {
        return Err(TrainError::Data {
            file: name,
            message: format!(
                "was tokenized with a vocabulary of {} ({}), but the tokenizer given has {}: pass the tokenizer it was made with (--tokenizer-dir)",
                info.vocab_size,
                info.tokenizer,
                tokenizer.vocab_size()
            ),
        }
        .into());
    }
    let file =
        std::fs::File::open(path).map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?;
    // SAFETY: the file is only read; if another process truncates it while we train, reads past
    // the end fault — the same contract as numpy's memmap, which CS336's get_batch uses.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?;
    let tokens = Tokens { name, storage: Storage::Mapped(map), width };
    let count = tokens.slice()?.len();
    if count as u64 != info.count {
        return Err(TrainError::Data {
            file: tokens.name.clone(),
            message: format!("holds {count} ids but its sidecar says {}", info.count),
        }
        .into());
    }
    Ok(tokens)
}

/// Reads (or takes the bundled) text.
fn text_of(path: Option<&Path>) -> Result<(String, String), TokenizeError> {
    match path {
        None => Ok((DEFAULT_CORPUS_NAME.into(), DEFAULT_CORPUS.into())),
        Some(p) => Ok((p.display().to_string(), read_text(p)?)),
    }
}

/// Tokenizes a data file (text or .bin) with `tokenizer`.
fn load_tokens(path: Option<&Path>, tokenizer: &Bpe) -> Result<Tokens, Box<dyn std::error::Error>> {
    if let Some(p) = path.filter(|p| is_bin(p)) {
        return map_bin(p, tokenizer);
    }
    let (name, text) = text_of(path)?;
    if text.is_empty() {
        return Err(TrainError::Data { file: name, message: "is empty".into() }.into());
    }
    let ids = tokenizer.encode_text(&text);
    Ok(Tokens::from_ids(name, &ids, tokenizer)?)
}

/// The tokenizer of a new run: a directory's, or a BPE trained on the (text) training data.
fn new_tokenizer(
    args: &TrainModelArgs,
    default_vocab: usize,
    quiet: bool,
) -> Result<(Bpe, String), Box<dyn std::error::Error>> {
    if let Some(dir) = &args.tokenizer_dir {
        let source =
            BpeSource { vocab: None, merges: None, tokenizer_dir: Some(dir.clone()), specials: vec![SPECIAL.into()] };
        return Ok(load_bpe(&source)?);
    }
    if let Some(p) = args.data.as_deref().filter(|p| is_bin(p)) {
        return Err(InputError::new(
            "--tokenizer-dir",
            "",
            format!("the tokenizer {} was made with (a .bin file holds ids, not text)", p.display()),
        )
        .into());
    }
    let vocab_size = match &args.vocab_size {
        Some(v) => parse_count("--vocab-size", v)? as usize,
        None => default_vocab,
    };
    let (name, text) = text_of(args.data.as_deref())?;
    if text.is_empty() {
        return Err(TrainError::Data { file: name, message: "is empty".into() }.into());
    }
    let started = Instant::now();
    let bpe = train_bpe(&text, vocab_size, &[SPECIAL.into()], &mut |_: TrainEvent| {})?;
    if !quiet {
        println!(
            "tokenizer: byte-level BPE, {} ids, trained on {name} in {:.1} s",
            bpe.vocab_size(),
            started.elapsed().as_secs_f64()
        );
    }
    let source = format!("byte-level BPE ({} ids) trained on {name}", bpe.vocab_size());
    Ok((bpe, source))
}

/// A preset's shape for a vocabulary (the presets the Train page offers too).
fn preset(name: &str, vocab_size: usize) -> Result<TransformerConfig, InputError> {
    Ok(TransformerConfig::from_shape(&training_preset(name)?.shape(vocab_size)))
}

/// `--experts`, `--top-k` … on top of the preset or config: `--experts` turns a dense model into a
/// mixture of experts whose experts are d_ff / top-k wide (the dense model's active FLOPs); the
/// other flags adjust an existing MoE model. Ranges are checked by `validate_model`.
fn apply_moe(model: &mut TransformerConfig, a: &MoeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let count = |flag: &str, v: &Option<String>| v.as_deref().map(|s| parse_count(flag, s)).transpose();
    let whole = |flag: &str, v: &Option<String>| v.as_deref().map(|s| parse_whole(flag, s)).transpose();
    let experts = count("--experts", &a.experts)?;
    let top_k = count("--top-k", &a.top_k)?;
    let mut moe = match (model.moe.take(), experts) {
        (Some(m), _) => m,
        (None, Some(e)) => {
            let k = top_k.unwrap_or(2.min(e)) as usize;
            MoeConfig::new(e as usize, k, (model.d_ff / k).max(1)).with_capacity_factor(Some(1.25))
        }
        (None, None) => {
            let given = [
                ("--top-k", &a.top_k),
                ("--expert-d-ff", &a.expert_d_ff),
                ("--shared-experts", &a.shared_experts),
                ("--first-dense-layers", &a.first_dense_layers),
                ("--capacity-factor", &a.capacity_factor),
                ("--balance-weight", &a.balance_weight),
                ("--z-weight", &a.z_weight),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, v)| v.is_some()) {
                return Err(InputError::new(
                    *flag,
                    "set",
                    "--experts too: this model is dense (use a -moe preset or --experts N)",
                )
                .into());
            }
            return Ok(());
        }
    };
    if let Some(e) = experts {
        moe.num_experts = e as usize;
    }
    if let Some(k) = top_k {
        moe.top_k = k as usize;
    }
    if let Some(f) = count("--expert-d-ff", &a.expert_d_ff)? {
        moe.d_ff_expert = f as usize;
    }
    if let Some(s) = whole("--shared-experts", &a.shared_experts)? {
        moe.num_shared_experts = s as usize;
    }
    if let Some(l) = whole("--first-dense-layers", &a.first_dense_layers)? {
        moe.first_dense_layers = l as usize;
    }
    if let Some(c) = &a.capacity_factor {
        moe.capacity_factor = match c.trim() {
            "none" | "off" => None,
            text => Some(parse_number("--capacity-factor", text)?),
        };
    }
    if let Some(w) = &a.balance_weight {
        moe.balance_loss_weight = parse_number("--balance-weight", w)?;
    }
    if let Some(w) = &a.z_weight {
        moe.z_loss_weight = parse_number("--z-weight", w)?;
    }
    model.moe = Some(moe);
    Ok(())
}

/// A preset's default BPE vocabulary when training one (1,024 for an unknown name, which
/// `preset` then refuses).
fn preset_vocab(name: &str) -> usize {
    training_preset(name).map_or(1024, |p| p.default_vocab)
}

/// Settings of a new run: the flags over the defaults.
fn train_config(args: &TrainModelArgs) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    let steps = args.steps.as_deref().map(|s| parse_count("--steps", s)).transpose()?.unwrap_or(400) as usize;
    let mut c = TrainConfig::new().with_steps(steps).with_warmup_steps((steps / 20).clamp(1, 100));
    if let Some(b) = &args.batch {
        c.batch_size = parse_count("--batch", b)? as usize;
    } else {
        c.batch_size = 16;
    }
    if let Some(lr) = &args.lr {
        c.max_lr = parse_positive("--lr", lr)?;
    } else {
        c.max_lr = 3e-3;
    }
    c.min_lr = c.max_lr / 10.0;
    if let Some(w) = &args.warmup {
        c.warmup_steps = parse_whole("--warmup", w)? as usize;
    }
    c.eval_every = match &args.eval_every {
        Some(e) => parse_count("--eval-every", e)? as usize,
        None => (steps / 10).max(1),
    };
    if let Some(s) = &args.seed {
        c.seed = parse_whole("--seed", s)?;
    }
    c.validate()?;
    Ok(c)
}

/// Everything a run needs before a device is chosen.
struct Prepared {
    trainer_source: TrainerSource,
    tokenizer: Bpe,
    tokenizer_source: String,
    train: Tokens,
    val: Option<Tokens>,
    out: PathBuf,
    checkpoint_every: usize,
    log_every: usize,
    json: bool,
}

enum TrainerSource {
    New { model: TransformerConfig, config: TrainConfig },
    Resume { checkpoint: Checkpoint, steps: Option<usize> },
}

pub fn train(args: &TrainModelArgs) -> CliResult {
    let log_every = parse_count("--log-every", &args.log_every)? as usize;
    let quiet = args.json;
    let (trainer_source, tokenizer, tokenizer_source, data_path, out) = if let Some(dir) = &args.resume {
        let checkpoint = checkpoint_dir::read(dir)?;
        let config = checkpoint.config()?;
        let tokenizer = checkpoint.tokenizer(&config)?;
        let state = checkpoint.state()?;
        let steps = args.steps.as_deref().map(|s| parse_count("--steps", s)).transpose()?.map(|s| s as usize);
        let data =
            args.data.clone().or_else(|| (state.data != DEFAULT_CORPUS_NAME).then(|| PathBuf::from(&state.data)));
        // A .tar (the Train page's download) continues into the directory of the same name.
        let out = args.out.clone().unwrap_or_else(|| if dir.is_file() { dir.with_extension("") } else { dir.clone() });
        let source = config.tokenizer.source.clone();
        (TrainerSource::Resume { checkpoint, steps }, tokenizer, source, data, out)
    } else {
        let preset_name = args.preset.clone().unwrap_or_else(|| "tiny".into());
        let from_file = match &args.config {
            Some(p) => Some(serde_json::from_str::<TransformerConfig>(&read_text(p)?).map_err(|e| {
                TokenizeError::Malformed { file: p.display().to_string(), line: e.line(), message: e.to_string() }
            })?),
            None => None,
        };
        let default_vocab = from_file.as_ref().map_or_else(|| preset_vocab(&preset_name), |c| c.vocab_size);
        // The shape is settled and checked before the tokenizer is trained, so a bad preset or
        // MoE setting is refused at once; the preset's vocabulary then follows the tokenizer.
        let mut model = match &from_file {
            Some(c) => c.clone(),
            None => preset(&preset_name, default_vocab)?,
        };
        apply_moe(&mut model, &args.moe)?;
        validate_model(&model)?;
        let config = train_config(args)?;
        let (tokenizer, tokenizer_source) = new_tokenizer(args, default_vocab, quiet)?;
        match &args.config {
            Some(path) => check_vocab(&tokenizer, model.vocab_size, &path.display().to_string())?,
            None => model.vocab_size = tokenizer.vocab_size(),
        }
        if let Some(c) = &args.context {
            model.context_length = parse_count("--context", c)? as usize;
        }
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(&preset_name));
        (TrainerSource::New { model, config }, tokenizer, tokenizer_source, args.data.clone(), out)
    };
    checkpoint_dir::check_writable(&out)?;
    let train = load_tokens(data_path.as_deref(), &tokenizer)?;
    let val = args.val.as_deref().map(|p| load_tokens(Some(p), &tokenizer)).transpose()?;
    let checkpoint_every =
        args.checkpoint_every.as_deref().map(|s| parse_count("--checkpoint-every", s)).transpose()?.unwrap_or(0)
            as usize;
    let prepared = Prepared {
        trainer_source,
        tokenizer,
        tokenizer_source,
        train,
        val,
        out,
        checkpoint_every,
        log_every,
        json: args.json,
    };
    let picked = pick_with_gpu(&args.device)?;
    if !args.json {
        println!("device: {}", picked.describe());
    }
    // Backends panic on out-of-memory and lost devices; report those as errors, not crashes.
    match catch_quietly(|| dispatch(&picked, TrainJob { prepared })) {
        Ok(result) => result,
        Err(panic) => Err(explain_panic(&panic, &picked).into()),
    }
}

/// The device, with `--gpu` naming the catalog entry for MFU when the name is not recognized.
pub fn pick_with_gpu(arg: &DeviceArg) -> Result<Picked, Box<dyn std::error::Error>> {
    let mut picked = pick(&arg.device)?;
    if let Some(g) = &arg.gpu {
        picked.gpu = Some(lmlab::accounting::find_gpu(g)?);
    }
    Ok(picked)
}

/// Turns a backend panic into advice.
pub fn explain_panic(message: &str, picked: &Picked) -> TrainError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("out of memory")
        || lower.contains("outofmemory")
        || lower.contains("out_of_memory")
        || lower.contains("allocat")
    {
        TrainError::Device(format!(
            "{} ran out of memory ({}): lower --batch, --context or the preset",
            picked.kind.key(),
            message.lines().next().unwrap_or("")
        ))
    } else {
        TrainError::Device(format!("{} failed: {}", picked.kind.key(), message.lines().next().unwrap_or("")))
    }
}

struct TrainJob {
    prepared: Prepared,
}

impl Job for TrainJob {
    type Output = CliResult;

    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let p = self.prepared;
        let mut trainer = match p.trainer_source {
            TrainerSource::New { model, config } => Trainer::<B>::new(model, config, &device)?,
            TrainerSource::Resume { checkpoint, steps } => {
                let (mut trainer, _, state) = checkpoint.resume::<B>(&device)?;
                if let Some(s) = steps {
                    trainer.config.steps = s;
                }
                if !p.json {
                    println!("resuming {} at step {} of {}", checkpoint.origin, state.step, trainer.config.steps);
                }
                trainer
            }
        };
        let model_config = trainer.model_config.clone();
        let all = p.train.slice()?;
        if let Some(max) = all.max_id() {
            if max as usize >= model_config.vocab_size {
                return Err(TrainError::VocabMismatch {
                    file: all.name().into(),
                    id: max,
                    vocab_size: model_config.vocab_size,
                }
                .into());
            }
        }
        let (train, val) = match &p.val {
            Some(v) => {
                let v = v.slice()?;
                all.check_fits(model_config.context_length)?;
                v.check_fits(model_config.context_length)?;
                (all, v)
            }
            None => split_validation(all, trainer.config.val_fraction, model_config.context_length)?,
        };
        let shape = model_config.shape();
        let params = shape.params().total;
        let entropy = unigram_entropy(&val);
        let setup = json!({
            "event": "setup",
            "device": picked.kind.key(),
            "device_name": picked.name,
            "device_reason": picked.reason,
            "vocab_size": model_config.vocab_size,
            "params": params,
            "active_params": shape.params().active,
            "model": model_config,
            "train": trainer.config,
            "train_tokens": train.len(),
            "val_tokens": val.len(),
            "val_unigram_entropy": entropy,
            "flops_per_step": flops_per_step(&shape, trainer.config.batch_size),
            "start_step": trainer.step(),
            "out": p.out.display().to_string(),
            "tokenizer": p.tokenizer_source,
        });
        if p.json {
            println!("{setup}");
        } else {
            println!(
                "model: {} parameters (d_model {}, {} layers, {} heads, d_ff {}, context {}, vocabulary {})",
                params,
                model_config.d_model,
                model_config.num_layers,
                model_config.num_heads,
                model_config.d_ff,
                model_config.context_length,
                model_config.vocab_size
            );
            if let Some(m) = &model_config.moe {
                println!(
                    "mixture of experts: {} of {} parameters active per token; {} experts of d_ff {}, top-{}, {} \
                     shared, capacity factor {}, balance weight {}, z-loss weight {}",
                    shape.params().active,
                    params,
                    m.num_experts,
                    m.d_ff_expert,
                    m.top_k,
                    m.num_shared_experts,
                    m.capacity_factor.map_or("none".to_string(), |c| c.to_string()),
                    m.balance_loss_weight,
                    m.z_loss_weight
                );
            }
            println!(
                "data: {} — {} training tokens, {} validation tokens; unigram entropy {:.3} nats/token (ln V = {:.3})",
                train.name(),
                train.len(),
                val.len(),
                entropy,
                (model_config.vocab_size as f64).ln()
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            // A second Ctrl-C while saving exits at once.
            let _ = ctrlc::set_handler(move || {
                if stop.swap(true, Ordering::SeqCst) {
                    std::process::exit(130);
                }
            });
        }
        let total = trainer.config.steps;
        let bar = if p.json {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(trainer.step() as u64);
            bar
        };
        let mut hooks = CliHooks {
            bar: bar.clone(),
            json: p.json,
            log_every: p.log_every,
            out: p.out.clone(),
            stop: stop.clone(),
            shape,
            batch: trainer.config.batch_size,
            peak: picked.peak_flops(),
            last: Instant::now(),
            window_start: Instant::now(),
            window_steps: 0,
            tokens_per_s: None,
            mfu: None,
            val_loss: None,
            started: Instant::now(),
            saved_step: None,
            moe: None,
        };
        let spec = RunSpec {
            train,
            val,
            tokenizer: &p.tokenizer,
            tokenizer_source: &p.tokenizer_source,
            data_name: train.name(),
            checkpoint_every: p.checkpoint_every,
        };
        let outcome = pollster::block_on(run(&mut trainer, &spec, &mut hooks));
        bar.finish_and_clear();
        let end = match outcome {
            Ok(end) => end,
            Err(TrainError::NonFinite { step, value }) => {
                let kept = match hooks.saved_step {
                    Some(s) => format!("the checkpoint of step {s} in {} is kept", p.out.display()),
                    None => "no checkpoint was saved before it".into(),
                };
                if p.json {
                    println!(
                        "{}",
                        json!({"event": "error", "step": step, "loss": value.to_string(), "message": "non-finite loss"})
                    );
                }
                return Err(TrainError::Config(format!(
                    "the loss became {value} at step {step}: training stopped; {kept}. Lower --lr (now {}) or check the data",
                    trainer.config.max_lr
                ))
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        let seconds = hooks.started.elapsed().as_secs_f64();
        let (step, val_loss, stopped) = match end {
            RunEnd::Finished { step, val_loss } => (step, val_loss, false),
            RunEnd::Stopped { step } => (step, hooks.val_loss.unwrap_or(f64::NAN), true),
        };
        if p.json {
            println!(
                "{}",
                json!({"event": "end", "step": step, "stopped": stopped, "val_loss": val_loss, "seconds": seconds,
                       "val_unigram_entropy": entropy, "checkpoint": p.out.display().to_string()})
            );
            return Ok(());
        }
        if stopped {
            println!(
                "interrupted at step {step}: checkpoint saved to {}; continue with: lmlab train --resume {}",
                p.out.display(),
                p.out.display()
            );
            return Ok(());
        }
        println!(
            "done: {step} steps in {:.0} s; validation loss {val_loss:.3} nats/token vs unigram entropy {entropy:.3} ({:.0}% lower); checkpoint: {}",
            seconds,
            100.0 * (1.0 - val_loss / entropy),
            p.out.display()
        );
        let prompts = ["ROMEO:", "First Citizen:\n", "The king"];
        print_samples(trainer.model(), &model_config, &p.tokenizer, &prompts, 60);
        println!("\nmore: lmlab sample --checkpoint {} --prompt 'JULIET:'", p.out.display());
        Ok(())
    }
}

/// The CLI's view of a run: a progress bar (or JSON lines), checkpoints on disk, Ctrl-C.
struct CliHooks {
    bar: ProgressBar,
    json: bool,
    log_every: usize,
    out: PathBuf,
    stop: Arc<AtomicBool>,
    shape: lmlab::accounting::ModelShape,
    batch: usize,
    peak: Option<f64>,
    last: Instant,
    window_start: Instant,
    window_steps: usize,
    tokens_per_s: Option<f64>,
    mfu: Option<f64>,
    val_loss: Option<f64>,
    started: Instant,
    saved_step: Option<usize>,
    /// The newest step's router statistics (MoE models).
    moe: Option<MoeMetrics>,
}

impl CliHooks {
    /// Throughput for plain-text logs.
    fn progress_note(&self) -> String {
        let speed = self.tokens_per_s.map_or(String::new(), |t| format!(", {t:.0} tokens/s"));
        let mfu = self.mfu.map_or(String::new(), |u| format!(", MFU {:.1}%", 100.0 * u));
        format!(" ({:.0} s{speed}{mfu})", self.started.elapsed().as_secs_f64())
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

impl RunHooks for CliHooks {
    fn on_step(&mut self, m: &StepMetrics) -> bool {
        let now = Instant::now();
        let step_s = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.window_steps += 1;
        // Throughput over the steps since the last log (the first step, with kernel compilation
        // and tuning, is reported on its own).
        let logged = m.step % self.log_every == 0;
        if logged || m.step == 1 {
            let seconds = now.duration_since(self.window_start).as_secs_f64();
            let t = throughput(&self.shape, self.batch, self.window_steps, seconds, self.peak);
            self.tokens_per_s = Some(t.tokens_per_s);
            self.mfu = t.mfu;
            self.window_start = now;
            self.window_steps = 0;
        }
        if logged && self.json {
            println!(
                "{}",
                json!({"event": "step", "step": m.step, "loss": m.loss, "lr": m.lr, "grad_norm": m.grad_norm,
                       "tokens_seen": m.tokens_seen, "step_seconds": step_s, "tokens_per_s": self.tokens_per_s,
                       "mfu": self.mfu, "moe": m.moe})
            );
        }
        let val = self.val_loss.map_or(String::new(), |v| format!("  val {v:.3}"));
        let speed = self.tokens_per_s.map_or(String::new(), |t| format!("  {:.0} tok/s", t));
        let mfu = self.mfu.map_or(String::new(), |u| format!("  MFU {:.1}%", 100.0 * u));
        let balance = m.moe.as_ref().map_or(String::new(), |r| format!("  balance {:.2}", r.balance_loss));
        self.moe = m.moe.clone();
        self.bar.set_message(format!("loss {:.3}{val}{speed}{mfu}{balance}", m.loss));
        self.bar.inc(1);
        !self.stop.load(Ordering::SeqCst)
    }

    fn on_eval(&mut self, step: usize, val_loss: f64) {
        self.val_loss = Some(val_loss);
        if self.json {
            println!("{}", json!({"event": "eval", "step": step, "val_loss": val_loss}));
        } else if self.bar.is_hidden() {
            // Not a terminal (a log file, CI): plain lines instead of the bar.
            println!("step {step:>6}: validation loss {val_loss:.4}{}{}", self.progress_note(), self.router_note());
        } else {
            self.bar.println(format!("step {step:>6}: validation loss {val_loss:.4}{}", self.router_note()));
        }
    }

    fn on_checkpoint(&mut self, mut checkpoint: Checkpoint) -> Result<(), TrainError> {
        checkpoint.origin = self.out.display().to_string();
        checkpoint_dir::write(&self.out, &checkpoint)?;
        let state = checkpoint.state()?;
        self.saved_step = Some(state.step);
        if self.json {
            println!("{}", json!({"event": "checkpoint", "step": state.step, "dir": self.out.display().to_string()}));
        }
        Ok(())
    }
}

/// `lmlab bench train`: forward + backward + AdamW steps on random tokens, after warm-up.
pub fn bench(args: &BenchTrainArgs) -> CliResult {
    let vocab = match &args.vocab_size {
        Some(v) => parse_count("--vocab-size", v)? as usize,
        None => preset_vocab(&args.preset),
    };
    let model = preset(&args.preset, vocab)?;
    let steps = parse_count("--steps", &args.steps)? as usize;
    let warmup = parse_count("--warmup", &args.warmup)? as usize;
    let batch = match &args.batch {
        Some(b) => parse_count("--batch", b)? as usize,
        None => training_preset(&args.preset).map_or(16, |p| p.default_batch),
    };
    let picked = pick_with_gpu(&args.device)?;
    if !args.json {
        println!("device: {}", picked.describe());
    }
    let job = BenchJob { model, batch, steps, warmup, json: args.json, preset: args.preset.clone() };
    match catch_quietly(|| dispatch(&picked, job)) {
        Ok(result) => result,
        Err(panic) => Err(explain_panic(&panic, &picked).into()),
    }
}

struct BenchJob {
    model: TransformerConfig,
    batch: usize,
    steps: usize,
    warmup: usize,
    json: bool,
    preset: String,
}

impl Job for BenchJob {
    type Output = CliResult;

    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let r = pollster::block_on(bench_train::<B>(
            &self.model,
            self.batch,
            self.warmup,
            self.steps,
            picked.peak_flops(),
            &device,
        ))?;
        let shape = self.model.shape();
        let report = json!({
            "preset": self.preset,
            "device": picked.kind.key(),
            "device_name": picked.name,
            "device_reason": picked.reason,
            "params": shape.params().total,
            "batch": self.batch,
            "context": self.model.context_length,
            "steps": self.steps,
            "warmup_steps": self.warmup,
            "warmup_seconds": r.warmup_seconds,
            "seconds": r.seconds,
            "ms_per_step": r.ms_per_step,
            "tokens_per_s": r.tokens_per_s,
            "tflops": r.flops_per_s / 1e12,
            "mfu": r.mfu,
            "peak_tflops": picked.peak_flops().map(|p| p / 1e12),
        });
        if self.json {
            println!("{report}");
        } else {
            println!(
                "{}: {} params, batch {} × {} tokens: {:.1} ms/step, {:.0} tokens/s, {:.3} TFLOP/s{}",
                self.preset,
                shape.params().total,
                self.batch,
                self.model.context_length,
                r.ms_per_step,
                r.tokens_per_s,
                r.flops_per_s / 1e12,
                r.mfu.map_or(" (MFU: unknown peak; pass --gpu)".to_string(), |u| format!(
                    ", MFU {:.1}% of tf32 peak",
                    100.0 * u
                ))
            );
        }
        Ok(())
    }
}

/// `lmlab bench moe`: a mixture-of-experts preset and the dense preset of equal active FLOPs
/// (`tiny-moe` ↔ `tiny`), the same batch on the same device in one run; the ratio of step times
/// is the cost of routing (router, dispatch, capacity padding, combine).
pub fn bench_moe(args: &BenchTrainArgs) -> CliResult {
    let name = if args.preset == "tiny" { "tiny-moe".to_string() } else { args.preset.clone() };
    let moe_preset = training_preset(&name)?;
    let dense_preset = moe_preset.dense_twin().ok_or_else(|| {
        InputError::new("--preset", &name, "a mixture-of-experts preset with a dense twin: nano-moe or tiny-moe")
    })?;
    let vocab = match &args.vocab_size {
        Some(v) => parse_count("--vocab-size", v)? as usize,
        None => moe_preset.default_vocab,
    };
    let steps = parse_count("--steps", &args.steps)? as usize;
    let warmup = parse_count("--warmup", &args.warmup)? as usize;
    let batch = match &args.batch {
        Some(b) => parse_count("--batch", b)? as usize,
        None => moe_preset.default_batch,
    };
    let picked = pick_with_gpu(&args.device)?;
    if !args.json {
        println!("device: {}", picked.describe());
    }
    let job = BenchMoeJob {
        models: [
            (dense_preset.name, TransformerConfig::from_shape(&dense_preset.shape(vocab))),
            (moe_preset.name, TransformerConfig::from_shape(&moe_preset.shape(vocab))),
        ],
        batch,
        steps,
        warmup,
        json: args.json,
    };
    match catch_quietly(|| dispatch(&picked, job)) {
        Ok(result) => result,
        Err(panic) => Err(explain_panic(&panic, &picked).into()),
    }
}

struct BenchMoeJob {
    /// The dense model first, then the MoE model.
    models: [(&'static str, TransformerConfig); 2],
    batch: usize,
    steps: usize,
    warmup: usize,
    json: bool,
}

impl Job for BenchMoeJob {
    type Output = CliResult;

    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let mut rows = Vec::new();
        for (name, model) in &self.models {
            let r = pollster::block_on(bench_train::<B>(model, self.batch, self.warmup, self.steps, None, &device))?;
            let p = model.shape().params();
            rows.push(json!({"preset": name, "params": p.total, "active_params": p.active,
                             "ms_per_step": r.ms_per_step, "tokens_per_s": r.tokens_per_s}));
            if !self.json {
                println!(
                    "{name:>9}: {:>9} params ({:>9} active), batch {} × {}: {:8.1} ms/step, {:8.0} tokens/s",
                    p.total, p.active, self.batch, model.context_length, r.ms_per_step, r.tokens_per_s
                );
            }
        }
        let ratio =
            rows[1]["ms_per_step"].as_f64().unwrap_or(f64::NAN) / rows[0]["ms_per_step"].as_f64().unwrap_or(1.0);
        if self.json {
            println!(
                "{}",
                json!({"device": picked.kind.key(), "device_name": picked.name, "batch": self.batch,
                       "steps": self.steps, "warmup_steps": self.warmup, "dense": rows[0], "moe": rows[1],
                       "moe_over_dense_step_time": ratio})
            );
        } else {
            println!("MoE step time / dense step time at equal active FLOPs: {ratio:.2}× (goal ≤ 1.5×)");
        }
        Ok(())
    }
}
