//! GPT-2 pre-tokenization, written out by hand.
//!
//! GPT-2 (and CS336, tiktoken's `gpt2`, HF's ByteLevel pre-tokenizer) split text with
//!
//! ```text
//! '(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! # Why by hand
//! The lookahead `(?!\S)` needs a backtracking engine (fancy-regex), and the regex is most of the
//! cost of encoding. Every character falls in exactly one of four classes (letter, number,
//! whitespace, other), so the pattern is a tiny state machine: an optional leading space, then a
//! run of one class; whitespace runs give back their last character when a non-space follows.
//! The scanner only looks forward, never back, which is also what makes it safe to cut a stream
//! at any (non-space → space) transition (see [`safe_cut`]). The equivalence with the regex is
//! property-tested against fancy-regex below.

use unicode_general_category::{get_general_category, GeneralCategory};

/// The pattern, for documentation and for formats that store it (HF `tokenizer.json`).
pub const GPT2_PATTERN: &str = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_ascii() {
        return match c {
            'a'..='z' | 'A'..='Z' => Class::Letter,
            '0'..='9' => Class::Number,
            ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' => Class::Space,
            _ => Class::Other,
        };
    }
    if c.is_whitespace() {
        return Class::Space;
    }
    if c.is_numeric() {
        return Class::Number; // Nd, Nl, No = \p{N}
    }
    match get_general_category(c) {
        GeneralCategory::UppercaseLetter
        | GeneralCategory::LowercaseLetter
        | GeneralCategory::TitlecaseLetter
        | GeneralCategory::ModifierLetter
        | GeneralCategory::OtherLetter => Class::Letter,
        _ => Class::Other,
    }
}

/// The pre-tokens of `text`, in order; they concatenate back to `text`.
pub fn pretokenize(text: &str) -> Pretokens<'_> {
    Pretokens { rest: text }
}

/// Iterator over pre-tokens (see [`pretokenize`]).
pub struct Pretokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pretokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let len = match_len(self.rest);
        let (token, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(token)
    }
}

/// Length in bytes of the pre-token at the start of `s` (non-empty).
fn match_len(s: &str) -> usize {
    let b = s.as_bytes();
    // '(?:[sdmt]|ll|ve|re)
    if b[0] == b'\'' && b.len() >= 2 {
        match (b[1], b.get(2)) {
            (b's' | b'd' | b'm' | b't', _) => return 2,
            (b'l', Some(b'l')) | (b'v', Some(b'e')) | (b'r', Some(b'e')) => return 3,
            _ => {}
        }
    }
    // ` ?X+` for X in letter, number, other.
    let start = usize::from(b[0] == b' ');
    if let Some(first) = s[start..].chars().next() {
        let k = class(first);
        if k != Class::Space {
            let run: usize = s[start..].chars().take_while(|&c| class(c) == k).map(char::len_utf8).sum();
            return start + run;
        }
    }
    // \s+(?!\S) | \s+
    let mut end = 0;
    let mut last_start = 0;
    for (i, c) in s.char_indices() {
        if class(c) != Class::Space {
            break;
        }
        last_start = i;
        end = i + c.len_utf8();
    }
    if end == s.len() || last_start == 0 {
        end // the run reaches the end of the text, or is a single whitespace character
    } else {
        last_start // leave the last whitespace to start the next pre-token (" word")
    }
}

/// The largest index `i ≤ limit` (a char boundary) such that pre-tokenizing `text[..i]` and
/// `text[i..]` separately gives the same pre-tokens as `text`: just after a non-space character
/// that is followed by a whitespace character. No pre-token contains such a transition, and the
/// scanner never looks back. `None` if there is none.
pub fn safe_cut(text: &str, limit: usize) -> Option<usize> {
    let mut limit = limit.min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let head = &text[..limit];
    let mut next_is_space = text[limit..].chars().next().is_some_and(|c| class(c) == Class::Space);
    for (i, c) in head.char_indices().rev() {
        let is_space = class(c) == Class::Space;
        if !is_space && next_is_space {
            return Some(i + c.len_utf8());
        }
        next_is_space = is_space;
    }
    None
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn by_regex(text: &str) -> Vec<String> {
        let re = fancy_regex::Regex::new(GPT2_PATTERN).unwrap();
        re.find_iter(text).map(|m| m.unwrap().as_str().to_string()).collect()
    }

    fn by_hand(text: &str) -> Vec<String> {
        pretokenize(text).map(str::to_string).collect()
    }

    #[test]
    fn examples() {
        assert_eq!(by_hand("Hello, how are you?"), ["Hello", ",", " how", " are", " you", "?"]);
        assert_eq!(by_hand("I'll   go\n\n"), ["I", "'ll", "  ", " go", "\n\n"]);
        assert_eq!(by_hand("\n\ntesting!"), ["\n", "\n", "testing", "!"]);
        assert_eq!(by_hand("x\n\n"), ["x", "\n\n"]);
        assert_eq!(by_hand("héllo 123 🙃!!"), by_regex("héllo 123 🙃!!"));
    }

    #[test]
    fn cut_points_preserve_pre_tokens() {
        let text = "The cat  sat.\n\nOn the   mat, 42 times!  ";
        for limit in 0..=text.len() {
            if let Some(cut) = safe_cut(text, limit) {
                let mut split = by_hand(&text[..cut]);
                split.extend(by_hand(&text[cut..]));
                assert_eq!(split, by_hand(text), "cut at {cut}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn matches_the_regex(text in "(['sdmtlvre ]|[a-zA-Z]|[0-9]|[ \t\n\r]|[.,!?'\"]|[é世界🙃ⅫÀ]|\u{a0}|\u{2003}|\u{3000}){0,40}") {
            prop_assert_eq!(by_hand(&text), by_regex(&text));
        }

        #[test]
        fn matches_the_regex_on_any_string(text in any::<String>()) {
            prop_assert_eq!(by_hand(&text), by_regex(&text));
        }
    }
}
