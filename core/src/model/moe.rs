//! # Mixture of experts (Switch Transformer, Mixtral, DeepSeek-V3)
//!
//! A block's SwiGLU replaced by E routed SwiGLU "experts", of which each token uses its top k by a
//! softmax router, plus optional shared experts every token uses (DeepSeek). The parameters grow
//! with E; the FLOPs per token only with k: that is the point of the design.
//!
//! Dispatch happens on the device with fixed shapes, so one definition runs on the CPU, CUDA and
//! WebGPU (whose reads cannot block inside a forward pass): every (token, choice) pair gets a slot
//! `expert · C + position`, where the position is a cumulative count of the earlier pairs that chose
//! the same expert and C is the per-expert capacity. Pairs past the capacity are dropped (their
//! slot is a spare row that is never computed), the tokens are scattered into an `[E, C, d]`
//! buffer, the experts run as one batched matmul, and the outputs are gathered back by slot and
//! weighted. First choices are numbered before second choices (GShard), so an overflowing expert
//! drops second choices first.
//!
//! Two auxiliary losses keep the router healthy: Switch's load-balancing loss E·Σᵢ fᵢ·Pᵢ (fᵢ the
//! share of routed pairs that chose expert i, Pᵢ its mean router probability; 1 when balanced, E
//! when everything goes to one expert) and the router z-loss mean((log Σ exp logits)²) of ST-MoE,
//! which keeps router logits small.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

use super::init::{trunc_normal, InitRng};
use super::layers::{Linear, SwiGlu};
use super::ops::{matmul_in, silu, softmax};
use super::plan::{Precision, RouterPlan};
use crate::accounting::MoeShape;
pub use crate::telemetry::BlockRoutes;

/// The mixture-of-experts settings of a model (blocks `first_dense_layers ..` are MoE blocks).
#[derive(Config, Debug, PartialEq)]
pub struct MoeConfig {
    /// Routed experts per MoE block (E).
    pub num_experts: usize,
    /// Experts each token is sent to (k).
    pub top_k: usize,
    /// SwiGLU width of one expert (smaller than a dense d_ff for fine-grained experts).
    pub d_ff_expert: usize,
    /// Experts every token uses, weight 1, stored as one SwiGLU of `num_shared_experts · d_ff_expert`.
    #[config(default = 0)]
    pub num_shared_experts: usize,
    /// Leading blocks that keep the dense SwiGLU.
    #[config(default = 0)]
    pub first_dense_layers: usize,
    /// Slots per expert = ⌈capacity_factor · tokens · k / E⌉; pairs beyond are dropped (their
    /// token passes through the residual only). `None`: no limit (every expert can take every
    /// token, which costs E/k times the active FLOPs).
    pub capacity_factor: Option<f64>,
    /// α of the load-balancing loss α·E·Σ fᵢ·Pᵢ added to the training loss (per MoE block).
    #[config(default = 0.01)]
    pub balance_loss_weight: f64,
    /// β of the router z-loss β·mean(logsumexp(logits)²) added to the training loss (per MoE block).
    #[config(default = 0.001)]
    pub z_loss_weight: f64,
}

impl MoeConfig {
    /// The settings of an accounting shape routed as `router` says.
    pub fn from_shape(s: &MoeShape, router: &RouterPlan) -> Self {
        let n = |v: u64| v as usize;
        Self::new(n(s.num_experts), n(s.top_k), n(s.d_ff_expert))
            .with_num_shared_experts(n(s.num_shared_experts))
            .with_first_dense_layers(n(s.first_dense_layers))
            .with_capacity_factor(router.capacity_factor)
            .with_balance_loss_weight(router.balance_loss_weight)
            .with_z_loss_weight(router.z_loss_weight)
    }

    pub fn shape(&self) -> MoeShape {
        MoeShape {
            num_experts: self.num_experts as u64,
            top_k: self.top_k as u64,
            num_shared_experts: self.num_shared_experts as u64,
            d_ff_expert: self.d_ff_expert as u64,
            first_dense_layers: self.first_dense_layers as u64,
        }
    }

