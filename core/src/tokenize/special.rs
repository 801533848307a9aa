//! Special tokens (`<|endoftext|>`) split text before anything else: they are never pre-tokenized,
//! merged or counted. Where specials overlap, the longest wins (`<|endoftext|><|endoftext|>` over
//! `<|endoftext|>`), found leftmost-first in one pass.

use aho_corasick::{AhoCorasick, MatchKind};

/// A piece of text: ordinary text, or the special token with this index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Special(usize),
}

/// The special tokens of a tokenizer and a matcher for them.
#[derive(Debug, Clone, Default)]
pub struct SpecialTokens {
    tokens: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl SpecialTokens {
    /// Empty strings are ignored; duplicates keep their first position.
    pub fn new(tokens: &[String]) -> Self {
        let mut unique: Vec<String> = Vec::new();
        for t in tokens {
            if !t.is_empty() && !unique.contains(t) {
                unique.push(t.clone());
            }
        }
        let matcher = if unique.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&unique)
                    .expect("special tokens form a valid automaton"),
            )
        };
        Self { tokens: unique, matcher }
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Splits `text` into ordinary pieces and special tokens, in order.
    pub fn split<'a>(&self, text: &'a str) -> Vec<Piece<'a>> {
        let mut out = Vec::new();
        let Some(m) = &self.matcher else {
            if !text.is_empty() {
                out.push(Piece::Text(text));
            }
            return out;
        };
        let mut last = 0;
        for found in m.find_iter(text) {
            if found.start() > last {
                out.push(Piece::Text(&text[last..found.start()]));
            }
            out.push(Piece::Special(found.pattern().as_usize()));
            last = found.end();
        }
        if last < text.len() {
            out.push(Piece::Text(&text[last..]));
        }
        out
    }

    /// End of the last special token that ends at or before `limit`, if any (a safe place to cut a
    /// stream: specials are hard boundaries).
    pub fn last_end_before(&self, text: &str, limit: usize) -> Option<usize> {
        let m = self.matcher.as_ref()?;
        m.find_iter(text).map(|f| f.end()).take_while(|&e| e <= limit).last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_special_wins() {
        let s = SpecialTokens::new(&["<|endoftext|>".into(), "<|endoftext|><|endoftext|>".into()]);
        let pieces = s.split("a<|endoftext|><|endoftext|>b<|endoftext|>");
        assert_eq!(pieces, [Piece::Text("a"), Piece::Special(1), Piece::Text("b"), Piece::Special(0)]);
        assert_eq!(SpecialTokens::new(&[]).split("x"), [Piece::Text("x")]);
    }
}
