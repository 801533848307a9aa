//! `lmlab::tokenize` against CS336's published vectors (copied into tests/fixtures/cs336 with their
//! provenance): GPT-2 ids identical to tiktoken on every case, the BPE training reference (all 243
//! merges in order and the vocabulary), streaming, formats, and worst-case inputs.

use lmlab::tokenize::formats::{
    from_gpt2_string, read_gpt2, read_hf, read_tiktoken, write_gpt2, write_hf, write_tiktoken,
};
use lmlab::tokenize::train::train_bpe;
use lmlab::tokenize::{Bpe, Tokenizer};
use serde_json::Value;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

const VOCAB: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_vocab.json");
const MERGES: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_merges.txt");
const EXPECTED: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/expected_ids.json");
const CORPUS: &str = include_str!("../../../tests/fixtures/cs336/bpe/corpus.en");
const REFERENCE: &str = include_str!("../../../tests/fixtures/cs336/bpe/train-bpe-reference.bytes.json");

fn fixture(name: &str) -> &'static str {
    match name {
        "address.txt" => include_str!("../../../tests/fixtures/cs336/tokenizer/address.txt"),
        "german.txt" => include_str!("../../../tests/fixtures/cs336/tokenizer/german.txt"),
        "tinystories_sample.txt" => include_str!("../../../tests/fixtures/cs336/tokenizer/tinystories_sample.txt"),
        "special_token_trailing_newlines.txt" => {
            include_str!("../../../tests/fixtures/cs336/tokenizer/special_token_trailing_newlines.txt")
        }
        "special_token_double_newlines_non_whitespace.txt" => {
            include_str!("../../../tests/fixtures/cs336/tokenizer/special_token_double_newlines_non_whitespace.txt")
        }
        other => panic!("unknown fixture {other}"),
    }
}