    /// The router's training settings.
    pub fn router(&self) -> RouterPlan {
        RouterPlan {
            capacity_factor: self.capacity_factor,
            balance_loss_weight: self.balance_loss_weight,
            z_loss_weight: self.z_loss_weight,
        }
    }

    /// Whether block `layer` (0-based) is a MoE block.
    pub fn is_moe_layer(&self, layer: usize) -> bool {
        layer >= self.first_dense_layers
    }

    /// Slots per expert for `tokens` tokens (at least 1, at most `tokens`: a token picks an expert
    /// once).
    pub fn capacity(&self, tokens: usize) -> usize {
        match self.capacity_factor {
            None => tokens,
            Some(c) => {
                let slots = (c * (tokens * self.top_k) as f64 / self.num_experts as f64).ceil() as usize;
                slots.clamp(1, tokens.max(1))
            }
        }
    }

    pub fn init<B: Backend>(&self, d_model: usize, rng: &mut InitRng, device: &B::Device) -> MoeLayer<B> {
        let (e, f, d) = (self.num_experts, self.d_ff_expert, d_model);
        let std = (2.0 / (d + f) as f64).sqrt(); // each expert is initialized like a dense SwiGLU of width f
        MoeLayer {
            router: Linear::new(d, e, rng, device),
            w1: Param::from_tensor(trunc_normal([e, f, d], std, rng, device)),
            w2: Param::from_tensor(trunc_normal([e, d, f], std, rng, device)),
            w3: Param::from_tensor(trunc_normal([e, f, d], std, rng, device)),
            shared: (self.num_shared_experts > 0)
                .then(|| SwiGlu::new(d, self.num_shared_experts * self.d_ff_expert, rng, device)),
            top_k: self.top_k,
            capacity_factor: self.capacity_factor.unwrap_or(0.0),
        }
    }
}

/// Which experts each token chose and with what weight.
#[derive(Debug, Clone)]
pub struct Routing<B: Backend> {
    /// `[tokens, E]`: the router's softmax.
    pub probs: Tensor<B, 2>,
    /// `[tokens, k]`: chosen experts, most probable first.
    pub choice: Tensor<B, 2, Int>,
    /// `[tokens, k]`: their probabilities renormalized to sum to 1.
    pub weights: Tensor<B, 2>,
}

/// Top-k token-choice routing of router logits (softmax in f32, the model's float type).
///
/// The top k are found by k rounds of argmax, each masking the winner: k is small, and argmax is
/// a reduction every backend runs on the device (a sort may not be).
///
/// # Shapes
/// logits `[tokens, E]` → probs `[tokens, E]`, choice and weights `[tokens, k]`.
pub fn route<B: Backend>(logits: Tensor<B, 2>, k: usize) -> Routing<B> {
    let [n, e] = logits.dims();
    let device = logits.device();
    let probs = softmax(logits, 1); // [n, E]
    let experts = Tensor::<B, 1, Int>::arange(0..e as i64, &device).reshape([1, e]).expand([n, e]);
    let mut remaining = probs.clone().detach();
    let mut picks = Vec::with_capacity(k);
    for _ in 0..k {
        let best = remaining.clone().argmax(1); // [n, 1]
        let hit = best.clone().expand([n, e]).equal(experts.clone()); // [n, E]
        remaining = remaining.mask_fill(hit, -1.0); // probabilities are ≥ 0: never picked again
        picks.push(best);
    }
    let choice = Tensor::cat(picks, 1); // [n, k]
    let chosen = probs.clone().gather(1, choice.clone()); // [n, k], differentiable
    let weights = chosen.clone() / chosen.sum_dim(1);
    Routing { probs, choice, weights }
}

