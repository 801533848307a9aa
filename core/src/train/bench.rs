//! Training speed on random tokens: warm-up steps (kernel compilation, autotuning, allocation),
//! then timed steps of forward + backward + AdamW. `lmlab bench train` and the Train page's
//! benchmark run this same function, so the browser/native ratio compares like with like.

use burn::tensor::backend::AutodiffBackend;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use web_time::Instant;

use super::data::TokenSlice;
use super::protocol::BenchReport;
use super::trainer::{TrainConfig, Trainer};
use super::TrainError;
use crate::model::TransformerConfig;
use crate::telemetry::throughput;

/// 64 windows of uniformly random ids (uint32 `.bin` layout): the data does not affect speed.
pub fn random_tokens(model: &TransformerConfig, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = (model.context_length + 1) * 64;
    (0..n).flat_map(|_| rng.random_range(0..model.vocab_size as u32).to_le_bytes()).collect()
}

/// Times `steps` training steps after `warmup` untimed ones. `peak` (FLOP/s) gives the MFU.
/// `between` runs after every step (the browser yields to its event loop there).
pub async fn bench_train<B: AutodiffBackend>(
    model: &TransformerConfig,
    batch: usize,
    warmup: usize,
    steps: usize,
    peak: Option<f64>,
    device: &B::Device,
) -> Result<BenchReport, TrainError> {
    let config = TrainConfig::new().with_steps(warmup + steps + 1).with_batch_size(batch).with_warmup_steps(1);
    let mut trainer = Trainer::<B>::new(model.clone(), config, device)?;
    let bytes = random_tokens(model, 0);
    let data = TokenSlice::new("random tokens", &bytes, 4)?;
    let first = Instant::now();
    for _ in 0..warmup {
        trainer.train_step(&data).await?;
    }
    let warmup_seconds = first.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..steps {
        trainer.train_step(&data).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let shape = model.shape();
    let t = throughput(&shape, batch, steps, seconds, peak);
    Ok(BenchReport {
        parameters: shape.params().total,
        batch,
        context: model.context_length,
        steps,
        warmup,
        warmup_seconds,
        seconds,
        ms_per_step: 1e3 * seconds / steps as f64,
        tokens_per_s: t.tokens_per_s,
        flops_per_s: t.flops_per_s,
        mfu: t.mfu,
    })
}
