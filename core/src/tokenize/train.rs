//! BPE training with CS336 semantics.
//!
//! * `vocab_size` counts the 256 byte tokens, the merges and the special tokens.
//! * Special tokens split the text first: they are never merged or counted, only added to the
//!   vocabulary (after the merges).
//! * Pairs are counted inside pre-tokens (GPT-2 pattern) only, weighted by pre-token frequency.
//! * Each step merges the most frequent pair; ties go to the lexicographically greatest pair of
//!   byte strings, `(bytes_a, bytes_b)` compared as tuples (Python's `max`).
//!
//! # Why it is fast
//! Pre-tokens are counted once (in parallel with rayon natively) into unique words with counts.
//! Pair counts are then updated incrementally: a merge touches only the words that contain the
//! pair (an index pair → words), and a max-heap with lazy deletion finds the next pair without a
//! full recount. Token ids are integers throughout; byte strings are compared only to break ties.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::bpe::Bpe;
use super::pretokenize::{pretokenize, safe_cut};
use super::special::{Piece, SpecialTokens};
use super::TokenizeError;

/// Progress of a training run, for the CLI's bars and the page's live view.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// Pre-tokenizing and counting: bytes read so far of the total (0 when unknown).
    Pretokenize { done_bytes: u64, total_bytes: u64 },
    /// Counting done.
    Counted { unique_pretokens: usize, total_pretokens: u64 },
    /// One merge made.
    Merge { done: usize, total: usize },
}

/// Pre-token counts: the only thing training keeps from the text.
#[derive(Debug, Clone, Default)]
pub struct PretokenCounts {
    pub counts: FxHashMap<String, u64>,
    pub total: u64,
}

impl PretokenCounts {
    /// Counts the pre-tokens of `text`, split on `specials` first.
    pub fn add_text(&mut self, text: &str, specials: &SpecialTokens) {
        let pieces: Vec<&str> = specials
            .split(text)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t),
                Piece::Special(_) => None,
            })
            .collect();
        for (pre, n) in count_pieces(&pieces) {
            *self.counts.entry(pre.to_string()).or_insert(0) += n;
            self.total += n;
        }
    }
}

/// Counts pre-tokens over the pieces; natively the pieces are cut into [`slices`] and counted
/// across threads.
fn count_pieces<'a>(pieces: &[&'a str]) -> FxHashMap<&'a str, u64> {
    fn count<'a>(mut counts: FxHashMap<&'a str, u64>, text: &'a str) -> FxHashMap<&'a str, u64> {
        for pre in pretokenize(text) {
            *counts.entry(pre).or_insert(0) += 1;
        }
        counts
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        let parts: Vec<&'a str> = pieces.iter().flat_map(|p| slices(p, 1 << 18)).collect();
        parts.par_iter().fold(FxHashMap::default, |m, part| count(m, part)).reduce(FxHashMap::default, |a, b| {
            // Fold the smaller map into the larger one.
            let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
            for (k, v) in small {
                *big.entry(k).or_insert(0) += v;
            }
            big
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        pieces.iter().fold(FxHashMap::default(), |m, piece| count(m, piece))
    }
}

/// One merge, as the stepper shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    pub left: Vec<u8>,
    pub right: Vec<u8>,
    /// Weighted count of the pair when it was merged.
    pub count: u64,
    /// The new token's id.
    pub id: u32,
}

/// A heap entry: the pair's count, then its byte strings for the tie-break.
#[derive(Debug, PartialEq, Eq)]
struct Candidate {
    count: u64,
    left: Rc<[u8]>,
    right: Rc<[u8]>,
    pair: (u32, u32),
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.count.cmp(&other.count).then_with(|| self.left.cmp(&other.left)).then_with(|| self.right.cmp(&other.right))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A BPE trainer that merges one pair per [`BpeTrainer::step`], so a page can step through merges
/// or run them in slices between frames.
pub struct BpeTrainer {
    tokens: Vec<Rc<[u8]>>,
    words: Vec<(Vec<u32>, u64)>,
    pair_counts: FxHashMap<(u32, u32), u64>,
    pair_words: FxHashMap<(u32, u32), FxHashSet<u32>>,
    heap: BinaryHeap<Candidate>,
    merges: Vec<MergeStep>,
}

impl BpeTrainer {
    /// Prepares training from pre-token counts.
    pub fn new(counts: &PretokenCounts) -> Self {
        let tokens: Vec<Rc<[u8]>> = (0..=255u8).map(|b| Rc::from(vec![b])).collect();
        let mut words: Vec<(Vec<u32>, u64)> =
            counts.counts.iter().map(|(w, &n)| (w.bytes().map(u32::from).collect(), n)).collect();
        // Deterministic order (hash maps are not): the result never depends on it, the timing might.
        words.sort_unstable();
        let mut pair_counts: FxHashMap<(u32, u32), u64> = FxHashMap::default();
        let mut pair_words: FxHashMap<(u32, u32), FxHashSet<u32>> = FxHashMap::default();
        for (wi, (symbols, n)) in words.iter().enumerate() {
            for w in symbols.windows(2) {
                *pair_counts.entry((w[0], w[1])).or_insert(0) += n;
                pair_words.entry((w[0], w[1])).or_default().insert(wi as u32);
            }
        }
        let mut trainer = Self { tokens, words, pair_counts, pair_words, heap: BinaryHeap::new(), merges: Vec::new() };
        let pairs: Vec<((u32, u32), u64)> = trainer.pair_counts.iter().map(|(&p, &c)| (p, c)).collect();
        for (pair, count) in pairs {
            trainer.push(pair, count);
        }
        trainer
    }

