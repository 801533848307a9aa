//! The CS336 transformer language model: embedding → pre-norm blocks → final RMSNorm → LM head.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use rand::SeedableRng;

use super::attention;
use super::init::InitRng;
use super::layers::{Embedding, Linear, RmsNorm, SwiGlu};
use super::moe::{MoeConfig, MoeLayer, MoeStats};
use super::ops::{causal_attention, causal_bias, merge_heads, project_heads, rope, rope_tables, RopeTables};
use super::plan::{AttentionKernel, ModelPlan, Precision, RouterPlan};
use crate::accounting::{training_preset, ModelShape};

/// The model's shape and hyper-parameters.
#[derive(Config, Debug, PartialEq)]
pub struct TransformerConfig {
    pub vocab_size: usize,
    pub context_length: usize,
    pub d_model: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub d_ff: usize,
    #[config(default = 10000.0)]
    pub rope_theta: f64,
    /// Mixture-of-experts feed-forward blocks (`None`: every block is dense). `d_ff` is then the
    /// width of the blocks before `moe.first_dense_layers`.
    pub moe: Option<MoeConfig>,
}

impl TransformerConfig {
    /// Trains in minutes on a laptop CPU: a character- or small-BPE model of Shakespeare.
    pub fn tiny(vocab_size: usize) -> Self {
        Self::preset("tiny", vocab_size)
    }

    /// CS336 assignment 1's TinyStories model.
    pub fn cs336_tinystories() -> Self {
        Self::preset("cs336-tinystories", 10_000)
    }

    /// GPT-2 small's shape in the CS336 architecture.
    pub fn gpt2_small() -> Self {
        Self::preset("gpt2-small", 50_257)
    }

    fn preset(name: &str, vocab_size: usize) -> Self {
        Self::from_shape(&training_preset(name).expect("a listed preset").shape_with_vocab(vocab_size))
    }

    /// The model of an accounting shape (presets and the Train page describe models as
    /// [`ModelShape`]s, which need no burn), with the default RoPE θ and router.
    pub fn from_shape(shape: &ModelShape) -> Self {
        Self::from_plan(&ModelPlan {
            shape: *shape,
            rope_theta: 10_000.0,
            router: RouterPlan::default(),
            fixed_vocab: false,
        })
    }

    /// The model a run plan describes. Grouped-query shapes are not built here (the plan's
    /// validation refuses them).
    pub fn from_plan(plan: &ModelPlan) -> Self {
        let (s, n) = (&plan.shape, |v: u64| v as usize);
        Self::new(n(s.vocab_size), n(s.context_length), n(s.d_model), n(s.num_layers), n(s.num_heads), n(s.d_ff))
            .with_rope_theta(plan.rope_theta)
            .with_moe(s.moe.as_ref().map(|m| MoeConfig::from_shape(m, &plan.router)))
    }

    /// The model as a plan (a checkpoint's or a `--config` file's model, to validate or resume).
    pub fn plan(&self) -> ModelPlan {
        ModelPlan {
            shape: self.shape(),
            rope_theta: self.rope_theta,
            router: self.moe.as_ref().map_or_else(RouterPlan::default, MoeConfig::router),
            fixed_vocab: true,
        }
    }

    /// The same shape for the compute lab's accounting.
    pub fn shape(&self) -> ModelShape {
        ModelShape {
            vocab_size: self.vocab_size as u64,
            context_length: self.context_length as u64,
            d_model: self.d_model as u64,
            num_layers: self.num_layers as u64,
            num_heads: self.num_heads as u64,
            num_kv_heads: self.num_heads as u64,
            d_ff: self.d_ff as u64,
            moe: self.moe.as_ref().map(MoeConfig::shape),
        }
    }

    /// A model with CS336's initialization drawn from seed 0.
    pub fn init<B: Backend>(&self, device: &B::Device) -> TransformerLm<B> {
        self.init_seeded(0, device)
    }

    /// A model with CS336's initialization drawn from `seed`: the same weights on every backend.
    /// It computes in f32 ([`TransformerLm::with_precision`] changes that).
    pub fn init_seeded<B: Backend>(&self, seed: u64, device: &B::Device) -> TransformerLm<B> {
        let rng = &mut InitRng::seed_from_u64(seed);
        TransformerLm {
            token_embeddings: Embedding::new(self.vocab_size, self.d_model, rng, device),
            layers: (0..self.num_layers).map(|i| Block::new(self, i, rng, device)).collect(),
            ln_final: RmsNorm::new(self.d_model, device),
            lm_head: Linear::new(self.d_model, self.vocab_size, rng, device),
            num_heads: self.num_heads,
            rope_theta: self.rope_theta,
            precision: Precision::Fp32,
            attention: AttentionKernel::default(),
        }
    }
}

/// Causal multi-head self-attention with RoPE on Q and K.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub q_proj: Linear<B>,
    pub k_proj: Linear<B>,
    pub v_proj: Linear<B>,
    pub output_proj: Linear<B>,
}

