//! `lmlab tokenize`, `lmlab bpe train`, `lmlab encode`, `lmlab decode`: the tokenizer lab.

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use lmlab::tokenize::formats::{read_gpt2, read_hf, read_tiktoken, write_gpt2, write_hf, write_tiktoken};
use lmlab::tokenize::token_file::{decode_ids, encode_ids, TokenFileInfo};
use lmlab::tokenize::train::{count_file, train_from_counts, TrainEvent};
use lmlab::tokenize::{
    display_token, Bpe, ByteTokenizer, CharTokenizer, TokenizeError, Tokenizer, WordTokenizer, END_OF_TEXT,
};
use lmlab::units::parse_count;
use lmlab::InputError;
use serde_json::json;

use crate::cli::{BenchTokenizeArgs, BpeSource, DecodeArgs, EncodeArgs, TokenizeArgs, TrainArgs};
use crate::report::print_json;
use crate::CliResult;

/// The GPT-2 files bundled into the binary (OpenAI's `encoder.json` / `vocab.bpe`, via CS336's
/// fixtures; see tests/fixtures/cs336/README.md).
const GPT2_VOCAB: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_vocab.json");
const GPT2_MERGES: &str = include_str!("../../../tests/fixtures/cs336/tokenizer/gpt2_merges.txt");

pub(crate) fn read_text(path: &Path) -> Result<String, TokenizeError> {
    let bytes =
        fs::read(path).map_err(|e| TokenizeError::Io { file: path.display().to_string(), message: e.to_string() })?;
    String::from_utf8(bytes).map_err(|e| TokenizeError::InvalidUtf8 {
        file: path.display().to_string(),
        offset: e.utf8_error().valid_up_to() as u64,
    })
}

/// Loads the BPE model named by the flags; the bundled GPT-2 when none are given.
pub(crate) fn load_bpe(source: &BpeSource) -> Result<(Bpe, String), TokenizeError> {
    let specials = &source.specials;
    if let (Some(v), Some(m)) = (&source.vocab, &source.merges) {
        let bpe =
            read_gpt2(&v.display().to_string(), &read_text(v)?, &m.display().to_string(), &read_text(m)?, specials)?;
        return Ok((bpe, v.parent().unwrap_or(Path::new(".")).display().to_string()));
    }
    if let Some(dir) = &source.tokenizer_dir {
        let name = dir.display().to_string();
        let (vocab, merges, hf) = (dir.join("vocab.json"), dir.join("merges.txt"), dir.join("tokenizer.json"));
        let bpe = if vocab.exists() && merges.exists() {
            read_gpt2(
                &vocab.display().to_string(),
                &read_text(&vocab)?,
                &merges.display().to_string(),
                &read_text(&merges)?,
                specials,
            )?
        } else if hf.exists() {
            read_hf(&hf.display().to_string(), &read_text(&hf)?)?
        } else {
            let tiktoken = fs::read_dir(dir)
                .map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "tiktoken"))
                .ok_or_else(|| TokenizeError::Io {
                    file: name.clone(),
                    message: "no vocab.json + merges.txt, tokenizer.json or *.tiktoken file here".into(),
                })?;
            read_tiktoken(&tiktoken.display().to_string(), &read_text(&tiktoken)?, specials)?
        };
        return Ok((bpe, name));
    }
    let mut specials = specials.clone();
    if specials.is_empty() {
        specials.push(END_OF_TEXT.into());
    }
    Ok((read_gpt2("gpt2 vocab.json", GPT2_VOCAB, "gpt2 merges.txt", GPT2_MERGES, &specials)?, "gpt2".into()))
}

