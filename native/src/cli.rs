//! The command-line grammar. Values stay strings here and are parsed by `lmlab::units`, so the CLI
//! accepts exactly what the web pages accept (`70B`, `15e12`, `1,024`) and rejects the same way.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "lmlab", version, about = "A lab for building a language model from scratch (CS336).")]
#[command(long_about = "A lab for building a language model from scratch, in the spirit of Stanford's CS336.\n\
Run with no arguments to train the tiny transformer on the bundled Shakespeare (a few minutes on a laptop CPU).")]
#[command(after_help = crate::commands::welcome::EXAMPLES)]
pub struct Cli {
    // Numeric options accept negative numbers as values (`--params -5`), so that `lmlab` itself
    // can say why the value is wrong rather than clap calling it an unknown flag.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Round a number into every floating-point format (or one), or decode a bit pattern.
    Float(FloatArgs),
    /// The range table: bits, bias, max, min normal, min subnormal, epsilon of every format.
    Formats(JsonFlag),
    /// The accumulation demo: add a value to an accumulator many times in each precision.
    Accumulate(AccumulateArgs),
    /// FLOPs, parameters, memory and training time.
    Estimate {
        #[command(subcommand)]
        command: EstimateCommand,
    },
    /// "Predict, then check" questions; `--check ID ANSWER` checks an answer.
    Exercises(ExerciseArgs),
    /// Split text into tokens with the char, byte, word or BPE tokenizer.
    Tokenize(TokenizeArgs),
    /// Byte-level BPE: `lmlab bpe train`.
    Bpe {
        #[command(subcommand)]
        command: BpeCommand,
    },
    /// Text → token ids (to stdout, or a .bin token file for training).
    Encode(EncodeArgs),
    /// Token ids (whitespace-separated, or a .bin token file) → text.
    Decode(DecodeArgs),
    /// Train the transformer (no arguments: the tiny preset on the bundled Shakespeare).
    Train(TrainModelArgs),
    /// Generate text from a checkpoint.
    Sample(SampleArgs),
    /// A mixture-of-experts checkpoint's router at work: each token's experts and weights.
    Route(RouteArgs),
    /// Checkpoint directory ↔ CS336-keyed safetensors weights (PyTorch's state_dict names).
    Convert(ConvertArgs),
    /// Benchmarks (tests/bench/ runs them side by side with the peers).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Single-thread GPT-2 encoding throughput on a file (loading and reading are not timed).
    Tokenize(BenchTokenizeArgs),
    /// Training throughput: tokens/s and MFU of forward + backward + AdamW on random tokens.
    Train(BenchTrainArgs),
    /// A mixture-of-experts preset against the dense model of equal active FLOPs, same run.
    Moe(BenchTrainArgs),
    /// The Hardware lab: WGSL kernels (copy, naive → register-blocked matmul) on this machine's GPU.
    Hardware(BenchHardwareArgs),
}

#[derive(Args, Debug, Clone)]
pub struct BenchHardwareArgs {
    /// Matmul sizes (n for n×n×n), comma-separated.
    #[arg(long, allow_negative_numbers = true, default_value = "256,512,1024,2048")]
    pub sizes: String,
    /// Kernels, comma-separated: copy, naive, coalesced, tiled, register, f16 (default: all).
    #[arg(long)]
    pub kernels: Option<String>,
    /// MiB copied by the bandwidth kernel.
    #[arg(long, allow_negative_numbers = true, default_value = "64")]
    pub copy_mib: String,
    /// The adapter whose name contains this text (default: the best real GPU, else an emulation).
    #[arg(long)]
    pub adapter: Option<String>,
    /// The catalog GPU to compare with (h100, h200, a100, rtx4090 …) when the adapter's name is
    /// not recognized.
    #[arg(long)]
    pub gpu: Option<String>,
    #[arg(long)]
    pub json: bool,
}

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
    /// Log (and, with --json, print) every N steps; step 0 is always logged.
    #[arg(long, allow_negative_numbers = true, default_value = "10")]
    pub log_every: String,
    /// One JSON object per line: the setup, then each logged step, evaluation and the end.
    #[arg(long)]
    pub json: bool,
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
    /// Timed steps (after warm-up steps that compile kernels and tune).
    #[arg(long, allow_negative_numbers = true, default_value = "10")]
    pub steps: String,
    #[arg(long, allow_negative_numbers = true, default_value = "3")]
    pub warmup: String,
    #[command(flatten)]
    pub device: DeviceArg,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct BenchTokenizeArgs {
    #[arg(long)]
    pub input: std::path::PathBuf,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value = "3")]
    pub repeat: usize,
    /// Write the ids here (whitespace-separated), to compare with a peer.
    #[arg(long)]
    pub ids_out: Option<std::path::PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BpeCommand {
    /// Train a byte-level BPE tokenizer (CS336 semantics) on a text file.
    Train(TrainArgs),
}

