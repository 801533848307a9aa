//! A run set up from the Train page's request: the corpus tokenized (after training its
//! tokenizer), split for validation, and the trainer built — or a run resumed from a checkpoint's
//! files. The worker drives the result with [`run`](super::run::run) like the CLI does.

use burn::tensor::backend::AutodiffBackend;

use super::checkpoint::Checkpoint;
use super::data::{split_validation, unigram_entropy, TokenSlice};
use super::protocol::{Backend, Corpus, Files, RunInfo, RunRequest, RunSettings, TokenizerChoice};
use super::trainer::{flops_per_step, TrainConfig, Trainer};
use super::TrainError;
use crate::model::TransformerConfig;
use crate::tokenize::token_file::{encode_ids, id_width};
use crate::tokenize::train::{train_bpe, TrainEvent};
use crate::tokenize::{Bpe, Tokenizer};

/// The special token every lab tokenizer carries (documents are separated by it).
pub const SPECIAL: &str = "<|endoftext|>";

/// The corpus as token ids (the `.bin` layout, in memory) and its tokenizer.
pub struct Tokens {
    pub tokenizer: Bpe,
    /// Where the tokenizer came from (recorded in checkpoints).
    pub tokenizer_source: String,
    pub data_name: String,
    bytes: Vec<u8>,
    width: usize,
}

impl Tokens {
    /// Tokenizes `corpus` with `tokenizer`.
    pub fn new(corpus: &Corpus, tokenizer: Bpe, tokenizer_source: String) -> Result<Self, TrainError> {
        if corpus.text.is_empty() {
            return Err(TrainError::Data { file: corpus.name.clone(), message: "is empty".into() });
        }
        let ids = tokenizer.encode_text(&corpus.text);
        let (bytes, _) = encode_ids(&ids, tokenizer.vocab_size(), "")?;
        let width = id_width(tokenizer.vocab_size());
        Ok(Self { tokenizer, tokenizer_source, data_name: corpus.name.clone(), bytes, width })
    }

    pub fn all(&self) -> TokenSlice<'_> {
        TokenSlice::new(&self.data_name, &self.bytes, self.width).expect("built with a valid width")
    }

    /// Training and validation parts (the last `fraction` held out), each at least one window.
    pub fn split(&self, fraction: f64, context_length: usize) -> Result<(TokenSlice<'_>, TokenSlice<'_>), TrainError> {
        split_validation(self.all(), fraction, context_length)
    }
}

/// Trains the tokenizer a new run asked for on its corpus; `progress` sees merges as they land.
pub fn train_tokenizer(
    corpus: &Corpus,
    choice: TokenizerChoice,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<(Bpe, String), TrainError> {
    if corpus.text.is_empty() {
        return Err(TrainError::Data { file: corpus.name.clone(), message: "is empty".into() });
    }
    let special = [SPECIAL.to_string()];
    let (vocab_size, what) = match choice {
        TokenizerChoice::Bytes => (256 + special.len(), "bytes (no merges)".to_string()),
        TokenizerChoice::Bpe { vocab_size } => (vocab_size, format!("byte-level BPE ({vocab_size} ids)")),
    };
    let bpe = train_bpe(&corpus.text, vocab_size, &special, progress)?;
    Ok((bpe, format!("{what} trained on {}", corpus.name)))
}

/// The trainer's settings from the page's.
pub fn train_config(settings: &RunSettings) -> Result<TrainConfig, TrainError> {
    let c = TrainConfig::new()
        .with_steps(settings.steps)
        .with_batch_size(settings.batch_size)
        .with_max_lr(settings.max_lr)
        .with_min_lr(settings.max_lr / 10.0)
        .with_warmup_steps(settings.warmup_steps)
        .with_eval_every(settings.eval_every.max(1))
        .with_eval_batches(4)
        .with_seed(settings.seed);
    c.validate()?;
    Ok(c)
}

/// A new run's model config: the request's shape with the tokenizer's vocabulary.
pub fn model_config(request: &RunRequest, tokenizer: &Bpe) -> TransformerConfig {
    let mut shape = request.shape;
    shape.vocab_size = tokenizer.vocab_size() as u64;
    TransformerConfig::from_shape(&shape)
}

/// What the page shows about a run.
pub fn run_info<B: AutodiffBackend>(
    trainer: &Trainer<B>,
    tokens: &Tokens,
    backend: Backend,
    device: &str,
) -> Result<RunInfo, TrainError> {
    let shape = trainer.model_config.shape();
    let (train, val) = tokens.split(trainer.config.val_fraction, trainer.model_config.context_length)?;
    Ok(RunInfo {
        backend,
        device: device.to_string(),
        shape,
        parameters: shape.params().total,
        flops_per_step: flops_per_step(&shape, trainer.config.batch_size),
        batch_size: trainer.config.batch_size,
        steps: trainer.config.steps,
        step: trainer.step(),
        train_tokens: train.len(),
        val_tokens: val.len(),
        tokenizer: tokens.tokenizer_source.clone(),
        vocab_size: tokens.tokenizer.vocab_size(),
        data: tokens.data_name.clone(),
        unigram_entropy: unigram_entropy(&train),
    })
}

/// A checkpoint from the files the page stored or the student uploaded.
pub fn checkpoint_of(origin: &str, files: Files) -> Checkpoint {
    let mut c = Checkpoint::new(origin);
    c.files = files.into_iter().collect();
    c
}

/// A checkpoint's files for the page.
pub fn files_of(checkpoint: Checkpoint) -> Files {
    checkpoint.files.into_iter().collect()
}