fn gpt2(specials: &[String]) -> Bpe {
    read_gpt2("gpt2_vocab.json", VOCAB, "gpt2_merges.txt", MERGES, specials).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn gpt2_ids_match_tiktoken_on_every_case() {
    let expected: Value = serde_json::from_str(EXPECTED).unwrap();
    for (name, case) in expected["cases"].as_object().unwrap() {
        let text = match case.get("input") {
            Some(Value::String(s)) => s.as_str(),
            _ => fixture(case["input_file"].as_str().unwrap()),
        };
        let bpe = gpt2(&strings(&case["special_tokens"]));
        let ids = bpe.encode(text);
        let want: Vec<u32> = case["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(ids, want, "case {name}");
        assert_eq!(bpe.decode(&ids).unwrap(), text, "round trip of {name}");
        // Streaming in tiny chunks cuts in many places and must not change a single id.
        let mut streamed = Vec::new();
        bpe.encode_stream_chunked(&mut text.as_bytes(), name, 16, |c| streamed.extend_from_slice(c)).unwrap();
        assert_eq!(streamed, want, "streamed {name}");
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn ascii_string_tokens_and_invalid_utf8_decoding() {
    let bpe = gpt2(&["<|endoftext|>".into()]);
    let ids = bpe.encode("Hello, how are you?");
    let tokens: Vec<String> = ids.iter().map(|&i| String::from_utf8(bpe.token_bytes(i).unwrap()).unwrap()).collect();
    assert_eq!(tokens, ["Hello", ",", " how", " are", " you", "?"]);
    // The pieces of 🙃 are not valid UTF-8 alone.
    let emoji = bpe.encode("🙃");
    assert_eq!(emoji.len(), 3);
    assert_eq!(bpe.decode(&emoji[..1]).unwrap(), "\u{FFFD}");
    assert!(bpe.decode(&[60_000]).unwrap_err().to_string().contains("60000"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bpe_training_reproduces_the_cs336_reference() {
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    let hex =
        |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let want_merges: Vec<(Vec<u8>, Vec<u8>)> = reference["merges_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (hex(p[0].as_str().unwrap()), hex(p[1].as_str().unwrap())))
        .collect();
    let specials = vec!["<|endoftext|>".to_string()];
    let bpe = train_bpe(CORPUS, 500, &specials, &mut |_| {}).unwrap();
    assert_eq!(bpe.merges().len(), 243);
    for (i, (got, want)) in bpe.merges().iter().zip(&want_merges).enumerate() {
        assert_eq!(got, want, "merge {i}");
    }
    let mut got_vocab: Vec<Vec<u8>> = bpe.vocab().to_vec();
    let mut want_vocab: Vec<Vec<u8>> =
        reference["vocab_hex"].as_object().unwrap().values().map(|v| hex(v.as_str().unwrap())).collect();
    got_vocab.sort();
    want_vocab.sort();
    assert_eq!(bpe.vocab_size(), 500);
    assert_eq!(got_vocab, want_vocab);
    // No ordinary token contains the start of a special token.
    for (id, t) in bpe.vocab().iter().enumerate() {
        if !bpe.is_special(id as u32) {
            assert!(!t.windows(2).any(|w| w == b"<|"), "token {id} {:?}", String::from_utf8_lossy(t));
        }
    }
    // The reference files' GPT-2 string forms decode to the same merges.
    let merges_txt = include_str!("../../../tests/fixtures/cs336/bpe/train-bpe-reference-merges.txt");
    let first = merges_txt.lines().next().unwrap();
    let (a, b) = first.split_once(' ').unwrap();
    assert_eq!((from_gpt2_string(a).unwrap(), from_gpt2_string(b).unwrap()), want_merges[0]);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn formats_round_trip_with_identical_ids() {
    let specials = vec!["<|endoftext|>".to_string()];
    let trained = train_bpe(CORPUS, 400, &specials, &mut |_| {}).unwrap();
    let text = fixture("tinystories_sample.txt");
    let ids = trained.encode(text);
    let (vocab, merges) = write_gpt2(&trained);
    let back = read_gpt2("vocab.json", &vocab, "merges.txt", &merges, &specials).unwrap();
    assert_eq!(back.encode(text), ids);
    let hf = read_hf("tokenizer.json", &write_hf(&trained)).unwrap();
    assert_eq!(hf.encode(text), ids);
    let tk = read_tiktoken("bpe.tiktoken", &write_tiktoken(&trained), &specials).unwrap();
    assert_eq!(tk.encode(text), ids);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn malformed_files_name_the_file_and_line() {
    let err =
        read_gpt2("v.json", VOCAB, "m.txt", "#version: 0.2\nĠ t\nthis line has three\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("m.txt:3:"), "{err}");
    let err = read_gpt2("v.json", VOCAB, "m.txt", "Ġ t\nzzqq xx\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("m.txt:2:") && err.contains("zzqq"), "{err}");
    let err = read_gpt2("v.json", "{\"a\": 0,", "m.txt", "", &[]).unwrap_err().to_string();
    assert!(err.starts_with("v.json:"), "{err}");
    let err = read_tiktoken("x.tiktoken", "QQ== 0\n!!! 1\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("x.tiktoken:2:"), "{err}");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn long_runs_without_spaces_encode_and_round_trip() {
    // One pre-token of 1 MB: a quadratic merge loop would not finish.
    let bpe = gpt2(&[]);
    let text = "a".repeat(1 << 20);
    let ids = bpe.encode(&text);
    assert!(ids.len() <= text.len() / 4, "{} ids", ids.len());
    assert_eq!(bpe.decode(&ids).unwrap(), text);
    let mixed: String = (0..(1 << 20) / 8).map(|i| ["abc", "xyz", "QRS", "éé"][i % 4]).collect();
    assert_eq!(bpe.decode(&bpe.encode(&mixed)).unwrap(), mixed);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn gpt2_with_specials() -> &'static Bpe {
        static MODEL: OnceLock<Bpe> = OnceLock::new();
        MODEL.get_or_init(|| gpt2(&["<|endoftext|>".into(), "<|endoftext|><|endoftext|>".into()]))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// decode(encode(s)) == s for arbitrary text with special tokens mixed in, and each special
        /// token that was inserted comes out as one id.
        #[test]
        fn gpt2_round_trips_any_text_with_specials(pieces in proptest::collection::vec(("\\PC{0,20}", 0usize..3), 0..10)) {
            let bpe = gpt2_with_specials();
            let text: String = pieces.iter().map(|(t, k)| format!("{t}{}", ["", "<|endoftext|>", " "][*k])).collect();
            let ids = bpe.encode(&text);
            prop_assert_eq!(bpe.decode(&ids).unwrap(), text.clone());
            // Leftmost-longest special matches, counted by a plain scan.
            let (single, double) = ("<|endoftext|>", "<|endoftext|><|endoftext|>");
            let (mut rest, mut expected) = (text.as_str(), 0);
            while let Some(c) = rest.chars().next() {
                let skip = if rest.starts_with(double) { double.len() } else if rest.starts_with(single) { single.len() } else { 0 };
                expected += usize::from(skip > 0);
                rest = &rest[if skip > 0 { skip } else { c.len_utf8() }..];
            }
            prop_assert_eq!(ids.iter().filter(|&&i| bpe.is_special(i)).count(), expected);
            let mut streamed = Vec::new();
            bpe.encode_stream_chunked(&mut text.as_bytes(), "prop", 16, |c| streamed.extend_from_slice(c)).unwrap();
            prop_assert_eq!(streamed, ids);
        }
    }
}
