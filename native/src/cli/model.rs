//! The flags of the model commands: `train`, `sample`, `route`, `convert`, `bench train|moe|attention`.

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct DeviceArg {
    /// auto (CUDA, then a hardware wgpu adapter, then the CPU), cuda, wgpu or cpu.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The GPU (catalog name: h100, h200, a100, rtx4090 …) whose peak MFU is measured against,
    /// when the device's own name is not recognized.
    #[arg(long)]
    pub gpu: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct TrainModelArgs {
    /// Model shape: nano, tiny, small, cs336-tinystories, gpt2-small, or the mixture-of-experts
    /// nano-moe, tiny-moe (the vocabulary follows the tokenizer).
    #[arg(long, conflicts_with = "config")]
    pub preset: Option<String>,
    /// Model shape as JSON (TransformerConfig: vocab_size, context_length, d_model, num_layers,
    /// num_heads, d_ff, rope_theta, and optionally "moe": {num_experts, top_k, d_ff_expert,
    /// num_shared_experts, first_dense_layers, capacity_factor, balance_loss_weight, z_loss_weight}).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub moe: MoeArgs,
    /// Training data: a text file (tokenized here) or a .bin token file with its .bin.json
    /// sidecar (default: the bundled tinyshakespeare.txt).
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Validation data (text or .bin); default: the last 10% of the training data.
    #[arg(long)]
    pub val: Option<std::path::PathBuf>,
    /// The tokenizer (vocab.json + merges.txt, tokenizer.json or *.tiktoken). Default for text
    /// data: a byte-level BPE trained on it with --vocab-size.
    #[arg(long)]
    pub tokenizer_dir: Option<std::path::PathBuf>,
    /// Vocabulary of the BPE trained on text data when no --tokenizer-dir is given.
    #[arg(long, allow_negative_numbers = true)]
    pub vocab_size: Option<String>,
    /// Context length (default: the preset's).
    #[arg(long, allow_negative_numbers = true)]
    pub context: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<String>,
    /// Sequences per step.
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<String>,
    /// Peak learning rate (after warm-up; cosine decay to a tenth of it).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub warmup: Option<String>,
    /// Validation every N steps.
    #[arg(long, allow_negative_numbers = true)]
    pub eval_every: Option<String>,
    /// Save a checkpoint every N steps (always at the end and on Ctrl-C).
    #[arg(long, allow_negative_numbers = true)]
    pub checkpoint_every: Option<String>,
    /// Checkpoint directory (default: runs/<preset>).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Continue the run saved in this checkpoint (its settings; --steps may extend it).
    #[arg(long)]
    pub resume: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub device: DeviceArg,
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<String>,
    /// fp32, or bf16: mixed precision (bf16 matmuls, f32 master weights and optimizer state; CUDA
    /// and the CPU backend). Resuming, it switches the run's precision.
    #[arg(long)]
    pub precision: Option<String>,
    /// fused (FlashAttention-2 kernels, the default where the backend has them: CUDA, wgpu) or
    /// reference (the decomposed form; the CPU backend always runs it). Resuming, it switches.
    #[arg(long)]
    pub attention: Option<String>,
    /// Log (and, with --json, print) every N steps; step 0 is always logged.
    #[arg(long, allow_negative_numbers = true, default_value = "10")]
    pub log_every: String,
    /// One JSON object per line: the setup, then each logged step, evaluation and the end.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ranks: RankArgs,
}

/// Data parallelism under `mpirun -n N lmlab train …` (built with the `mpi` feature): nothing to
/// set for it to work; `--batch` is per rank, so the global batch is N × batch.
#[derive(Args, Debug, Clone, Default)]
pub struct RankArgs {
    /// Ranks other than 0 write their log to DIR/rank-R.log (by default it is discarded; rank 0
    /// prints the job's log and writes its checkpoints).
    #[arg(long, value_name = "DIR")]
    pub rank_log: Option<std::path::PathBuf>,
    /// Gradient bucket size in MiB for the reduction across ranks (PyTorch DDP's 25 by default):
    /// a bucket is sent while the next one is packed.
    #[arg(long, default_value = "25")]
    pub bucket_mb: String,
}

/// Mixture-of-experts settings on top of the preset or config (`--experts` makes a dense model MoE).
#[derive(Args, Debug, Clone, Default)]
pub struct MoeArgs {
    /// Routed experts per MoE block.
    #[arg(long, allow_negative_numbers = true)]
    pub experts: Option<String>,
    /// Experts per token.
    #[arg(long, allow_negative_numbers = true)]
    pub top_k: Option<String>,
    /// SwiGLU width of one expert (default with --experts: d_ff / top-k, the dense model's active FLOPs).
    #[arg(long, allow_negative_numbers = true)]
    pub expert_d_ff: Option<String>,
    /// Always-on shared experts (DeepSeek).
    #[arg(long, allow_negative_numbers = true)]
    pub shared_experts: Option<String>,
    /// Leading blocks that stay dense.
    #[arg(long, allow_negative_numbers = true)]
    pub first_dense_layers: Option<String>,
    /// Slots per expert = factor × tokens × top-k / experts; "none" for no limit.
    #[arg(long, allow_negative_numbers = true)]
    pub capacity_factor: Option<String>,
    /// α of the load-balancing loss.
    #[arg(long, allow_negative_numbers = true)]
    pub balance_weight: Option<String>,
    /// β of the router z-loss.
    #[arg(long, allow_negative_numbers = true)]
    pub z_weight: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct RouteArgs {
    /// A mixture-of-experts checkpoint directory or .tar.
    #[arg(long)]
    pub checkpoint: std::path::PathBuf,
    /// The text whose tokens are routed (at most the context length in tokens).
    #[arg(long, allow_hyphen_values = true)]
    pub text: String,
    #[command(flatten)]
    pub device: DeviceArg,
    /// Print the routes as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SampleArgs {
    /// A checkpoint directory (from lmlab train or lmlab convert).
    #[arg(long)]
    pub checkpoint: std::path::PathBuf,
    /// Text to continue (default: <|endoftext|>, i.e. a fresh document).
    #[arg(long, allow_hyphen_values = true)]
    pub prompt: Option<String>,
    #[arg(long, allow_negative_numbers = true, default_value = "200")]
    pub max_tokens: String,
    /// 0 = greedy.
    #[arg(long, allow_negative_numbers = true, default_value = "0.8")]
    pub temperature: String,
    /// Keep the k most likely tokens (0 = all).
    #[arg(long, allow_negative_numbers = true, default_value = "0")]
    pub top_k: String,
    /// Nucleus sampling: the smallest set of tokens with this much probability (1 = all).
    #[arg(long, allow_negative_numbers = true, default_value = "1")]
    pub top_p: String,
    #[arg(long, allow_negative_numbers = true, default_value = "0")]
    pub seed: String,
    #[command(flatten)]
    pub device: DeviceArg,
    /// Print {"prompt", "text", "tokens"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// A checkpoint directory (→ weights file) or a .safetensors state dict (→ checkpoint).
    #[arg(long)]
    pub from: std::path::PathBuf,
    /// The output: a .safetensors file, or a checkpoint directory.
    #[arg(long)]
    pub to: std::path::PathBuf,
    /// Importing: attention heads (not recorded in a state dict).
    #[arg(long, allow_negative_numbers = true)]
    pub heads: Option<String>,
    /// Importing: context length.
    #[arg(long, allow_negative_numbers = true)]
    pub context: Option<String>,
    /// Importing: RoPE θ.
    #[arg(long, allow_negative_numbers = true, default_value = "10000")]
    pub rope_theta: String,
    /// Importing: the tokenizer directory (default: the bundled GPT-2 tokenizer).
    #[arg(long)]
    pub tokenizer_dir: Option<std::path::PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct BenchTrainArgs {
    /// nano, tiny, small, cs336-tinystories or gpt2-small.
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Vocabulary size (default: the preset's; tiny: 1024).
    #[arg(long, allow_negative_numbers = true)]
    pub vocab_size: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub batch: Option<String>,
    /// Context length (default: the preset's); longer contexts weigh attention's T² more.
    #[arg(long, allow_negative_numbers = true)]
    pub context: Option<String>,
    /// Timed steps (after warm-up steps that compile kernels and tune).
    #[arg(long, allow_negative_numbers = true, default_value = "10")]
    pub steps: String,
    #[arg(long, allow_negative_numbers = true, default_value = "3")]
    pub warmup: String,
    /// fp32, or bf16 mixed precision (bf16 matmuls, f32 master weights).
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// fused (FlashAttention-2 kernels where the backend has them) or reference (decomposed).
    #[arg(long, default_value = "fused")]
    pub attention: String,
    #[command(flatten)]
    pub device: DeviceArg,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BenchAttentionArgs {
    /// Sequences per call.
    #[arg(long, allow_negative_numbers = true, default_value = "2")]
    pub batch: String,
    #[arg(long, allow_negative_numbers = true, default_value = "4")]
    pub heads: String,
    /// Head size d (1 … 128 for the fused kernels).
    #[arg(long, allow_negative_numbers = true, default_value = "64")]
    pub head: String,
    /// Sequence lengths T, comma-separated.
    #[arg(long, default_value = "128,256,512,1024,2048,4096,8192")]
    pub lengths: String,
    /// Timed forward + backward passes per row (after one untimed pass).
    #[arg(long, allow_negative_numbers = true, default_value = "3")]
    pub reps: String,
    /// A kernel stops growing T after a row slower than this (seconds per pass).
    #[arg(long, allow_negative_numbers = true, default_value = "30")]
    pub max_seconds: String,
    /// Rows whose memory (the lesson's model) exceeds this many GiB are skipped (default: half the
    /// catalog GPU's memory, else 8).
    #[arg(long, allow_negative_numbers = true)]
    pub max_memory_gib: Option<String>,
    #[command(flatten)]
    pub device: DeviceArg,
    /// One JSON object: the shape, `rows` of {kind, t, seconds, peak_bytes, …}, the skipped rows and the ratios.
    #[arg(long)]
    pub json: bool,
}
