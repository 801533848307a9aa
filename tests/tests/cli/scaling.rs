//! `lmlab scaling sweep` and `lmlab scaling fit` end to end on the CPU: a real IsoFLOP sweep of
//! three budgets × four sizes on the bundled Shakespeare (about a minute), whose curves must
//! have their minima inside the sizes swept; the sweep resumed after Ctrl-C and re-run without
//! training again; the fit's prediction checked against Chinchilla's closed form; bad input named.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lmlab_acceptance::{lmlab, run_lmlab as run, temp_file};
use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-scaling-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn events(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn records(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("runs.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const BUDGETS: &str = "2e10,4e10,8e10";

#[test]
fn a_cpu_sweep_brackets_its_optima_and_fits() {
    let dir = scratch("sweep");
    let args =
        ["scaling", "sweep", "--budgets", BUDGETS, "--sizes", "4", "--out", s(&dir), "--device", "cpu", "--json"];
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ev = events(&r.stdout);
    let plan = ev.iter().find(|e| e["event"] == "plan").expect("a plan event");
    let planned = plan["runs"].as_array().unwrap();
    assert_eq!(planned.len(), 12);
    let recs = records(&dir);
    assert_eq!(recs.len(), 12, "one line per run");
    let ln_v = (512f64).ln();
    for rec in &recs {
        let loss = rec["val_loss"].as_f64().unwrap_or_else(|| panic!("a loss: {rec}"));
        assert!(loss > 1.0 && loss < ln_v, "{rec}");
        // D tokens of FLOPs per token: the budget up to one step's rounding.
        let (budget, flops, steps) =
            (rec["budget"].as_f64().unwrap(), rec["flops"].as_f64().unwrap(), rec["steps"].as_f64().unwrap());
        assert!((flops - budget).abs() <= 0.5 * flops / steps + 1.0, "{rec}");
        assert_eq!(rec["tokens"].as_f64().unwrap(), steps * 8.0 * 64.0);
        assert_eq!(rec["corpus"]["name"], "tinyshakespeare.txt (bundled)");
        assert!(rec["tokenizer"]["fingerprint"].as_str().unwrap().len() == 16);
    }
    // The bigger the budget the lower the best loss, and every IsoFLOP minimum inside its sizes.
    let fit = &ev.iter().find(|e| e["event"] == "fit").expect("a fit event")["fit"];
    let budgets = fit["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 3);
    let mut best = f64::INFINITY;
    for b in budgets {
        assert_eq!(b["inside"], true, "the minimum of C = {} lies outside the sizes swept: {b}", b["budget"]);
        let n_opt = b["n_opt"].as_f64().unwrap();
        let ns: Vec<f64> = b["runs"].as_array().unwrap().iter().map(|r| r[0].as_f64().unwrap()).collect();
        assert!(n_opt > ns[0] && n_opt < ns[3], "{b}");
        let min_loss =
            b["runs"].as_array().unwrap().iter().map(|r| r[2].as_f64().unwrap()).fold(f64::INFINITY, f64::min);
        assert!(min_loss < best, "{budgets:?}");
        best = min_loss;
    }
    // More compute, a larger optimum.
    let a = fit["n_opt_law"]["exponent"].as_f64().unwrap();
    assert!(a > 0.0, "N_opt grows with C: a = {a}");
    assert!(fit["law"]["law"]["alpha"].as_f64().is_some(), "L(N, D) fitted from 12 runs: {fit}");

    // Run again: nothing is trained twice.
    let again = run(&args);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!events(&again.stdout).iter().any(|e| e["event"] == "start"), "{}", again.stdout);
    assert_eq!(records(&dir).len(), 12);

    // The fit alone, with a prediction: Chinchilla's closed form at 6.3e24.
    let out = run(&["scaling", "fit", s(&dir), "--budget", "6.3e24", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let (e, aa, bb, al, be) = (1.69f64, 406.4f64, 410.7f64, 0.34f64, 0.28f64);
    let g = (al * aa / (be * bb)).powf(1.0 / (al + be));
    let n = g * (6.3e24f64 / 6.0).powf(be / (al + be));
    let chin = &v["prediction"]["chinchilla"];
    assert!((chin["params"].as_f64().unwrap() / n - 1.0).abs() < 1e-9, "{chin}");
    let d = 6.3e24 / (6.0 * n);
    assert!((chin["loss"].as_f64().unwrap() - (e + aa / n.powf(al) + bb / d.powf(be))).abs() < 1e-9);
    assert!(v["prediction"]["law"]["params"].as_f64().unwrap() > 0.0);
    let text = run(&["scaling", "fit", s(&dir)]);
    assert!(text.stdout.contains("N_opt =") && text.stdout.contains("L(N, D) ="), "{}", text.stdout);

    // A different sweep in the same directory is refused; the runs are left alone.
    let other = run(&["scaling", "sweep", "--budgets", "3e10", "--out", s(&dir), "--device", "cpu"]);
    assert_eq!(other.code, 2);
    assert!(other.stderr.contains("other settings"), "{}", other.stderr);
    assert_eq!(records(&dir).len(), 12);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_interrupted_sweep_resumes_its_run_from_the_checkpoint() {
    let dir = scratch("resume");
    let args = ["scaling", "sweep", "--budgets", "2e10", "--sizes", "3", "--out", s(&dir), "--device", "cpu", "--json"];
    let mut child = lmlab().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stopped = None;
    let mut starts = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "start" {
            starts += 1;
            if starts == 2 {
                Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
            }
        }
        if e["event"] == "stopped" {
            stopped = Some(e);
        }
    }
    assert!(child.wait().unwrap().success());
    let stopped = stopped.expect("the second run stopped");
    assert_eq!(records(&dir).len(), 1, "the first run finished and was recorded");
    let resumed = run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let ev = events(&resumed.stdout);
    let first = ev.iter().find(|e| e["event"] == "start").unwrap();
    assert_eq!(first["id"], stopped["id"]);
    assert!(first["resume_step"].as_u64().unwrap() >= 1, "resumed from its checkpoint: {first}");
    let recs = records(&dir);
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r["val_loss"].as_f64().is_some()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A runs.jsonl line of a made-up run.
fn line(id: &str, budget: f64, n: f64, d: f64, loss: Option<f64>, corpus: &str) -> String {
    let ident = serde_json::json!({"name": corpus, "fingerprint": format!("{:016x}", corpus.len())});
    serde_json::json!({"id": id, "budget": budget, "flops": budget, "params": n as u64, "total_params": n as u64,
        "tokens": d as u64, "steps": 10, "d_model": 8, "num_layers": 1, "num_heads": 1, "d_ff": 24, "context_length": 64,
        "batch_size": 8, "val_loss": loss, "diverged": loss.map_or(Some("the loss became NaN at step 3"), |_| None),
        "corpus": ident, "tokenizer": {"name": "bpe", "fingerprint": "0000000000000001"}, "epochs": 1.0,
        "device": "cpu", "seconds": 1.0})
    .to_string()
}

#[test]
fn bad_sweeps_and_runs_files_are_named() {
    let small = run(&["scaling", "sweep", "--budgets", "1e6", "--out", s(&scratch("small")), "--device", "cpu"]);
    assert_eq!(small.code, 2);
    assert!(small.stderr.contains("budget 1") && small.stderr.contains("smallest model"), "{}", small.stderr);
    let typo = run(&["scaling", "sweep", "--budgets", "1e11,lots", "--out", s(&scratch("typo"))]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("--budgets") && typo.stderr.contains("lots"), "{}", typo.stderr);

    // A parabola through made-up losses: L = 3 + 0.3·(ln N − ln 2e4)², one run diverged.
    let loss = |n: f64| 3.0 + 0.3 * (n.ln() - 2e4f64.ln()).powi(2);
    let ns = [5e3, 1e4, 2e4, 4e4, 8e4];
    let mut lines: Vec<String> = ns
        .iter()
        .enumerate()
        .map(|(i, &n)| line(&format!("r{i}"), 1e11, n, 1e11 / (6.0 * n), Some(loss(n)), "a.txt"))
        .collect();
    lines.push(line("nan", 1e11, 1.6e5, 1e5, None, "a.txt"));
    let file = temp_file("runs-ok.jsonl", lines.join("\n").as_bytes());
    let out = run(&["scaling", "fit", s(&file), "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let b = &v["fit"]["budgets"][0];
    assert!((b["n_opt"].as_f64().unwrap() / 2e4 - 1.0).abs() < 1e-6, "{b}");
    assert_eq!(v["fit"]["excluded"][0]["id"], "nan");
    let text = run(&["scaling", "fit", s(&file)]);
    assert!(text.stdout.contains("left out: nan") && text.stdout.contains("NaN"), "{}", text.stdout);

    // Too few runs: the minimum is named.
    let few = temp_file("runs-few.jsonl", lines[..2].join("\n").as_bytes());
    let out = run(&["scaling", "fit", s(&few)]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("at least 3 finished runs"), "{}", out.stderr);
    // Another corpus mixed in: refused, named.
    let mut mixed = lines.clone();
    mixed.push(line("other", 1e11, 3e4, 1e6, Some(3.1), "another-corpus.txt"));
    let file = temp_file("runs-mixed.jsonl", mixed.join("\n").as_bytes());
    let out = run(&["scaling", "fit", s(&file)]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("another-corpus.txt") && out.stderr.contains("run other"), "{}", out.stderr);
    // A malformed line: file and line named.
    let file = temp_file("runs-bad.jsonl", format!("{}\n{{\"id\": \"x\"\n", lines[0]).as_bytes());
    let out = run(&["scaling", "fit", s(&file)]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("runs-bad.jsonl, line 2"), "{}", out.stderr);
}
