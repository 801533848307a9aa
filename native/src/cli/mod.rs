//! The command-line grammar. Values stay strings here and are parsed by `lmlab::units`, so the CLI
//! accepts exactly what the web pages accept (`70B`, `15e12`, `1,024`) and rejects the same way.

use clap::{Parser, Subcommand};

mod labs;
mod model;
mod scaling;

pub use labs::*;
pub use model::*;
pub use scaling::*;

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
    /// Scaling laws: train an IsoFLOP sweep, fit it, predict the compute-optimal model.
    Scaling {
        #[command(subcommand)]
        command: ScalingCommand,
    },
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
    /// Naive vs fused (FlashAttention-2) attention: forward + backward time and peak memory against T.
    Attention(BenchAttentionArgs),
}

#[derive(Subcommand, Debug)]
pub enum BpeCommand {
    /// Train a byte-level BPE tokenizer (CS336 semantics) on a text file.
    Train(TrainArgs),
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
    /// Data parallelism's cost: ring all-reduce vs compute per step, the batch that hides it,
    /// memory per GPU with ZeRO 1–3, and how the 1,024-H100 example splits into TP × PP × DP.
    Parallel(ParallelArgs),
}
