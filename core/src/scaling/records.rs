//! A sweep's results: one JSON line per finished run (`runs.jsonl`), written by `lmlab scaling
//! sweep` and by the page, read by the fit. Each line says what was trained (N, D, FLOPs, the
//! shape), how it ended (the final validation loss, or why it diverged) and on what: the corpus
//! and the tokenizer by name and fingerprint, because losses measured in another tokenizer's
//! tokens (or on another text) are not comparable and must never be fitted together.

use serde::{Deserialize, Serialize};

use super::sweep::PlannedRun;

/// What a run trained on or with: a name for people, a fingerprint for the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    /// FNV-1a (64-bit, hex) of the content: the corpus's bytes, the tokenizer's vocabulary.
    pub fingerprint: String,
}

impl Identity {
    /// A corpus by its name and its bytes.
    pub fn of_corpus(name: &str, bytes: &[u8]) -> Self {
        Self { name: name.into(), fingerprint: fingerprint([bytes]) }
    }

    /// A tokenizer by where it came from and its vocabulary (every id's bytes, in order).
    pub fn of_tokenizer(tokenizer: &crate::tokenize::Bpe, source: &str) -> Self {
        Self { name: source.into(), fingerprint: fingerprint(tokenizer.vocab().iter().map(|v| v.as_slice())) }
    }
}

/// FNV-1a over byte chunks: stable across platforms and targets (no hasher seeding), enough to
/// tell two corpora or tokenizers apart (not a cryptographic hash).
pub fn fingerprint<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in chunks {
        for &b in chunk {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that ["ab", "c"] and ["a", "bc"] differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// One finished (or diverged) run: a line of runs.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: String,
    /// The budget the run belongs to (FLOPs).
    pub budget: f64,
    /// The FLOPs it trained (the budget up to whole steps).
    pub flops: f64,
    /// N: every parameter but the token embedding.
    pub params: u64,
    pub total_params: u64,
    /// D: tokens trained.
    pub tokens: u64,
    pub steps: usize,
    pub d_model: u64,
    pub num_layers: u64,
    pub num_heads: u64,
    pub d_ff: u64,
    pub context_length: u64,
    pub batch_size: usize,
    /// The final validation loss (nats per token); `None` when the run diverged.
    pub val_loss: Option<f64>,
    /// Why the run has no loss (a NaN or infinite loss at some step).
    pub diverged: Option<String>,
    pub corpus: Identity,
    pub tokenizer: Identity,
    /// Training tokens available: above 1 epoch the run saw its data more than once.
    pub epochs: f64,
    pub device: String,
    pub seconds: f64,
}

impl RunRecord {
    /// The record of planned run `run`, ended with `val_loss` (or `diverged`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run: &PlannedRun,
        batch_size: usize,
        val_loss: Result<f64, String>,
        corpus: Identity,
        tokenizer: Identity,
        train_tokens: usize,
        device: String,
        seconds: f64,
    ) -> Self {
        let s = &run.shape;
        let (val_loss, diverged) = match val_loss {
            Ok(v) if v.is_finite() => (Some(v), None),
            Ok(v) => (None, Some(format!("the final validation loss is {v}"))),
            Err(why) => (None, Some(why)),
        };
        Self {
            id: run.id.clone(),
            budget: run.budget,
            flops: run.flops,
            params: run.params,
            total_params: s.params().total,
            tokens: run.tokens,
            steps: run.steps,
            d_model: s.d_model,
            num_layers: s.num_layers,
            num_heads: s.num_heads,
            d_ff: s.d_ff,
            context_length: s.context_length,
            batch_size,
            val_loss,
            diverged,
            corpus,
            tokenizer,
            epochs: run.tokens as f64 / train_tokens.max(1) as f64,
            device,
            seconds,
        }
    }

    /// One line of runs.jsonl.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serializes")
    }
}

/// Reads runs.jsonl: every line a record (blank lines skipped); a malformed line is named by file
/// and line; a run id seen twice keeps its last line (a run redone after a crash).
pub fn parse_runs(file: &str, text: &str) -> Result<Vec<RunRecord>, String> {
    let mut out: Vec<RunRecord> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: RunRecord =
            serde_json::from_str(line).map_err(|e| format!("{file}, line {}: not a sweep run record: {e}", i + 1))?;
        if let Some(old) = out.iter_mut().find(|o| o.id == r.id) {
            *old = r;
        } else {
            out.push(r);
        }
    }
    Ok(out)
}

/// Refuses runs of different corpora or tokenizers in one fit, naming the first odd one out.
pub fn check_same_source(records: &[RunRecord]) -> Result<(), String> {
    let Some(first) = records.first() else { return Ok(()) };
    for r in records {
        if r.corpus.fingerprint != first.corpus.fingerprint {
            return Err(format!(
                "run {} was trained on {} (fingerprint {}) but run {} on {} ({}): losses on different corpora cannot \
                 be fitted together; keep one corpus per runs file",
                r.id, r.corpus.name, r.corpus.fingerprint, first.id, first.corpus.name, first.corpus.fingerprint
            ));
        }
        if r.tokenizer.fingerprint != first.tokenizer.fingerprint {
            return Err(format!(
                "run {} used the tokenizer {} (fingerprint {}) but run {} used {} ({}): losses per token of \
                 different tokenizers cannot be fitted together; keep one tokenizer per runs file",
                r.id,
                r.tokenizer.name,
                r.tokenizer.fingerprint,
                first.id,
                first.tokenizer.name,
                first.tokenizer.fingerprint
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_contents_apart() {
        assert_eq!(fingerprint([b"".as_slice()]), fingerprint([b"".as_slice()]));
        assert_ne!(fingerprint([b"ab".as_slice(), b"c"]), fingerprint([b"a".as_slice(), b"bc"]));
        assert_eq!(fingerprint([b"hello".as_slice()]).len(), 16);
    }

    #[test]
    fn malformed_lines_are_named() {
        let e = parse_runs("runs.jsonl", "\n{\"id\": 3}\n").unwrap_err();
        assert!(e.starts_with("runs.jsonl, line 2:"), "{e}");
    }
}
