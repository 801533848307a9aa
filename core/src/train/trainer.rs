//! One training run's state and its step: batch → forward → cross-entropy → backward → global
//! clipping → AdamW, with the learning rate from the cosine schedule.
//!
//! Every read from the device is `async` (`into_data_async`), so the browser's worker and the CLI
//! drive the same [`Trainer`]; natively the CLI blocks on the futures. The only host-side state is
//! the batch RNG (ChaCha8, a seed and a word position), which makes a resumed run draw exactly
//! the batches an uninterrupted one would have.

use burn::config::Config;
use burn::module::AutodiffModule;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::adamw::AdamWConfig;
use super::data::{batch_starts, batch_tensors, TokenSlice};
use super::optimizer::AdamW;
use super::parallel::{self, Collective, Shard};
use super::plan::{AttentionKernel, Precision, TrainingPlan};
use super::schedule::cosine_lr;
use super::TrainError;
use crate::model::ops::cross_entropy;
use crate::model::{TransformerConfig, TransformerLm};
use crate::telemetry::{CommTiming, MoeMetrics, StepMetrics};

/// The run's hyper-parameters (the model's shape is [`TransformerConfig`]).
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// Optimizer steps in the whole run (the cosine schedule ends here).
    #[config(default = 1000)]
    pub steps: usize,
    /// Windows per step across all ranks (a data-parallel run's global batch; each of R ranks
    /// trains on `batch_size / R` of them, see `parallel`).
    #[config(default = 32)]
    pub batch_size: usize,
    #[config(default = 1e-3)]
    pub max_lr: f64,
    #[config(default = 1e-4)]
    pub min_lr: f64,
    #[config(default = 100)]
    pub warmup_steps: usize,
    /// Global L2 norm the gradients are clipped to.
    #[config(default = 1.0)]
    pub max_grad_norm: f64,
    /// Validation every this many steps (and at the end).
    #[config(default = 100)]
    pub eval_every: usize,
    /// Batches averaged for one validation loss (always the same batches, so evaluations compare).
    #[config(default = 8)]
    pub eval_batches: usize,
    /// Share of the tokens held out for validation when no separate validation file is given.
    #[config(default = 0.1)]
    pub val_fraction: f64,
    /// Seeds the initialization and the batch order.
    #[config(default = 0)]
    pub seed: u64,
    #[config(default = "AdamWConfig::new()")]
    pub optimizer: AdamWConfig,
    /// What the forward pass computes in (read it with [`TrainConfig::precision`]); the weights
    /// and AdamW's moments are f32 either way, so a checkpoint of either precision resumes in
    /// either. An `Option` only so that a checkpoint written before mixed precision existed (no
    /// such field) still reads, as fp32: burn's `Config` has no serde default.
    #[config(default = "None")]
    pub precision: Option<Precision>,
    /// How attention is computed (read it with [`TrainConfig::attention`]): the fused kernels
    /// where the backend has them, else the reference. Both compute the same function, so a
    /// checkpoint resumes with either; an `Option` for checkpoints written before the kernels.
    #[config(default = "None")]
    pub attention: Option<AttentionKernel>,
}

impl TrainConfig {
    /// The trainer's settings of a run plan (the optimizer's are AdamW's defaults).
    pub fn from_plan(p: &TrainingPlan) -> Self {
        TrainConfig::new()
            .with_steps(p.steps)
            .with_batch_size(p.batch_size)
            .with_max_lr(p.max_lr)
            .with_min_lr(p.min_lr)
            .with_warmup_steps(p.warmup_steps)
            .with_max_grad_norm(p.max_grad_norm)
            .with_eval_every(p.eval_every)
            .with_eval_batches(p.eval_batches)
            .with_val_fraction(p.val_fraction)
            .with_seed(p.seed)
            .with_precision(Some(p.precision))
            .with_attention(Some(p.attention))
    }

    /// What the forward pass computes in (fp32 when not said).
    pub fn precision(&self) -> Precision {
        self.precision.unwrap_or_default()
    }

    /// The attention kernel asked for (fused when not said).
    pub fn attention(&self) -> AttentionKernel {
        self.attention.unwrap_or_default()
    }

