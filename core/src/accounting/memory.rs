//! Training memory: model states (weights, gradients, optimizer) and activations.
//!
//! Model states per parameter, for AdamW (two moments):
//!
//! | recipe | weights | gradients | fp32 master | m | v | total |
//! |---|---|---|---|---|---|---|
//! | fp32 | 4 | 4 | – | 4 | 4 | 16 bytes |
//! | mixed bf16 (fp32 master) | 2 | 2 | 4 | 4 | 4 | 16 bytes |
//!
//! Mixed precision does not shrink the model states (Rajbhandari et al., ZeRO, §3.1); it halves
//! activation memory and runs the matmuls on bf16 tensor cores.
//!
//! Activations are the tensors the backward pass needs, per layer and per sequence of T tokens,
//! for the CS336 block (element size a: 4 bytes in fp32, 2 in bf16):
//! RMSNorm inputs and outputs (4·T·d), Q, K, V after RoPE (3·T·d, K/V smaller under GQA),
//! attention probabilities (h·T²), attention output (T·d), SwiGLU's W1x, W3x, SiLU(W1x) and their
//! product (4·T·d_ff), plus the per-token RMS values (2·T in fp32). A mixture-of-experts block
//! keeps those SwiGLU tensors for each expert a token runs through, plus the router's E
//! probabilities; its weights, gradients and optimizer state count every expert. With full recomputation
//! (activation checkpointing per block) only each block's input (T·d) is kept, and one block's
//! activations are rebuilt at a time during the backward pass. The logits (T·V, kept in fp32 for
//! the loss) are counted once.
//!
//! Cluster memory is pooled: model states are assumed fully sharded over the GPUs (ZeRO-3 / FSDP),
//! and the batch is split evenly. Framework workspace and fragmentation are not counted.

use serde::Serialize;

use super::hardware::Gpu;
use super::model_shape::ModelShape;
use crate::InputError;

/// How training stores numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainingPrecision {
    Fp32,
    MixedBf16,
}

impl TrainingPrecision {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "fp32" | "float32" => Ok(TrainingPrecision::Fp32),
            "mixed-bf16" | "bf16" | "mixed" | "amp" => Ok(TrainingPrecision::MixedBf16),
            _ => Err(InputError::new("--precision", text, "one of: fp32, mixed-bf16")),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            TrainingPrecision::Fp32 => "fp32",
            TrainingPrecision::MixedBf16 => "mixed-bf16",
        }
    }

    /// Bytes per parameter for each kind of model state.
    pub fn state_bytes(self) -> StateBytes {
        match self {
            TrainingPrecision::Fp32 => StateBytes { weights: 4, gradients: 4, master_weights: 0, optimizer: 8 },
            TrainingPrecision::MixedBf16 => StateBytes { weights: 2, gradients: 2, master_weights: 4, optimizer: 8 },
        }
    }

    /// Bytes per activation element.
    pub fn activation_bytes(self) -> u64 {
        match self {
            TrainingPrecision::Fp32 => 4,
            TrainingPrecision::MixedBf16 => 2,
        }
    }
}

/// Bytes per parameter of each model state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StateBytes {
    pub weights: u64,
    pub gradients: u64,
    pub master_weights: u64,
    /// AdamW's first and second moments, fp32.
    pub optimizer: u64,
}

impl StateBytes {
    pub fn total(&self) -> u64 {
        self.weights + self.gradients + self.master_weights + self.optimizer
    }
}

/// Activation memory of one sequence (batch 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ActivationBytes {
    /// Saved tensors of one block without recomputation.
    pub per_layer: f64,
    /// Saved tensors of one block with full recomputation (its input only).
    pub per_layer_recomputed: f64,
    /// Logits for the loss, fp32.
    pub logits: f64,
    /// All layers + logits, no recomputation.
    pub total: f64,
    /// All layers' inputs + one block rebuilt + logits, with recomputation.
    pub total_recomputed: f64,
}

