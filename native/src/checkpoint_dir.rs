//! Checkpoints on disk: one directory of files, replaced atomically.
//!
//! A new checkpoint is written into a temporary sibling directory (every file synced), then swapped
//! in with renames: `DIR` → `DIR.old`, temporary → `DIR`, then `DIR.old` is removed. A crash at
//! any moment leaves either the previous or the new checkpoint complete; if it strikes between the
//! two renames, [`read`] finds `DIR.old` and uses it. A directory that is not an lmlab checkpoint
//! is never replaced. A checkpoint can also be read from a `.tar` of the same files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use lmlab::train::checkpoint::{Checkpoint, CONFIG, FORMAT};
use lmlab::train::TrainError;

fn io_error(path: &Path, e: std::io::Error) -> TrainError {
    TrainError::Checkpoint { file: path.display().to_string(), message: e.to_string() }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "checkpoint".into());
    dir.with_file_name(format!("{name}{suffix}"))
}

/// True when `dir` holds an lmlab checkpoint (its config.json says so).
fn is_checkpoint(dir: &Path) -> bool {
    fs::read_to_string(dir.join(CONFIG)).is_ok_and(|s| s.contains(FORMAT))
}

/// Refuses to put a checkpoint where it would overwrite something else.
pub fn check_writable(dir: &Path) -> Result<(), TrainError> {
    if dir.exists() {
        let empty = fs::read_dir(dir).map_err(|e| io_error(dir, e))?.next().is_none();
        if !dir.is_dir() || (!empty && !is_checkpoint(dir)) {
            return Err(TrainError::Checkpoint {
                file: dir.display().to_string(),
                message: "exists and is not an lmlab checkpoint; it is left untouched: choose another --out".into(),
            });
        }
    }
    Ok(())
}

/// Writes `ckpt` as the directory `dir`, atomically replacing an older checkpoint there.
pub fn write(dir: &Path, ckpt: &Checkpoint) -> Result<(), TrainError> {
    check_writable(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let tmp = sibling(dir, &format!(".tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| io_error(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| io_error(&tmp, e))?;
    for (name, bytes) in &ckpt.files {
        let path = tmp.join(name);
        let mut f = fs::File::create(&path).map_err(|e| io_error(&path, e))?;
        f.write_all(bytes).map_err(|e| io_error(&path, e))?;
        f.sync_all().map_err(|e| io_error(&path, e))?;
    }
    let old = sibling(dir, ".old");
    if dir.exists() {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| io_error(&old, e))?;
        }
        fs::rename(dir, &old).map_err(|e| io_error(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| io_error(dir, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| io_error(&old, e))?;
    }
    Ok(())
}

/// Reads a checkpoint directory (or the `.old` copy a crash mid-swap left behind), or the same
/// files as one `.tar` (the Train page's download).
pub fn read(dir: &Path) -> Result<Checkpoint, TrainError> {
    if dir.is_file() {
        let bytes = fs::read(dir).map_err(|e| io_error(dir, e))?;
        let files = lmlab::train::archive::unpack(&dir.display().to_string(), &bytes)
            .map_err(|e| TrainError::Checkpoint { file: e.file, message: e.message })?;
        let mut ckpt = Checkpoint::new(dir.display().to_string());
        ckpt.files = files.into_iter().collect();
        return Ok(ckpt);
    }
    let old = sibling(dir, ".old");
    let source = if !dir.exists() && old.is_dir() { old } else { dir.to_path_buf() };
    if !source.is_dir() {
        return Err(TrainError::Checkpoint {
            file: dir.display().to_string(),
            message: "no such checkpoint directory".into(),
        });
    }
    let mut ckpt = Checkpoint::new(source.display().to_string());
    for entry in fs::read_dir(&source).map_err(|e| io_error(&source, e))? {
        let path = entry.map_err(|e| io_error(&source, e))?.path();
        if path.is_file() {
            let name = path.file_name().expect("a file has a name").to_string_lossy().into_owned();
            ckpt.files.insert(name, fs::read(&path).map_err(|e| io_error(&path, e))?);
        }
    }
    Ok(ckpt)
}
