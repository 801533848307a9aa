//! `lmlab sample` (text from a checkpoint, streamed as it is generated) and `lmlab convert`
//! (checkpoint ↔ CS336-keyed safetensors for PyTorch).

use std::io::Write;

use burn::tensor::backend::{AutodiffBackend, Backend};
use lmlab::model::weights::from_safetensors;
use lmlab::model::{TransformerConfig, TransformerLm};
use lmlab::sample::{generate, SamplingConfig};
use lmlab::tokenize::{Bpe, TokenizeError, Tokenizer};
use lmlab::train::checkpoint::{from_weights, infer_shape, weights_file};
use lmlab::train::TrainError;
use lmlab::units::{parse_count, parse_number, parse_positive, parse_whole};
use lmlab::InputError;
use serde_json::json;

use crate::backend::{catch_quietly, dispatch, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::{BpeSource, ConvertArgs, SampleArgs};
use crate::commands::tokenize::load_bpe;
use crate::commands::train::{explain_panic, pick_with_gpu};
use crate::CliResult;

const SPECIAL: &str = "<|endoftext|>";

/// The prompt's ids; an empty prompt starts a new document at `<|endoftext|>`.
fn prompt_ids(tokenizer: &Bpe, prompt: &str) -> Result<Vec<u32>, TrainError> {
    if !prompt.is_empty() {
        return Ok(tokenizer.encode_text(prompt));
    }
    tokenizer.token_id(SPECIAL.as_bytes()).map(|id| vec![id]).ok_or_else(|| {
        TrainError::Config("the prompt is empty and the tokenizer has no <|endoftext|> to start from".into())
    })
}

/// Prints the bytes of new tokens as soon as they form valid UTF-8 (a character may span tokens).
struct Stream {
    pending: Vec<u8>,
}

impl Stream {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_some() => self.pending.len(), // invalid for good: flush lossy
            Err(e) => e.valid_up_to(),
        };
        let out: Vec<u8> = self.pending.drain(..valid).collect();
        print!("{}", String::from_utf8_lossy(&out));
        let _ = std::io::stdout().flush();
    }
}

/// A few samples after training (greedy-free, temperature 0.8, fixed seeds).
pub fn print_samples<B: Backend>(
    model: &TransformerLm<B>,
    config: &TransformerConfig,
    tokenizer: &Bpe,
    prompts: &[&str],
    max_tokens: usize,
) {
    let stop = tokenizer.token_id(SPECIAL.as_bytes());
    for (i, prompt) in prompts.iter().enumerate() {
        println!("\n--- sample {} (temperature 0.8) ---", i + 1);
        print!("{prompt}");
        let mut stream = Stream { pending: Vec::new() };
        let sampling = SamplingConfig::new().with_max_tokens(max_tokens).with_seed(i as u64);
        let Ok(ids) = prompt_ids(tokenizer, prompt) else { continue };
        let result = pollster::block_on(generate(model, config.context_length, &ids, &sampling, stop, |id| {
            if Some(id) != stop {
                stream.push(&tokenizer.token_bytes(id).unwrap_or_default());
            }
            true
        }));
        stream.push(&[]);
        println!();
        if let Err(e) = result {
            eprintln!("error: sampling failed: {e}");
        }
    }
}

pub fn sample(args: &SampleArgs) -> CliResult {
    let sampling = SamplingConfig::new()
        .with_max_tokens(parse_count("--max-tokens", &args.max_tokens)? as usize)
        .with_temperature(parse_number("--temperature", &args.temperature)?)
        .with_top_k(parse_whole("--top-k", &args.top_k)? as usize)
        .with_top_p(parse_number("--top-p", &args.top_p)?)
        .with_seed(parse_whole("--seed", &args.seed)?);
    // The ranges (temperature ≥ 0, top-p in (0, 1]) are the sampler's own rules.
    sampling.validate()?;
    let checkpoint = checkpoint_dir::read(&args.checkpoint)?;
    checkpoint.config()?;
    let picked = pick_with_gpu(&args.device)?;
    let job = SampleJob { checkpoint, prompt: args.prompt.clone().unwrap_or_default(), sampling, json: args.json };
    match catch_quietly(|| dispatch(&picked, job)) {
        Ok(result) => result,
        Err(panic) => Err(explain_panic(&panic, &picked).into()),
    }
}