/// Switch Transformer's load-balancing loss E·Σᵢ fᵢ·Pᵢ (unweighted): fᵢ = `fraction` (share of
/// routed pairs that chose expert i, no gradient), Pᵢ = mean router probability of expert i.
/// 1 for a perfectly balanced router.
///
/// # Shapes
/// fraction `[E]`, probs `[tokens, E]` → `[1]`.
pub fn balance_loss<B: Backend>(fraction: Tensor<B, 1>, probs: Tensor<B, 2>) -> Tensor<B, 1> {
    let [n, e] = probs.dims();
    let mean_prob = probs.sum_dim(0).reshape([e]) / n as f64; // [E]
    (fraction * mean_prob).sum() * e as f64
}

/// ST-MoE's router z-loss mean over tokens of (log Σⱼ exp logitⱼ)² (unweighted).
///
/// # Shapes
/// logits `[tokens, E]` → `[1]`.
pub fn z_loss<B: Backend>(logits: Tensor<B, 2>) -> Tensor<B, 1> {
    let max = logits.clone().max_dim(1).detach(); // [n, 1]: the shift does not change the value
    let lse = (logits - max.clone()).exp().sum_dim(1).log() + max; // [n, 1]
    lse.powf_scalar(2.0).mean()
}

/// Share of routed (token, choice) pairs that chose each expert, before any drop.
///
/// # Shapes
/// choice `[tokens, k]` → `[E]`.
pub fn expert_fraction<B: Backend>(choice: Tensor<B, 2, Int>, num_experts: usize) -> Tensor<B, 1> {
    let [n, k] = choice.dims();
    let one_hot = one_hot(choice.reshape([n * k]), num_experts); // [n·k, E]
    one_hot.sum_dim(0).reshape([num_experts]) / (n * k) as f64
}

/// Inclusive cumulative sum down the rows in two levels: within blocks of ⌈√m⌉ rows, then over
/// the blocks' totals. The GPU backends' cumsum kernel walks the whole prefix for every element
/// (O(m²) work: seconds for a large batch); this walks O(√m).
///
/// # Shapes
/// `[m, c]` → `[m, c]`.
pub fn cumsum_rows<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [m, c] = x.dims();
    let block = ((m as f64).sqrt().ceil() as usize).max(1);
    let blocks = m.div_ceil(block);
    let padded = blocks * block;
    let x = if padded > m { Tensor::cat(vec![x.clone(), Tensor::zeros([padded - m, c], &x.device())], 0) } else { x };
    let within = x.reshape([blocks, block, c]).cumsum(1); // [blocks, block, c]
    let totals = within.clone().slice([0..blocks, block - 1..block]); // [blocks, 1, c]
    let before = totals.clone().cumsum(0) - totals; // everything in earlier blocks
    (within + before).reshape([padded, c]).slice([0..m])
}

/// One-hot rows as floats, built by comparison (burn's `one_hot` checks its input on the host).
///
/// # Shapes
/// ids `[m]` → `[m, classes]`.
fn one_hot<B: Backend>(ids: Tensor<B, 1, Int>, classes: usize) -> Tensor<B, 2> {
    let [m] = ids.dims();
    let device = ids.device();
    let all = Tensor::<B, 1, Int>::arange(0..classes as i64, &device).reshape([1, classes]).expand([m, classes]);
    ids.reshape([m, 1]).expand([m, classes]).equal(all).float()
}

/// What one MoE block measured on a batch; the losses carry gradients.
#[derive(Debug, Clone)]
pub struct MoeStats<B: Backend> {
    /// `[1]`: E·Σ fᵢ·Pᵢ, unweighted.
    pub balance: Tensor<B, 1>,
    /// `[1]`: the router z-loss, unweighted.
    pub z: Tensor<B, 1>,
    /// `[E]`: share of routed pairs per expert.
    pub fraction: Tensor<B, 1>,
    /// `[1]`: (token, choice) pairs dropped for lack of capacity.
    pub dropped: Tensor<B, 1>,
    /// `[1]`: (token, choice) pairs routed (tokens × k).
    pub routed: usize,
    pub routing: Routing<B>,
    /// `[tokens·k]` in k-major order: whether each pair found a slot.
    pub kept: Tensor<B, 1>,
}

