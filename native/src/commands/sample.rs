//! `lmlab sample`: text from a checkpoint, streamed as it is generated (`lmlab::sample::complete`,
//! the function the Train page's samples come from too).

use std::io::Write;

use burn::tensor::backend::{AutodiffBackend, Backend};
use lmlab::model::{TransformerConfig, TransformerLm};
use lmlab::sample::{complete, SamplingConfig};
use lmlab::tokenize::display_token;
use lmlab::train::checkpoint::Checkpoint;
use lmlab::units::{parse_count, parse_number, parse_whole};
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::checkpoint_dir;
use crate::cli::SampleArgs;
use crate::CliResult;

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

/// A few samples after training (temperature 0.8, fixed seeds), streamed.
pub fn print_samples<B: Backend>(
    model: &TransformerLm<B>,
    config: &TransformerConfig,
    tokenizer: &lmlab::tokenize::Bpe,
    prompts: &[&str],
    max_tokens: usize,
) {
    for (i, prompt) in prompts.iter().enumerate() {
        println!("\n--- sample {} (temperature 0.8) ---", i + 1);
        print!("{prompt}");
        let mut stream = Stream { pending: Vec::new() };
        let sampling = SamplingConfig::new().with_max_tokens(max_tokens).with_seed(i as u64);
        let result =
            pollster::block_on(complete(model, config.context_length, tokenizer, prompt, &sampling, |bytes| {
                stream.push(bytes);
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
    let picked = pick_device(&args.device)?;
    run_job(
        &picked,
        SampleJob { checkpoint, prompt: args.prompt.clone().unwrap_or_default(), sampling, json: args.json },
    )
}

struct SampleJob {
    checkpoint: Checkpoint,
    prompt: String,
    sampling: SamplingConfig,
    json: bool,
}

impl Job for SampleJob {
    fn run<B: AutodiffBackend>(self, device: B::Device, _: &Picked) -> CliResult {
        let (model, config, tokenizer) = self.checkpoint.load_model::<B::InnerBackend>(&device)?;
        let mut stream = Stream { pending: Vec::new() };
        if !self.json {
            print!("{}", self.prompt);
        }
        let context = config.model.context_length;
        let done = pollster::block_on(complete(&model, context, &tokenizer, &self.prompt, &self.sampling, |bytes| {
            if !self.json {
                stream.push(bytes);
            }
            true
        }))?;
        if self.json {
            let shown: Vec<String> = done.tokens.iter().map(|&id| display_token(&tokenizer, id)).collect();
            println!(
                "{}",
                json!({"prompt": self.prompt, "text": done.text, "tokens": done.tokens, "token_texts": shown,
                       "count": done.tokens.len()})
            );
        } else {
            stream.push(&[]);
            println!();
        }
        Ok(())
    }
}