    /// These settings as a plan's, with `checkpoint_every` (which the trainer does not keep).
    pub fn plan(&self, checkpoint_every: usize) -> TrainingPlan {
        TrainingPlan {
            steps: self.steps,
            batch_size: self.batch_size,
            max_lr: self.max_lr,
            min_lr: self.min_lr,
            warmup_steps: self.warmup_steps,
            max_grad_norm: self.max_grad_norm,
            eval_every: self.eval_every,
            eval_batches: self.eval_batches,
            val_fraction: self.val_fraction,
            checkpoint_every,
            seed: self.seed,
            precision: self.precision(),
            attention: self.attention(),
        }
    }

    /// Refuses settings that cannot train, naming the setting (the plan's rules).
    pub fn validate(&self) -> Result<(), TrainError> {
        self.plan(0).validate().map_err(TrainError::Config)
    }

    /// The learning rate of the update taken at `step` (0-based): linear warm-up, cosine to
    /// `min_lr` at the last step.
    pub fn lr_at(&self, step: usize) -> f64 {
        cosine_lr(step, self.max_lr, self.min_lr, self.warmup_steps.min(self.steps), self.steps)
    }
}

/// The batch RNG's position: with the seed, enough to continue the exact stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    pub seed: u64,
    /// ChaCha's 32-bit word position, as a decimal string (it is a u128).
    pub word_pos: String,
}