impl<B: Backend> MoeStats<B> {
    /// The numbers a training step logs, in one tensor (one device read): fractions, balance,
    /// z-loss, dropped pairs.
    ///
    /// # Shapes
    /// → `[E + 3]`.
    pub fn summary(&self) -> Tensor<B, 1> {
        Tensor::cat(vec![self.fraction.clone(), self.balance.clone(), self.z.clone(), self.dropped.clone()], 0).detach()
    }
}

/// A mixture-of-experts feed-forward layer. Expert weights are stacked (`[E, d_out, d_in]`, each
/// expert in torch's Linear layout) so all experts run as one batched matmul.
#[derive(Module, Debug)]
pub struct MoeLayer<B: Backend> {
    /// Router logits = x·Wᵀ, W `[E, d_model]`.
    pub router: Linear<B>,
    /// `[E, d_ff_expert, d_model]`
    pub w1: Param<Tensor<B, 3>>,
    /// `[E, d_model, d_ff_expert]`
    pub w2: Param<Tensor<B, 3>>,
    /// `[E, d_ff_expert, d_model]`
    pub w3: Param<Tensor<B, 3>>,
    /// The shared experts as one SwiGLU (the sum of s always-on experts of width f is one SwiGLU
    /// of width s·f).
    pub shared: Option<SwiGlu<B>>,
    pub top_k: usize,
    /// 0: no capacity limit.
    pub capacity_factor: f64,
}

impl<B: Backend> MoeLayer<B> {
    pub fn num_experts(&self) -> usize {
        self.w1.dims()[0]
    }

    fn config_capacity(&self, tokens: usize) -> usize {
        let e = self.num_experts();
        let c = (self.capacity_factor > 0.0).then_some(self.capacity_factor);
        MoeConfig::new(e, self.top_k, 1).with_capacity_factor(c).capacity(tokens)
    }

    /// # Shapes
    /// x `[batch, seq, d_model]` → `[batch, seq, d_model]` and the block's statistics.
    pub fn forward(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, MoeStats<B>) {
        self.forward_in(x, Precision::Fp32)
    }

    /// [`MoeLayer::forward`] with the experts' matmuls in `precision`. The router stays f32:
    /// which expert a token goes to should not hinge on bf16's 8 significant bits.
    ///
    /// # Shapes
    /// x `[batch, seq, d_model]` → `[batch, seq, d_model]` and the block's statistics.
    pub fn forward_in(&self, x: Tensor<B, 3>, precision: Precision) -> (Tensor<B, 3>, MoeStats<B>) {
        let [batch, seq, d] = x.dims();
        let (n, k, e) = (batch * seq, self.top_k, self.num_experts());
        let device = x.device();
        let x = x.reshape([n, d]);
        let logits = self.router.forward(x.clone()); // [n, E]
        let routing = route(logits.clone(), k);
        let capacity = self.config_capacity(n);

        // k-major pairs: all first choices, then all second choices …
        let expert = routing.choice.clone().transpose().reshape([k * n]); // [k·n]
        let token = Tensor::<B, 1, Int>::arange(0..n as i64, &device).repeat_dim(0, k); // [k·n]
        let weight = routing.weights.clone().transpose().reshape([k * n, 1]); // [k·n, 1]
        let one_hot = one_hot(expert.clone(), e); // [k·n, E]
                                                  // Position of each pair among the pairs that chose its expert: 0, 1, 2 …
        let position = (cumsum_rows(one_hot.clone()) * one_hot.clone()).sum_dim(1).reshape([k * n]) - 1.0;
        let kept = position.clone().lower_elem(capacity as f64); // [k·n]
        let spare = (e * capacity) as i64; // the row dropped pairs write to and read zeros from
        let slot = (expert * capacity as i64 + position.int()).mask_fill(kept.clone().bool_not(), spare); // [k·n]

        let buffer = Tensor::<B, 2>::zeros([e * capacity + 1, d], &device).select_assign(
            0,
            slot.clone(),
            x.clone().select(0, token),
            IndexingUpdateOp::Add,
        ); // [E·C + 1, d]
        let h = buffer.slice([0..e * capacity]).reshape([e, capacity, d]);
        let y = self.experts(h, precision).reshape([e * capacity, d]);
        let y = Tensor::cat(vec![y, Tensor::zeros([1, d], &device)], 0); // [E·C + 1, d]
        let routed = (y.select(0, slot) * weight).reshape([k, n, d]).sum_dim(0).reshape([n, d]);
        let out = match &self.shared {
            Some(shared) => routed + shared.forward_in(x, precision),
            None => routed,
        };

        let fraction = expert_fraction(routing.choice.clone(), e); // [E]
        let kept = kept.float();
        let stats = MoeStats {
            balance: balance_loss(fraction.clone(), routing.probs.clone()),
            z: z_loss(logits),
            dropped: kept.clone().sum().neg() + (k * n) as f64,
            fraction,
            routed: k * n,
            routing,
            kept,
        };
        (out.reshape([batch, seq, d]), stats)
    }

