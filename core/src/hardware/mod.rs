//! # The Hardware lab: hand-written WGSL kernels that measure the student's own GPU
//!
//! FLOPs only mean something against what a chip can really do. This lesson measures it: a copy
//! kernel gives the memory bandwidth, then a matrix multiply goes from naive to coalesced to tiled to
//! register-blocked (and f16 where the adapter has `shader-f16`), each a small commented file in the
//! workspace's `shaders/`. Every result is checked against a CPU reference with a rigorous rounding
//! bound, and every figure is placed on a roofline against the catalog's datasheet peaks
//! ([`crate::accounting::hardware`]).
//!
//! * [`kernels`] — the kernels, their sources and lessons, how each is launched.
//! * [`reference`] — inputs, the CPU reference and the error bound.
//! * [`report`] — measurements, the roofline arithmetic, speed-ups and fractions of peak.
//! * `gpu`, `suite` (feature `hardware`) — the wgpu runner, natively (Vulkan / Metal / DX12) and in
//!   the browser (WebGPU): the same code, with only asynchronous waits on the GPU.
//! * [`attention`] — naive vs fused attention: the memory and traffic arithmetic beside
//!   `lmlab bench attention`'s measurement (the kernels are `lmlab::model::attention`).
//! * [`exercises`] — "predict, then check" questions answered by the functions above.

pub mod attention;
pub mod kernels;
pub mod reference;
pub mod report;

#[cfg(feature = "hardware")]
pub mod gpu;
#[cfg(feature = "hardware")]
pub mod suite;

pub use kernels::Kernel;
pub use reference::MatmulShape;
pub use report::{Measurement, Peak, Report};

use crate::accounting::find_gpu;
use crate::exercise::{Exercise, Tolerance};

/// Why a run could not be done; every message says what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HardwareError {
    /// No usable adapter (or no WebGPU): how to get one.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// A requested size or kernel is beyond an adapter limit (the limit is named).
    #[error("beyond the adapter's limits: {0}")]
    Limit(String),
    /// A bad request (size 0, no kernels …).
    #[error("invalid request: {0}")]
    Input(String),
    /// The adapter could not allocate a buffer.
    #[error("out of GPU memory: {0}; try smaller sizes")]
    OutOfMemory(String),
    /// The device was lost or stopped answering mid-run.
    #[error("the GPU device was lost: {0}; the results so far are kept, run again to continue")]
    DeviceLost(String),
    /// Any other device error.
    #[error("GPU error: {0}")]
    Device(String),
}

/// Parses `256,512,1024` (also spaces; `2k` and `1,024`-style thousands are not needed here).
pub fn parse_sizes(text: &str) -> Result<Vec<u32>, crate::InputError> {
    let mut sizes = vec![];
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let n = crate::units::parse_whole("size", part.trim())?;
        if n == 0 || n > 65_536 {
            return Err(crate::InputError::new("size", part.trim(), "a matrix size from 1 to 65536"));
        }
        sizes.push(n as u32);
    }
    if sizes.is_empty() {
        return Err(crate::InputError::new("sizes", text, "a comma-separated list such as 256,512,1024"));
    }
    Ok(sizes)
}

/// The lab's questions; answers come from [`MatmulShape`], the catalog and [`report::ridge_point`].
pub fn exercises() -> Vec<Exercise> {
    let h100 = find_gpu("h100").expect("h100 is in the catalog");
    let h200 = find_gpu("h200").expect("h200 is in the catalog");
    let n1024 = MatmulShape::square(1024);
    let mut all = vec![
        Exercise::new(
            "hw-intensity-4096",
            "What is the arithmetic intensity (FLOPs per byte) of a 4096×4096×4096 f32 matmul that reads A and B once and writes C once?",
            MatmulShape::square(4096).intensity(4),
            Tolerance::Relative(0.01),
            "FLOP/byte",
            "2·4096³ FLOPs over 3 matrices × 4096² × 4 bytes = 4096/6 ≈ 683 FLOP/byte: far right of any GPU's ridge, so a good kernel is compute-bound.",
        ),
        Exercise::new(
            "hw-ridge-h100",
            "An H100 SXM does 67 TFLOP/s in f32 (no tensor cores) and moves 3.35 TB/s. Below what intensity (FLOP/byte) is a kernel memory-bound?",
            report::ridge_point(h100.peak_fp32, h100.bandwidth_bytes_per_s),
            Tolerance::Relative(0.02),
            "FLOP/byte",
            "The ridge point is peak ÷ bandwidth = 67e12 / 3.35e12 = 20 FLOP/byte.",
        ),
        Exercise::new(
            "hw-naive-traffic",
            "The naive kernel reads a row of A and a column of B (f32) from global memory for every output. How many GB does it read for a 1024³ matmul?",
            2.0 * n1024.m as f64 * n1024.n as f64 * n1024.k as f64 * 4.0 / 1e9,
            Tolerance::Relative(0.02),
            "GB",
            "1024² outputs × 2 × 1024 loads × 4 bytes = 8.6 GB, 700× the 12.6 MB the three matrices occupy: that is why caches and tiling matter.",
        ),
        Exercise::new(
            "hw-copy-h200",
            "How many microseconds does copying a 256 MiB buffer take at the H200's 4.8 TB/s (a copy reads and writes every byte)?",
            2.0 * 256.0 * (1u64 << 20) as f64 / h200.bandwidth_bytes_per_s * 1e6,
            Tolerance::Relative(0.03),
            "µs",
            "2 × 268,435,456 bytes / 4.8e12 B/s ≈ 112 µs.",
        ),
    ];
    all.extend(attention::exercises());
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exercise_answers_are_the_lecture_numbers() {
        let ex = exercises();
        let answer = |id: &str| ex.iter().find(|e| e.id == id).unwrap().answer;
        assert!((answer("hw-intensity-4096") - 682.67).abs() < 0.01);
        assert!((answer("hw-ridge-h100") - 20.0).abs() < 1e-9);
        assert!((answer("hw-naive-traffic") - 8.589934592).abs() < 1e-9);
        assert!((answer("hw-copy-h200") - 111.85).abs() < 0.01);
        assert!(ex[0].check("683").unwrap().correct);
    }

    #[test]
    fn sizes_parse_and_bad_ones_are_named() {
        assert_eq!(parse_sizes("256,512, 1024").unwrap(), vec![256, 512, 1024]);
        for bad in ["0", "abc", "", "100000", "-4"] {
            let err = parse_sizes(bad).unwrap_err().to_string();
            assert!(err.contains("size"), "{bad}: {err}");
        }
    }
}