impl<B: Backend> Attention<B> {
    /// Causal self-attention over `x`'s positions (CS336's `multihead_self_attention` with RoPE,
    /// in the model's precision, with `kernel`'s attention).
    ///
    /// # Shapes
    /// x `[batch, seq, d_model]`, RoPE tables for `seq` positions → `[batch, seq, d_model]`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        num_heads: usize,
        rope_tables: &RopeTables<B>,
        precision: Precision,
        kernel: AttentionKernel,
    ) -> Tensor<B, 3> {
        self.forward_cached(x, num_heads, rope_tables, &mut None, precision, kernel)
    }

    /// Attention of `n` new positions starting at `offset` over the cached keys and values of
    /// the earlier ones, which it extends: generation costs O(length) per token instead of
    /// recomputing the whole prefix. With an empty cache (training, and a prompt's prefill) the
    /// positions attend only to each other and `kernel` computes it; the decode steps that follow
    /// (a few new queries against the cache, where a fused kernel gains nothing) use the reference.
    ///
    /// # Shapes
    /// x `[batch, n, d_model]`, RoPE tables for positions offset … offset+n−1,
    /// cache `[batch, heads, offset, d_k]` each → `[batch, n, d_model]`, cache `[.., offset + n, ..]`.
    pub fn forward_cached(
        &self,
        x: Tensor<B, 3>,
        num_heads: usize,
        rope_tables: &RopeTables<B>,
        cache: &mut Option<(Tensor<B, 4>, Tensor<B, 4>)>,
        precision: Precision,
        kernel: AttentionKernel,
    ) -> Tensor<B, 3> {
        let n = x.dims()[1];
        let heads = |w: &Linear<B>| project_heads(x.clone(), w.weight.val(), num_heads, precision);
        let q = rope(heads(&self.q_proj), rope_tables);
        let k = rope(heads(&self.k_proj), rope_tables);
        let v = heads(&self.v_proj);
        let (k, v) = match cache.take() {
            Some((k0, v0)) => (Tensor::cat(vec![k0, k], 2), Tensor::cat(vec![v0, v], 2)),
            None => (k, v),
        }; // [batch, heads, offset + n, d_k]
        let total = k.dims()[2];
        *cache = Some((k.clone(), v.clone()));
        let attended = if total == n {
            attention::causal(q, k, v, kernel, precision)
        } else {
            causal_attention(q, k, v, causal_bias::<B>(n, total - n, &x.device()), precision)
        }; // [batch, heads, n, d_k]
        merge_heads(attended, self.output_proj.weight.val(), precision)
    }
}

/// A pre-norm transformer block. Its feed-forward sub-layer is either the dense SwiGLU (`ffn`) or
/// a mixture of experts (`moe`): exactly one is present, so a checkpoint's keys say which.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub ln1: RmsNorm<B>,
    pub attn: Attention<B>,
    pub ln2: RmsNorm<B>,
    pub ffn: Option<SwiGlu<B>>,
    pub moe: Option<MoeLayer<B>>,
}

impl<B: Backend> Block<B> {
    fn new(c: &TransformerConfig, layer: usize, rng: &mut InitRng, device: &B::Device) -> Self {
        let d = c.d_model;
        let moe = c.moe.as_ref().filter(|m| m.is_moe_layer(layer));
        Self {
            ln1: RmsNorm::new(d, device),
            attn: Attention {
                q_proj: Linear::new(d, d, rng, device),
                k_proj: Linear::new(d, d, rng, device),
                v_proj: Linear::new(d, d, rng, device),
                output_proj: Linear::new(d, d, rng, device),
            },
            ln2: RmsNorm::new(d, device),
            ffn: moe.is_none().then(|| SwiGlu::new(d, c.d_ff, rng, device)),
            moe: moe.map(|m| m.init(d, rng, device)),
        }
    }

    /// The feed-forward sub-layer, with the router's statistics for a MoE block.
    ///
    /// # Shapes
    /// x `[batch, seq, d_model]` → `[batch, seq, d_model]`.
    pub fn feed_forward(&self, x: Tensor<B, 3>, precision: Precision) -> (Tensor<B, 3>, Option<MoeStats<B>>) {
        match (&self.ffn, &self.moe) {
            (_, Some(moe)) => {
                let (y, stats) = moe.forward_in(x, precision);
                (y, Some(stats))
            }
            (Some(ffn), None) => (ffn.forward_in(x, precision), None),
            (None, None) => unreachable!("a block is built with a dense or a MoE feed-forward"),
        }
    }