    /// Every expert on its own slots, as batched matmuls.
    ///
    /// # Shapes
    /// h `[E, C, d_model]` → `[E, C, d_model]`.
    fn experts(&self, h: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
        let gate = silu(matmul_in(h.clone(), self.w1.val().swap_dims(1, 2), precision)); // [E, C, f]
        let up = matmul_in(h, self.w3.val().swap_dims(1, 2), precision); // [E, C, f]
        matmul_in(gate * up, self.w2.val().swap_dims(1, 2), precision) // [E, C, d]
    }
}

/// Routes every MoE block takes for `ids` (one sequence, at most the context length), read back
/// asynchronously so the browser can call it too. Empty for a dense model.
pub async fn sequence_routes<B: Backend>(
    model: &super::TransformerLm<B>,
    ids: &[u32],
) -> Result<Vec<BlockRoutes>, String> {
    if !model.is_moe() || ids.is_empty() {
        return Ok(Vec::new());
    }
    let device = &model.token_embeddings.weight.device();
    let n = ids.len();
    let input: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    let input = Tensor::<B, 2, Int>::from_data(burn::tensor::TensorData::new(input, [1, n]), device);
    let (_, stats) = model.forward_routed(input);
    let layers = model.layers.iter().enumerate().filter(|(_, b)| b.moe.is_some()).map(|(i, _)| i);
    let mut out = Vec::new();
    for (layer, s) in layers.zip(stats) {
        let k = s.routing.choice.dims()[1];
        let choice = read_ints(s.routing.choice).await?;
        let weights = read_floats(s.routing.weights).await?;
        let kept = read_floats(s.kept).await?; // k-major
        let rows = |t: usize| t * k..(t + 1) * k;
        out.push(BlockRoutes {
            layer,
            experts: (0..n).map(|t| choice[rows(t)].iter().map(|&e| e as usize).collect()).collect(),
            weights: (0..n).map(|t| weights[rows(t)].to_vec()).collect(),
            kept: (0..n).map(|t| (0..k).map(|j| kept[j * n + t] > 0.5).collect()).collect(),
        });
    }
    Ok(out)
}

async fn read_floats<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>, String> {
    let data = t.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    data.convert::<f32>().into_vec::<f32>().map_err(|e| format!("{e:?}"))
}

async fn read_ints<B: Backend, const D: usize>(t: Tensor<B, D, Int>) -> Result<Vec<i64>, String> {
    let data = t.into_data_async().await.map_err(|e| format!("{e:?}"))?;
    data.convert::<i64>().into_vec::<i64>().map_err(|e| format!("{e:?}"))
}
