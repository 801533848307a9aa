//! `lmlab` — the lab in the terminal.
//!
//! Every number printed here comes from the `lmlab` crate, the same functions the web pages call,
//! so the CLI and the site always agree. Each command takes `--json` for scripts.
//!
//! Exit codes: 0 success, 2 bad input (a one-line message naming the value and what is accepted),
//! 1 anything else.

mod cli;
mod commands;
mod report;

use clap::Parser;

use cli::{Cli, Command, EstimateCommand};

fn main() {
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => {
            commands::welcome::run();
            Ok(())
        }
        Some(Command::Float(args)) => commands::float::run(&args),
        Some(Command::Formats(args)) => commands::float::formats(&args),
        Some(Command::Accumulate(args)) => commands::float::accumulate(&args),
        Some(Command::Estimate { command }) => match command {
            EstimateCommand::Time(args) => commands::estimate::time(&args),
            EstimateCommand::Model(args) => commands::estimate::model(&args),
            EstimateCommand::Memory(args) => commands::estimate::memory(&args),
            EstimateCommand::Tensor(args) => commands::estimate::tensor(&args),
        },
        Some(Command::Exercises(args)) => commands::exercises::run(&args),
    };
    if let Err(err) = outcome {
        eprintln!("error: {err}");
        std::process::exit(2);
    }
}
