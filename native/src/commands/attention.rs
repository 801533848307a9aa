//! `lmlab bench attention`: naive vs fused attention on this machine's device — forward + backward
//! time and peak memory against T (`lmlab::model::attention::bench`, the measurement the Hardware
//! page's worker makes), beside the lesson's memory and traffic arithmetic
//! (`lmlab::hardware::attention`).

use burn::tensor::backend::AutodiffBackend;
use lmlab::hardware::attention::{growth_exponent, parse_lengths, ratios, AttentionBench, AttentionRow};
use lmlab::model::attention::bench::{measures_memory, run, Progress};
use lmlab::model::AttentionKernel;
use lmlab::units::{format_bytes, parse_count, parse_positive};
use lmlab::InputError;
use serde_json::json;

use crate::backend::{pick_device, run_job, Job, Picked};
use crate::cli::BenchAttentionArgs;
use crate::CliResult;

/// The benchmark the flags ask for.
fn bench_of(args: &BenchAttentionArgs, picked: &Picked) -> Result<AttentionBench, InputError> {
    let count = |flag: &str, text: &str| parse_count(flag, text).map(|n| n as usize);
    let lengths = parse_lengths("--lengths", &args.lengths)?;
    let gib = (1u64 << 30) as f64;
    let max_bytes = match &args.max_memory_gib {
        Some(text) => parse_positive("--max-memory-gib", text)? * gib,
        None => picked.gpu.as_ref().map_or(8.0 * gib, |g| g.memory_bytes / 2.0),
    };
    let bench = AttentionBench {
        batch: count("--batch", &args.batch)?,
        heads: count("--heads", &args.heads)?,
        head: count("--head", &args.head)?,
        lengths,
        reps: count("--reps", &args.reps)?,
        max_seconds: parse_positive("--max-seconds", &args.max_seconds)?,
        max_bytes,
        max_buffer: None,
    };
    bench.validate()?;
    Ok(bench)
}

pub fn bench(args: &BenchAttentionArgs) -> CliResult {
    let picked = pick_device(&args.device)?;
    let bench = bench_of(args, &picked)?;
    if !args.json {
        println!("device: {}", picked.describe());
        println!(
            "causal attention, batch {} × {} heads of {}, forward + backward in f32, {} timed pass(es) per row",
            bench.batch, bench.heads, bench.head, bench.reps
        );
    }
    run_job(&picked, AttentionJob { bench, json: args.json })
}

struct AttentionJob {
    bench: AttentionBench,
    json: bool,
}

impl Job for AttentionJob {
    fn run<B: AutodiffBackend>(self, device: B::Device, picked: &Picked) -> CliResult {
        let json = self.json;
        let measured = measures_memory::<B>(&device);
        if !json {
            let peak = if measured { "peak (measured)" } else { "peak (model)" };
            println!(
                "{:>9} {:>6} {:>12} {:>14} {:>14} {:>14}",
                "kind", "T", "ms/pass", peak, "model peak", "model traffic"
            );
        }
        let (rows, skipped) = pollster::block_on(run::<B>(&self.bench, &device, |p| {
            if json {
                return;
            }
            match p {
                Progress::Row(r) => println!(
                    "{:>9} {:>6} {:>12.3} {:>14} {:>14} {:>14}",
                    r.kind.key(),
                    r.t,
                    r.seconds * 1e3,
                    format_bytes(r.peak_bytes as f64),
                    format_bytes(r.model_peak_bytes as f64),
                    format_bytes(r.traffic_bytes)
                ),
                Progress::Skipped(s) if s.t == 0 => println!("{:>9}: {}", s.kind.key(), s.reason),
                Progress::Skipped(s) => println!("{:>9} {:>6}  skipped: {}", s.kind.key(), s.t, s.reason),
            }
        }));
        let compared: Vec<_> = self
            .bench
            .lengths
            .iter()
            .filter_map(|&t| ratios(&rows, t).map(|(speed, memory)| (t, speed, memory)))
            .collect();
        let growth = |kind| growth_exponent(&rows, kind);
        if json {
            let report = json!({
                "device": picked.kind.key(),
                "device_name": picked.name,
                "batch": self.bench.batch,
                "heads": self.bench.heads,
                "head": self.bench.head,
                "reps": self.bench.reps,
                "peak_measured": measured,
                "rows": rows,
                "skipped": skipped,
                "ratios": compared.iter().map(|(t, s, m)| json!({"t": t, "speedup": s, "memory_ratio": m})).collect::<Vec<_>>(),
                "peak_growth_exponent": {
                    "fused": growth(AttentionKernel::Fused),
                    "reference": growth(AttentionKernel::Reference),
                },
            });
            println!("{report}");
            return Ok(());
        }
        for (t, speed, memory) in &compared {
            let memory = memory.map_or("memory below the pools' page size".into(), |m| format!("{m:.1}× less memory"));
            println!("T = {t:>5}: fused is {speed:.2}× the reference's speed, {memory}");
        }
        let describe = |kind: AttentionKernel, rows: &[AttentionRow]| {
            growth_exponent(rows, kind).map(|p| format!("{} peak ∝ T^{p:.2}", kind.key()))
        };
        let grown: Vec<String> = AttentionKernel::ALL.iter().filter_map(|&k| describe(k, &rows)).collect();
        if !grown.is_empty() {
            println!("memory growth: {} (1: linear, 2: quadratic)", grown.join(", "));
        }
        if !measured {
            println!("(this backend keeps no memory pools to read: peaks are the lesson's model)");
        }
        Ok(())
    }
}
