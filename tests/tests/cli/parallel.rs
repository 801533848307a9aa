//! Data-parallel training under `mpirun` (OpenMPI, installed by the test command), on the CPU
//! backend with two ranks on this two-core machine (`--oversubscribe`: MPI over shared memory):
//!
//! * 2 ranks × batch 4 train the same model as 1 process × batch 8: the same losses at every step,
//!   the same validation losses and the same final weights, within f32 reduction order (the
//!   gradients are summed in another order; nothing else differs);
//! * a rank killed mid-run ends the job: rank 0 says so and names the checkpoint, which is intact;
//! * that 2-rank checkpoint resumes on 1 process and continues the 1-process run's curve; on a rank
//!   count that cannot share its global batch it is refused with the numbers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use lmlab::model::weights::{from_safetensors, StateDict};
use lmlab_acceptance::{lmlab, lmlab_path, scratch_dir, small_training_setup};
use serde_json::Value;

/// A fresh directory for this test.
fn scratch(name: &str) -> PathBuf {
    scratch_dir("parallel", name)
}

/// 40 KB of the bundled corpus and a 1-layer model config.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    small_training_setup(dir)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `lmlab train` on the small setup; `batch` is per rank, `eval_every` only changes how often
/// validation runs (not the training math).
fn train_args(data: &Path, config: &Path, out: &Path, steps: usize, batch: usize, eval_every: usize) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--config", s(config), "--data", s(data), "--vocab-size", "300"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    for (flag, value) in [
        ("--steps", steps.to_string()),
        ("--batch", batch.to_string()),
        ("--lr", "0.01".into()),
        ("--eval-every", eval_every.to_string()),
        ("--out", s(out).into()),
        ("--device", "cpu".into()),
        ("--seed", "3".into()),
        ("--log-every", "1".into()),
    ] {
        args.push(flag.into());
        args.push(value);
    }
    args.push("--json".into());
    args
}

/// `mpirun -n ranks --oversubscribe lmlab …` (root allowed: CI runs as root).
fn mpirun(ranks: usize) -> Command {
    let found = Command::new("mpirun").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(found, "mpirun not found: the test command installs OpenMPI (openmpi-bin, libopenmpi-dev)");
    let mut c = Command::new("mpirun");
    c.args(["-n", &ranks.to_string(), "--oversubscribe"]).arg(lmlab_path());
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

fn events(out: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Step → loss.
fn losses(events: &[Value]) -> Vec<(u64, f64)> {
    of_kind(events, "step").iter().map(|e| (e["step"].as_u64().unwrap(), e["loss"].as_f64().unwrap())).collect()
}

fn weights(dir: &Path) -> StateDict {
    let file = dir.join("model.safetensors");
    from_safetensors(s(&file), &std::fs::read(&file).unwrap()).unwrap().0
}

/// The largest difference between two checkpoints' weights, relative to the largest weight.
fn weight_gap(a: &StateDict, b: &StateDict) -> f64 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    let (mut gap, mut scale) = (0f64, 0f64);
    for (key, x) in a {
        let y = &b[key];
        assert_eq!(x.shape, y.shape, "{key}");
        for (u, v) in x.data.iter().zip(&y.data) {
            gap = gap.max(f64::from((u - v).abs()));
            scale = scale.max(f64::from(u.abs()));
        }
    }
    gap / scale
}

/// Losses of the same steps agree within f32 reduction order (and there are some).
fn assert_same_curve(reference: &[(u64, f64)], other: &[(u64, f64)], what: &str) {
    assert!(!other.is_empty(), "{what}: no steps");
    for (step, loss) in other {
        let (_, want) = reference.iter().find(|(s, _)| s == step).unwrap_or_else(|| panic!("{what}: step {step}"));
        assert!((loss - want).abs() < 1e-4, "{what}: step {step}: {loss} vs {want} (1 process)");
    }
}

#[test]
fn two_ranks_train_the_model_one_process_trains_with_twice_the_batch() {
    let dir = scratch("equal");
    let (data, config) = setup(&dir);
    let (one, two, logs) = (dir.join("one"), dir.join("two"), dir.join("logs"));
    let alone = lmlab().args(train_args(&data, &config, &one, 40, 8, 10)).output().unwrap();
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    // Small buckets, so the reduction really goes in several pieces.
    let mut job = mpirun(2);
    job.args(train_args(&data, &config, &two, 40, 4, 10)).args(["--rank-log", s(&logs), "--bucket-mb", "0.02"]);
    let out = job.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (events(&alone), events(&out));

    // Only rank 0 prints the job's log: one rank line, one setup; the setup says how it is shared.
    let ranks = of_kind(&b, "rank");
    assert_eq!(ranks.len(), 1, "only rank 0 prints");
    assert_eq!((ranks[0]["rank"].as_u64(), ranks[0]["ranks"].as_u64()), (Some(0), Some(2)));
    let setup = of_kind(&b, "setup")[0];
    assert_eq!((setup["ranks"].as_u64(), setup["batch_per_rank"].as_u64()), (Some(2), Some(4)));
    assert_eq!(setup["train"]["batch_size"], 8, "the run keeps the global batch");
    assert_eq!(setup["params"], of_kind(&a, "setup")[0]["params"]);
    // Rank 1 logged to its file, as asked.
    let rank1 = std::fs::read_to_string(logs.join("rank-1.log")).expect("rank 1's log");
    let first: Value = serde_json::from_str(rank1.lines().next().unwrap()).unwrap();
    assert_eq!((first["event"].as_str(), first["rank"].as_u64()), (Some("rank"), Some(1)));

    // The same curve and the same model.
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 40);
    assert_eq!(la.iter().map(|l| l.0).collect::<Vec<_>>(), lb.iter().map(|l| l.0).collect::<Vec<_>>());
    assert_same_curve(&la, &lb, "2 ranks × 4");
    assert!(la.last().unwrap().1 < la[0].1 - 0.5, "the run learns: {la:?}");
    let evals = |e: &[Value]| of_kind(e, "eval").iter().map(|v| v["val_loss"].as_f64().unwrap()).collect::<Vec<_>>();
    let (va, vb) = (evals(&a), evals(&b));
    assert_eq!(va.len(), vb.len());
    for (x, y) in va.iter().zip(&vb) {
        assert!((x - y).abs() < 1e-4, "validation {x} vs {y}");
    }
    let gap = weight_gap(&weights(&one), &weights(&two));
    assert!(gap < 1e-4, "final weights differ by {gap:e} of the largest weight");
    // And the gradients really were reduced, in several buckets, every step.
    for step in of_kind(&b, "step") {
        let comm = &step["comm"];
        assert!(comm["buckets"].as_u64().unwrap() >= 2, "{comm}");
        assert!(comm["bytes"].as_u64().unwrap() >= 4 * setup["params"].as_u64().unwrap(), "{comm}");
    }
}

