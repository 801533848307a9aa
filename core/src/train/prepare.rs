//! A run set up from its plan: the one setup the CLI and the Train page's worker share.
//!
//! 1. [`RunData::load`] — the tokenizer (trained on the text, or given: a directory's, a
//!    checkpoint's) and the tokens of the training and validation data. No device yet.
//! 2. [`start`] (a new run) or [`resume`] (a checkpoint) — the model config checked against the
//!    tokenizer, the data split and checked against the model, the trainer on a device, and the
//!    run header ([`RunInfo`]) both front ends show.
//!
//! What stays in a front end is only what differs by nature: the CLI memory-maps `.bin` files and
//! reads the tokenizer's files; the page fetches the bundled corpus or takes the student's text.

use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::{check_vocab, Checkpoint};
use super::data::{split_validation, unigram_entropy, TokenSlice};
use super::plan::{AttentionKernel, Backend, ModelPlan, Precision, RunPlan, TokenizerChoice};
use super::protocol::{check_limits, Adapter, Corpus, RunInfo};
use super::run::RunSpec;
use super::trainer::{TrainConfig, Trainer};
use super::TrainError;
use crate::accounting::ModelShape;
use crate::model::TransformerConfig;
use crate::telemetry::flops_per_step;
use crate::tokenize::token_file::{encode_ids, id_width, TokenFileInfo};
use crate::tokenize::train::{train_bpe, TrainEvent};
use crate::tokenize::{Bpe, TokenizeError, Tokenizer, END_OF_TEXT};

/// Token ids in the `.bin` layout (little-endian u16 or u32), in memory or mapped from a file by
/// the front end: a 10 GB token file costs no memory.
pub struct TokenStore {
    name: String,
    bytes: Box<dyn AsRef<[u8]>>,
    width: usize,
}

impl TokenStore {
    /// `text` tokenized with `tokenizer`; empty text is refused by name.
    pub fn encode(name: &str, text: &str, tokenizer: &Bpe) -> Result<Self, TrainError> {
        if text.is_empty() {
            return Err(TrainError::Data { file: name.into(), message: "is empty".into() });
        }
        let ids = tokenizer.encode_text(text);
        let (bytes, _) = encode_ids(&ids, tokenizer.vocab_size(), "")?;
        Ok(Self { name: name.into(), bytes: Box::new(bytes), width: id_width(tokenizer.vocab_size()) })
    }

