//! The two tokenizers with no vocabulary to learn: characters and bytes.

use super::{decode_bytes, TokenizeError, Tokenizer};

/// One token per Unicode code point; the id is the code point. "世" → 19990.
/// Vocabulary: all 1,114,112 code points — huge and mostly unused, the lecture's point.
#[derive(Debug, Clone, Copy, Default)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    fn name(&self) -> &str {
        "char"
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().map(u32::from).collect()
    }
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        ids.iter()
            .map(|&id| char::from_u32(id).ok_or(TokenizeError::UnknownId { id, vocab_size: self.vocab_size() }))
            .collect()
    }
    fn vocab_size(&self) -> usize {
        0x11_0000
    }
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        char::from_u32(id).map(|c| c.to_string().into_bytes())
    }
    fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        let s = std::str::from_utf8(bytes).ok()?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(u32::from(c)),
            _ => None,
        }
    }
}

/// One token per UTF-8 byte: a vocabulary of 256, but long sequences ("世" is 3 tokens).
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteTokenizer;

impl Tokenizer for ByteTokenizer {
    fn name(&self) -> &str {
        "byte"
    }
    fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizeError> {
        decode_bytes(self, ids)
    }
    fn vocab_size(&self) -> usize {
        256
    }
    fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        u8::try_from(id).ok().map(|b| vec![b])
    }
    fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        match bytes {
            [b] => Some(u32::from(*b)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lecture's example.
    #[test]
    fn hello_world() {
        let text = "Hello, 世界!";
        assert_eq!(CharTokenizer.encode(text), [72, 101, 108, 108, 111, 44, 32, 19990, 30028, 33]);
        assert_eq!(ByteTokenizer.encode(text), [72, 101, 108, 108, 111, 44, 32, 228, 184, 150, 231, 149, 140, 33]);
        assert_eq!(CharTokenizer.decode(&CharTokenizer.encode(text)).unwrap(), text);
        assert_eq!(ByteTokenizer.decode(&ByteTokenizer.encode(text)).unwrap(), text);
        assert_eq!(ByteTokenizer.decode(&[228, 184]).unwrap(), "\u{FFFD}");
        assert!(matches!(CharTokenizer.decode(&[0xD800]), Err(TokenizeError::UnknownId { id: 0xD800, .. })));
        assert!(ByteTokenizer.decode(&[256]).is_err());
    }
}
