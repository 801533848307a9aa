//! The byte-level BPE model and its encoder.
//!
//! A model is a vocabulary (id → bytes), an ordered list of merges (pairs of ids; earlier merges
//! apply first), and special tokens. Encoding splits on special tokens, pre-tokenizes with GPT-2's
//! pattern, and applies the merges inside each pre-token.
//!
//! # Why it is fast
//! * Merge lookup is one hash of a pair of `u32` ids (`FxHashMap<(u32, u32), (rank, merged)>`),
//!   not of byte strings.
//! * Repeated pre-tokens (" the", ",") are encoded once per call: a cache maps the pre-token
//!   (`&str` borrowed from the input) to the ids already written to the output, copied on a hit.
//! * Short pre-tokens (the common case) merge with a linear scan per step; long ones (a 1 MB run of
//!   one letter) use a heap over a linked list, O(n log n), so no input is quadratic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Read;

use rustc_hash::FxHashMap;

use super::pretokenize::{pretokenize, safe_cut};
use super::special::{Piece, SpecialTokens};
use super::{decode_bytes, TokenizeError, Tokenizer};

/// Pre-tokens longer than this (in bytes) merge with the heap; shorter ones by scanning.
const SCAN_LIMIT: usize = 32;
/// Pre-tokens longer than this are not cached (they rarely repeat).
const CACHE_LIMIT: usize = 64;

/// A byte-level BPE tokenizer.
#[derive(Debug, Clone)]
pub struct Bpe {
    vocab: Vec<Vec<u8>>,
    ids: FxHashMap<Vec<u8>, u32>,
    byte_ids: [u32; 256],
    merges: Vec<(u32, u32)>,
    ranks: FxHashMap<(u32, u32), (u32, u32)>,
    specials: SpecialTokens,
    special_ids: Vec<u32>,
}

impl Bpe {
    /// Builds a model CS336-style: `vocab[id]` is the token's bytes; `merges` are byte-string
    /// pairs in priority order; each special token whose bytes are not already a token is appended
    /// with the next id. Errors name the merge (as `merges:N`, 1-based) that cannot be applied.
    pub fn new(
        vocab: Vec<Vec<u8>>,
        merges: &[(Vec<u8>, Vec<u8>)],
        special_tokens: &[String],
    ) -> Result<Self, TokenizeError> {
        let mut vocab = vocab;
        let mut ids: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        for (id, bytes) in vocab.iter().enumerate() {
            ids.entry(bytes.clone()).or_insert(id as u32);
        }
        let mut byte_ids = [0u32; 256];
        for b in 0..=255u8 {
            byte_ids[b as usize] = *ids.get(&vec![b]).ok_or_else(|| TokenizeError::Malformed {
                file: "vocab".into(),
                line: 0,
                message: format!("the vocabulary has no token for byte {b:#04x}: byte-level BPE needs all 256"),
            })?;
        }
        let specials = SpecialTokens::new(special_tokens);
        let mut special_ids = Vec::new();
        for s in specials.tokens() {
            let id = match ids.get(s.as_bytes()) {
                Some(&id) => id,
                None => {
                    vocab.push(s.as_bytes().to_vec());
                    (vocab.len() - 1) as u32
                }
            };
            special_ids.push(id);
        }
        let mut model =
            Self { vocab, ids, byte_ids, merges: Vec::new(), ranks: FxHashMap::default(), specials, special_ids };
        for (i, (a, b)) in merges.iter().enumerate() {
            let find = |t: &[u8], what: &str| {
                model.ids.get(t).copied().ok_or_else(|| TokenizeError::Malformed {
                    file: "merges".into(),
                    line: i + 1,
                    message: format!("{what} {:?} is not in the vocabulary", String::from_utf8_lossy(t)),
                })
            };
            let (ia, ib) = (find(a, "token")?, find(b, "token")?);
            let merged = find(&[a.as_slice(), b.as_slice()].concat(), "merged token")?;
            model.merges.push((ia, ib));
            model.ranks.entry((ia, ib)).or_insert((i as u32, merged));
        }
        Ok(model)
    }