    /// A `.bin` file's bytes with its sidecar's JSON, checked against the sidecar (dtype, count)
    /// and the tokenizer (vocabulary).
    pub fn from_token_file(
        name: &str,
        bytes: Box<dyn AsRef<[u8]>>,
        sidecar: &str,
        tokenizer: &Bpe,
    ) -> Result<Self, TrainError> {
        let sidecar_name = format!("{name}.json");
        let info: TokenFileInfo = serde_json::from_str(sidecar).map_err(|e| TokenizeError::Malformed {
            file: sidecar_name.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        let width = match info.dtype.as_str() {
            "uint16" => 2,
            "uint32" => 4,
            other => {
                return Err(TokenizeError::Malformed {
                    file: sidecar_name,
                    line: 0,
                    message: format!("dtype {other:?}, expected \"uint16\" or \"uint32\""),
                }
                .into())
            }
        };
        if info.vocab_size as usize != tokenizer.vocab_size() {
            return Err(TrainError::Data {
                file: name.into(),
                message: format!(
                    "was tokenized with a vocabulary of {} ({}), but the tokenizer given has {}: pass the tokenizer it was made with (--tokenizer-dir)",
                    info.vocab_size,
                    info.tokenizer,
                    tokenizer.vocab_size()
                ),
            });
        }
        let store = Self { name: name.into(), bytes, width };
        let count = store.slice()?.len();
        if count as u64 != info.count {
            return Err(TrainError::Data {
                file: name.into(),
                message: format!("holds {count} ids but its sidecar says {}", info.count),
            });
        }
        Ok(store)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ids, read in place.
    pub fn slice(&self) -> Result<TokenSlice<'_>, TrainError> {
        TokenSlice::new(&self.name, self.bytes.as_ref().as_ref(), self.width)
    }
}

/// Training (or validation) data as the front end read it.
pub enum DataInput {
    /// Text, tokenized with the run's tokenizer (which may be trained on it first).
    Text(Corpus),
    /// A `.bin` token file's bytes (memory-mapped by the CLI) and its `.bin.json` sidecar's text.
    TokenFile { name: String, bytes: Box<dyn AsRef<[u8]>>, sidecar: String },
}

impl DataInput {
    fn name(&self) -> &str {
        match self {
            DataInput::Text(c) => &c.name,
            DataInput::TokenFile { name, .. } => name,
        }
    }
}

/// Where the run's tokenizer comes from.
#[allow(clippy::large_enum_variant)] // one value per run
pub enum TokenizerSource {
    /// Trained on the training text as the plan asks (bytes, or a BPE of some size).
    Train(TokenizerChoice),
    /// Already made: read from a directory, or a checkpoint's; `source` is recorded with the run.
    Given { tokenizer: Bpe, source: String },
}

impl TokenizerSource {
    /// A checkpoint's own tokenizer (a resumed run reads its data with it).
    pub fn of_checkpoint(checkpoint: &Checkpoint) -> Result<Self, TrainError> {
        let config = checkpoint.config()?;
        Ok(TokenizerSource::Given { tokenizer: checkpoint.tokenizer(&config)?, source: config.tokenizer.source })
    }
}

/// Work before the first step, for a progress indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// Training the BPE: the share of its merges done.
    TrainingTokenizer { fraction: f64 },
    /// Encoding the data with the tokenizer.
    Tokenizing,
}

/// A run's tokenizer and tokens.
pub struct RunData {
    pub tokenizer: Bpe,
    /// Where the tokenizer came from (recorded in checkpoints).
    pub tokenizer_source: String,
    pub train: TokenStore,
    pub val: Option<TokenStore>,
}

impl RunData {
    /// The tokenizer (trained on the training text if asked) and the tokens of `train` and `val`.
    pub fn load(
        train: DataInput,
        val: Option<DataInput>,
        tokenizer: TokenizerSource,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, TrainError> {
        let (tokenizer, tokenizer_source) = match tokenizer {
            TokenizerSource::Given { tokenizer, source } => (tokenizer, source),
            TokenizerSource::Train(choice) => match &train {
                DataInput::Text(corpus) => train_tokenizer(corpus, &choice, progress)?,
                DataInput::TokenFile { name, .. } => {
                    return Err(TrainError::Config(format!(
                        "{name} holds token ids, not text: give the tokenizer it was made with (--tokenizer-dir)"
                    )))
                }
            },
        };
        progress(Progress::Tokenizing);
        let train = tokens_of(train, &tokenizer)?;
        let val = val.map(|v| tokens_of(v, &tokenizer)).transpose()?;
        Ok(Self { tokenizer, tokenizer_source, train, val })
    }

    /// The training and validation tokens for `model`: the validation data, or the last
    /// `val_fraction` of the training data; every id inside the model's vocabulary and each part
    /// at least one window long.
    pub fn splits(
        &self,
        model: &TransformerConfig,
        val_fraction: f64,
    ) -> Result<(TokenSlice<'_>, TokenSlice<'_>), TrainError> {
        let all = self.train.slice()?;
        let (train, val) = match &self.val {
            Some(v) => {
                let v = v.slice()?;
                all.check_fits(model.context_length)?;
                v.check_fits(model.context_length)?;
                (all, v)
            }
            None => split_validation(all, val_fraction, model.context_length)?,
        };
        for part in [&train, &val] {
            if let Some(id) = part.max_id().filter(|&id| id as usize >= model.vocab_size) {
                return Err(TrainError::VocabMismatch { file: part.name().into(), id, vocab_size: model.vocab_size });
            }
        }
        Ok((train, val))
    }

    /// The data and bookkeeping [`run`](super::run::run) needs for `trainer`.
    pub fn spec<B: AutodiffBackend>(
        &self,
        trainer: &Trainer<B>,
        checkpoint_every: usize,
    ) -> Result<RunSpec<'_>, TrainError> {
        let (train, val) = self.splits(&trainer.model_config, trainer.config.val_fraction)?;
        Ok(RunSpec {
            train,
            val,
            tokenizer: &self.tokenizer,
            tokenizer_source: &self.tokenizer_source,
            data_name: self.train.name(),
            checkpoint_every,
        })
    }
}

/// Trains the tokenizer a new run asked for on its text; `progress` sees the merges land.
fn train_tokenizer(
    corpus: &Corpus,
    choice: &TokenizerChoice,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Bpe, String), TrainError> {
    if corpus.text.is_empty() {
        return Err(TrainError::Data { file: corpus.name.clone(), message: "is empty".into() });
    }
    let (vocab_size, what) = match choice {
        TokenizerChoice::Bytes => (257, "bytes (no merges)".to_string()),
        TokenizerChoice::Bpe { vocab_size } => (*vocab_size, format!("byte-level BPE ({vocab_size} ids)")),
        TokenizerChoice::Dir { path } => {
            return Err(TrainError::Config(format!("the tokenizer in {path} is read by the front end, not trained")))
        }
    };
    progress(Progress::TrainingTokenizer { fraction: 0.0 });
    let mut last = 0.0;
    let bpe = train_bpe(&corpus.text, vocab_size, &[END_OF_TEXT.to_string()], &mut |e| {
        if let TrainEvent::Merge { done, total } = e {
            let f = done as f64 / total.max(1) as f64;
            if f - last >= 0.05 {
                last = f;
                progress(Progress::TrainingTokenizer { fraction: f });
            }
        }
    })?;
    Ok((bpe, format!("{what} trained on {}", corpus.name)))
}

fn tokens_of(input: DataInput, tokenizer: &Bpe) -> Result<TokenStore, TrainError> {
    let name = input.name().to_string();
    match input {
        DataInput::Text(corpus) => TokenStore::encode(&name, &corpus.text, tokenizer),
        DataInput::TokenFile { bytes, sidecar, .. } => TokenStore::from_token_file(&name, bytes, &sidecar, tokenizer),
    }
}

/// The device a run is set up on, as the header names it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLabel {
    pub backend: Backend,
    pub name: String,
    /// Why this device.
    pub reason: String,
    /// A WebGPU adapter's buffer limits, checked before the model is built.
    pub limits: Option<Adapter>,
}

