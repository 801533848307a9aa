//! `lmlab` with no arguments — the main job: train the tiny preset on the bundled Shakespeare.
//! It must visibly learn: a validation loss far below the unigram entropy of the data, and
//! samples made mostly of real words (words that occur in the corpus). Several minutes on two
//! CPU cores; the time is printed, not asserted (speed is for `lmlab bench train`).

use std::collections::HashSet;

use lmlab_acceptance::lmlab;

#[test]
fn the_main_job_learns_shakespeare() {
    let dir = std::env::temp_dir().join(format!("lmlab-main-job-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let started = std::time::Instant::now();
    let out = lmlab().current_dir(&dir).output().expect("run lmlab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\nmain job: {:.0} s", started.elapsed().as_secs_f64());
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
    let corpus =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/tinyshakespeare.txt"))
            .unwrap();
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
