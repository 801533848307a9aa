//! Helpers shared by the acceptance tests: the `lmlab` binary, a static server for the built site,
//! and a headless Chromium driven through chromedriver.

pub mod browser;
pub mod site;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A `Command` for the `lmlab` binary of the same build profile as the running test. Cargo only
/// builds binaries for their own package's tests, so the first call runs `cargo build -p native`
/// (a no-op when it is up to date; tests/run-all.sh also builds it first, since a build cache
/// shared by several clones can leave another clone's binary in place).
pub fn lmlab() -> Command {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    Command::new(BUILT.get_or_init(build_lmlab))
}

/// What one `lmlab` invocation printed and returned.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `lmlab` with `args` to completion.
pub fn run_lmlab(args: &[&str]) -> Output {
    let out = lmlab().args(args).output().expect("run lmlab");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

fn build_lmlab() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/lmlab
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let bin = profile_dir.join(format!("lmlab{}", std::env::consts::EXE_SUFFIX));
    {
        let target_dir = profile_dir.parent().expect("target dir");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "-p", "native", "--target-dir"]).arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.current_dir(repo_root()).status().expect("run cargo build -p native");
        assert!(status.success(), "cargo build -p native failed");
    }
    bin
}

/// Where screenshots go (`tests/screenshots/`, ignored by git).
pub fn screenshot_dir() -> PathBuf {
    let dir = repo_root().join("tests").join("screenshots");
    std::fs::create_dir_all(&dir).expect("create tests/screenshots");
    dir
}
