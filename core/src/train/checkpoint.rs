//! A checkpoint: the files that restore a run exactly, held in memory so the CLI can write them to a
//! directory (atomically) and the browser to IndexedDB or a download.
//!
//! | file                    | what                                                              |
//! |-------------------------|-------------------------------------------------------------------|
//! | `config.json`           | model shape, training hyper-parameters, tokenizer reference       |
//! | `model.safetensors`     | weights, CS336 key names, torch layout (loads into the course's model) |
//! | `optimizer.safetensors` | AdamW moments: `<key>.exp_avg`, `<key>.exp_avg_sq` (torch's names) |
//! | `state.json`            | step, tokens seen, batch RNG position, last losses, data file     |
//! | `vocab.json`, `merges.txt` | the byte-level BPE tokenizer in GPT-2's format                 |

use std::collections::{BTreeMap, HashMap};

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::adamw::Moments;
use super::optimizer::AdamW;
use super::protocol::Files;
use super::trainer::{validate_model, RngState, TrainConfig, Trainer};
use super::TrainError;
use crate::model::weights::{
    from_safetensors, load_state_dict, named_params, read_host, read_state_dict, to_safetensors, HostTensor, StateDict,
};
use crate::model::{TransformerConfig, TransformerLm};
use crate::tokenize::formats::{read_gpt2, write_gpt2};
use crate::tokenize::{Bpe, Tokenizer};

pub const CONFIG: &str = "config.json";
pub const MODEL: &str = "model.safetensors";
pub const OPTIMIZER: &str = "optimizer.safetensors";
pub const STATE: &str = "state.json";
pub const VOCAB: &str = "vocab.json";
pub const MERGES: &str = "merges.txt";

/// The value of `config.json`'s `format` field.
pub const FORMAT: &str = "lmlab-checkpoint";

/// `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    pub format: String,
    pub version: u32,
    pub model: TransformerConfig,
    /// Absent in a checkpoint converted from bare weights.
    pub train: Option<TrainConfig>,
    pub tokenizer: TokenizerInfo,
}

/// Which tokenizer the model reads: always stored beside it, so sampling needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerInfo {
    /// `"byte-level-bpe"`.
    pub kind: String,
    pub vocab_file: String,
    pub merges_file: String,
    pub vocab_size: usize,
    pub special_tokens: Vec<String>,
    /// Where it came from (a directory, `gpt2`, or "trained on <file>").
    pub source: String,
}

/// `state.json`: where the run stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub step: usize,
    pub tokens_seen: u64,
    pub rng: RngState,
    pub loss: Option<f64>,
    pub val_loss: Option<f64>,
    /// The training data the run reads (for the record; resuming may point elsewhere).
    pub data: String,
}

