//! # Sampling (CS336 assignment 1 §6: decoding)
//!
//! Text from a trained model: temperature, top-k and nucleus (top-p) sampling with a seed, stopping
//! at `<|endoftext|>` or after a token budget. Generation keeps a KV cache, so each new token costs
//! one position's work rather than the whole prefix again. The next-token choice runs on the host
//! from the last position's logits (read asynchronously, as everywhere in the lab).

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::transformer::KvCache;
use crate::model::TransformerLm;
use crate::tokenize::{Bpe, TokenizeError, Tokenizer, END_OF_TEXT};

/// What stops a sample, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("{0}")]
    Config(String),
    #[error("the device failed while sampling: {0}")]
    Device(String),
    #[error(transparent)]
    Tokenizer(#[from] TokenizeError),
}

/// How to pick each next token.
#[derive(Config, Debug, PartialEq)]
pub struct SamplingConfig {
    /// New tokens at most.
    #[config(default = 200)]
    pub max_tokens: usize,
    /// Logits are divided by this; 0 means greedy (always the most likely token).
    #[config(default = 0.8)]
    pub temperature: f64,
    /// Keep only the k most likely tokens (0: no limit).
    #[config(default = 0)]
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: no limit).
    #[config(default = 1.0)]
    pub top_p: f64,
    #[config(default = 0)]
    pub seed: u64,
}

impl SamplingConfig {
    /// Refuses settings that do not define a distribution, naming the setting.
    pub fn validate(&self) -> Result<(), SampleError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SampleError::Config(format!(
                "temperature {} must be 0 (greedy) or positive",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SampleError::Config(format!("top-p {} must be in (0, 1]", self.top_p)));
        }
        Ok(())
    }
}

/// The next token from one position's logits. Ties in greedy mode go to the lowest id.
pub fn choose<R: Rng>(logits: &[f32], config: &SamplingConfig, rng: &mut R) -> u32 {
    if config.temperature == 0.0 {
        return argmax(logits);
    }
    let probs = distribution(logits, config);
    let u: f64 = rng.random::<f64>();
    let mut acc = 0.0;
    let mut last = 0;
    for (id, p) in probs.iter().enumerate() {
        if *p > 0.0 {
            acc += p;
            last = id;
            if u < acc {
                return id as u32;
            }
        }
    }
    last as u32 // rounding left u ≥ the total: the last token with mass
}

/// The probabilities `choose` samples from: softmax(logits / T) restricted to top-k, then to the
/// top-p nucleus, renormalized. Computed in f64.
pub fn distribution(logits: &[f32], config: &SamplingConfig) -> Vec<f64> {
    let t = config.temperature.max(f64::MIN_POSITIVE);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<f64> = logits.iter().map(|&l| ((l as f64 - max) / t).exp()).collect();
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    let mut keep = order.len();
    if config.top_k > 0 {
        keep = keep.min(config.top_k);
    }
    if config.top_p < 1.0 {
        let total: f64 = order[..keep].iter().map(|&i| probs[i]).sum();
        let mut acc = 0.0;
        for (n, &i) in order[..keep].iter().enumerate() {
            acc += probs[i] / total;
            if acc >= config.top_p {
                keep = n + 1;
                break;
            }
        }
    }
    for &i in &order[keep..] {
        probs[i] = 0.0;
    }
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    probs
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Generates up to `config.max_tokens` tokens after `prompt` (which must not be empty), stopping
/// early at `stop`. `on_token` sees each new token as it is chosen and may return false to stop.
/// Past the context length the cache restarts from the last half context (positions re-encoded).
pub async fn generate<B: Backend>(
    model: &TransformerLm<B>,
    context_length: usize,
    prompt: &[u32],
    config: &SamplingConfig,
    stop: Option<u32>,
    mut on_token: impl FnMut(u32) -> bool,
) -> Result<Vec<u32>, SampleError> {
    config.validate()?;
    if prompt.is_empty() {
        return Err(SampleError::Config("the prompt is empty: give at least one token".into()));
    }
    let device = model.token_embeddings.weight.device();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut tokens: Vec<u32> = prompt.to_vec();
    let mut cache = KvCache::new(model.layers.len());
    let start = tokens.len().saturating_sub(context_length);
    let mut pending: Vec<u32> = tokens[start..].to_vec();
    let mut out = Vec::new();
    for _ in 0..config.max_tokens {
        if cache.len() + pending.len() > context_length {
            cache = KvCache::new(model.layers.len());
            let keep = (context_length / 2).max(1);
            pending = tokens[tokens.len() - keep..].to_vec();
        }
        let n = pending.len();
        let ids: Vec<i64> = pending.iter().map(|&t| i64::from(t)).collect();
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, n]), &device);
        let logits = model.forward_cached(ids, &mut cache); // [1, n, vocab]
        let vocab = logits.dims()[2];
        let last = logits.slice([0..1, n - 1..n, 0..vocab]).reshape([vocab]);
        let data = last.into_data_async().await.map_err(|e| SampleError::Device(format!("{e:?}")))?;
        let logits: Vec<f32> =
            data.convert::<f32>().into_vec::<f32>().map_err(|e| SampleError::Device(format!("{e:?}")))?;
        let next = choose(&logits, config, &mut rng);
        tokens.push(next);
        out.push(next);
        if Some(next) == stop || !on_token(next) {
            break;
        }
        pending = vec![next];
    }
    Ok(out)
}

