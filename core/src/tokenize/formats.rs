//! Tokenizer files, both directions: GPT-2 `vocab.json` + `merges.txt`, HF `tokenizer.json`, and
//! tiktoken's base64-rank format. Text in, text out — the CLI does the file I/O, so the page can
//! offer the same files as downloads. Errors name the file and the line (or token) at fault.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::bpe::Bpe;
use super::TokenizeError;

/// GPT-2's byte → printable character table: printable Latin-1 bytes map to themselves, the other
/// 68 bytes to U+0100 onwards, so every token can be written as a visible string.
pub fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0u32;
    for b in 0..=255u32 {
        let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).expect("Latin-1")
        } else {
            next += 1;
            char::from_u32(255 + next).expect("U+0100…")
        };
    }
    table
}

/// Token bytes → GPT-2 string form.
pub fn to_gpt2_string(bytes: &[u8]) -> String {
    let table = bytes_to_unicode();
    bytes.iter().map(|&b| table[b as usize]).collect()
}

/// GPT-2 string form → token bytes (`None` if a character is not in the table).
pub fn from_gpt2_string(s: &str) -> Option<Vec<u8>> {
    let table = bytes_to_unicode();
    s.chars().map(|c| table.iter().position(|&t| t == c).map(|b| b as u8)).collect()
}

fn malformed(file: &str, line: usize, message: impl Into<String>) -> TokenizeError {
    TokenizeError::Malformed { file: file.into(), line, message: message.into() }
}

fn json_error(file: &str, e: serde_json::Error) -> TokenizeError {
    malformed(file, e.line(), format!("not valid JSON: {e}"))
}

/// Reads GPT-2 files. `vocab_json` maps token strings to ids; `merges_txt` has one merge `a b` per
/// line (an optional `#version` first line is skipped). Special tokens found in the vocabulary keep
/// their ids; others are appended.
pub fn read_gpt2(
    vocab_name: &str,
    vocab_json: &str,
    merges_name: &str,
    merges_txt: &str,
    special_tokens: &[String],
) -> Result<Bpe, TokenizeError> {
    let map: Map<String, Value> = serde_json::from_str(vocab_json).map_err(|e| json_error(vocab_name, e))?;
    let mut by_id: Vec<Option<Vec<u8>>> = vec![None; map.len()];
    for (token, id) in &map {
        let id = id.as_u64().filter(|&i| (i as usize) < map.len()).ok_or_else(|| {
            malformed(
                vocab_name,
                0,
                format!("token {token:?} has id {id}, expected a whole number below {}", map.len()),
            )
        })? as usize;
        let bytes = match from_gpt2_string(token) {
            Some(b) => b,
            // Special tokens are stored as their literal text.
            None if special_tokens.iter().any(|s| s == token) || token.starts_with("<|") => token.as_bytes().to_vec(),
            None => {
                return Err(malformed(
                    vocab_name,
                    0,
                    format!("token {token:?} has a character outside GPT-2's byte table"),
                ))
            }
        };
        if by_id[id].replace(bytes).is_some() {
            return Err(malformed(vocab_name, 0, format!("id {id} is used twice")));
        }
    }
    let vocab: Vec<Vec<u8>> = by_id.into_iter().map(|b| b.expect("ids are 0..n, each once")).collect();
    let mut merges = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in merges_txt.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || (i == 0 && line.starts_with("#version")) {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed(
                merges_name,
                line_no,
                format!("expected two tokens separated by one space, got {line:?}"),
            ));
        };
        let decode = |t: &str| {
            from_gpt2_string(t).ok_or_else(|| {
                malformed(merges_name, line_no, format!("token {t:?} has a character outside GPT-2's byte table"))
            })
        };
        merges.push((decode(a)?, decode(b)?));
        lines.push(line_no);
    }
    Bpe::new(vocab, &merges, special_tokens).map_err(|e| match e {
        TokenizeError::Malformed { file, line, message } if file == "merges" => {
            malformed(merges_name, lines[line - 1], message)
        }
        TokenizeError::Malformed { file, message, .. } if file == "vocab" => malformed(vocab_name, 0, message),
        other => other,
    })
}

/// Writes GPT-2 files: (`vocab.json`, `merges.txt`).
pub fn write_gpt2(bpe: &Bpe) -> (String, String) {
    let specials: Vec<u32> = bpe.special_tokens().iter().map(|(_, id)| *id).collect();
    let mut vocab = Map::new();
    for (id, bytes) in bpe.vocab().iter().enumerate() {
        let key = if specials.contains(&(id as u32)) {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            to_gpt2_string(bytes)
        };
        vocab.insert(key, json!(id));
    }
    let mut merges = String::from("#version: 0.2\n");
    for (a, b) in bpe.merges() {
        merges.push_str(&to_gpt2_string(&a));
        merges.push(' ');
        merges.push_str(&to_gpt2_string(&b));
        merges.push('\n');
    }
    (serde_json::to_string(&Value::Object(vocab)).expect("JSON"), merges)
}

