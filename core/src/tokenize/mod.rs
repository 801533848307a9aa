//! # Tokenizers (lecture 1: "Tokenization")
//!
//! Four tokenizers behind one small trait, from the lecture: characters (Unicode code points),
//! bytes (UTF-8), words (`\w+|.` with a capped vocabulary and `[UNK]`), and byte-level BPE with
//! GPT-2's pre-tokenizer and special tokens. BPE comes with CS336-exact training and the three
//! file formats people exchange (GPT-2 `vocab.json` + `merges.txt`, HF `tokenizer.json`,
//! tiktoken's base64 ranks), plus the `.bin` token files training reads.
//!
//! The stages live in separate files so a page can show each one: [`pretokenize`] → [`bpe`]
//! (the model and its encoder) ← [`train`] (the trainer) ↔ [`formats`] (files).

pub mod bpe;
pub mod formats;
pub mod pretokenize;
pub mod simple;
pub mod special;
pub mod token_file;
pub mod train;
pub mod word;

pub use bpe::Bpe;
pub use simple::{ByteTokenizer, CharTokenizer};
pub use word::WordTokenizer;

use thiserror::Error;

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
