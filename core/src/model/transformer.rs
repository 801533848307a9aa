//! The CS336 transformer language model: embedding → pre-norm blocks → final RMSNorm → LM head.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use super::layers::{Embedding, Linear, RmsNorm, SwiGlu};
use super::ops::{multihead_self_attention, rope_tables};
use crate::accounting::ModelShape;

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
}

impl TransformerConfig {
    /// Trains in minutes on a laptop CPU: a character- or small-BPE model of Shakespeare.
    pub fn tiny(vocab_size: usize) -> Self {
        Self::new(vocab_size, 128, 128, 4, 4, 384)
    }

    /// CS336 assignment 1's TinyStories model.
    pub fn cs336_tinystories() -> Self {
        Self::new(10_000, 256, 512, 4, 16, 1344)
    }

    /// GPT-2 small's shape in the CS336 architecture.
    pub fn gpt2_small() -> Self {
        Self::new(50_257, 1024, 768, 12, 12, 3072)
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
        }
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> TransformerLm<B> {
        TransformerLm {
            token_embeddings: Embedding::new(self.vocab_size, self.d_model, device),
            layers: (0..self.num_layers).map(|_| Block::new(self, device)).collect(),
            ln_final: RmsNorm::new(self.d_model, device),
            lm_head: Linear::new(self.d_model, self.vocab_size, device),
            num_heads: self.num_heads,
            rope_theta: self.rope_theta,
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

/// A pre-norm transformer block.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    pub ln1: RmsNorm<B>,
    pub attn: Attention<B>,
    pub ln2: RmsNorm<B>,
    pub ffn: SwiGlu<B>,
}

impl<B: Backend> Block<B> {
    fn new(c: &TransformerConfig, device: &B::Device) -> Self {
        let d = c.d_model;
        Self {
            ln1: RmsNorm::new(d, device),
            attn: Attention {
                q_proj: Linear::new(d, d, device),
                k_proj: Linear::new(d, d, device),
                v_proj: Linear::new(d, d, device),
                output_proj: Linear::new(d, d, device),
            },
            ln2: RmsNorm::new(d, device),
            ffn: SwiGlu::new(d, c.d_ff, device),
        }
    }

    /// # Shapes
    /// x `[batch, seq, d_model]`, RoPE tables `[1, seq, d_k/2, 1]` → `[batch, seq, d_model]`.
    pub fn forward(&self, x: Tensor<B, 3>, num_heads: usize, rope: (Tensor<B, 4>, Tensor<B, 4>)) -> Tensor<B, 3> {
        let a = &self.attn;
        let attended = multihead_self_attention(
            self.ln1.forward(x.clone()),
            a.q_proj.weight.val(),
            a.k_proj.weight.val(),
            a.v_proj.weight.val(),
            a.output_proj.weight.val(),
            num_heads,
            Some(rope),
        );
        let x = x + attended; // [batch, seq, d_model]
        x.clone() + self.ffn.forward(self.ln2.forward(x))
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
}

impl<B: Backend> TransformerLm<B> {
    /// Next-token logits for every position.
    ///
    /// # Shapes
    /// ids `[batch, seq]` → logits `[batch, seq, vocab_size]`.
    pub fn forward(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let [_, seq] = ids.dims();
        let device = ids.device();
        let mut x = self.token_embeddings.forward(ids); // [batch, seq, d_model]
        let d_k = x.dims()[2] / self.num_heads;
        let positions: Vec<usize> = (0..seq).collect();
        let (cos, sin) = rope_tables::<B>(&positions, d_k, self.rope_theta, &device);
        for block in &self.layers {
            x = block.forward(x, self.num_heads, (cos.clone(), sin.clone()));
        }
        self.lm_head.forward(self.ln_final.forward(x)) // [batch, seq, vocab_size]
    }
}
