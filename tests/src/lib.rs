//! Helpers shared by the acceptance tests: the `lmlab` binary, a static server for the built site,
//! and a headless Chromium driven through chromedriver.

pub mod browser;
pub mod site;
pub mod train_page;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A `Command` for the `lmlab` binary of the same build profile as the running test. Cargo only
/// builds binaries for their own package's tests, so the first call builds it — with the very
/// package selection and features of the test command ([`NATIVE_BUILD`]), so that the binary and
/// the tests share one build of the backends (another selection would unify other features and
/// compile burn a second time). A no-op when up to date; tests/run-all.sh builds it first, since
/// a build cache shared by several clones can leave another clone's binary in place.
pub fn lmlab() -> Command {
    Command::new(lmlab_path())
}

/// The path of the `lmlab` binary [`lmlab`] runs (built on first use), for scripts that take it.
pub fn lmlab_path() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_lmlab).clone()
}

/// How the test command builds everything native: the workspace but the web app, with the model's
/// CPU backend, the Hardware lab's kernels and MPI (data-parallel training under `mpirun`), test
/// targets included (their dev-dependencies take part in feature unification, so the binary must be
/// built together with them).
pub const NATIVE_BUILD: [&str; 7] =
    ["--workspace", "--exclude", "web", "--features", "lmlab/cpu,lmlab/hardware,native/nccl", "--bins", "--tests"];

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
        build.arg("build").args(NATIVE_BUILD).arg("--target-dir").arg(target_dir);
        // target/debug is the dev profile's; every other directory is named after its profile.
        let profile = profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("dev");
        build.args(["--profile", if profile == "debug" { "dev" } else { profile }]);
        let status = build.current_dir(repo_root()).status().expect("run cargo build");
        assert!(status.success(), "cargo build {} failed", NATIVE_BUILD.join(" "));
    }
    bin
}

/// A fresh, empty directory under the system temp dir, named after the test group, this test
/// process and `name` (so parallel tests and earlier runs never share one).
pub fn scratch_dir(group: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// The small training setup of the CLI's training tests, written into `dir`: 40 KB of the
/// bundled corpus and a 1-layer model config (seconds per run on the CPU). Returns (data, config).
pub fn small_training_setup(dir: &Path) -> (PathBuf, PathBuf) {
    let corpus = std::fs::read_to_string(repo_root().join("data/tinyshakespeare.txt")).expect("the bundled corpus");
    let data = dir.join("small.txt");
    std::fs::write(&data, &corpus[..40_000]).expect("write the data");
    let config = dir.join("model.json");
    std::fs::write(
        &config,
        r#"{"vocab_size": 300, "context_length": 32, "d_model": 32, "num_layers": 1, "num_heads": 2, "d_ff": 64, "rope_theta": 10000.0}"#,
    )
    .expect("write the config");
    (data, config)
}

/// The built site: `$LMLAB_DIST` or `dist/`.
pub fn dist() -> PathBuf {
    std::env::var("LMLAB_DIST").map(Into::into).unwrap_or_else(|_| repo_root().join("dist"))
}

/// `lmlab ARGS --json`'s one JSON value (the command must succeed).
pub fn cli_json(args: &[&str]) -> serde_json::Value {
    let out = lmlab().args(args).output().expect("run lmlab");
    assert!(out.status.success(), "lmlab {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A file in a fresh per-process temporary directory (for uploads and CLI inputs).
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lmlab-test-inputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

/// Where screenshots go (`tests/screenshots/`, ignored by git).
pub fn screenshot_dir() -> PathBuf {
    let dir = repo_root().join("tests").join("screenshots");
    std::fs::create_dir_all(&dir).expect("create tests/screenshots");
    dir
}