/// A `--config` file's model (a `TransformerConfig` as JSON), as a plan with a fixed vocabulary.
pub fn model_of_config(name: &str, text: &str) -> Result<ModelPlan, TrainError> {
    let config: TransformerConfig = serde_json::from_str(text).map_err(|e| TokenizeError::Malformed {
        file: name.into(),
        line: e.line(),
        message: e.to_string(),
    })?;
    Ok(config.plan())
}

/// The model a plan describes for its tokenizer: the plan's shape with the tokenizer's vocabulary
/// (or, for a fixed vocabulary, checked that the tokenizer fits), validated.
pub fn model_config(plan: &RunPlan, tokenizer: &Bpe) -> Result<TransformerConfig, TrainError> {
    let shape = plan.shape_for_vocab(tokenizer.vocab_size());
    if plan.model.fixed_vocab {
        check_vocab(tokenizer, shape.vocab_size as usize, &plan.preset)?;
    }
    let mut model = plan.model.clone();
    model.shape = shape;
    model.validate().map_err(TrainError::Config)?;
    Ok(TransformerConfig::from_plan(&model))
}

/// A new run of `plan` on `device`: the trainer (initialized from the plan's seed) and its header.
pub fn start<B: AutodiffBackend>(
    plan: &RunPlan,
    data: &RunData,
    device: &B::Device,
    on: &DeviceLabel,
) -> Result<(Trainer<B>, RunInfo), TrainError> {
    plan.training.validate().map_err(TrainError::Config)?;
    let model = model_config(plan, &data.tokenizer)?;
    let config = TrainConfig::from_plan(&plan.training);
    check_device(on, &model, &config)?;
    data.splits(&model, config.val_fraction)?;
    let trainer = Trainer::new(model, config, device)?;
    let info = run_info(&trainer, data, on)?;
    Ok((trainer, info))
}

