//! The flags of the lessons' commands: precision, accounting, tokenizers, hardware, exercises.

use clap::Args;

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
pub struct ParallelArgs {
    /// Parameters N (gradients all-reduced every step).
    #[arg(long, allow_negative_numbers = true, default_value = "124M")]
    pub params: String,
    /// Data-parallel GPUs G.
    #[arg(long, allow_negative_numbers = true, default_value = "8")]
    pub gpus: String,
    /// Bytes per gradient element sent (2: bf16, 4: fp32).
    #[arg(long, allow_negative_numbers = true, default_value = "2")]
    pub grad_bytes: String,
    /// The link the ring runs over: nvlink3, nvlink4, nvlink5, pcie4, pcie5, ib-hdr, ib-ndr, ib-xdr,
    /// eth-100g, eth-400g.
    #[arg(long, default_value = "nvlink4", conflicts_with = "bandwidth_gbps")]
    pub link: String,
    /// A link's bandwidth in GB/s per GPU per direction, instead of --link.
    #[arg(long, allow_negative_numbers = true)]
    pub bandwidth_gbps: Option<String>,
    /// The GPU computing each step (catalog name).
    #[arg(long, default_value = "h100")]
    pub gpu: String,
    #[arg(long, allow_negative_numbers = true, default_value = "0.5")]
    pub mfu: String,
    /// Tokens each GPU processes per step (its batch × context).
    #[arg(long, allow_negative_numbers = true, default_value = "32768")]
    pub tokens_per_gpu: String,
    /// fp32, or mixed-bf16 (the compute peak and the ZeRO table's bytes per parameter).
    #[arg(long, default_value = "mixed-bf16")]
    pub precision: String,
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