/// A checkpoint's files by name. `origin` (a directory, an upload) names it in errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    pub origin: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Checkpoint {
    pub fn new(origin: impl Into<String>) -> Self {
        Self { origin: origin.into(), files: BTreeMap::new() }
    }

    /// A checkpoint from its files (the page's IndexedDB copy, an upload, a `.tar`).
    pub fn from_files(origin: &str, files: Files) -> Self {
        Self { origin: origin.into(), files: files.into_iter().collect() }
    }

    /// Its files, for the page (the worker's message, IndexedDB, the download).
    pub fn into_files(self) -> Files {
        self.files.into_iter().collect()
    }

    fn path(&self, name: &str) -> String {
        if self.origin.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.origin.trim_end_matches('/'))
        }
    }

    /// A file's bytes, or an error naming the missing file.
    pub fn file(&self, name: &str) -> Result<&[u8], TrainError> {
        self.files.get(name).map(Vec::as_slice).ok_or_else(|| TrainError::Checkpoint {
            file: self.path(name),
            message: "missing: not an lmlab checkpoint, or an incomplete one".into(),
        })
    }

    fn text(&self, name: &str) -> Result<&str, TrainError> {
        std::str::from_utf8(self.file(name)?).map_err(|e| TrainError::Checkpoint {
            file: self.path(name),
            message: format!("invalid UTF-8 at byte offset {}", e.valid_up_to()),
        })
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, TrainError> {
        serde_json::from_str(self.text(name)?).map_err(|e| TrainError::Checkpoint {
            file: format!("{}:{}", self.path(name), e.line()),
            message: e.to_string(),
        })
    }

    /// `config.json`, checked: right format, a buildable model shape.
    pub fn config(&self) -> Result<CheckpointConfig, TrainError> {
        let c: CheckpointConfig = self.json(CONFIG)?;
        if c.format != FORMAT {
            return Err(TrainError::Checkpoint {
                file: self.path(CONFIG),
                message: format!("format {:?}, expected {FORMAT:?}", c.format),
            });
        }
        validate_model(&c.model)?;
        Ok(c)
    }

    pub fn state(&self) -> Result<RunState, TrainError> {
        self.json(STATE)
    }

    /// The stored tokenizer, checked against the model's vocabulary.
    pub fn tokenizer(&self, config: &CheckpointConfig) -> Result<Bpe, TrainError> {
        let t = &config.tokenizer;
        let bpe = read_gpt2(
            &self.path(&t.vocab_file),
            self.text(&t.vocab_file)?,
            &self.path(&t.merges_file),
            self.text(&t.merges_file)?,
            &t.special_tokens,
        )?;
        check_vocab(&bpe, config.model.vocab_size, &self.path(&t.vocab_file))?;
        Ok(bpe)
    }

    /// The weights as a state dict.
    pub fn weights(&self) -> Result<StateDict, TrainError> {
        Ok(from_safetensors(&self.path(MODEL), self.file(MODEL)?)?.0)
    }

    /// The model, on `device`, for inference.
    pub fn load_model<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<(TransformerLm<B>, CheckpointConfig, Bpe), TrainError> {
        let config = self.config()?;
        let tokenizer = self.tokenizer(&config)?;
        let weights = self.weights()?;
        check_feed_forward(&config.model, &weights, &self.path(MODEL), &self.path(CONFIG))?;
        let model = load_state_dict(config.model.init::<B>(device), &weights, &self.path(MODEL))?;
        Ok((model, config, tokenizer))
    }

    /// Everything a run needs to continue exactly where it stopped.
    pub fn resume<B: AutodiffBackend>(&self, device: &B::Device) -> Result<(Trainer<B>, Bpe, RunState), TrainError> {
        let (model, config, tokenizer) = self.load_model::<B>(device)?;
        let train = config.train.clone().ok_or_else(|| TrainError::Checkpoint {
            file: self.path(CONFIG),
            message: "has no training settings (converted from bare weights): start a new run from it instead".into(),
        })?;
        let state = self.state()?;
        let moments = self.moments::<B>(&model, device)?;
        let optimizer = AdamW::with_state(train.optimizer.clone(), state.step, moments);
        let trainer =
            Trainer::from_parts(model, optimizer, config.model, train, &state.rng, state.tokens_seen, device)?;
        Ok((trainer, tokenizer, state))
    }

    fn moments<B: AutodiffBackend>(
        &self,
        model: &TransformerLm<B>,
        device: &B::Device,
    ) -> Result<HashMap<burn::module::ParamId, Moments<B::InnerBackend, 1>>, TrainError> {
        let file = self.path(OPTIMIZER);
        let (saved, _) = from_safetensors(&file, self.file(OPTIMIZER)?)?;
        let mut out = HashMap::new();
        for (name, id, shape, _) in named_params(model) {
            let numel: usize = shape.iter().product();
            let get = |suffix: &str| -> Result<Option<Tensor<B::InnerBackend, 1>>, TrainError> {
                let key = format!("{name}.{suffix}");
                match saved.get(&key) {
                    None => Ok(None),
                    Some(t) if t.data.len() == numel => {
                        Ok(Some(Tensor::from_data(TensorData::new(t.data.clone(), [numel]), device)))
                    }
                    Some(t) => Err(TrainError::Checkpoint {
                        file: file.clone(),
                        message: format!("{key} has {} values, the parameter has {numel}", t.data.len()),
                    }),
                }
            };
            match (get("exp_avg")?, get("exp_avg_sq")?) {
                (Some(m), Some(v)) => {
                    out.insert(id, Moments { m, v });
                }
                (None, None) => {}
                _ => {
                    return Err(TrainError::Checkpoint {
                        file: file.clone(),
                        message: format!("{name} has only one of its two moments"),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// The tokenizer must fit the model's embedding table.
pub fn check_vocab(tokenizer: &Bpe, vocab_size: usize, file: &str) -> Result<(), TrainError> {
    if tokenizer.vocab_size() > vocab_size {
        return Err(TrainError::Checkpoint {
            file: file.into(),
            message: format!(
                "the tokenizer has {} ids but the model's vocabulary is {vocab_size}: they do not belong together",
                tokenizer.vocab_size()
            ),
        });
    }
    Ok(())
}

fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(value).expect("plain data serializes");
    s.push('\n');
    s.into_bytes()
}

/// The tokenizer's files and its `config.json` entry.
fn tokenizer_files(tokenizer: &Bpe, source: &str) -> (TokenizerInfo, Vec<(String, Vec<u8>)>) {
    let (vocab, merges) = write_gpt2(tokenizer);
    let info = TokenizerInfo {
        kind: "byte-level-bpe".into(),
        vocab_file: VOCAB.into(),
        merges_file: MERGES.into(),
        vocab_size: tokenizer.vocab_size(),
        special_tokens: tokenizer.special_tokens().into_iter().map(|(s, _)| s).collect(),
        source: source.into(),
    };
    (info, vec![(VOCAB.into(), vocab.into_bytes()), (MERGES.into(), merges.into_bytes())])
}

fn safetensors_metadata() -> Option<HashMap<String, String>> {
    // "format": "pt" is what transformers / safetensors.torch expect of a torch state dict.
    Some(HashMap::from([("format".to_string(), "pt".to_string()), ("producer".to_string(), "lmlab".to_string())]))
}

/// Snapshots a run (reads every weight and moment from the device, asynchronously).
pub async fn save<B: AutodiffBackend>(
    trainer: &Trainer<B>,
    tokenizer: &Bpe,
    tokenizer_source: &str,
    loss: Option<f64>,
    val_loss: Option<f64>,
    data: &str,
) -> Result<Checkpoint, TrainError> {
    let model = trainer.model();
    let weights = read_state_dict(model).await?;
    let mut moments = StateDict::new();
    let by_id = trainer.optimizer.moments();
    for (name, id, _, _) in named_params(model) {
        if let Some(Moments { m, v }) = by_id.get(&id) {
            let numel = m.dims()[0];
            for (suffix, t) in [("exp_avg", m), ("exp_avg_sq", v)] {
                let host = read_host(t.clone(), vec![numel])
                    .await
                    .map_err(|message| TrainError::Device(format!("reading {name}.{suffix}: {message}")))?;
                moments.insert(format!("{name}.{suffix}"), host);
            }
        }
    }
    let (info, tokenizer_files) = tokenizer_files(tokenizer, tokenizer_source);
    let config = CheckpointConfig {
        format: FORMAT.into(),
        version: 1,
        model: trainer.model_config.clone(),
        train: Some(trainer.config.clone()),
        tokenizer: info,
    };
    let state = RunState {
        step: trainer.step(),
        tokens_seen: trainer.tokens_seen,
        rng: trainer.rng_state(),
        loss,
        val_loss,
        data: data.into(),
    };
    let mut ckpt = Checkpoint::new("");
    ckpt.files.insert(CONFIG.into(), json_bytes(&config));
    ckpt.files.insert(STATE.into(), json_bytes(&state));
    ckpt.files.insert(MODEL.into(), to_safetensors(&weights, safetensors_metadata()));
    ckpt.files.insert(OPTIMIZER.into(), to_safetensors(&moments, safetensors_metadata()));
    ckpt.files.extend(tokenizer_files);
    Ok(ckpt)
}

/// A checkpoint for sampling (no optimizer or run state) from bare CS336-keyed weights, e.g. a
/// PyTorch model's `state_dict` saved with `safetensors.torch.save_file`. The weights are checked
/// against a model of `model`'s shape built on `device` (every key present, every shape right):
/// the expected keys and shapes are the model's own, not a list kept beside it.
pub fn from_weights<B: Backend>(
    weights: &StateDict,
    weights_name: &str,
    model: TransformerConfig,
    tokenizer: &Bpe,
    tokenizer_source: &str,
    device: &B::Device,
) -> Result<Checkpoint, TrainError> {
    validate_model(&model)?;
    check_vocab(tokenizer, model.vocab_size, tokenizer_source)?;
    check_feed_forward(&model, weights, weights_name, "the model config")?;
    load_state_dict(model.init::<B>(device), weights, weights_name)?;
    let (info, tokenizer_files) = tokenizer_files(tokenizer, tokenizer_source);
    let config = CheckpointConfig { format: FORMAT.into(), version: 1, model, train: None, tokenizer: info };
    let mut ckpt = Checkpoint::new("");
    ckpt.files.insert(CONFIG.into(), json_bytes(&config));
    ckpt.files.insert(MODEL.into(), to_safetensors(weights, safetensors_metadata()));
    ckpt.files.extend(tokenizer_files);
    Ok(ckpt)
}

/// Refuses weights whose feed-forward layers are of the other kind than the config's (a mixture of
/// experts loaded into a dense config or the reverse), or whose expert count differs, naming both
/// sides: the generic "missing tensors" list would not say what is wrong.
pub fn check_feed_forward(
    config: &TransformerConfig,
    weights: &StateDict,
    weights_file: &str,
    config_file: &str,
) -> Result<(), TrainError> {
    let moe_layers = weights.keys().filter(|k| k.ends_with(".moe.router.weight")).count();
    let experts = weights.iter().find(|(k, _)| k.ends_with(".moe.router.weight")).map(|(_, t)| t.shape[0]);
    let mismatch = |message: String| Err(TrainError::Checkpoint { file: weights_file.into(), message });
    match (&config.moe, experts) {
        (None, Some(e)) => mismatch(format!(
            "holds a mixture-of-experts model ({moe_layers} MoE blocks of {e} experts, tensors layers.N.moe.*) but \
             {config_file} describes a dense model (no \"moe\" settings); load it with its own config.json"
        )),
        (Some(m), None) => mismatch(format!(
            "holds a dense model (layers.N.ffn.* tensors) but {config_file} describes a mixture of experts \
             ({} experts, top-{}); load it with a dense config",
            m.num_experts, m.top_k
        )),
        (Some(m), Some(e)) if e != m.num_experts => {
            mismatch(format!("has {e} experts per MoE block but {config_file} says {} experts", m.num_experts))
        }
        _ => Ok(()),
    }
}

/// Infers what the weights alone say about the model's shape: vocabulary, width, depth and d_ff
/// (heads, context length and θ are not in the weights and must be given).
pub fn infer_shape(weights: &StateDict, file: &str) -> Result<(usize, usize, usize, usize), TrainError> {
    let get = |key: &str| -> Result<&HostTensor, TrainError> {
        weights.get(key).ok_or_else(|| TrainError::Checkpoint {
            file: file.into(),
            message: format!("no tensor {key}: not a CS336 transformer state dict"),
        })
    };
    let emb = get("token_embeddings.weight")?;
    let w1 = get("layers.0.ffn.w1.weight")?;
    let layers = (0..).take_while(|i| weights.contains_key(&format!("layers.{i}.ln1.weight"))).count();
    match (emb.shape.as_slice(), w1.shape.as_slice()) {
        ([v, d], [f, _]) => Ok((*v, *d, layers, *f)),
        _ => Err(TrainError::Checkpoint { file: file.into(), message: "token_embeddings.weight is not 2-D".into() }),
    }
}

/// The model's weights as bare CS336-keyed safetensors (for PyTorch).
pub fn weights_file(ckpt: &Checkpoint) -> Result<Vec<u8>, TrainError> {
    ckpt.config()?;
    let weights = ckpt.weights()?;
    Ok(to_safetensors(&weights, safetensors_metadata()))
}