/// Activation memory per sequence of `shape.context_length` tokens.
///
/// A mixture-of-experts block saves, per token, the SwiGLU tensors of the experts it runs
/// through (top-k routed + shared, each d_ff_expert wide) and the router's E probabilities. When
/// dense and MoE blocks are mixed, `per_layer` is the larger of the two blocks (the one that is
/// rebuilt under recomputation) and the totals add each block's own size.
pub fn activation_bytes(shape: &ModelShape, precision: TrainingPrecision) -> ActivationBytes {
    let a = precision.activation_bytes() as f64;
    let t = shape.context_length as f64;
    let d = shape.d_model as f64;
    let kv = shape.kv_dim() as f64;
    let h = shape.num_heads as f64;
    let attention = 4.0 * t * d          // two RMSNorm inputs and outputs
        + t * (d + 2.0 * kv)             // Q, K, V after RoPE
        + h * t * t                      // attention probabilities
        + t * d; // attention output (input of W_o)
    let swiglu = |width: f64| 4.0 * t * width; // W1x, W3x, SiLU(W1x), SiLU(W1x)⊙W3x
    let block = |ffn: f64| (attention + ffn) * a + 2.0 * t * 4.0;
    let dense_block = block(swiglu(shape.d_ff as f64));
    let moe_block =
        shape.moe.map(|m| block(swiglu((m.experts_per_token() * m.d_ff_expert) as f64) + t * m.num_experts as f64));
    let dense_layers = shape.dense_layers() as f64;
    let moe_layers = shape.moe_layers() as f64;
    let per_layer = match moe_block {
        Some(m) if dense_layers == 0.0 => m,
        Some(m) => m.max(dense_block),
        None => dense_block,
    };
    let layers_total = dense_layers * dense_block + moe_layers * moe_block.unwrap_or(0.0);
    let per_layer_recomputed = t * d * a;
    let layers = shape.num_layers as f64;
    let logits = t * shape.vocab_size as f64 * 4.0;
    ActivationBytes {
        per_layer,
        per_layer_recomputed,
        logits,
        total: layers_total + logits,
        total_recomputed: layers * per_layer_recomputed + per_layer + logits,
    }
}

/// What a memory estimate needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryQuery {
    pub params: f64,
    /// The model's shape, when known (needed for activations and the largest batch).
    pub shape: Option<ModelShape>,
    pub precision: TrainingPrecision,
    /// The cluster, when given: GPU and count.
    pub cluster: Option<(Gpu, u64)>,
    /// Sequences per step (whole cluster).
    pub batch: u64,
}

/// The estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub params: f64,
    pub precision: TrainingPrecision,
    pub bytes_per_param: StateBytes,
    pub weights_bytes: f64,
    pub gradients_bytes: f64,
    pub master_weights_bytes: f64,
    pub optimizer_bytes: f64,
    /// Weights + gradients + master + optimizer.
    pub states_bytes: f64,
    pub batch: u64,
    /// Per-sequence activations (when the shape is known).
    pub activations_per_sequence: Option<ActivationBytes>,
    /// batch × per-sequence activations, without and with recomputation.
    pub activations_bytes: Option<f64>,
    pub activations_recomputed_bytes: Option<f64>,
    /// States + activations (no recomputation), when the shape is known.
    pub total_bytes: Option<f64>,
    pub total_recomputed_bytes: Option<f64>,
    pub gpu: Option<String>,
    pub gpus: Option<u64>,
    /// GPUs × memory per GPU.
    pub cluster_bytes: Option<f64>,
    /// Does the run fit (no recomputation / with recomputation)? States alone when no shape.
    pub fits: Option<bool>,
    pub fits_recomputed: Option<bool>,
    /// The largest model whose states fit the cluster: cluster bytes / bytes per parameter.
    pub largest_model_params: Option<f64>,
    /// The largest batch whose activations fit next to the states (None when nothing fits).
    pub largest_batch: Option<u64>,
    pub largest_batch_recomputed: Option<u64>,
}

