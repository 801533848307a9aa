//! `lmlab` — the lab in the terminal.
//!
//! Every number printed here comes from the `lmlab` crate, the same functions the web pages call,
//! so the CLI and the site always agree. Each command takes `--json` for scripts.
//!
//! Exit codes: 0 success, 2 bad input — a value, a missing or malformed file — reported on one
//! line that names the value (or file and line) and what is accepted.

mod backend;
mod checkpoint_dir;
mod cli;
mod commands;
mod ranks;
mod report;

use clap::Parser;

use cli::{BenchCommand, BpeCommand, Cli, Command, EstimateCommand, ScalingCommand};

/// Any error a command reports to the user: bad values, unreadable or malformed files.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

fn main() {
    let cli = Cli::parse();
    // Under mpirun only training runs as a job; anything else would run N times, each copy
    // writing the same files.
    if let (Some(l), Some(command)) = (ranks::launch(), &cli.command) {
        if !matches!(command, Command::Train(_)) {
            eprintln!(
                "error: rank {} of {}: only `lmlab train` runs data-parallel under an MPI launcher; run this command \
                 without mpirun",
                l.rank, l.ranks
            );
            std::process::exit(2);
        }
    }
    let outcome: CliResult = match cli.command {
        None => commands::train::main_job(),
        Some(Command::Float(args)) => commands::float::run(&args).map_err(Into::into),
        Some(Command::Formats(args)) => commands::float::formats(&args).map_err(Into::into),
        Some(Command::Accumulate(args)) => commands::float::accumulate(&args).map_err(Into::into),
        Some(Command::Estimate { command }) => match command {
            EstimateCommand::Time(args) => commands::estimate::time(&args),
            EstimateCommand::Model(args) => commands::estimate::model(&args),
            EstimateCommand::Memory(args) => commands::estimate::memory(&args),
            EstimateCommand::Tensor(args) => commands::estimate::tensor(&args),
            EstimateCommand::Parallel(args) => commands::estimate::parallel(&args),
        }
        .map_err(Into::into),
        Some(Command::Exercises(args)) => commands::exercises::run(&args).map_err(Into::into),
        Some(Command::Tokenize(args)) => commands::tokenize::tokenize(&args),
        Some(Command::Bpe { command: BpeCommand::Train(args) }) => commands::tokenize::train(&args),
        Some(Command::Encode(args)) => commands::tokenize::encode(&args),
        Some(Command::Decode(args)) => commands::tokenize::decode(&args),
        Some(Command::Train(args)) => commands::train::train(&args),
        Some(Command::Sample(args)) => commands::sample::sample(&args),
        Some(Command::Route(args)) => commands::route::route(&args),
        Some(Command::Convert(args)) => commands::convert::convert(&args),
        Some(Command::Scaling { command: ScalingCommand::Sweep(args) }) => commands::scaling::sweep(&args),
        Some(Command::Scaling { command: ScalingCommand::Fit(args) }) => commands::scaling::fit(&args),
        Some(Command::Bench { command: BenchCommand::Tokenize(args) }) => commands::tokenize::bench(&args),
        Some(Command::Bench { command: BenchCommand::Train(args) }) => commands::bench::train(&args),
        Some(Command::Bench { command: BenchCommand::Moe(args) }) => commands::bench::moe(&args),
        Some(Command::Bench { command: BenchCommand::Hardware(args) }) => commands::hardware::bench(&args),
        Some(Command::Bench { command: BenchCommand::Attention(args) }) => commands::attention::bench(&args),
    };
    if let Err(err) = outcome {
        match ranks::launch() {
            Some(l) => eprintln!("error: rank {} of {}: {err}", l.rank, l.ranks),
            None => eprintln!("error: {err}"),
        }
        std::process::exit(2);
    }
}
