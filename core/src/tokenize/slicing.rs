//! Cutting a long text into slices that every lab tokenizer encodes to exactly the ids of the whole
//! text, so a page can encode megabytes a slice at a time and yield to the browser in between.
//!
//! # The rule: cut just after a non-whitespace character that is followed by whitespace
//! (and, when a special token itself contains whitespace, never inside one of its occurrences).
//! Why that is safe for each tokenizer of the lab:
//! * **char** and **byte**: every token is one code point or one byte, so any character boundary
//!   is safe.
//! * **word** (`\w+|.`): a cut only changes tokens when it splits a `\w+` run, i.e. when the
//!   characters on both sides are word characters. Whitespace is never a word character.
//! * **BPE / GPT-2**: special tokens are split off first, then GPT-2's pattern pre-tokenizes, and
//!   merges never cross a pre-token. No pre-token contains a non-space → space transition (every
//!   alternative is a run of one class, with at most a leading space), and the pre-tokenizer only
//!   looks forward, so the text before the cut and the text after it pre-tokenize to the same
//!   pieces as the whole (see [`super::pretokenize::safe_cut`]). A special token without
//!   whitespace cannot contain such a transition either, so the special-token split is unchanged;
//!   occurrences of a special that does contain whitespace are found once in the whole text and
//!   never cut.
//!
//! The tempting rule "after a newline" is **not** safe for GPT-2: in `"\n\nThe"` the pattern's
//! `\s+(?!\S)` gives `"\n"`, `"\n"`, `"The"`, but the slice `"\n\n"` alone ends the text and gives
//! one pre-token `"\n\n"`.

use super::pretokenize::safe_cut;
use super::special::{Piece, SpecialTokens};
use super::Tokenizer;

/// Whether GPT-2's pattern counts `c` as whitespace (`\s`: Unicode White_Space).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Iterator over the slices of [`encoding_slices`]; they concatenate back to the text.
pub struct EncodingSlices<'a> {
    text: &'a str,
    pos: usize,
    max_len: usize,
    /// Occurrences (start, end) of special tokens that contain whitespace, in order.
    no_cut: Vec<(usize, usize)>,
}

/// Cuts `text` into slices of at most about `max_len` bytes at places where no tokenizer of the
/// lab (char, byte, word, BPE with `specials`) changes a token (see the module doc). A slice is
/// longer than `max_len` only when the text has no such place within it (a megabyte without
/// whitespace); it then ends at the first safe place after `max_len`.
///
/// Cost: one scan backwards from each cut; when some special contains whitespace, also one
/// special-token pass over the whole text up front (never the case on the page, where specials
/// are whitespace-separated).
pub fn encoding_slices<'a>(text: &'a str, max_len: usize, specials: &[String]) -> EncodingSlices<'a> {
    let specials = SpecialTokens::new(specials);
    let mut no_cut = Vec::new();
    if specials.tokens().iter().any(|s| s.chars().any(is_space)) {
        let mut pos = 0;
        for piece in specials.split(text) {
            let len = match piece {
                Piece::Text(t) => t.len(),
                Piece::Special(i) => {
                    let token = &specials.tokens()[i];
                    if token.chars().any(is_space) {
                        no_cut.push((pos, pos + token.len()));
                    }
                    token.len()
                }
            };
            pos += len;
        }
    }
    EncodingSlices { text, pos: 0, max_len: max_len.max(1), no_cut }
}

impl EncodingSlices<'_> {
    /// The occurrence of a whitespace-containing special that `cut` falls strictly inside, if any.
    fn inside(&self, cut: usize) -> Option<(usize, usize)> {
        let i = self.no_cut.partition_point(|&(_, end)| end <= cut);
        self.no_cut.get(i).copied().filter(|&(start, _)| start < cut)
    }

    /// The last safe cut in `(pos, limit]`, if any.
    fn cut_before(&self, limit: usize) -> Option<usize> {
        let mut limit = limit;
        loop {
            let cut = self.pos + safe_cut(&self.text[self.pos..], limit - self.pos)?;
            match self.inside(cut) {
                None => return Some(cut),
                Some((start, _)) if start > self.pos => limit = start,
                Some(_) => return None,
            }
        }
    }

    /// The first safe cut after `from`, if any.
    fn cut_after(&self, from: usize) -> Option<usize> {
        let mut prev_space = true;
        for (i, c) in self.text[from..].char_indices() {
            let at = from + i;
            let space = is_space(c);
            if space && !prev_space && at > self.pos && self.inside(at).is_none() {
                return Some(at);
            }
            prev_space = space;
        }
        None
    }
}

impl<'a> Iterator for EncodingSlices<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.text.len() - self.pos;
        if rest == 0 {
            return None;
        }
        let end = if rest <= self.max_len {
            self.text.len()
        } else {
            let limit = self.pos + self.max_len;
            // cut_before has tried every place up to `limit`; cut_after goes on from there.
            let mut from = limit;
            while !self.text.is_char_boundary(from) {
                from -= 1;
            }
            self.cut_before(limit).or_else(|| self.cut_after(from.max(self.pos))).unwrap_or(self.text.len())
        };
        let slice = &self.text[self.pos..end];
        self.pos = end;
        Some(slice)
    }
}

