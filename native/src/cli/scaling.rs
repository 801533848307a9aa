//! The flags of `lmlab scaling sweep` and `lmlab scaling fit`.

use clap::{Args, Subcommand};

use super::DeviceArg;

#[derive(Subcommand, Debug)]
pub enum ScalingCommand {
    /// Train an IsoFLOP sweep: for each budget, models of one family around the expected optimum,
    /// each on the tokens the budget buys. Resumable: run the same command again to continue.
    Sweep(SweepArgs),
    /// Fit a sweep's runs: IsoFLOP parabolas, N_opt ∝ C^a and D_opt ∝ C^b, and L(N, D) (approach 3).
    Fit(FitArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Compute budgets in FLOPs, comma-separated (a CPU does 1e11 in about a minute of training).
    #[arg(long, default_value = "1e11,3e11,1e12")]
    pub budgets: String,
    /// Training text (default: the bundled tinyshakespeare.txt); a BPE is trained on it once.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// The sweep's directory: sweep.json, runs.jsonl and each run's checkpoint under runs/.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Model sizes per budget (at least 3).
    #[arg(long, allow_negative_numbers = true, default_value = "5")]
    pub sizes: String,
    #[arg(long, allow_negative_numbers = true, default_value = "64")]
    pub context: String,
    /// Sequences per step.
    #[arg(long, allow_negative_numbers = true, default_value = "8")]
    pub batch: String,
    /// The BPE's vocabulary.
    #[arg(long, allow_negative_numbers = true, default_value = "512")]
    pub vocab_size: String,
    /// Where the sizes are centred: D = this × N (Chinchilla: 20).
    #[arg(long, allow_negative_numbers = true, default_value = "20")]
    pub tokens_per_param: String,
    /// Peak learning rate of every run.
    #[arg(long, allow_negative_numbers = true, default_value = "3e-3")]
    pub lr: String,
    #[arg(long, allow_negative_numbers = true, default_value = "0")]
    pub seed: String,
    #[command(flatten)]
    pub device: DeviceArg,
    /// One JSON object per line: the plan, each run's record, the fit.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug, Clone)]
pub struct FitArgs {
    /// A sweep directory (its runs.jsonl) or a runs.jsonl file.
    pub runs: std::path::PathBuf,
    /// The budget (FLOPs) to predict N_opt, D_opt and the loss for.
    #[arg(long, default_value = "6.3e24")]
    pub budget: String,
    /// One JSON object: the fit and the prediction.
    #[arg(long)]
    pub json: bool,
}