    /// Builds a model with tiktoken's semantics from tokens in rank order (`tokens[rank]`): any two
    /// adjacent tokens whose concatenation is a token merge, lowest rank first. Special tokens get
    /// the given ids.
    pub fn from_ranks(tokens: Vec<Vec<u8>>, specials: &[(String, u32)]) -> Result<Self, TokenizeError> {
        let n = tokens.len();
        let mut vocab = tokens;
        for (s, id) in specials {
            let id = *id as usize;
            if id < n {
                return Err(TokenizeError::Malformed {
                    file: "special tokens".into(),
                    line: 0,
                    message: format!("special token {s:?} has id {id}, which an ordinary token already uses"),
                });
            }
            if vocab.len() <= id {
                vocab.resize(id + 1, Vec::new());
            }
            vocab[id] = s.as_bytes().to_vec();
        }
        let mut model = Self::new(vocab[..n].to_vec(), &[], &[])?;
        model.vocab = vocab;
        // Every split of every multi-byte token into two tokens is a merge with that token's rank.
        let mut merges: Vec<(u32, u32, u32)> = Vec::new();
        for (rank, t) in model.vocab[..n].iter().enumerate() {
            for k in 1..t.len() {
                if let (Some(&a), Some(&b)) = (model.ids.get(&t[..k]), model.ids.get(&t[k..])) {
                    merges.push((rank as u32, a, b));
                }
            }
        }
        merges.sort_unstable();
        for (rank, a, b) in merges {
            model.ranks.entry((a, b)).or_insert((rank, rank));
            model.merges.push((a, b));
        }
        model.specials = SpecialTokens::new(&specials.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
        model.special_ids = model
            .specials
            .tokens()
            .iter()
            .map(|s| specials.iter().find(|(t, _)| t == s).map(|(_, id)| *id).unwrap_or(0))
            .collect();
        Ok(model)
    }

    /// id → bytes, specials included.
    pub fn vocab(&self) -> &[Vec<u8>] {
        &self.vocab
    }

    /// The merges as byte pairs, in priority order.
    pub fn merges(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.merges.iter().map(|&(a, b)| (self.vocab[a as usize].clone(), self.vocab[b as usize].clone())).collect()
    }

    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    /// Special tokens with their ids.
    pub fn special_tokens(&self) -> Vec<(String, u32)> {
        self.specials.tokens().iter().cloned().zip(self.special_ids.iter().copied()).collect()
    }

    /// Whether an id is a special token.
    pub fn is_special(&self, id: u32) -> bool {
        self.special_ids.contains(&id)
    }

    /// Encodes text, recognizing special tokens.
    pub fn encode_text(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        let mut cache = FxHashMap::default();
        self.encode_into(text, &mut out, &mut cache);
        out
    }

    fn encode_into<'t>(&self, text: &'t str, out: &mut Vec<u32>, cache: &mut FxHashMap<&'t str, (usize, usize)>) {
        for piece in self.specials.split(text) {
            match piece {
                Piece::Special(i) => out.push(self.special_ids[i]),
                Piece::Text(t) => {
                    for pre in pretokenize(t) {
                        if let Some(&(start, len)) = cache.get(pre) {
                            out.extend_from_within(start..start + len);
                            continue;
                        }
                        let start = out.len();
                        self.encode_pretoken(pre.as_bytes(), out);
                        if pre.len() <= CACHE_LIMIT {
                            cache.insert(pre, (start, out.len() - start));
                        }
                    }
                }
            }
        }
    }