struct SampleJob {
    checkpoint: lmlab::train::checkpoint::Checkpoint,
    prompt: String,
    sampling: SamplingConfig,
    json: bool,
}

impl Job for SampleJob {
    type Output = CliResult;

    fn run<B: AutodiffBackend>(self, device: B::Device, _: &Picked) -> CliResult {
        let (model, config, tokenizer) = self.checkpoint.load_model::<B::InnerBackend>(&device)?;
        let ids = prompt_ids(&tokenizer, &self.prompt)?;
        let stop = tokenizer.token_id(SPECIAL.as_bytes());
        let mut stream = Stream { pending: Vec::new() };
        if !self.json {
            print!("{}", self.prompt);
        }
        let new =
            pollster::block_on(generate(&model, config.model.context_length, &ids, &self.sampling, stop, |id| {
                if !self.json && Some(id) != stop {
                    stream.push(&tokenizer.token_bytes(id).unwrap_or_default());
                }
                true
            }))?;
        if self.json {
            let text =
                tokenizer.decode(new.iter().copied().filter(|&i| Some(i) != stop).collect::<Vec<_>>().as_slice())?;
            println!("{}", json!({"prompt": self.prompt, "text": text, "tokens": new, "count": new.len()}));
        } else {
            stream.push(&[]);
            println!();
        }
        Ok(())
    }
}

/// `lmlab convert --from DIR --to F.safetensors` or `--from F.safetensors --to DIR`.
pub fn convert(args: &ConvertArgs) -> CliResult {
    if args.from.is_dir() {
        let checkpoint = checkpoint_dir::read(&args.from)?;
        let bytes = weights_file(&checkpoint)?;
        let to = args.to.display().to_string();
        std::fs::write(&args.to, &bytes).map_err(|e| TokenizeError::Io { file: to.clone(), message: e.to_string() })?;
        println!("wrote {to}: {} bytes, CS336 state-dict keys (torch: safetensors.torch.load_file)", bytes.len());
        return Ok(());
    }
    let name = args.from.display().to_string();
    let bytes =
        std::fs::read(&args.from).map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?;
    let (weights, _) = from_safetensors(&name, &bytes)?;
    let (vocab_size, d_model, num_layers, d_ff) = infer_shape(&weights, &name)?;
    let heads = args.heads.as_deref().ok_or_else(|| {
        InputError::new("--heads", "", "the number of attention heads (a state dict does not record it)")
    })?;
    let context = args.context.as_deref().ok_or_else(|| {
        InputError::new(
            "--context",
            "",
            "the context length the model was trained with (a state dict does not record it)",
        )
    })?;
    let model = TransformerConfig::new(
        vocab_size,
        parse_count("--context", context)? as usize,
        d_model,
        num_layers,
        parse_count("--heads", heads)? as usize,
        d_ff,
    )
    .with_rope_theta(parse_positive("--rope-theta", &args.rope_theta)?);
    let source = BpeSource {
        vocab: None,
        merges: None,
        tokenizer_dir: args.tokenizer_dir.clone(),
        specials: vec![SPECIAL.into()],
    };
    let (tokenizer, tokenizer_source) = load_bpe(&source)?;
    let mut checkpoint = from_weights(&weights, &name, model, &tokenizer, &tokenizer_source)?;
    checkpoint.origin = args.to.display().to_string();
    checkpoint_dir::write(&args.to, &checkpoint)?;
    println!(
        "wrote checkpoint {} (vocabulary {vocab_size}, d_model {d_model}, {num_layers} layers, d_ff {d_ff}); try: lmlab sample --checkpoint {}",
        args.to.display(),
        args.to.display()
    );
    Ok(())
}