/// A model, its optimizer and the batch RNG: everything a checkpoint must restore; and, in a
/// data-parallel run, the group of ranks it trains with (not saved: a checkpoint resumes on any
/// rank count).
pub struct Trainer<B: AutodiffBackend> {
    model: Option<TransformerLm<B>>,
    pub optimizer: AdamW<B>,
    pub model_config: TransformerConfig,
    pub config: TrainConfig,
    rng: ChaCha8Rng,
    pub tokens_seen: u64,
    device: B::Device,
    group: Option<Box<dyn Collective>>,
    /// Gradient bucket size of a data-parallel run.
    pub bucket_bytes: usize,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh run: the model initialized from `config.seed` (CS336's truncated normals).
    pub fn new(model_config: TransformerConfig, config: TrainConfig, device: &B::Device) -> Result<Self, TrainError> {
        config.validate()?;
        validate_model(&model_config)?;
        check_precision::<B>(config.precision(), device)?;
        let model = model_config
            .init_seeded::<B>(config.seed, device)
            .with_precision(config.precision())
            .with_attention(config.attention());
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        Ok(Self {
            model: Some(model),
            optimizer: AdamW::new(config.optimizer.clone()),
            model_config,
            config,
            rng,
            tokens_seen: 0,
            device: device.clone(),
            group: None,
            bucket_bytes: parallel::DEFAULT_BUCKET_BYTES,
        })
    }

    /// Rebuilds a run from its parts (see `checkpoint`).
    pub(crate) fn from_parts(
        model: TransformerLm<B>,
        optimizer: AdamW<B>,
        model_config: TransformerConfig,
        config: TrainConfig,
        rng: &RngState,
        tokens_seen: u64,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        let mut chacha = ChaCha8Rng::seed_from_u64(rng.seed);
        let pos: u128 = rng
            .word_pos
            .parse()
            .map_err(|_| TrainError::Config(format!("RNG position {:?} is not a number", rng.word_pos)))?;
        chacha.set_word_pos(pos);
        check_precision::<B>(config.precision(), device)?;
        Ok(Self {
            model: Some(model.with_precision(config.precision()).with_attention(config.attention())),
            optimizer,
            model_config,
            config,
            rng: chacha,
            tokens_seen,
            device: device.clone(),
            group: None,
            bucket_bytes: parallel::DEFAULT_BUCKET_BYTES,
        })
    }

    pub fn model(&self) -> &TransformerLm<B> {
        self.model.as_ref().expect("the model is only taken out during a step")
    }

    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Trains from now on as one rank of `group` (see `parallel`): the global batch
    /// (`config.batch_size`) is shared equally, so the rank count must divide it. Every rank must
    /// start from the same weights, optimizer state and RNG position (the same seed or checkpoint).
    pub fn join(&mut self, group: Box<dyn Collective>) -> Result<(), TrainError> {
        Shard { rank: group.rank(), ranks: group.ranks() }.per_rank(self.config.batch_size)?;
        self.group = Some(group);
        Ok(())
    }

    /// Which slice of each global batch this process trains on.
    pub fn shard(&self) -> Shard {
        self.group.as_ref().map_or(Shard::ALONE, |g| Shard { rank: g.rank(), ranks: g.ranks() })
    }

    /// Whether this process logs and writes checkpoints: the only one, or rank 0.
    pub fn is_lead(&self) -> bool {
        self.shard().rank == 0
    }

    /// The mean over ranks of a number each rank measured on its own shard (the number itself when
    /// training alone).
    pub fn mean_across_ranks(&mut self, value: f64) -> f64 {
        match self.group.as_mut() {
            Some(g) => {
                let mut v = [value];
                g.all_reduce_f64(&mut v);
                v[0] / g.ranks() as f64
            }
            None => value,
        }
    }

    /// Whether every rank wants to go on: one rank's stop (Ctrl-C, a signal) stops them all at
    /// the same step, so all of them save and leave together.
    pub fn all_continue(&mut self, keep_going: bool) -> bool {
        match self.group.as_mut() {
            Some(g) => {
                let mut stops = [if keep_going { 0.0 } else { 1.0 }];
                g.all_reduce_f64(&mut stops);
                stops[0] == 0.0
            }
            None => keep_going,
        }
    }

    /// In a data-parallel run, checks that every rank holds bit-identical weights (see
    /// `parallel::check_replicas`); nothing when training alone.
    pub fn check_replicas(&mut self) -> Result<(), TrainError> {
        let step = self.step();
        let Some(group) = self.group.as_mut() else { return Ok(()) };
        let hash = parallel::weights_checksum(self.model.as_ref().expect("the model is present between steps"));
        parallel::check_replicas(group.as_mut(), hash, step)
    }

    /// Switches what the forward pass computes in (refused where the backend lacks it).
    pub fn set_precision(&mut self, precision: Precision) -> Result<(), TrainError> {
        check_precision::<B>(precision, &self.device)?;
        self.config.precision = Some(precision);
        self.model = self.model.take().map(|m| m.with_precision(precision));
        Ok(())
    }

    /// Switches how attention is computed (both kernels compute the same function).
    pub fn set_attention(&mut self, kernel: AttentionKernel) {
        self.config.attention = Some(kernel);
        self.model = self.model.take().map(|m| m.with_attention(kernel));
    }

    /// The attention kernel this run's steps actually use on backend `B`.
    pub fn effective_attention(&self) -> AttentionKernel {
        crate::model::attention::effective::<B>(self.config.attention())
    }

    /// Updates made so far.
    pub fn step(&self) -> usize {
        self.optimizer.step
    }

    pub fn is_done(&self) -> bool {
        self.step() >= self.config.steps
    }

    pub fn rng_state(&self) -> RngState {
        RngState { seed: self.config.seed, word_pos: self.rng.get_word_pos().to_string() }
    }

    /// One update on a random batch of `train`, its numbers read back: [`Trainer::queue_step`]
    /// then [`PendingStep::read`]. A non-finite loss or gradient norm is an error naming the
    /// step; the model must then be discarded (the last checkpoint is the good one).
    pub async fn train_step(&mut self, train: &TokenSlice<'_>) -> Result<StepMetrics, TrainError> {
        self.queue_step(train).read().await
    }

    /// One update on a random batch of `train`, queued on the device without reading anything
    /// back: on a GPU the host can queue the next step while this one runs, and a read (which
    /// waits for the device) happens only when the numbers are wanted.
    pub fn queue_step(&mut self, train: &TokenSlice<'_>) -> PendingStep<B> {
        let started = Instant::now();
        let step = self.step();
        let lr = self.config.lr_at(step);
        let (batch, ctx) = (self.config.batch_size, self.model_config.context_length);
        // The global batch's windows, from the one stream every rank advances alike; this rank
        // trains on its slice (all of them when alone).
        let starts = batch_starts(train.len(), ctx, batch, &mut self.rng);
        let (inputs, targets) = batch_tensors::<B>(train, self.shard().slice(&starts), ctx, &self.device);
        let model = self.model.take().expect("the model is present between steps");
        let loss = training_loss(&model, self.model_config.moe.as_ref(), inputs, targets);
        let mut grads = GradientsParams::from_grads(loss.total.backward(), &model);
        let comm = self
            .group
            .as_mut()
            .map(|g| parallel::reduce_gradients::<B, _>(&model, &mut grads, g.as_mut(), self.bucket_bytes));
        let (model, grad_norm) = self.optimizer.step(model, grads, lr, self.config.max_grad_norm);
        self.model = Some(model);
        self.tokens_seen += (batch * ctx) as u64;
        PendingStep {
            step,
            lr,
            tokens_seen: self.tokens_seen,
            started,
            cross_entropy: loss.cross_entropy.inner(),
            grad_norm,
            router: loss.router.map(|(summary, routed)| (summary.inner(), routed)),
            num_experts: self.model_config.moe.as_ref().map(|c| c.num_experts),
            comm,
        }
    }

    /// Mean loss over `eval_batches` batches of `val` drawn by a fixed RNG (the same windows at
    /// every evaluation), without autodiff; in a data-parallel run each rank scores its slice of
    /// every batch and the means are averaged.
    pub async fn evaluate(&mut self, val: &TokenSlice<'_>) -> Result<f64, TrainError> {
        let model = self.model().valid();
        let device = self.device.clone();
        let local = evaluate_shard(
            &model,
            val,
            self.config.batch_size,
            self.model_config.context_length,
            self.config.eval_batches,
            self.shard(),
            &device,
        )
        .await?;
        Ok(self.mean_across_ranks(local))
    }
}

/// A queued update whose loss, gradient norm and router numbers are still on the device.
pub struct PendingStep<B: AutodiffBackend> {
    step: usize,
    lr: f64,
    tokens_seen: u64,
    started: Instant,
    cross_entropy: Tensor<B::InnerBackend, 1>,
    grad_norm: Tensor<B::InnerBackend, 1>,
    router: Option<(Tensor<B::InnerBackend, 1>, usize)>,
    num_experts: Option<usize>,
    comm: Option<CommTiming>,
}

impl<B: AutodiffBackend> PendingStep<B> {
    /// The step's numbers (waiting for the device to finish it). `seconds` runs from the step's
    /// queueing to this read. A non-finite loss or gradient norm is an error naming the step.
    pub async fn read(self) -> Result<StepMetrics, TrainError> {
        let cross_entropy = read_scalar(self.cross_entropy).await?;
        let grad_norm = read_scalar(self.grad_norm).await?;
        for value in [cross_entropy, grad_norm] {
            if !value.is_finite() {
                return Err(TrainError::NonFinite { step: self.step, value });
            }
        }
        let moe = match (self.router, self.num_experts) {
            (Some((summary, routed)), Some(experts)) => {
                MoeMetrics::from_summaries(&read_values(summary).await?, experts, routed)
            }
            _ => None,
        };
        Ok(StepMetrics {
            step: self.step,
            loss: cross_entropy,
            lr: self.lr,
            grad_norm,
            tokens_seen: self.tokens_seen,
            seconds: self.started.elapsed().as_secs_f64(),
            moe,
            comm: self.comm,
        })
    }
}

/// Mean validation loss of `model` over `batches` fixed batches of `val`.
pub async fn evaluate<B: Backend>(
    model: &TransformerLm<B>,
    val: &TokenSlice<'_>,
    batch_size: usize,
    context_length: usize,
    batches: usize,
    device: &B::Device,
) -> Result<f64, TrainError> {
    evaluate_shard(model, val, batch_size, context_length, batches, Shard::ALONE, device).await
}

/// [`evaluate`] on `shard`'s slice of every batch (the windows are drawn for the whole batch, so
/// the ranks' slices together are exactly the batches one process would score).
pub async fn evaluate_shard<B: Backend>(
    model: &TransformerLm<B>,
    val: &TokenSlice<'_>,
    batch_size: usize,
    context_length: usize,
    batches: usize,
    shard: Shard,
    device: &B::Device,
) -> Result<f64, TrainError> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x7e57_da7a);
    let mut total: Option<Tensor<B, 1>> = None;
    for _ in 0..batches {
        let starts = batch_starts(val.len(), context_length, batch_size, &mut rng);
        let (inputs, targets) = batch_tensors::<B>(val, shard.slice(&starts), context_length, device);
        let loss = lm_loss(model, inputs, targets);
        total = Some(match total {
            Some(t) => t + loss,
            None => loss,
        });
    }
    let total = total.expect("at least one validation batch");
    Ok(read_scalar(total).await? / batches as f64)
}