    fn push(&mut self, pair: (u32, u32), count: u64) {
        self.heap.push(Candidate {
            count,
            left: Rc::clone(&self.tokens[pair.0 as usize]),
            right: Rc::clone(&self.tokens[pair.1 as usize]),
            pair,
        });
    }

    /// The merges made so far.
    pub fn merges(&self) -> &[MergeStep] {
        &self.merges
    }

    /// Makes the next merge; `None` when no pair is left (every pre-token is one token).
    pub fn step(&mut self) -> Option<MergeStep> {
        let best = loop {
            let c = self.heap.pop()?;
            if self.pair_counts.get(&c.pair).copied() == Some(c.count) && c.count > 0 {
                break c;
            }
        };
        let (a, b) = best.pair;
        let new_id = self.tokens.len() as u32;
        self.tokens.push([&best.left[..], &best.right[..]].concat().into());
        let mut delta: FxHashMap<(u32, u32), i64> = FxHashMap::default();
        let affected = self.pair_words.remove(&best.pair).unwrap_or_default();
        for wi in affected {
            let (symbols, n) = &mut self.words[wi as usize];
            let n = *n as i64;
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == a && symbols[i + 1] == b {
                    merged.push(new_id);
                    i += 2;
                } else {
                    merged.push(symbols[i]);
                    i += 1;
                }
            }
            if merged.len() == symbols.len() {
                continue;
            }
            for w in symbols.windows(2) {
                *delta.entry((w[0], w[1])).or_insert(0) -= n;
            }
            for w in merged.windows(2) {
                *delta.entry((w[0], w[1])).or_insert(0) += n;
                if w[0] == new_id || w[1] == new_id {
                    self.pair_words.entry((w[0], w[1])).or_default().insert(wi);
                }
            }
            *symbols = merged;
        }
        for (pair, d) in delta {
            if d == 0 {
                continue;
            }
            let count = self.pair_counts.entry(pair).or_insert(0);
            *count = (*count as i64 + d).max(0) as u64;
            let c = *count;
            if c == 0 {
                self.pair_counts.remove(&pair);
            } else {
                self.push(pair, c);
            }
        }
        self.pair_counts.remove(&best.pair);
        let step = MergeStep { left: best.left.to_vec(), right: best.right.to_vec(), count: best.count, id: new_id };
        self.merges.push(step.clone());
        Some(step)
    }

    /// The model after the merges so far: ids 0–255 are the bytes, then one id per merge, then the
    /// special tokens.
    pub fn model(&self, special_tokens: &[String]) -> Bpe {
        let vocab: Vec<Vec<u8>> = self.tokens.iter().map(|t| t.to_vec()).collect();
        let merges: Vec<(Vec<u8>, Vec<u8>)> = self.merges.iter().map(|m| (m.left.clone(), m.right.clone())).collect();
        Bpe::new(vocab, &merges, special_tokens).expect("a trained vocabulary is consistent")
    }
}