/// What a resumed run may change from its checkpoint's settings (`None`: keep them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResumeChanges {
    /// Extends (or shortens) the run.
    pub steps: Option<usize>,
    /// Switches what it computes in (the weights and moments are f32 in both).
    pub precision: Option<Precision>,
    /// Switches how attention is computed (the same function either way).
    pub attention: Option<AttentionKernel>,
}

/// A run continued from `checkpoint` (its model, optimizer state and batch order) on `data`, read
/// with the checkpoint's tokenizer, with `changes` applied.
pub fn resume<B: AutodiffBackend>(
    checkpoint: &Checkpoint,
    data: &RunData,
    changes: ResumeChanges,
    device: &B::Device,
    on: &DeviceLabel,
) -> Result<(Trainer<B>, RunInfo), TrainError> {
    let (mut trainer, _, _) = checkpoint.resume::<B>(device)?;
    if let Some(s) = changes.steps {
        trainer.config.steps = s;
    }
    if let Some(p) = changes.precision {
        trainer.set_precision(p)?;
    }
    if let Some(a) = changes.attention {
        trainer.set_attention(a);
    }
    check_device(on, &trainer.model_config, &trainer.config)?;
    let info = run_info(&trainer, data, on)?;
    Ok((trainer, info))
}

/// A model too large for a WebGPU adapter's buffers is refused before it is built.
fn check_device(on: &DeviceLabel, model: &TransformerConfig, config: &TrainConfig) -> Result<(), TrainError> {
    match &on.limits {
        Some(adapter) => check_limits(&model.shape(), config.batch_size, adapter).map_err(TrainError::Config),
        None => Ok(()),
    }
}

/// The run's header: model, data, device and the yardsticks (FLOPs per step, unigram entropy of
/// the validation tokens).
pub fn run_info<B: AutodiffBackend>(
    trainer: &Trainer<B>,
    data: &RunData,
    on: &DeviceLabel,
) -> Result<RunInfo, TrainError> {
    let (train, val) = data.splits(&trainer.model_config, trainer.config.val_fraction)?;
    let shape = trainer.model_config.shape();
    let batch_size = trainer.config.batch_size;
    Ok(RunInfo {
        flops_per_step: flops_per_step(&shape, batch_size),
        batch_size,
        steps: trainer.config.steps,
        step: trainer.step(),
        train_tokens: train.len(),
        val_tokens: val.len(),
        tokenizer: data.tokenizer_source.clone(),
        vocab_size: data.tokenizer.vocab_size(),
        data: data.train.name().to_string(),
        unigram_entropy: unigram_entropy(&val),
        precision: trainer.config.precision(),
        attention: trainer.effective_attention(),
        ..header(shape, on)
    })
}

/// The header of a checkpoint loaded only to sample from: its model, how long it trained and on
/// what (no run: no batch, no tokens, no entropy).
pub fn checkpoint_info(checkpoint: &Checkpoint, on: &DeviceLabel) -> Result<RunInfo, TrainError> {
    let config = checkpoint.config()?;
    // Bare converted weights have no state.json: step 0.
    let (step, data) = checkpoint.state().map_or((0, String::new()), |s| (s.step, s.data));
    Ok(RunInfo {
        steps: step,
        step,
        tokenizer: config.tokenizer.source,
        vocab_size: config.tokenizer.vocab_size,
        data,
        ..header(config.model.shape(), on)
    })
}

/// What every header says: the device and the model's size; the rest empty.
fn header(shape: ModelShape, on: &DeviceLabel) -> RunInfo {
    let params = shape.params();
    RunInfo {
        backend: on.backend,
        device: on.name.clone(),
        device_reason: on.reason.clone(),
        shape,
        parameters: params.total,
        active_parameters: params.active,
        flops_per_step: 0.0,
        batch_size: 0,
        steps: 0,
        step: 0,
        train_tokens: 0,
        val_tokens: 0,
        tokenizer: String::new(),
        vocab_size: shape.vocab_size as usize,
        data: String::new(),
        unigram_entropy: f64::NAN,
        precision: Precision::Fp32,
        attention: AttentionKernel::Reference,
    }
}