/// Mean next-token cross-entropy of a batch.
///
/// # Shapes
/// inputs, targets `[batch, seq]` → `[1]`.
pub fn lm_loss<B: Backend>(
    model: &TransformerLm<B>,
    inputs: Tensor<B, 2, burn::tensor::Int>,
    targets: Tensor<B, 2, burn::tensor::Int>,
) -> Tensor<B, 1> {
    let [batch, seq] = inputs.dims();
    let logits = model.forward(inputs); // [batch, seq, vocab]
    let vocab = logits.dims()[2];
    cross_entropy(logits.reshape([batch * seq, vocab]), targets.reshape([batch * seq]))
}

/// The loss of one training step and what it is made of.
pub struct StepLoss<B: Backend> {
    /// What is differentiated: cross-entropy + Σ over MoE blocks of α·balance + β·z-loss.
    pub total: Tensor<B, 1>,
    pub cross_entropy: Tensor<B, 1>,
    /// Every MoE block's summary (`MoeStats::summary`) concatenated, and the pairs each routed.
    pub router: Option<(Tensor<B, 1>, usize)>,
}

/// The training loss of a batch: [`lm_loss`]'s cross-entropy plus the router's auxiliary losses
/// weighted as `moe` says.
///
/// # Shapes
/// inputs, targets `[batch, seq]` → `[1]` each.
pub fn training_loss<B: Backend>(
    model: &TransformerLm<B>,
    moe: Option<&crate::model::MoeConfig>,
    inputs: Tensor<B, 2, burn::tensor::Int>,
    targets: Tensor<B, 2, burn::tensor::Int>,
) -> StepLoss<B> {
    let [batch, seq] = inputs.dims();
    let (logits, stats) = model.forward_routed(inputs); // [batch, seq, vocab]
    let vocab = logits.dims()[2];
    let cross_entropy = cross_entropy(logits.reshape([batch * seq, vocab]), targets.reshape([batch * seq]));
    let (Some(moe), false) = (moe, stats.is_empty()) else {
        return StepLoss { total: cross_entropy.clone(), cross_entropy, router: None };
    };
    let mut total = cross_entropy.clone();
    for s in &stats {
        total = total + s.balance.clone() * moe.balance_loss_weight + s.z.clone() * moe.z_loss_weight;
    }
    let routed = stats[0].routed;
    let summary = Tensor::cat(stats.iter().map(|s| s.summary()).collect(), 0);
    StepLoss { total, cross_entropy, router: Some((summary, routed)) }
}