/// Cuts `text` into pieces of at most about `max_len` bytes at places that change no pre-token
/// (non-space → space transitions), so they can be counted separately — on the page, one slice per
/// animation frame. A piece may be longer when the text has no such place.
pub fn slices(text: &str, max_len: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max_len {
        match safe_cut(rest, max_len) {
            Some(cut) if cut > 0 => {
                out.push(&rest[..cut]);
                rest = &rest[cut..];
            }
            _ => break,
        }
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The model after the first `k` of `merges` (the stepper's view of training): bytes, the first
/// `k` merged tokens, then the special tokens.
pub fn partial_model(merges: &[MergeStep], k: usize, special_tokens: &[String]) -> Bpe {
    let merges = &merges[..k.min(merges.len())];
    let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    vocab.extend(merges.iter().map(|m| [m.left.as_slice(), m.right.as_slice()].concat()));
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = merges.iter().map(|m| (m.left.clone(), m.right.clone())).collect();
    Bpe::new(vocab, &pairs, special_tokens).expect("merges of a training run are consistent")
}

/// Number of merges for a vocabulary size: vocab_size − 256 − specials (an error if negative).
pub fn merges_for(vocab_size: usize, special_tokens: &[String]) -> Result<usize, TokenizeError> {
    let specials = SpecialTokens::new(special_tokens).tokens().len();
    let minimum = 256 + specials;
    vocab_size.checked_sub(minimum).ok_or(TokenizeError::VocabTooSmall { vocab_size, minimum, specials })
}

/// Trains on pre-token counts up to `vocab_size` (fewer if the pairs run out).
pub fn train_from_counts(
    counts: &PretokenCounts,
    vocab_size: usize,
    special_tokens: &[String],
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<Bpe, TokenizeError> {
    let total = merges_for(vocab_size, special_tokens)?;
    let mut trainer = BpeTrainer::new(counts);
    for done in 1..=total {
        if trainer.step().is_none() {
            break;
        }
        if done % 16 == 0 || done == total {
            progress(TrainEvent::Merge { done, total });
        }
    }
    Ok(trainer.model(special_tokens))
}

/// Trains on a string (the page's pasted text, tests).
pub fn train_bpe(
    text: &str,
    vocab_size: usize,
    special_tokens: &[String],
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<Bpe, TokenizeError> {
    merges_for(vocab_size, special_tokens)?;
    if text.is_empty() {
        return Err(TokenizeError::EmptyCorpus("text".into()));
    }
    let mut counts = PretokenCounts::default();
    counts.add_text(text, &SpecialTokens::new(special_tokens));
    progress(TrainEvent::Pretokenize { done_bytes: text.len() as u64, total_bytes: text.len() as u64 });
    progress(TrainEvent::Counted { unique_pretokens: counts.counts.len(), total_pretokens: counts.total });
    train_from_counts(&counts, vocab_size, special_tokens, progress)
}

/// Counts a file's pre-tokens reading it in chunks cut at special tokens (or safe pre-token
/// boundaries), so memory is bounded by the unique pre-tokens, not the file. Invalid UTF-8 is an
/// error naming the byte offset, unless `lossy` (then it becomes U+FFFD).
#[cfg(not(target_arch = "wasm32"))]
pub fn count_file(
    path: &std::path::Path,
    special_tokens: &[String],
    lossy: bool,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<PretokenCounts, TokenizeError> {
    use std::io::Read;
    const CHUNK: usize = 32 << 20;
    let name = path.display().to_string();
    let io = |e: std::io::Error| TokenizeError::Io { file: name.clone(), message: e.to_string() };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let specials = SpecialTokens::new(special_tokens);
    let margin = specials.tokens().iter().map(String::len).max().unwrap_or(0);
    let mut counts = PretokenCounts::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut eof = false;
    while !eof || !pending.is_empty() {
        if !eof {
            let mut buf = vec![0u8; CHUNK];
            let got = file.read(&mut buf).map_err(io)?;
            eof = got == 0;
            pending.extend_from_slice(&buf[..got]);
            if !eof && pending.len() < CHUNK {
                continue;
            }
        }
        let owned;
        let text: &str = match std::str::from_utf8(&pending) {
            Ok(s) => s,
            Err(e) if e.error_len().is_none() && !eof => {
                std::str::from_utf8(&pending[..e.valid_up_to()]).expect("valid prefix")
            }
            Err(e) if !lossy => {
                return Err(TokenizeError::InvalidUtf8 { file: name, offset: offset + e.valid_up_to() as u64 })
            }
            Err(_) => {
                owned = String::from_utf8_lossy(&pending).into_owned();
                &owned
            }
        };
        let cut = if eof {
            text.len()
        } else {
            let limit = text.len().saturating_sub(margin);
            specials.last_end_before(text, limit).max(safe_cut(text, limit)).unwrap_or(0)
        };
        if cut == 0 && !eof {
            continue;
        }
        counts.add_text(&text[..cut], &specials);
        // With lossy decoding the text may be longer than the bytes; only then is the whole buffer used.
        let used = if text.len() == pending.len() || !lossy { cut } else { pending.len() };
        pending.drain(..used.min(pending.len()));
        offset += used as u64;
        progress(TrainEvent::Pretokenize { done_bytes: offset, total_bytes });
        if eof {
            pending.clear();
        }
    }
    if counts.total == 0 {
        return Err(TokenizeError::EmptyCorpus(name));
    }
    progress(TrainEvent::Counted { unique_pretokens: counts.counts.len(), total_pretokens: counts.total });
    Ok(counts)
}