    /// Applies the merges to one pre-token's bytes, appending its ids to `out`.
    pub fn encode_pretoken(&self, bytes: &[u8], out: &mut Vec<u32>) {
        if bytes.len() > SCAN_LIMIT {
            return self.merge_with_heap(bytes, out);
        }
        let mut parts: Vec<u32> = bytes.iter().map(|&b| self.byte_ids[b as usize]).collect();
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.ranks.get(&(w[0], w[1])).map(|&(rank, merged)| (rank, i, merged)))
                .min();
            match best {
                Some((_, i, merged)) => {
                    parts[i] = merged;
                    parts.remove(i + 1);
                }
                None => break,
            }
        }
        out.extend_from_slice(&parts);
    }

    /// The same merges in O(n log n): a heap of candidate pairs (rank, position) over a linked list.
    /// Stale heap entries (a neighbour changed) are skipped when popped.
    fn merge_with_heap(&self, bytes: &[u8], out: &mut Vec<u32>) {
        let n = bytes.len();
        let mut id: Vec<u32> = bytes.iter().map(|&b| self.byte_ids[b as usize]).collect();
        let mut next: Vec<usize> = (1..=n).collect(); // n = end
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect(); // usize::MAX = none
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        let push = |heap: &mut BinaryHeap<Reverse<(u32, usize, u32, u32)>>, i: usize, j: usize, id: &[u32]| {
            if let Some(&(rank, _)) = self.ranks.get(&(id[i], id[j])) {
                heap.push(Reverse((rank, i, id[i], id[j])));
            }
        };
        for i in 0..n.saturating_sub(1) {
            push(&mut heap, i, i + 1, &id);
        }
        while let Some(Reverse((_, i, left, right))) = heap.pop() {
            let j = next[i];
            if !alive[i] || j >= n || id[i] != left || id[j] != right {
                continue;
            }
            id[i] = self.ranks[&(left, right)].1;
            alive[j] = false;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            if prev[i] != usize::MAX {
                push(&mut heap, prev[i], i, &id);
            }
            if next[i] < n {
                push(&mut heap, i, next[i], &id);
            }
        }
        let mut i = 0;
        while i < n {
            out.push(id[i]);
            i = next[i];
        }
    }

    /// Encodes a stream (`encode_iterable`): reads `reader` in chunks cut where pre-tokenization is
    /// unaffected (after a special token, or at a non-space → space transition), so the ids equal
    /// those of encoding the whole text at once, with memory bounded by the chunk size.
    pub fn encode_reader<R: Read>(&self, mut reader: R, name: &str) -> Result<Vec<u32>, TokenizeError> {
        let mut out = Vec::new();
        self.encode_stream(&mut reader, name, |ids| out.extend_from_slice(ids))?;
        Ok(out)
    }

    /// Like [`Bpe::encode_reader`], handing each chunk's ids to `sink` instead of collecting them.
    pub fn encode_stream<R: Read>(
        &self,
        reader: &mut R,
        name: &str,
        sink: impl FnMut(&[u32]),
    ) -> Result<(), TokenizeError> {
        self.encode_stream_chunked(reader, name, 1 << 20, sink)
    }

    /// [`Bpe::encode_stream`] reading `chunk` bytes at a time (tests use tiny chunks to exercise
    /// every cut).
    pub fn encode_stream_chunked<R: Read>(
        &self,
        reader: &mut R,
        name: &str,
        chunk: usize,
        mut sink: impl FnMut(&[u32]),
    ) -> Result<(), TokenizeError> {
        const CHUNK_MIN: usize = 16;
        let chunk = chunk.max(CHUNK_MIN);
        let margin = self.specials.tokens().iter().map(String::len).max().unwrap_or(0);
        let mut pending: Vec<u8> = Vec::new();
        let mut offset: u64 = 0; // file offset of pending[0]
        let mut eof = false;
        let mut ids = Vec::new();
        while !eof || !pending.is_empty() {
            if !eof {
                let mut buf = vec![0u8; chunk];
                let got = reader
                    .read(&mut buf)
                    .map_err(|e| TokenizeError::Io { file: name.into(), message: e.to_string() })?;
                eof = got == 0;
                pending.extend_from_slice(&buf[..got]);
                if !eof && pending.len() < chunk {
                    continue;
                }
            }
            let valid = match std::str::from_utf8(&pending) {
                Ok(s) => s.len(),
                // An incomplete character at the end waits for the next read; anything else is invalid.
                Err(e) if e.error_len().is_none() && !eof => e.valid_up_to(),
                Err(e) => {
                    return Err(TokenizeError::InvalidUtf8 {
                        file: name.into(),
                        offset: offset + e.valid_up_to() as u64,
                    })
                }
            };
            let text = std::str::from_utf8(&pending[..valid]).expect("validated");
            let cut = if eof && valid == pending.len() {
                text.len()
            } else {
                self.cut_point(text, text.len().saturating_sub(margin)).unwrap_or(0)
            };
            if cut == 0 {
                if eof {
                    break;
                }
                continue; // no safe cut yet: read more
            }
            ids.clear();
            let mut cache = FxHashMap::default();
            self.encode_into(&text[..cut], &mut ids, &mut cache);
            sink(&ids);
            pending.drain(..cut);
            offset += cut as u64;
        }
        Ok(())
    }

    /// A cut at or before `limit` that changes no token: the later of the last special token's end
    /// and the last safe pre-token boundary, moved back to the start of any special token it splits.
    fn cut_point(&self, text: &str, limit: usize) -> Option<usize> {
        let by_special = self.specials.last_end_before(text, limit);
        let by_space = safe_cut(text, limit);
        let mut cut = by_special.max(by_space)?;
        for piece_start in self.special_spans(text) {
            if piece_start.0 < cut && cut < piece_start.1 {
                cut = piece_start.0;
            }
        }
        (cut > 0).then_some(cut)
    }

    fn special_spans(&self, text: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        let mut pos = 0;
        for piece in self.specials.split(text) {
            let len = match piece {
                Piece::Text(t) => t.len(),
                Piece::Special(i) => {
                    let len = self.specials.tokens()[i].len();
                    spans.push((pos, pos + len));
                    len
                }
            };
            pos += len;
        }
        spans
    }
}