/// Encodes `text` slice by slice (the page's way); equal to `tokenizer.encode(text)` when
/// `specials` holds the tokenizer's special tokens.
pub fn encode_in_slices(tokenizer: &dyn Tokenizer, text: &str, max_len: usize, specials: &[String]) -> Vec<u32> {
    encoding_slices(text, max_len, specials).flat_map(|s| tokenizer.encode(s)).collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::tokenize::formats::read_gpt2;
    use crate::tokenize::{Bpe, ByteTokenizer, CharTokenizer, WordTokenizer};

    const VOCAB: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_vocab.json");
    const MERGES: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_merges.txt");

    fn gpt2() -> &'static Bpe {
        static MODEL: OnceLock<Bpe> = OnceLock::new();
        MODEL.get_or_init(|| {
            read_gpt2("gpt2_vocab.json", VOCAB, "gpt2_merges.txt", MERGES, &["<|endoftext|>".to_string()]).unwrap()
        })
    }

    /// GPT-2's merges with two extra specials, one of them containing whitespace.
    fn gpt2_with_spaced_specials() -> &'static (Bpe, Vec<String>) {
        static MODEL: OnceLock<(Bpe, Vec<String>)> = OnceLock::new();
        MODEL.get_or_init(|| {
            let specials = vec!["<|endoftext|>".to_string(), "<|end of\ntext|>".to_string(), "<|a|>".to_string()];
            (read_gpt2("gpt2_vocab.json", VOCAB, "gpt2_merges.txt", MERGES, &specials).unwrap(), specials)
        })
    }

    fn word() -> &'static WordTokenizer {
        static MODEL: OnceLock<WordTokenizer> = OnceLock::new();
        MODEL.get_or_init(|| WordTokenizer::train("the cat sat on the mat, 42 times; héllo wörld 世界", 100))
    }

    /// Every tokenizer kind of the page, with the specials the slicer must respect.
    fn check_all(text: &str, max_len: usize) -> Result<(), TestCaseError> {
        let eot = vec!["<|endoftext|>".to_string()];
        let (spaced, spaced_specials) = gpt2_with_spaced_specials();
        let cases: [(&dyn Tokenizer, &[String]); 5] =
            [(&CharTokenizer, &[]), (&ByteTokenizer, &[]), (word(), &[]), (gpt2(), &eot), (spaced, spaced_specials)];
        for (t, specials) in cases {
            let slices: Vec<&str> = encoding_slices(text, max_len, specials).collect();
            prop_assert_eq!(slices.concat(), text);
            prop_assert!(slices.iter().all(|s| !s.is_empty()));
            prop_assert_eq!(
                encode_in_slices(t, text, max_len, specials),
                t.encode(text),
                "{} on {:?} with max_len {}",
                t.name(),
                text,
                max_len
            );
        }
        Ok(())
    }

    #[test]
    fn adversarial_texts() {
        let texts = [
            "\n\nThe end.\n\nTHE   START\r\n\r\n  x",
            "a \u{a0}b\u{3000}c\u{2003}\u{85}d \t\u{b}\u{c}e",
            "It's  they'll 've 're 'd\n'm 's' 't",
            "<|endoftext|> <|endoftext|>\n\n<|endoftext|>x <|end of\ntext|> y<|end of\ntext|><|a|> <|a|>z",
            "<|end of\ntext|<|end of\ntext|>> <|endof text|>",
            "世界 🙃 Ⅻ 123 4,5 ... !!! ",
            "                    ",
            "nowhitespaceatallinthisverylongwordthatgoesonandon",
        ];
        for text in texts {
            for max_len in 1..=text.len() + 1 {
                check_all(text, max_len).unwrap();
            }
        }
    }

    #[test]
    fn long_texts_are_cut_near_max_len() {
        let text = "The cat sat on the mat.\n\n".repeat(400);
        let slices: Vec<&str> = encoding_slices(&text, 1000, &[]).collect();
        assert!(slices.len() >= 10, "{}", slices.len());
        assert!(slices.iter().all(|s| s.len() <= 1000));
        // No safe place within max_len: the slice runs to the first one after it.
        let text = format!("{} tail", "x".repeat(5000));
        let slices: Vec<&str> = encoding_slices(&text, 1000, &[]).collect();
        assert_eq!(slices, [&text[..5000], " tail"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn slices_encode_like_the_whole_text(
            pieces in proptest::collection::vec(
                "(<\\|endoftext\\|>|<\\|end of\ntext\\|>|<\\|a\\|>|[ \t\n\r]|\r\n|\u{a0}|\u{3000}|'s|'ll|[a-zA-Z]{1,6}|[0-9]{1,4}|[.,!?'\"<|>]|[é世界🙃Ⅻ])", 0..60),
            max_len in 1usize..48,
        ) {
            check_all(&pieces.concat(), max_len)?;
        }

        #[test]
        fn slices_encode_like_the_whole_text_on_any_string(text in any::<String>(), max_len in 1usize..32) {
            check_all(&text, max_len)?;
        }
    }
}
