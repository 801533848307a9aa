//! `lmlab` with no arguments — the main job: train the tiny preset on the bundled Shakespeare.
//!
//! The main job is `lmlab train` with every default (400 steps, a few minutes on two cores). Here
//! it is checked in two parts, to keep the test command short: `lmlab` with no arguments starts
//! exactly that run (its header is `lmlab train`'s), and the same code path trained for fewer
//! steps must visibly learn — a validation loss far below the unigram entropy of the data, and
//! samples made mostly of real words (words that occur in the corpus). The time is printed, not
//! asserted (speed is for `lmlab bench train`).

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use lmlab_acceptance::{lmlab, repo_root};

/// Steps of the learning check: enough for the assertions below with a margin (the main job
/// itself runs 400).
const STEPS: &str = "200";

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-main-job-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The lines `lmlab ARGS` prints up to and including the one starting with `last` (it is then
/// stopped).
fn header(args: &[&str], dir: &std::path::Path, last: &str) -> Vec<String> {
    let mut child = lmlab().args(args).current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.starts_with(last);
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn lmlab_alone_starts_the_default_training_run() {
    let (a, b) = (scratch("alone"), scratch("train"));
    let alone = header(&[], &a, "data:");
    let train = header(&["train"], &b, "data:");
    assert!(alone[0].starts_with("lmlab: training the tiny transformer"), "{alone:?}");
    // Tokenizer, device, model and data lines: the same run (the tokenizer's time aside).
    let shown = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.starts_with("model:") || l.starts_with("data:") || l.starts_with("device:"))
            .cloned()
            .collect()
    };
    assert_eq!(shown(&alone), shown(&train));
    assert_eq!(shown(&alone).len(), 3, "{alone:?}");
    assert!(shown(&alone)[1].contains("d_model 128, 4 layers"), "the tiny preset: {alone:?}");
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn the_main_jobs_run_learns_shakespeare() {
    let dir = scratch("learn");
    let started = std::time::Instant::now();
    let out = lmlab().args(["train", "--steps", STEPS]).current_dir(&dir).output().expect("run lmlab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\nmain job's run, {STEPS} steps: {:.0} s", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // "done: N steps in S s; validation loss V nats/token vs unigram entropy H (P% lower)".
    let done = stdout.lines().find(|l| l.starts_with("done:")).expect("a done line");
    let number_after = |key: &str| -> f64 {
        let rest = &done[done.find(key).unwrap_or_else(|| panic!("{key} in {done}")) + key.len()..];
        rest.trim_start().split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap().parse().unwrap()
    };
    let val = number_after("validation loss");
    let entropy = number_after("unigram entropy");
    assert!(val < entropy - 1.0, "validation loss {val} is not far below the unigram entropy {entropy}");
    assert!(dir.join("runs/tiny/model.safetensors").is_file(), "the checkpoint is saved");

    // Samples: most words are words of the corpus.
    let corpus = std::fs::read_to_string(repo_root().join("data/tinyshakespeare.txt")).unwrap();
    let words = |t: &str| -> Vec<String> {
        t.split(|c: char| !c.is_alphabetic()).filter(|w| w.len() >= 2).map(str::to_lowercase).collect()
    };
    let known: HashSet<String> = words(&corpus).into_iter().collect();
    let samples: String = stdout.split("--- sample").skip(1).collect();
    let sampled = words(&samples);
    assert!(sampled.len() >= 30, "too few words sampled: {samples}");
    let real = sampled.iter().filter(|w| known.contains(*w)).count();
    assert!(real as f64 >= 0.6 * sampled.len() as f64, "{real} of {} sampled words are real: {samples}", sampled.len());
    let _ = std::fs::remove_dir_all(&dir);
}