    /// # Shapes
    /// x `[batch, seq, d_model]`, RoPE tables for `seq` positions → `[batch, seq, d_model]`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        num_heads: usize,
        rope: &RopeTables<B>,
        precision: Precision,
        kernel: AttentionKernel,
    ) -> (Tensor<B, 3>, Option<MoeStats<B>>) {
        let attended = self.attn.forward(self.ln1.forward(x.clone()), num_heads, rope, precision, kernel);
        let x = x + attended; // [batch, seq, d_model]
        let (y, stats) = self.feed_forward(self.ln2.forward(x.clone()), precision);
        (x + y, stats)
    }

    /// [`Block::forward`] for new positions, reading and extending the layer's KV cache.
    ///
    /// # Shapes
    /// x `[batch, n, d_model]` → `[batch, n, d_model]`.
    pub fn forward_cached(
        &self,
        x: Tensor<B, 3>,
        num_heads: usize,
        rope: &RopeTables<B>,
        cache: &mut Option<(Tensor<B, 4>, Tensor<B, 4>)>,
        precision: Precision,
        kernel: AttentionKernel,
    ) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward_cached(self.ln1.forward(x), num_heads, rope, cache, precision, kernel);
        x.clone() + self.feed_forward(self.ln2.forward(x), precision).0
    }
}

/// Every layer's keys and values for the positions seen so far.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    layers: Vec<Option<(Tensor<B, 4>, Tensor<B, 4>)>>,
}

impl<B: Backend> KvCache<B> {
    pub fn new(num_layers: usize) -> Self {
        Self { layers: vec![None; num_layers] }
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.layers.first().and_then(|l| l.as_ref()).map_or(0, |(k, _)| k.dims()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The language model.
#[derive(Module, Debug)]
pub struct TransformerLm<B: Backend> {
    pub token_embeddings: Embedding<B>,
    pub layers: Vec<Block<B>>,
    pub ln_final: RmsNorm<B>,
    pub lm_head: Linear<B>,
    pub num_heads: usize,
    pub rope_theta: f64,
    /// What the forward pass computes in (the weights are f32 either way); not saved with the
    /// weights: a run's `TrainConfig` says it.
    pub precision: Precision,
    /// How attention is computed (the fused kernels where the backend has them, by default); not
    /// saved either: the result is the same function.
    pub attention: AttentionKernel,
}

impl<B: Backend> TransformerLm<B> {
    /// The same model computing in `precision`.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The same model computing attention with `kernel`.
    pub fn with_attention(mut self, kernel: AttentionKernel) -> Self {
        self.attention = kernel;
        self
    }

    /// Next-token logits for every position.
    ///
    /// # Shapes
    /// ids `[batch, seq]` → logits `[batch, seq, vocab_size]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.forward_routed(ids).0
    }

    /// Whether any block is a mixture of experts.
    pub fn is_moe(&self) -> bool {
        self.layers.iter().any(|b| b.moe.is_some())
    }

    /// [`TransformerLm::forward`] with every MoE block's router statistics, first block first
    /// (empty for a dense model).
    ///
    /// # Shapes
    /// ids `[batch, seq]` → logits `[batch, seq, vocab_size]`.
    pub fn forward_routed(&self, ids: Tensor<B, 2, Int>) -> (Tensor<B, 3>, Vec<MoeStats<B>>) {
        let [_, seq] = ids.dims();
        let device = ids.device();
        let mut x = self.token_embeddings.forward(ids); // [batch, seq, d_model]
        let d_k = x.dims()[2] / self.num_heads;
        let positions: Vec<usize> = (0..seq).collect();
        let tables = rope_tables::<B>(&positions, d_k, self.rope_theta, &device);
        let mut stats = Vec::new();
        for block in &self.layers {
            let (y, s) = block.forward(x, self.num_heads, &tables, self.precision, self.attention);
            x = y;
            stats.extend(s);
        }
        let logits = self.lm_head.forward_in(self.ln_final.forward(x), self.precision); // [batch, seq, vocab_size]
        (logits, stats)
    }

    /// Logits for `ids` placed after the positions already in `cache`, which is extended. With
    /// an empty cache this equals [`TransformerLm::forward`].
    ///
    /// # Shapes
    /// ids `[batch, n]` → logits `[batch, n, vocab_size]`.
    pub fn forward_cached(&self, ids: Tensor<B, 2, Int>, cache: &mut KvCache<B>) -> Tensor<B, 3> {
        let [_, n] = ids.dims();
        let device = ids.device();
        let offset = cache.len();
        let mut x = self.token_embeddings.forward(ids); // [batch, n, d_model]
        let d_k = x.dims()[2] / self.num_heads;
        let positions: Vec<usize> = (offset..offset + n).collect();
        let tables = rope_tables::<B>(&positions, d_k, self.rope_theta, &device);
        for (block, layer_cache) in self.layers.iter().zip(cache.layers.iter_mut()) {
            x = block.forward_cached(x, self.num_heads, &tables, layer_cache, self.precision, self.attention);
        }
        self.lm_head.forward_in(self.ln_final.forward(x), self.precision) // [batch, n, vocab_size]
    }
}
