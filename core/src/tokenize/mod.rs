//! # Tokenizers (lecture 1: "Tokenization")
//!
//! Four tokenizers behind one small trait, from the lecture: characters (Unicode code points),
//! bytes (UTF-8), words (`\w+|.` with a capped vocabulary and `[UNK]`), and byte-level BPE with
//! GPT-2's pre-tokenizer and special tokens. BPE comes with CS336-exact training and the three
//! file formats people exchange (GPT-2 `vocab.json` + `merges.txt`, HF `tokenizer.json`,
//! tiktoken's base64 ranks), plus the `.bin` token files training reads.
//!
//! The stages live in separate files so a page can show each one: [`pretokenize`] → [`bpe`]
//! (the model and its encoder) ← [`train`] (the trainer) ↔ [`formats`] (files); [`slicing`] cuts long texts
//! where no tokenizer's output changes, for encoding a slice at a time.

pub mod bpe;
pub mod formats;
pub mod pretokenize;
pub mod simple;
pub mod slicing;
pub mod special;
pub mod token_file;
pub mod train;
pub mod word;

pub use bpe::Bpe;
pub use simple::{ByteTokenizer, CharTokenizer};
pub use word::WordTokenizer;

use thiserror::Error;

use crate::exercise::{Exercise, Tolerance};

/// The special token every lab tokenizer carries: documents are separated by it, an empty prompt
/// starts from it, and sampling stops at it.
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// One token as people read it: its text when its bytes are valid UTF-8 on their own, else each
/// byte as `<0xE4>` (a piece of a multi-byte character, such as one third of "世"). The CLI's
/// `tokenize`, `route` and `sample --json`, and the page's samples and router map all show tokens
/// this way.
pub fn display_token<T: Tokenizer + ?Sized>(tokenizer: &T, id: u32) -> String {
    match tokenizer.token_bytes(id) {
        None => format!("<unknown id {id}>"),
        Some(bytes) => {
            String::from_utf8(bytes).unwrap_or_else(|e| e.into_bytes().iter().map(|b| format!("<0x{b:02X}>")).collect())
        }
    }
}

/// Text as a page may print it: line breaks and tabs kept, every other control character shown as
/// its Unicode control picture (U+0000–U+001F → ␀…␟, DEL → ␡) and C1 controls as `<U+0085>`. A
/// model sampling bytes early in training emits such characters; printed raw they vanish or
/// garble the page.
pub fn visible_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).expect("a control picture").to_string(),
            '\u{7f}' => '\u{2421}'.to_string(),
            '\u{80}'..='\u{9f}' => format!("<U+{:04X}>", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// "Predict, then check" questions of the tokenizer lab; every answer is computed here.
pub fn exercises() -> Vec<Exercise> {
    let specials = ["<|endoftext|>".to_string()];
    vec![
        Exercise::new(
            "bytes-of-shijie",
            "How many byte tokens does \"世界\" take?",
            ByteTokenizer.encode("世界").len() as f64,
            Tolerance::Absolute(0.0),
            "tokens",
            "Each of these two characters is 3 bytes in UTF-8, so the byte tokenizer needs 6 tokens — 3× the \
             character tokenizer. Byte-level BPE learns merges to win that back.",
        ),
        Exercise::new(
            "char-vocab",
            "How large is the vocabulary of the character (Unicode code point) tokenizer?",
            CharTokenizer.vocab_size() as f64,
            Tolerance::Relative(0.01),
            "ids",
            "Unicode has 0x110000 = 1,114,112 code points: a huge embedding table, mostly for characters that \
             almost never appear.",
        ),
        Exercise::new(
            "merges-for-500",
            "BPE with vocab_size 500 and the special token <|endoftext|>: how many merges does training make?",
            train::merges_for(500, &specials).map(|n| n as f64).unwrap_or(f64::NAN),
            Tolerance::Absolute(0.0),
            "merges",
            "vocab_size counts the 256 byte tokens and the special token too: 500 − 256 − 1 = 243, exactly the \
             CS336 reference run.",
        ),
        Exercise::new(
            "pretokens-ill-go",
            "Into how many pre-tokens does GPT-2's pattern split \"I'll go home\"?",
            pretokenize::pretokenize("I'll go home").count() as f64,
            Tolerance::Absolute(0.0),
            "pre-tokens",
            "\"I\", \"'ll\", \" go\", \" home\": contractions are split off, and a space sticks to the word after it.",
        ),
    ]
}

/// Everything that can go wrong reading, training or using a tokenizer. Messages name the file,
/// line, offset or id involved.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TokenizeError {
    #[error("unknown token id {id} (vocabulary size {vocab_size})")]
    UnknownId { id: u32, vocab_size: usize },
    #[error("{file}:{line}: {message}")]
    Malformed { file: String, line: usize, message: String },
    #[error("{file}: invalid UTF-8 at byte offset {offset} (pass --lossy to replace invalid bytes with U+FFFD)")]
    InvalidUtf8 { file: String, offset: u64 },
    #[error("vocabulary size {vocab_size} is too small: it must be at least {minimum} (256 bytes + {specials} special tokens)")]
    VocabTooSmall { vocab_size: usize, minimum: usize, specials: usize },
    #[error("{0}: the training text is empty")]
    EmptyCorpus(String),
    #[error("{file}: {message}")]
    Io { file: String, message: String },
}

/// What every tokenizer of the lab can do.
pub trait Tokenizer {
    /// A short name for tables (`char`, `byte`, `word`, `bpe`).
    fn name(&self) -> &str;
    /// Text → token ids.
    fn encode(&self, text: &str) -> Vec<u32>;
    /// Token ids → text. Bytes that are not valid UTF-8 become U+FFFD; unknown ids are an error.
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError>;
    /// Number of ids (the largest id + 1).
    fn vocab_size(&self) -> usize;
    /// The bytes a token stands for (`None` for an unknown id).
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>>;
    /// The id of a token given its bytes, if it is one.
    fn token_id(&self, bytes: &[u8]) -> Option<u32>;
}

/// Joins token bytes and decodes them, mapping invalid UTF-8 to U+FFFD.
pub(crate) fn decode_bytes<T: Tokenizer + ?Sized>(t: &T, ids: &[u32]) -> Result<String, TokenizeError> {
    let mut bytes = Vec::with_capacity(ids.len() * 4);
    for &id in ids {
        let b = t.token_bytes(id).ok_or(TokenizeError::UnknownId { id, vocab_size: t.vocab_size() })?;
        bytes.extend_from_slice(&b);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_as_their_pictures() {
        // U+2400 + code for C0 controls (Unicode's "Control Pictures" block), U+2421 for DEL.
        assert_eq!(super::visible_controls("a\u{0}b\u{1b}[0m\u{7f}"), "a\u{2400}b\u{241b}[0m\u{2421}");
        assert_eq!(super::visible_controls("line\r\nnext\ttab"), "line\u{240d}\nnext\ttab");
        assert_eq!(super::visible_controls("x\u{85}y — 世界"), "x<U+0085>y — 世界");
    }
}