pub fn tokenize(args: &TokenizeArgs) -> CliResult {
    let text = match (&args.text, &args.file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => read_text(f)?,
        _ => return Err(InputError::new("TEXT", "", "some text, or --file F").into()),
    };
    let tokenizer: Box<dyn Tokenizer> = match args.tokenizer.as_str() {
        "char" => Box::new(CharTokenizer),
        "byte" => Box::new(ByteTokenizer),
        "word" => {
            let corpus = match &args.corpus {
                Some(p) => read_text(p)?,
                None => text.clone(),
            };
            Box::new(WordTokenizer::train(&corpus, args.word_vocab))
        }
        "bpe" | "gpt2" => Box::new(load_bpe(&args.source)?.0),
        other => return Err(InputError::new("--tokenizer", other, "one of: char, byte, word, bpe, gpt2").into()),
    };
    let ids = tokenizer.encode(&text);
    // A token that is not valid UTF-8 on its own (a piece of "世") is shown as its bytes, <0xE4>.
    let tokens: Vec<String> = ids.iter().map(|&id| display_token(tokenizer.as_ref(), id)).collect();
    let bytes_per_token = if ids.is_empty() { 0.0 } else { text.len() as f64 / ids.len() as f64 };
    if args.json {
        print_json(&json!({
            "tokenizer": tokenizer.name(),
            "vocab_size": tokenizer.vocab_size(),
            "ids": ids,
            "tokens": tokens,
            "count": ids.len(),
            "bytes": text.len(),
            "bytes_per_token": bytes_per_token,
        }));
        return Ok(());
    }
    println!(
        "{} tokens, {} bytes, {:.2} bytes/token (vocabulary {})",
        ids.len(),
        text.len(),
        bytes_per_token,
        tokenizer.vocab_size()
    );
    println!("ids:    {}", ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
    println!("tokens: {}", tokens.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(" "));
    Ok(())
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(ProgressStyle::with_template(template).expect("template").progress_chars("=> "));
    pb
}

pub fn train(args: &TrainArgs) -> CliResult {
    let vocab_size = parse_count("--vocab-size", &args.vocab_size)? as usize;
    let formats: &[&str] = match args.format.as_str() {
        "gpt2" => &["gpt2"],
        "hf" => &["hf"],
        "tiktoken" => &["tiktoken"],
        "all" => &["gpt2", "hf", "tiktoken"],
        other => return Err(InputError::new("--format", other, "one of: gpt2, hf, tiktoken, all").into()),
    };
    lmlab::tokenize::train::merges_for(vocab_size, &args.specials)?;
    let started = Instant::now();
    let total = fs::metadata(&args.input).map(|m| m.len()).unwrap_or(0);
    let pre = bar(total, "pre-tokenize {bar:30} {bytes}/{total_bytes} {elapsed}");
    let merges_bar = bar(0, "merges       {bar:30} {pos}/{len} {elapsed}");
    merges_bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let mut on_event = |e: TrainEvent| match e {
        TrainEvent::Pretokenize { done_bytes, .. } => pre.set_position(done_bytes),
        TrainEvent::Counted { .. } => pre.finish(),
        TrainEvent::Merge { done, total } => {
            if merges_bar.length() != Some(total as u64) {
                merges_bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                merges_bar.set_length(total as u64);
            }
            merges_bar.set_position(done as u64);
        }
    };
    let counts = count_file(&args.input, &args.specials, args.lossy, &mut on_event)?;
    let pretokenize_s = started.elapsed().as_secs_f64();
    let bpe = train_from_counts(&counts, vocab_size, &args.specials, &mut on_event)?;
    merges_bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    fs::create_dir_all(&args.out)
        .map_err(|e| TokenizeError::Io { file: args.out.display().to_string(), message: e.to_string() })?;
    let mut written: Vec<PathBuf> = Vec::new();
    let mut write = |name: &str, text: String| -> Result<(), TokenizeError> {
        let path = args.out.join(name);
        fs::write(&path, text)
            .map_err(|e| TokenizeError::Io { file: path.display().to_string(), message: e.to_string() })?;
        written.push(path);
        Ok(())
    };
    for f in formats {
        match *f {
            "gpt2" => {
                let (vocab, merges) = write_gpt2(&bpe);
                write("vocab.json", vocab)?;
                write("merges.txt", merges)?;
            }
            "hf" => write("tokenizer.json", write_hf(&bpe))?,
            _ => write("bpe.tiktoken", write_tiktoken(&bpe))?,
        }
    }
    let report = json!({
        "input": args.input.display().to_string(),
        "bytes": total,
        "unique_pretokens": counts.counts.len(),
        "pretokens": counts.total,
        "vocab_size": bpe.vocab_size(),
        "merges": bpe.merge_count(),
        "special_tokens": args.specials,
        "pretokenize_seconds": pretokenize_s,
        "seconds": seconds,
        "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    });
    if args.json {
        print_json(&report);
    } else {
        println!(
            "trained {} merges (vocabulary {}) on {} bytes / {} unique pre-tokens in {:.2} s (pre-tokenize {:.2} s)",
            bpe.merge_count(),
            bpe.vocab_size(),
            total,
            counts.counts.len(),
            seconds,
            pretokenize_s
        );
        for p in &written {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

pub fn encode(args: &EncodeArgs) -> CliResult {
    let (bpe, name) = load_bpe(&args.source)?;
    let input_name = args.input.as_ref().map_or("<stdin>".to_string(), |p| p.display().to_string());
    let mut reader: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(
            fs::File::open(p).map_err(|e| TokenizeError::Io { file: input_name.clone(), message: e.to_string() })?,
        ),
        None => Box::new(std::io::stdin().lock()),
    };
    match &args.out {
        Some(out) => {
            let ids = bpe.encode_reader(&mut reader, &input_name)?;
            let (bytes, info) = encode_ids(&ids, bpe.vocab_size(), &name)?;
            let io = |p: &Path, e: std::io::Error| TokenizeError::Io {
                file: p.display().to_string(),
                message: e.to_string(),
            };
            fs::write(out, bytes).map_err(|e| io(out, e))?;
            let sidecar = sidecar_path(out);
            fs::write(&sidecar, serde_json::to_string_pretty(&info)?).map_err(|e| io(&sidecar, e))?;
            if args.json {
                print_json(&info);
            } else {
                eprintln!("wrote {} ids ({}) to {} and {}", info.count, info.dtype, out.display(), sidecar.display());
            }
        }
        None if args.json => {
            let ids = bpe.encode_reader(&mut reader, &input_name)?;
            print_json(&json!({"ids": ids, "count": ids.len()}));
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            let mut first = true;
            let mut failed = None;
            bpe.encode_stream(&mut reader, &input_name, |ids| {
                for id in ids {
                    let sep = if first { "" } else { " " };
                    first = false;
                    if let Err(e) = write!(w, "{sep}{id}") {
                        failed.get_or_insert(e);
                    }
                }
            })?;
            writeln!(w)?;
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

fn sidecar_path(bin: &Path) -> PathBuf {
    let mut s = bin.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

pub fn decode(args: &DecodeArgs) -> CliResult {
    let (bpe, _) = load_bpe(&args.source)?;
    let ids: Vec<u32> = match &args.input {
        Some(p) if sidecar_path(p).exists() => {
            let name = p.display().to_string();
            let bytes = fs::read(p).map_err(|e| TokenizeError::Io { file: name.clone(), message: e.to_string() })?;
            let info: TokenFileInfo =
                serde_json::from_str(&read_text(&sidecar_path(p))?).map_err(|e| TokenizeError::Malformed {
                    file: sidecar_path(p).display().to_string(),
                    line: e.line(),
                    message: e.to_string(),
                })?;
            decode_ids(&name, &bytes, &info)?
        }
        other => {
            let (name, text) = match other {
                Some(p) => (p.display().to_string(), read_text(p)?),
                None => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    ("<stdin>".to_string(), s)
                }
            };
            let mut ids = Vec::new();
            for (i, line) in text.lines().enumerate() {
                for word in line.split_whitespace() {
                    ids.push(word.parse::<u32>().map_err(|_| TokenizeError::Malformed {
                        file: name.clone(),
                        line: i + 1,
                        message: format!("{word:?} is not a token id"),
                    })?);
                }
            }
            ids
        }
    };
    let text = bpe.decode(&ids)?;
    if args.json {
        print_json(&json!({"text": text, "count": ids.len()}));
        return Ok(());
    }
    match &args.out {
        Some(p) => fs::write(p, text)
            .map_err(|e| TokenizeError::Io { file: p.display().to_string(), message: e.to_string() })?,
        None => print!("{text}"),
    }
    Ok(())
}

/// `lmlab bench tokenize`: GPT-2 encoding throughput, one thread, best of `repeat` runs. No special
/// tokens, like tiktoken's `encode_ordinary` and HF's `encode` it is compared with.
pub fn bench(args: &BenchTokenizeArgs) -> CliResult {
    let bpe = read_gpt2("gpt2 vocab.json", GPT2_VOCAB, "gpt2 merges.txt", GPT2_MERGES, &[])?;
    let text = read_text(&args.input)?;
    let mut best = f64::INFINITY;
    let mut ids = Vec::new();
    for _ in 0..args.repeat.max(1) {
        let t = Instant::now();
        ids = bpe.encode(&text);
        best = best.min(t.elapsed().as_secs_f64());
    }
    if let Some(p) = &args.ids_out {
        let joined: Vec<String> = ids.iter().map(u32::to_string).collect();
        fs::write(p, joined.join(" "))
            .map_err(|e| TokenizeError::Io { file: p.display().to_string(), message: e.to_string() })?;
    }
    let mb_per_s = text.len() as f64 / 1e6 / best;
    if args.json {
        print_json(&json!({"bytes": text.len(), "ids": ids.len(), "seconds": best, "mb_per_s": mb_per_s}));
    } else {
        println!(
            "{} bytes → {} ids in {:.3} s: {:.1} MB/s (one thread, best of {})",
            text.len(),
            ids.len(),
            best,
            mb_per_s,
            args.repeat
        );
    }
    Ok(())
}