impl Tokenizer for Bpe {
    fn name(&self) -> &str {
        "bpe"
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        self.encode_text(text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        decode_bytes(self, ids)
    }
    fn vocab_size(&self) -> usize {
        self.vocab.len()
    }
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        self.vocab.get(id as usize).cloned()
    }
    fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        self.ids.get(bytes).copied().or_else(|| {
            let s = std::str::from_utf8(bytes).ok()?;
            self.special_tokens().into_iter().find(|(t, _)| t == s).map(|(_, id)| id)
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A small model whose merges chain ("ab", "abc", "aa", "aaa"…) so long inputs merge a lot.
    fn model() -> Bpe {
        let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let merges: Vec<(Vec<u8>, Vec<u8>)> =
            [("a", "b"), ("a", "a"), ("ab", "c"), ("aa", "a"), ("b", "c"), ("c", "ab"), ("aa", "aa"), ("cab", "c")]
                .iter()
                .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
                .collect();
        for (a, b) in &merges {
            vocab.push([a.as_slice(), b.as_slice()].concat());
        }
        Bpe::new(vocab, &merges, &[]).unwrap()
    }

    proptest! {
        /// The heap path (long pre-tokens) gives exactly what the scanning path gives.
        #[test]
        fn heap_merging_equals_scanning(word in "[abc]{1,300}") {
            let m = model();
            let mut heap = Vec::new();
            m.merge_with_heap(word.as_bytes(), &mut heap);
            let mut parts: Vec<u32> = word.bytes().map(|b| m.byte_ids[b as usize]).collect();
            while let Some((_, i, merged)) = parts.windows(2).enumerate()
                .filter_map(|(i, w)| m.ranks.get(&(w[0], w[1])).map(|&(r, n)| (r, i, n))).min() {
                parts[i] = merged;
                parts.remove(i + 1);
            }
            prop_assert_eq!(heap, parts);
        }

        /// decode(encode(s)) == s for any text with special tokens mixed in.
        #[test]
        fn round_trip_with_specials(pieces in proptest::collection::vec(("\\PC{0,12}", 0usize..3), 0..12)) {
            let specials = vec!["<|endoftext|>".to_string(), "<|pad|>".to_string()];
            let m = Bpe::new(model().vocab().to_vec(), &model().merges(), &specials).unwrap();
            let text: String = pieces.iter().map(|(t, k)| format!("{t}{}", ["", "<|endoftext|>", "<|pad|>"][*k])).collect();
            let ids = m.encode_text(&text);
            prop_assert_eq!(m.decode(&ids).unwrap(), text.clone());
            let n_specials = pieces.iter().filter(|(_, k)| *k > 0).count();
            prop_assert!(ids.iter().filter(|&&i| m.is_special(i)).count() >= n_specials);
        }
    }
}
