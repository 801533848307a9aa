//! A checkpoint as one file: a POSIX tar of its files (`config.json`, `model.safetensors`, …), so
//! the browser can offer it as a single download, `tar xf` turns it into the directory the CLI
//! writes, and `lmlab sample --checkpoint run.tar` reads it as it is.

use std::io::Read;

use super::protocol::{Corpus, Files};

/// Why an archive could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ArchiveError {
    pub file: String,
    pub message: String,
}

/// The largest archive accepted (the biggest preset the page trains is far below it).
pub const MAX_ARCHIVE_BYTES: usize = 2 << 30;

/// The training text a checkpoint may carry: the Train page puts a student's own corpus (pasted
/// or uploaded, not the bundled one) into the `.tar` it offers, so `lmlab train --resume page.tar`
/// continues the run with nothing else; the file's first line is the corpus's name.
pub const CORPUS_FILE: &str = "corpus.txt";

/// The largest corpus a checkpoint carries: a small paste travels with the run; a larger corpus
/// would make every checkpoint as big as the text (resume it with `--data FILE`).
pub const MAX_EMBEDDED_CORPUS_BYTES: usize = 4 << 20;

/// Adds `corpus` to a checkpoint's files when it is at most [`MAX_EMBEDDED_CORPUS_BYTES`];
/// returns whether it did.
pub fn embed_corpus(files: &mut Files, corpus: &Corpus) -> bool {
    if corpus.text.len() > MAX_EMBEDDED_CORPUS_BYTES || files.iter().any(|(n, _)| n == CORPUS_FILE) {
        return false;
    }
    let name = corpus.name.replace(['\n', '\r'], " ");
    files.push((CORPUS_FILE.into(), format!("{name}\n{}", corpus.text).into_bytes()));
    true
}

/// The corpus a checkpoint carries ([`embed_corpus`]), if any; `origin` names the archive in errors.
pub fn embedded_corpus(origin: &str, bytes: &[u8]) -> Result<Corpus, ArchiveError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ArchiveError {
        file: format!("{origin}/{CORPUS_FILE}"),
        message: format!("invalid UTF-8 at byte offset {}", e.valid_up_to()),
    })?;
    let (name, text) = text.split_once('\n').ok_or_else(|| ArchiveError {
        file: format!("{origin}/{CORPUS_FILE}"),
        message: "expected the corpus's name on the first line, then its text".into(),
    })?;
    Ok(Corpus { name: name.to_string(), text: text.to_string() })
}

/// Packs `files` (flat names) into a tar archive, in the given order.
pub fn pack(files: &Files) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Writing to a Vec cannot fail; names are the checkpoint's own short file names.
        builder.append_data(&mut header, name, bytes.as_slice()).expect("a checkpoint file name fits in a tar header");
    }
    builder.into_inner().expect("writing to memory")
}

/// Reads the regular files of a tar archive named `origin` (directories are skipped; a path inside
/// a folder, as `tar cf run.tar run/` makes, keeps only its file name).
pub fn unpack(origin: &str, bytes: &[u8]) -> Result<Files, ArchiveError> {
    let err = |message: String| ArchiveError { file: origin.to_string(), message };
    if bytes.len() < 512 {
        return Err(err(format!("{} bytes is too short for a tar archive (an lmlab checkpoint .tar)", bytes.len())));
    }
    let mut archive = tar::Archive::new(bytes);
    let entries = archive.entries().map_err(|e| err(format!("not a tar archive: {e}")))?;
    let mut files = Files::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| err(format!("not a tar archive, or a damaged one: {e}")))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(|e| err(format!("a file name is not readable: {e}")))?.into_owned();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data).map_err(|e| err(format!("{name}: truncated archive ({e})")))?;
        files.push((name, data));
    }
    if files.is_empty() {
        return Err(err("holds no files: not an lmlab checkpoint archive".into()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_then_unpack_gives_the_files_back() {
        let files: Files = vec![
            ("config.json".into(), b"{\"format\":\"lmlab-checkpoint\"}".to_vec()),
            ("model.safetensors".into(), (0..1500u32).map(|i| (i % 251) as u8).collect()),
            ("empty".into(), Vec::new()),
        ];
        let tar = pack(&files);
        // ustar: 512-byte header blocks, data padded to 512, the magic at offset 257.
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(&tar[257..262], b"ustar");
        assert_eq!(unpack("run.tar", &tar).unwrap(), files);
    }

    #[test]
    fn damaged_archives_are_named() {
        let e = unpack("x.tar", b"hello").unwrap_err();
        assert!(e.to_string().starts_with("x.tar: 5 bytes is too short"), "{e}");
        let e = unpack("x.tar", &[0u8; 1024]).unwrap_err();
        assert!(e.to_string().contains("holds no files"), "{e}");
        let mut tar = pack(&vec![("a".into(), vec![1u8; 2000])]);
        tar.truncate(1024);
        let e = unpack("x.tar", &tar).unwrap_err();
        assert!(e.to_string().contains("x.tar"), "{e}");
    }

    #[test]
    fn a_small_corpus_travels_with_the_checkpoint_and_a_large_one_does_not() {
        let corpus = Corpus { name: "pasted text".into(), text: "line one\nline two — ü\n".into() };
        let mut files: Files = vec![("config.json".into(), b"{}".to_vec())];
        assert!(embed_corpus(&mut files, &corpus));
        assert!(!embed_corpus(&mut files, &corpus), "only once");
        let back = unpack("run.tar", &pack(&files)).unwrap();
        let (_, bytes) = back.iter().find(|(n, _)| n == CORPUS_FILE).unwrap();
        assert_eq!(embedded_corpus("run.tar", bytes).unwrap(), corpus);
        let big = Corpus { name: "big.txt".into(), text: "x".repeat(MAX_EMBEDDED_CORPUS_BYTES + 1) };
        let mut files: Files = Vec::new();
        assert!(!embed_corpus(&mut files, &big) && files.is_empty());
        let e = embedded_corpus("run.tar", b"no name line").unwrap_err();
        assert!(e.to_string().starts_with("run.tar/corpus.txt: expected the corpus's name"), "{e}");
    }
}
