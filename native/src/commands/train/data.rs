//! Reading a run's data and tokenizer from disk: text files read whole, `.bin` token files
//! memory-mapped (a 10 GB corpus costs no memory), the tokenizer of `--tokenizer-dir`. What the
//! data becomes — tokens, splits, checks — is `lmlab::train::prepare`'s.

use std::path::Path;

use lmlab::tokenize::{TokenizeError, END_OF_TEXT};
use lmlab::train::plan::{DataChoice, TokenizerChoice, BUNDLED_CORPUS};
use lmlab::train::prepare::{DataInput, TokenizerSource};
use lmlab::train::protocol::Corpus;

use crate::cli::BpeSource;
use crate::commands::tokenize::{load_bpe, read_text};

/// The corpus `lmlab` trains on with no arguments (public domain; see data/README.md).
const BUNDLED_TEXT: &str = include_str!("../../../../data/tinyshakespeare.txt");

/// The data `choice` names, read (text) or mapped (`.bin` with its `.bin.json` sidecar).
pub fn read(choice: &DataChoice) -> Result<DataInput, Box<dyn std::error::Error>> {
    match choice {
        DataChoice::Bundled => Ok(DataInput::Text(Corpus { name: BUNDLED_CORPUS.into(), text: BUNDLED_TEXT.into() })),
        DataChoice::File { path } if choice.is_token_file() => map_token_file(Path::new(path)),
        DataChoice::File { path } => {
            Ok(DataInput::Text(Corpus { name: path.clone(), text: read_text(Path::new(path))? }))
        }
        DataChoice::Text { name } => Err(TokenizeError::Io {
            file: name.clone(),
            message: "was text held by the page; save it as a file and give it with --data FILE".into(),
        }
        .into()),
    }
}

/// A `.bin` token file, memory-mapped, and its sidecar's text.
fn map_token_file(path: &Path) -> Result<DataInput, Box<dyn std::error::Error>> {
    let name = path.display().to_string();
    let sidecar = read_text(Path::new(&format!("{name}.json")))?;
    let io = |e: std::io::Error| TokenizeError::Io { file: name.clone(), message: e.to_string() };
    let file = std::fs::File::open(path).map_err(io)?;
    // SAFETY: the file is only read; if another process truncates it while we train, reads past
    // the end fault — the same contract as numpy's memmap, which CS336's get_batch uses.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    Ok(DataInput::TokenFile { name, bytes: Box::new(map), sidecar })
}

/// The run's tokenizer: `--tokenizer-dir`'s files, or the plan's choice to train on the text.
pub fn tokenizer(choice: &TokenizerChoice) -> Result<TokenizerSource, Box<dyn std::error::Error>> {
    match choice {
        TokenizerChoice::Dir { path } => {
            let source = BpeSource {
                vocab: None,
                merges: None,
                tokenizer_dir: Some(path.into()),
                specials: vec![END_OF_TEXT.into()],
            };
            let (tokenizer, source) = load_bpe(&source)?;
            Ok(TokenizerSource::Given { tokenizer, source })
        }
        other => Ok(TokenizerSource::Train(other.clone())),
    }
}