/// The `k` most likely next tokens after `prompt` (its last `context_length` tokens) with their
/// probabilities at temperature 1, most likely first: what the model "thinks" comes next.
///
/// # Shapes
/// prompt `[n]` → forward `[1, n, vocab]` → the last position's softmax, top `k`.
pub async fn next_token_probabilities<B: Backend>(
    model: &TransformerLm<B>,
    context_length: usize,
    prompt: &[u32],
    k: usize,
) -> Result<Vec<(u32, f64)>, SampleError> {
    if prompt.is_empty() {
        return Err(SampleError::Config("the prompt is empty: give at least one token".into()));
    }
    let device = model.token_embeddings.weight.device();
    let window = &prompt[prompt.len().saturating_sub(context_length)..];
    let n = window.len();
    let ids: Vec<i64> = window.iter().map(|&t| i64::from(t)).collect();
    let logits = model.forward(Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, n]), &device));
    let vocab = logits.dims()[2];
    let last = logits.slice([0..1, n - 1..n, 0..vocab]).reshape([vocab]);
    let data = last.into_data_async().await.map_err(|e| SampleError::Device(format!("{e:?}")))?;
    let logits: Vec<f32> =
        data.convert::<f32>().into_vec::<f32>().map_err(|e| SampleError::Device(format!("{e:?}")))?;
    let probs = distribution(&logits, &SamplingConfig::new().with_temperature(1.0));
    let mut ranked: Vec<(u32, f64)> = probs.into_iter().enumerate().map(|(i, p)| (i as u32, p)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    Ok(ranked)
}

/// A prompt's ids; an empty prompt starts a new document at `<|endoftext|>`.
pub fn prompt_ids(tokenizer: &Bpe, prompt: &str) -> Result<Vec<u32>, SampleError> {
    if !prompt.is_empty() {
        return Ok(tokenizer.encode_text(prompt));
    }
    tokenizer.token_id(END_OF_TEXT.as_bytes()).map(|id| vec![id]).ok_or_else(|| {
        SampleError::Config("the prompt is empty and the tokenizer has no <|endoftext|> to start from".into())
    })
}

/// A finished sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The prompt's ids (`<|endoftext|>` for an empty prompt).
    pub prompt: Vec<u32>,
    /// The ids generated, the stopping `<|endoftext|>` included when it came.
    pub tokens: Vec<u32>,
    /// The generated text (without `<|endoftext|>`).
    pub text: String,
}

impl Completion {
    /// The generated ids without `<|endoftext|>`.
    pub fn text_ids(&self, tokenizer: &Bpe) -> Vec<u32> {
        let stop = tokenizer.token_id(END_OF_TEXT.as_bytes());
        self.tokens.iter().copied().filter(|&id| Some(id) != stop).collect()
    }
}

