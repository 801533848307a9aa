//! Training speed on random tokens: warm-up steps (kernel compilation, autotuning, allocation),
//! then timed steps of forward + backward + AdamW. `lmlab bench train` and the Train page's
//! benchmark run this same function, so the browser/native ratio compares like with like.

use burn::tensor::backend::AutodiffBackend;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use web_time::Instant;

use super::data::TokenSlice;
use super::plan::{AttentionKernel, Precision};
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

/// Times `steps` training steps in `precision`, with `attention`'s kernel, after `warmup` untimed
/// ones. `peak` (FLOP/s, of
/// that precision) gives the MFU. The timed steps are queued back to back and their losses read
/// after the last (as a training log reads them every N steps): the clock measures the device's
/// work, not a host round trip per step.
#[allow(clippy::too_many_arguments)]
pub async fn bench_train<B: AutodiffBackend>(
    model: &TransformerConfig,
    batch: usize,
    precision: Precision,
    attention: AttentionKernel,
    warmup: usize,
    steps: usize,
    peak: Option<f64>,
    device: &B::Device,
) -> Result<BenchReport, TrainError> {
    let config = TrainConfig::new()
        .with_steps(warmup + steps + 1)
        .with_batch_size(batch)
        .with_warmup_steps(1)
        .with_precision(Some(precision))
        .with_attention(Some(attention));
    let mut trainer = Trainer::<B>::new(model.clone(), config, device)?;
    let bytes = random_tokens(model, 0);
    let data = TokenSlice::new("random tokens", &bytes, 4)?;
    let first = Instant::now();
    let mut first_loss = None;
    for _ in 0..warmup {
        let loss = trainer.train_step(&data).await?.loss;
        first_loss.get_or_insert(loss);
    }
    let warmup_seconds = first.elapsed().as_secs_f64();
    let started = Instant::now();
    let queued: Vec<_> = (0..steps).map(|_| trainer.queue_step(&data)).collect();
    for step in queued {
        let loss = step.read().await?.loss;
        first_loss.get_or_insert(loss);
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
        first_loss: first_loss.unwrap_or(f64::NAN),
    })
}
