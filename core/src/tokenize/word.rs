//! Word tokenization: the lecture's `\w+|.` split with a vocabulary learned from a corpus.
//!
//! Every run of word characters (letters, digits, marks, `_`) is one token and every other
//! character (spaces and punctuation included) is its own token, so decoding is lossless for known
//! words. The vocabulary keeps the `max_vocab` most frequent tokens (ties in first-seen order) plus
//! `[UNK]` (id 0), which every unseen word becomes — "HelloWorld123" in a corpus without it.

use std::collections::HashMap;

use unicode_general_category::{get_general_category, GeneralCategory};

use super::{TokenizeError, Tokenizer};

/// The id of `[UNK]`.
pub const UNK_ID: u32 = 0;
pub const UNK: &str = "[UNK]";

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    c.is_alphanumeric()
        || matches!(
            get_general_category(c),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::ConnectorPunctuation
        )
}

/// Splits text into `\w+` runs and single other characters.
pub fn split_words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let len = if is_word_char(first) {
            rest.chars().take_while(|&c| is_word_char(c)).map(char::len_utf8).sum()
        } else {
            first.len_utf8()
        };
        let (token, tail) = rest.split_at(len);
        rest = tail;
        Some(token)
    })
}

/// A word-level tokenizer with a capped vocabulary.
#[derive(Debug, Clone)]
pub struct WordTokenizer {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

impl WordTokenizer {
    /// Learns the `max_vocab` most frequent tokens of `corpus` (plus `[UNK]`).
    pub fn train(corpus: &str, max_vocab: usize) -> Self {
        let mut counts: HashMap<&str, (u64, usize)> = HashMap::new();
        for (order, w) in split_words(corpus).enumerate() {
            counts.entry(w).or_insert((0, order)).0 += 1;
        }
        let mut ranked: Vec<(&str, u64, usize)> = counts.into_iter().map(|(w, (n, first))| (w, n, first)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
        let mut words = vec![UNK.to_string()];
        words.extend(ranked.into_iter().take(max_vocab.saturating_sub(1)).map(|(w, _, _)| w.to_string()));
        let ids = words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        Self { words, ids }
    }
}

impl Tokenizer for WordTokenizer {
    fn name(&self) -> &str {
        "word"
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        split_words(text).map(|w| self.ids.get(w).copied().unwrap_or(UNK_ID)).collect()
    }
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        ids.iter()
            .map(|&id| {
                self.words
                    .get(id as usize)
                    .map(String::as_str)
                    .ok_or(TokenizeError::UnknownId { id, vocab_size: self.words.len() })
            })
            .collect()
    }
    fn vocab_size(&self) -> usize {
        self.words.len()
    }
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        self.words.get(id as usize).map(|w| w.as_bytes().to_vec())
    }
    fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        std::str::from_utf8(bytes).ok().and_then(|w| self.ids.get(w).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_words_are_unknown() {
        let t = WordTokenizer::train("Hello, world! Hello again.", 100);
        let ids = t.encode("Hello, HelloWorld123!");
        assert_eq!(split_words("Hello, HelloWorld123!").collect::<Vec<_>>(), ["Hello", ",", " ", "HelloWorld123", "!"]);
        assert_eq!(ids[3], UNK_ID);
        assert_ne!(ids[0], UNK_ID);
        assert_eq!(t.decode(&t.encode("Hello, world!")).unwrap(), "Hello, world!");
        let small = WordTokenizer::train("a a a b b c", 3);
        assert_eq!(small.vocab_size(), 3);
        assert_eq!(small.encode("c"), [UNK_ID]);
    }
}