/// Text after `prompt`: its ids, generation until `<|endoftext|>` or `config.max_tokens`, the new
/// tokens decoded. `on_bytes` sees each new token's bytes as it is chosen (`<|endoftext|>` is not
/// shown) and may return false to stop. What `lmlab sample`, the main job's samples and the Train
/// page's samples all call.
pub async fn complete<B: Backend>(
    model: &TransformerLm<B>,
    context_length: usize,
    tokenizer: &Bpe,
    prompt: &str,
    config: &SamplingConfig,
    mut on_bytes: impl FnMut(&[u8]) -> bool,
) -> Result<Completion, SampleError> {
    let ids = prompt_ids(tokenizer, prompt)?;
    let stop = tokenizer.token_id(END_OF_TEXT.as_bytes());
    let tokens = generate(model, context_length, &ids, config, stop, |id| {
        Some(id) == stop || on_bytes(&tokenizer.token_bytes(id).unwrap_or_default())
    })
    .await?;
    let mut done = Completion { prompt: ids, tokens, text: String::new() };
    done.text = tokenizer.decode(&done.text_ids(tokenizer))?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(temperature: f64, top_k: usize, top_p: f64) -> SamplingConfig {
        SamplingConfig::new().with_temperature(temperature).with_top_k(top_k).with_top_p(top_p)
    }

    #[test]
    fn greedy_and_limits_pick_the_argmax() {
        let logits = [0.1f32, 2.0, -1.0, 1.9];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(choose(&logits, &config(0.0, 0, 1.0), &mut rng), 1);
        for _ in 0..50 {
            assert_eq!(choose(&logits, &config(1.0, 1, 1.0), &mut rng), 1);
            assert_eq!(choose(&logits, &config(1.0, 0, 1e-9), &mut rng), 1);
        }
    }

    /// softmax by hand: e^{l_i/T} / Σ e^{l_j/T}; top-k and top-p cut and renormalize.
    #[test]
    fn distribution_matches_the_definition() {
        let logits = [1.0f32, 2.0, 3.0, 0.0];
        let e: Vec<f64> = [1.0f64, 2.0, 3.0, 0.0].iter().map(|l| (l / 0.5).exp()).collect();
        let z: f64 = e.iter().sum();
        let p = distribution(&logits, &config(0.5, 0, 1.0));
        for i in 0..4 {
            assert!((p[i] - e[i] / z).abs() < 1e-12);
        }
        let p = distribution(&logits, &config(1.0, 2, 1.0));
        let (a, b) = (2f64.exp(), 3f64.exp());
        assert!((p[2] - b / (a + b)).abs() < 1e-12 && (p[1] - a / (a + b)).abs() < 1e-12 && p[0] == 0.0 && p[3] == 0.0);
        // Softmax of [1,2,3,0] is ≈ [0.087, 0.237, 0.644, 0.032]: top-p 0.7 keeps 3 and 2.
        let p = distribution(&logits, &config(1.0, 0, 0.7));
        assert!(p[0] == 0.0 && p[3] == 0.0 && (p[1] + p[2] - 1.0).abs() < 1e-12);
    }

    /// Sampled frequencies follow the distribution (within 5 standard errors) and a seed repeats.
    #[test]
    fn sampling_follows_the_distribution() {
        let logits = [0.5f32, 1.5, -0.5, 1.0];
        let c = config(1.0, 0, 1.0);
        let p = distribution(&logits, &c);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 40_000;
        let mut counts = [0usize; 4];
        for _ in 0..n {
            counts[choose(&logits, &c, &mut rng) as usize] += 1;
        }
        for i in 0..4 {
            let f = counts[i] as f64 / n as f64;
            let se = (p[i] * (1.0 - p[i]) / n as f64).sqrt();
            assert!((f - p[i]).abs() < 5.0 * se, "token {i}: {f} vs {}", p[i]);
        }
        let draw = |seed| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            (0..20).map(|_| choose(&logits, &c, &mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