/// Where a BPE tokenizer comes from.
#[derive(Args, Debug, Clone)]
pub struct BpeSource {
    /// GPT-2 `vocab.json` (with --merges).
    #[arg(long, requires = "merges")]
    pub vocab: Option<std::path::PathBuf>,
    /// GPT-2 `merges.txt` (with --vocab).
    #[arg(long, requires = "vocab")]
    pub merges: Option<std::path::PathBuf>,
    /// A directory with vocab.json + merges.txt, tokenizer.json (HF) or a *.tiktoken file.
    #[arg(long, conflicts_with_all = ["vocab", "merges"])]
    pub tokenizer_dir: Option<std::path::PathBuf>,
    /// Special token (repeatable), e.g. --special '<|endoftext|>'.
    #[arg(long = "special", allow_hyphen_values = true)]
    pub specials: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TokenizeArgs {
    /// char, byte, word, bpe, or gpt2 (the bundled GPT-2 BPE).
    #[arg(long, default_value = "gpt2")]
    pub tokenizer: String,
    #[command(flatten)]
    pub source: BpeSource,
    /// Corpus for the word tokenizer's vocabulary (default: the input itself).
    #[arg(long)]
    pub corpus: Option<std::path::PathBuf>,
    /// Word vocabulary cap.
    #[arg(long, default_value = "10000")]
    pub word_vocab: usize,
    /// The text to tokenize.
    #[arg(allow_hyphen_values = true, required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// Read the text from a file.
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training text (UTF-8).
    #[arg(long)]
    pub input: std::path::PathBuf,
    /// Vocabulary size: 256 bytes + merges + special tokens.
    #[arg(long)]
    pub vocab_size: String,
    /// Special token (repeatable).
    #[arg(long = "special", allow_hyphen_values = true)]
    pub specials: Vec<String>,
    /// Output directory.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// gpt2 (vocab.json + merges.txt), hf (tokenizer.json), tiktoken (bpe.tiktoken) or all.
    #[arg(long, default_value = "all")]
    pub format: String,
    /// Replace invalid UTF-8 with U+FFFD instead of stopping at it.
    #[arg(long)]
    pub lossy: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub source: BpeSource,
    /// Use the bundled GPT-2 tokenizer (the default when no files are given).
    #[arg(long)]
    pub gpt2: bool,
    /// Input text file (default: standard input).
    #[arg(long)]
    pub input: Option<std::path::PathBuf>,
    /// Write a .bin token file (+ .bin.json sidecar) instead of printing ids.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print {"ids": [...], "count": N} (or, with --out, the sidecar) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    #[command(flatten)]
    pub source: BpeSource,
    #[arg(long)]
    pub gpt2: bool,
    /// A .bin token file (with its .bin.json sidecar) or a text file of ids (default: standard input).
    #[arg(long)]
    pub input: Option<std::path::PathBuf>,
    /// Write the text here instead of standard output.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Print {"text": "...", "count": N} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FloatArgs {
    /// The number to round (decimal, e.g. 0.1, 1e-8, inf, nan). Parsed as an f64 first.
    #[arg(allow_hyphen_values = true, required_unless_present = "bits")]
    pub value: Option<String>,
    /// Only this format: fp64, fp32, tf32, fp16, bf16, fp8e4m3, fp8e5m2.
    #[arg(long, allow_negative_numbers = true)]
    pub format: Option<String>,
    /// Decode this bit pattern instead (hex 0x3C00 or binary 0b0011110000000000); needs --format.
    #[arg(long, allow_negative_numbers = true, requires = "format", conflicts_with = "value")]
    pub bits: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct AccumulateArgs {
    #[arg(long, default_value = "0.01", allow_hyphen_values = true)]
    pub value: String,
    #[arg(long, allow_negative_numbers = true, default_value = "1000")]
    pub times: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum EstimateCommand {
    /// Training time (and cost): FLOPs / (GPUs × peak × MFU), FLOPs = 6·N·D.
    Time(TimeArgs),
    /// Parameter count and forward FLOPs of a transformer, by component.
    Model(ModelArgs),
    /// Training memory: weights, gradients, optimizer state, activations; what fits.
    Memory(MemoryArgs),
    /// Bytes of one tensor: shape × dtype.
    Tensor(TensorArgs),
}

#[derive(Args, Debug)]
pub struct TimeArgs {
    /// Parameters N (70e9, 70B).
    #[arg(long, allow_negative_numbers = true, required_unless_present = "preset", conflicts_with = "preset")]
    pub params: Option<String>,
    /// A model preset instead of --params (adds the attention FLOPs of its context).
    #[arg(long, allow_negative_numbers = true)]
    pub preset: Option<String>,
    /// Training tokens D (15e12, 15T).
    #[arg(long, allow_negative_numbers = true)]
    pub tokens: String,
    /// GPU from the catalog: a100, h100, h100-pcie, h200, b200, rtx4090, custom.
    #[arg(long, allow_negative_numbers = true)]
    pub gpu: String,
    /// Number of GPUs.
    #[arg(long, allow_negative_numbers = true, default_value = "1")]
    pub gpus: String,
    /// Model FLOPs utilization in (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub mfu: String,
    /// The dtype whose peak applies.
    #[arg(long, allow_negative_numbers = true, default_value = "bf16")]
    pub dtype: String,
    /// Price of one GPU-hour in US dollars, for the cost.
    #[arg(long, allow_negative_numbers = true)]
    pub usd_per_gpu_hour: Option<String>,
    /// Peak TFLOP/s of a --gpu custom accelerator.
    #[arg(long, allow_negative_numbers = true)]
    pub peak_tflops: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ShapeArgs {
    /// A model preset: gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, cs336-tinystories, llama-70b,
    /// mixtral-8x7b, deepseek-v3.
    #[arg(
        long,
        allow_negative_numbers = true,
        conflicts_with_all = ["vocab", "context", "d_model", "layers", "heads", "d_ff", "experts", "top_k", "shared_experts", "expert_d_ff", "first_dense_layers"]
    )]
    pub preset: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub vocab: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub context: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub d_model: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub layers: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub heads: Option<String>,
    /// Key/value heads for grouped-query attention (default: --heads).
    #[arg(long, allow_negative_numbers = true)]
    pub kv_heads: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub d_ff: Option<String>,
    /// Mixture of experts: routed experts per MoE layer (without it the model is dense).
    #[arg(long, allow_negative_numbers = true)]
    pub experts: Option<String>,
    /// Routed experts each token is sent to (needs --experts).
    #[arg(long, allow_negative_numbers = true, requires = "experts")]
    pub top_k: Option<String>,
    /// Experts every token uses, besides its top-k (default 0; needs --experts).
    #[arg(long, allow_negative_numbers = true, requires = "experts")]
    pub shared_experts: Option<String>,
    /// Width of one expert's SwiGLU (default: --d-ff; needs --experts).
    #[arg(long, allow_negative_numbers = true, requires = "experts")]
    pub expert_d_ff: Option<String>,
    /// Leading layers that keep the dense SwiGLU of width --d-ff (default 0; needs --experts).
    #[arg(long, allow_negative_numbers = true, requires = "experts")]
    pub first_dense_layers: Option<String>,
}

#[derive(Args, Debug)]
pub struct ModelArgs {
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Sequences per forward pass for the FLOPs breakdown.
    #[arg(long, allow_negative_numbers = true, default_value = "1")]
    pub batch: String,
    /// Tokens per sequence (default: the context length).
    #[arg(long, allow_negative_numbers = true)]
    pub seq_len: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MemoryArgs {
    /// Parameters N (or give --preset, which also allows activations and the largest batch).
    #[arg(long, allow_negative_numbers = true, required_unless_present = "preset", conflicts_with = "preset")]
    pub params: Option<String>,
    #[arg(long, allow_negative_numbers = true)]
    pub preset: Option<String>,
    /// fp32, or mixed-bf16 (bf16 weights/activations with fp32 master weights).
    #[arg(long, allow_negative_numbers = true, default_value = "mixed-bf16")]
    pub precision: String,
    #[arg(long, allow_negative_numbers = true)]
    pub gpu: Option<String>,
    #[arg(long, allow_negative_numbers = true, default_value = "1")]
    pub gpus: String,
    /// Sequences per step (whole cluster).
    #[arg(long, allow_negative_numbers = true, default_value = "1")]
    pub batch: String,
    /// Memory in GB of a --gpu custom accelerator.
    #[arg(long, allow_negative_numbers = true)]
    pub memory_gb: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TensorArgs {
    /// Shape, e.g. 4x8 or "[4, 8]".
    #[arg(long, allow_negative_numbers = true)]
    pub shape: String,
    #[arg(long, allow_negative_numbers = true, default_value = "fp32")]
    pub dtype: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ExerciseArgs {
    /// Check an answer: --check ID ANSWER.
    #[arg(long, num_args = 2, value_names = ["ID", "ANSWER"], allow_hyphen_values = true)]
    pub check: Option<Vec<String>>,
    #[arg(long)]
    pub json: bool,
}