/// A `[1]` tensor's value, read asynchronously.
pub async fn read_scalar<B: Backend>(t: Tensor<B, 1>) -> Result<f64, TrainError> {
    Ok(f64::from(read_values(t).await?[0]))
}

/// A 1-D tensor's values, read asynchronously.
pub async fn read_values<B: Backend>(t: Tensor<B, 1>) -> Result<Vec<f32>, TrainError> {
    let data = t.into_data_async().await.map_err(|e| TrainError::Device(format!("{e:?}")))?;
    data.convert::<f32>().into_vec::<f32>().map_err(|e| TrainError::Device(format!("{e:?}")))
}

/// Refuses a precision the backend cannot compute in, saying which would work: WGSL (wgpu,
/// WebGPU) has no bf16; CUDA and the CPU backend do.
pub fn check_precision<B: Backend>(precision: Precision, device: &B::Device) -> Result<(), TrainError> {
    if precision == Precision::Bf16 && !B::supports_dtype(device, burn::tensor::DType::BF16) {
        let name = B::name(device);
        let why = if name.contains("wgpu") || name.contains("wgsl") {
            "wgpu and WebGPU have no bf16 (WGSL, their shading language, has no 16-bit brain float)".to_string()
        } else {
            format!("this device has no bf16 (burn's {name})")
        };
        return Err(TrainError::Config(format!(
            "precision bf16: {why}; use fp32 here, or bf16 on CUDA (Ampere or newer) or the CPU backend"
        )));
    }
    Ok(())
}

/// Refuses model shapes that cannot be built (the message names the setting): the plan's rules.
pub fn validate_model(c: &TransformerConfig) -> Result<(), TrainError> {
    c.plan().validate().map_err(TrainError::Config)
}