#[test]
fn a_killed_rank_ends_the_job_and_its_checkpoint_resumes_on_one_process() {
    let dir = scratch("killed");
    let (data, config) = setup(&dir);
    let (reference, job_out, logs) = (dir.join("reference"), dir.join("job"), dir.join("logs"));
    // Validation every step only slows the run down (its windows are fixed and apart from
    // training's): time to kill a rank while it trains.
    let steps = 300;
    let alone = lmlab().args(train_args(&data, &config, &reference, steps, 8, 1)).output().unwrap();
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let reference_losses = losses(&events(&alone));

    let mut job = mpirun(2);
    job.args(train_args(&data, &config, &job_out, steps, 4, 1))
        .args(["--checkpoint-every", "3", "--rank-log", s(&logs)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = job.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut before = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the job ended before its first checkpoint");
        let e: Value = serde_json::from_str(&line).unwrap();
        before.push(e.clone());
        if e["event"] == "checkpoint" {
            break;
        }
    }
    let rank1: Value =
        serde_json::from_str(std::fs::read_to_string(logs.join("rank-1.log")).unwrap().lines().next().unwrap())
            .unwrap();
    let pid = rank1["pid"].as_u64().unwrap().to_string();
    assert!(Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let started = Instant::now();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(started.elapsed() < Duration::from_secs(60), "the job took {:?} to end", started.elapsed());
    assert!(!status.success(), "a job with a dead rank must fail");
    assert!(
        stderr.contains("rank 0 of 2") && stderr.contains("a rank died") && stderr.contains("is intact"),
        "rank 0 says what happened: {stderr}"
    );
    assert!(of_kind(&before, "end").is_empty() && !rest.contains(r#""event":"end""#), "the job did not finish");
    assert_same_curve(&reference_losses, &losses(&before), "2 ranks before the kill");

    // The checkpoint is intact: it resumes on one process and continues the one-process curve.
    let state: Value = serde_json::from_str(&std::fs::read_to_string(job_out.join("state.json")).unwrap()).unwrap();
    let saved = state["step"].as_u64().unwrap();
    assert!(saved >= 3 && saved < steps as u64, "saved at {saved}");
    let resumed = lmlab()
        .args(["train", "--resume", s(&job_out), "--device", "cpu", "--json", "--log-every", "1"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let r = events(&resumed);
    assert_eq!(of_kind(&r, "setup")[0]["train"]["batch_size"], 8, "the global batch survives the rank count");
    let continued = losses(&r);
    assert_eq!(continued.first().map(|l| l.0), Some(saved));
    assert_eq!(continued.last().map(|l| l.0), Some(steps as u64 - 1));
    assert_same_curve(&reference_losses, &continued, "resumed on 1 process");
    let gap = weight_gap(&weights(&reference), &weights(&job_out));
    assert!(gap < 1e-3, "final weights differ by {gap:e} of the largest weight");

    // Three ranks cannot share a global batch of 8: refused with the numbers, nothing written.
    let before_files = std::fs::read(job_out.join("model.safetensors")).unwrap();
    let mut three = mpirun(3);
    three.args(["train", "--resume", s(&job_out), "--device", "cpu"]);
    let out = three.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("global batch of 8") && err.contains("3 ranks"), "{err}");
    assert_eq!(std::fs::read(job_out.join("model.safetensors")).unwrap(), before_files);
}