/// Writes an HF `tokenizer.json`: a BPE model with GPT-2's byte-level pre-tokenizer and decoder,
/// which `tokenizers.Tokenizer.from_file` loads and encodes identically.
pub fn write_hf(bpe: &Bpe) -> String {
    let (vocab, _) = write_gpt2(bpe);
    let vocab: Value = serde_json::from_str(&vocab).expect("our own JSON");
    let merges: Vec<Value> = bpe.merges().iter().map(|(a, b)| json!([to_gpt2_string(a), to_gpt2_string(b)])).collect();
    let added: Vec<Value> = bpe
        .special_tokens()
        .iter()
        .map(|(s, id)| json!({"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    let doc = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges
        }
    });
    serde_json::to_string_pretty(&doc).expect("JSON")
}

/// Reads an HF `tokenizer.json` with a byte-level BPE model (merges as `"a b"` strings or pairs).
pub fn read_hf(name: &str, text: &str) -> Result<Bpe, TokenizeError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(name, e))?;
    let model = &doc["model"];
    if model["type"] != "BPE" {
        return Err(malformed(name, 0, format!("model.type is {}, expected \"BPE\"", model["type"])));
    }
    let vocab = serde_json::to_string(&model["vocab"]).expect("JSON");
    let merges: Vec<String> = model["merges"]
        .as_array()
        .ok_or_else(|| malformed(name, 0, "model.merges is missing or not a list"))?
        .iter()
        .enumerate()
        .map(|(i, m)| match m {
            Value::String(s) => Ok(s.clone()),
            Value::Array(p) if p.len() == 2 && p.iter().all(Value::is_string) => {
                Ok(format!("{} {}", p[0].as_str().unwrap_or(""), p[1].as_str().unwrap_or("")))
            }
            other => {
                Err(malformed(name, 0, format!("model.merges[{i}] is {other}, expected \"a b\" or [\"a\", \"b\"]")))
            }
        })
        .collect::<Result<_, _>>()?;
    let specials: Vec<String> = doc["added_tokens"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["content"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    read_gpt2(name, &vocab, name, &merges.join("\n"), &specials)
}

/// Writes tiktoken's format: one `base64(token bytes) rank` line per ordinary token, rank = id.
/// (Special tokens are not part of this format; tiktoken takes them as a separate dict.)
pub fn write_tiktoken(bpe: &Bpe) -> String {
    let mut out = String::new();
    for (id, bytes) in bpe.vocab().iter().enumerate() {
        if bpe.is_special(id as u32) {
            continue;
        }
        out.push_str(&BASE64.encode(bytes));
        out.push(' ');
        out.push_str(&id.to_string());
        out.push('\n');
    }
    out
}

/// Reads tiktoken's format; special tokens get ids after the largest rank, in the order given.
pub fn read_tiktoken(name: &str, text: &str, special_tokens: &[String]) -> Result<Bpe, TokenizeError> {
    let mut tokens: Vec<Option<Vec<u8>>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (b64, rank) = line
            .split_once(' ')
            .ok_or_else(|| malformed(name, i + 1, format!("expected `base64 rank`, got {line:?}")))?;
        let bytes = BASE64.decode(b64).map_err(|e| malformed(name, i + 1, format!("bad base64 {b64:?}: {e}")))?;
        let rank: usize = rank.trim().parse().map_err(|_| malformed(name, i + 1, format!("bad rank {rank:?}")))?;
        if tokens.len() <= rank {
            tokens.resize(rank + 1, None);
        }
        if tokens[rank].replace(bytes).is_some() {
            return Err(malformed(name, i + 1, format!("rank {rank} appears twice")));
        }
    }
    let n = tokens.len();
    let tokens: Vec<Vec<u8>> = tokens
        .into_iter()
        .enumerate()
        .map(|(r, t)| t.ok_or_else(|| malformed(name, 0, format!("rank {r} is missing (ranks must be 0..{n})"))))
        .collect::<Result<_, _>>()?;
    let specials: Vec<(String, u32)> =
        special_tokens.iter().enumerate().map(|(i, s)| (s.clone(), (n + i) as u32)).collect();
    Bpe::from_ranks(tokens, &specials).map_err(|e| match e {
        TokenizeError::Malformed { message, .. } => malformed(name, 0, message),
        other => other,
    })
}
