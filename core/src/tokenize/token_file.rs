//! Token files for training: a raw little-endian array of ids (`u16` when the vocabulary has at
//! most 65,536 ids, else `u32`) — `np.memmap(path, dtype=np.uint16)` reads it — and a sidecar
//! `<file>.json` that names the dtype, count and tokenizer.

use serde::{Deserialize, Serialize};

use super::TokenizeError;

/// The sidecar of a `.bin` token file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenFileInfo {
    /// `"uint16"` or `"uint32"`.
    pub dtype: String,
    pub count: u64,
    pub vocab_size: u64,
    /// Where the tokenizer came from (a directory, or a name such as `gpt2`).
    pub tokenizer: String,
}

/// Bytes per id for a vocabulary size.
pub fn id_width(vocab_size: usize) -> usize {
    if vocab_size <= 1 << 16 {
        2
    } else {
        4
    }
}

/// Serializes ids (checked against the vocabulary size) into the `.bin` bytes and its sidecar.
pub fn encode_ids(ids: &[u32], vocab_size: usize, tokenizer: &str) -> Result<(Vec<u8>, TokenFileInfo), TokenizeError> {
    let width = id_width(vocab_size);
    let mut bytes = Vec::with_capacity(ids.len() * width);
    for &id in ids {
        if id as usize >= vocab_size {
            return Err(TokenizeError::UnknownId { id, vocab_size });
        }
        if width == 2 {
            bytes.extend_from_slice(&(id as u16).to_le_bytes());
        } else {
            bytes.extend_from_slice(&id.to_le_bytes());
        }
    }
    let info = TokenFileInfo {
        dtype: if width == 2 { "uint16" } else { "uint32" }.into(),
        count: ids.len() as u64,
        vocab_size: vocab_size as u64,
        tokenizer: tokenizer.into(),
    };
    Ok((bytes, info))
}

/// Reads a `.bin` file's ids given its sidecar.
pub fn decode_ids(name: &str, bytes: &[u8], info: &TokenFileInfo) -> Result<Vec<u32>, TokenizeError> {
    let width = match info.dtype.as_str() {
        "uint16" => 2,
        "uint32" => 4,
        other => {
            return Err(TokenizeError::Malformed {
                file: format!("{name}.json"),
                line: 0,
                message: format!("dtype {other:?}, expected \"uint16\" or \"uint32\""),
            })
        }
    };
    if bytes.len() % width != 0 || (bytes.len() / width) as u64 != info.count {
        return Err(TokenizeError::Malformed {
            file: name.into(),
            line: 0,
            message: format!("{} bytes is not {} ids of {} bytes, as its sidecar says", bytes.len(), info.count, width),
        });
    }
    Ok(bytes
        .chunks_exact(width)
        .map(|c| {
            if width == 2 {
                u32::from(u16::from_le_bytes([c[0], c[1]]))
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            }
        })
        .collect())
}