/// Memory needed to train `query.params` parameters, and what fits on the cluster.
pub fn estimate_memory(query: &MemoryQuery) -> Result<MemoryEstimate, InputError> {
    if !(query.params.is_finite() && query.params > 0.0) {
        return Err(InputError::new("--params", query.params.to_string(), "a positive number of parameters"));
    }
    if query.batch == 0 {
        return Err(InputError::new("--batch", "0", "a whole number of at least 1"));
    }
    if let Some(shape) = &query.shape {
        shape.validate()?;
    }
    let per = query.precision.state_bytes();
    let n = query.params;
    let states = per.total() as f64 * n;
    let acts = query.shape.as_ref().map(|s| activation_bytes(s, query.precision));
    let batch = query.batch as f64;
    let activations = acts.map(|a| a.total * batch);
    let activations_re = acts.map(|a| a.total_recomputed * batch);
    let total = activations.map(|a| a + states);
    let total_re = activations_re.map(|a| a + states);
    let cluster_bytes = query.cluster.as_ref().map(|(gpu, k)| gpu.memory_bytes * *k as f64);
    let fits = cluster_bytes.map(|c| total.unwrap_or(states) <= c);
    let fits_re = cluster_bytes.map(|c| total_re.unwrap_or(states) <= c);
    let largest_batch = |per_sequence: f64| -> Option<u64> {
        let free = cluster_bytes? - states;
        let b = (free / per_sequence).floor();
        (b >= 1.0).then_some(b as u64)
    };
    Ok(MemoryEstimate {
        params: n,
        precision: query.precision,
        bytes_per_param: per,
        weights_bytes: per.weights as f64 * n,
        gradients_bytes: per.gradients as f64 * n,
        master_weights_bytes: per.master_weights as f64 * n,
        optimizer_bytes: per.optimizer as f64 * n,
        states_bytes: states,
        batch: query.batch,
        activations_per_sequence: acts,
        activations_bytes: activations,
        activations_recomputed_bytes: activations_re,
        total_bytes: total,
        total_recomputed_bytes: total_re,
        gpu: query.cluster.as_ref().map(|(g, _)| g.name.clone()),
        gpus: query.cluster.as_ref().map(|(_, k)| *k),
        cluster_bytes,
        fits,
        fits_recomputed: fits_re,
        largest_model_params: cluster_bytes.map(|c| c / per.total() as f64),
        largest_batch: acts.and_then(|a| largest_batch(a.total)),
        largest_batch_recomputed: acts.and_then(|a| largest_batch(a.total_recomputed)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{find_gpu, model_preset};

    /// CS336 lecture 2: at 16 bytes per parameter, 8×H100 (80 GB) hold at most a 40B model.
    #[test]
    fn largest_model_on_8_h100s() {
        let q = MemoryQuery {
            params: 1e9,
            shape: None,
            precision: TrainingPrecision::MixedBf16,
            cluster: Some((find_gpu("h100").unwrap(), 8)),
            batch: 1,
        };
        let e = estimate_memory(&q).unwrap();
        assert_eq!(e.bytes_per_param.total(), 16);
        assert_eq!(e.largest_model_params.unwrap(), 40e9);
        assert_eq!(e.fits, Some(true));
    }

    #[test]
    fn recomputation_saves_activations_and_batch_fits_follow() {
        let shape = model_preset("gpt2-xl").unwrap().shape;
        let q = MemoryQuery {
            params: shape.params().total as f64,
            shape: Some(shape),
            precision: TrainingPrecision::MixedBf16,
            cluster: Some((find_gpu("h100").unwrap(), 1)),
            batch: 8,
        };
        let e = estimate_memory(&q).unwrap();
        let a = e.activations_per_sequence.unwrap();
        assert!(a.total_recomputed < a.total / 5.0);
        let b = e.largest_batch.unwrap();
        let b_re = e.largest_batch_recomputed.unwrap();
        assert!(b_re > b);
        // The largest batch fits and one more does not.
        let states = e.states_bytes;
        assert!(states + b as f64 * a.total <= e.cluster_bytes.unwrap());
        assert!(states + (b + 1) as f64 * a.total > e.cluster_bytes.unwrap());
        // fp32 activations are twice as large (but for the fp32 logits and RMS values).
        let fp32 = activation_bytes(&shape, TrainingPrecision::Fp32);
        assert!(fp32.per_layer > 1.9 * a.per_layer);
    }

    /// Mixtral's states hold all 46.7B parameters (16 bytes each: 747 GB), though a token uses 12.9B;
    /// its activations follow the two experts a token runs through, not the eight it could.
    #[test]
    fn moe_states_count_every_expert_and_activations_the_chosen_ones() {
        let shape = model_preset("mixtral-8x7b").unwrap().shape;
        let p = shape.params();
        let q = MemoryQuery {
            params: p.total as f64,
            shape: Some(shape),
            precision: TrainingPrecision::MixedBf16,
            cluster: None,
            batch: 1,
        };
        let e = estimate_memory(&q).unwrap();
        assert_eq!(e.states_bytes, 16.0 * 46_702_792_704.0);
        let a = activation_bytes(&shape, TrainingPrecision::MixedBf16);
        // A dense twin whose SwiGLU is as wide as the two chosen experts together.
        let twin = ModelShape { d_ff: 2 * 14_336, moe: None, ..shape };
        let t = shape.context_length as f64;
        let router = t * 8.0 * 2.0;
        assert_eq!(a.per_layer, activation_bytes(&twin, TrainingPrecision::MixedBf16).per_layer + router);
        assert_eq!(a.total, 32.0 * a.per_layer + a.logits);
    }
}
