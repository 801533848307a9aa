//! # Attention: naive vs fused — the memory arithmetic (no burn)
//!
//! The decomposed attention writes the `[batch, heads, T, T]` scores, the probabilities and, in
//! the backward, their gradients to memory: per head and per step it moves about
//! [`REFERENCE_TT_PASSES`] `T × T` f32 matrices through DRAM while doing only a few FLOPs on each
//! element, so it is bandwidth-bound, and it keeps the probabilities for the backward, so memory
//! grows as T². FlashAttention's kernels stream tiles of K and V past a tile of queries held on
//! chip: the T×T matrices never leave the chip, the only T² traffic is K/V (Q/dO in the dK/dV
//! pass) re-read once per tile of rows — `T²·d / rows` values instead of `T²` — and memory is
//! linear in T (O, one log-sum-exp per row).
//!
//! These are the lesson's models, computed the same way on the page and in `lmlab bench
//! attention`; the measurement (`lmlab::model::attention::bench`, feature `model`) stands beside
//! them. [`AttentionRow`] is what both report.

use serde::{Deserialize, Serialize};

use crate::exercise::{Exercise, Tolerance};
use crate::model::plan::AttentionKernel;
use crate::InputError;

/// The fused kernels' source (CubeCL: Rust compiled to CUDA and to WGSL), shown on the page as the
/// WGSL files of the matmul lesson are.
pub const KERNEL_SOURCE: &str = include_str!("../model/attention/kernels.rs");

/// Where [`KERNEL_SOURCE`] lives in the workspace.
pub const KERNEL_FILE: &str = "core/src/model/attention/kernels.rs";

/// `T × T` f32 passes through memory of the decomposed forward + backward, per (batch, head), at
/// best (every elementwise step fused into its neighbour, as burn's fusion tries): forward — write
/// the scores S, read S for the row maximum and again for the sum and the scaled, masked, softmaxed
/// P, write P, read P for P·V (5); backward — read P for dV, write dP, read dP and P and write dS,
/// read dS for dQ and again for dK (7). Without fusion each elementwise step adds a read and a write.
pub const REFERENCE_TT_PASSES: f64 = 12.0;

/// `T × T` f32 tensors the decomposed form holds at its peak (the backward): the probabilities
/// kept by autodiff, dP, and dS with its softmax temporary.
pub const REFERENCE_TT_LIVE: f64 = 4.0;

/// f32 values two streamed tiles may hold together in the kernels: 16 KiB of shared memory,
/// WebGPU's default `maxComputeWorkgroupStorageSize` (CUDA allows more; one size keeps one kernel
/// per head size).
pub const SHARED_FLOATS: usize = 4096;

/// Rows per streamed tile of the fused kernels for a head size: two `[tile, head]` f32 tiles fit
/// [`SHARED_FLOATS`] (64 rows up to head 32, 32 at 64, 16 at 128), a power of two, at least 8.
pub fn tile_rows(head: usize) -> usize {
    let fit = SHARED_FLOATS / (2 * head.max(1));
    let pow2 = 1usize << (usize::BITS - 1 - fit.leading_zeros());
    pow2.clamp(8, 64)
}

/// One attention call's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    /// Head size d.
    pub head: usize,
    /// Sequence length T.
    pub t: usize,
}

impl AttentionShape {
    fn bh(&self) -> f64 {
        (self.batch * self.heads) as f64
    }

    fn tt(&self) -> f64 {
        (self.t as f64).powi(2)
    }

    /// Bytes of one `[batch, heads, T, T]` tensor of `bytes_per` byte values (the scores, or the
    /// probabilities).
    pub fn tt_bytes(&self, bytes_per: f64) -> f64 {
        self.bh() * self.tt() * bytes_per
    }

    /// Bytes of one `[batch, heads, T, d]` f32 tensor (Q, K, V, O or a gradient).
    pub fn td_bytes(&self) -> f64 {
        self.bh() * self.t as f64 * self.head as f64 * 4.0
    }

    /// The model of the memory forward + backward allocates beyond its inputs (Q, K, V, dO), f32.
    /// Both forms write O, dQ, dK and dV; the reference adds [`REFERENCE_TT_LIVE`] `T × T`
    /// tensors, the fused kernels one log-sum-exp and one delta per row.
    pub fn peak_bytes(&self, kind: AttentionKernel) -> f64 {
        let outputs = 4.0 * self.td_bytes();
        match kind {
            AttentionKernel::Reference => outputs + REFERENCE_TT_LIVE * self.tt_bytes(4.0),
            AttentionKernel::Fused => outputs + 2.0 * self.bh() * self.t as f64 * 4.0,
        }
    }

    /// The model of the bytes forward + backward (causal) moves between memory and the chip.
    /// Reference: [`REFERENCE_TT_PASSES`] `T × T` passes plus the `[T, d]` tensors read and
    /// written (Q, K, V, O, dO, dQ, dK, dV, each twice or so: 16). Fused: the same `[T, d]`
    /// tensors, plus the causal half of the tile re-reads — each of the three kernels streams two
    /// `[T, d]` tensors past each tile of [`tile_rows`] rows: 3 · 2 · T·d · (T / rows) / 2.
    pub fn traffic_bytes(&self, kind: AttentionKernel) -> f64 {
        let linear = 16.0 * self.td_bytes();
        match kind {
            AttentionKernel::Reference => linear + REFERENCE_TT_PASSES * self.tt_bytes(4.0),
            AttentionKernel::Fused => {
                let tiles = self.t as f64 / tile_rows(self.head) as f64;
                linear + 3.0 * self.td_bytes() * tiles
            }
        }
    }

    /// FLOPs of forward + backward without the causal saving (what a dense kernel does): 2 T² d
    /// each for Q·Kᵀ and P·V forward, twice that backward (dV, dP, dQ, dK), plus the recomputed
    /// Q·Kᵀ for the fused backward — counted as 4 · 2 T² d · bh for both forms (the lesson's
    /// yardstick; the fused backward's recompute is its price for not storing P).
    pub fn flops(&self) -> f64 {
        4.0 * 2.0 * self.tt() * self.head as f64 * self.bh() + 2.0 * 2.0 * self.tt() * self.head as f64 * self.bh()
    }
}

/// The longest T the benchmark takes (its reference rows would need 4·T² bytes per head).
pub const MAX_LENGTH: usize = 65_536;

/// Parses `128,256,512` (commas or spaces) into increasing, distinct lengths; `flag` names the
/// field in errors (`--lengths` in the CLI, "lengths" on the page).
pub fn parse_lengths(flag: &str, text: &str) -> Result<Vec<usize>, InputError> {
    let mut lengths = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let t = crate::units::parse_count(flag, part.trim())? as usize;
        if t > MAX_LENGTH {
            return Err(InputError::new(flag, part.trim(), format!("a length from 1 to {MAX_LENGTH}")));
        }
        lengths.push(t);
    }
    if lengths.is_empty() {
        return Err(InputError::new(flag, text, "one or more lengths, such as 128,256,512"));
    }
    lengths.sort_unstable();
    lengths.dedup();
    Ok(lengths)
}

/// The benchmark's settings: one shape, several lengths, both kernels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionBench {
    pub batch: usize,
    pub heads: usize,
    pub head: usize,
    /// The lengths T, in increasing order.
    pub lengths: Vec<usize>,
    /// Timed forward + backward passes per row (after one untimed pass that compiles kernels).
    pub reps: usize,
    /// A kind stops growing T once one of its rows took longer than this (seconds per pass).
    pub max_seconds: f64,
    /// Rows whose model peak exceeds this many bytes are skipped (the device's memory).
    pub max_bytes: f64,
    /// Rows holding a single buffer larger than this are skipped (WebGPU's
    /// `maxStorageBufferBindingSize`; `None` natively).
    pub max_buffer: Option<f64>,
}

impl AttentionBench {
    /// The lesson's lengths: 128, 256, … 8192.
    pub fn default_lengths() -> Vec<usize> {
        (7..=13).map(|p| 1 << p).collect()
    }

    /// 2 sequences × 4 heads of 64, T = 128 … 8192, 3 timed passes, rows up to 30 s and 8 GiB.
    pub fn default_shape() -> Self {
        Self {
            batch: 2,
            heads: 4,
            head: 64,
            lengths: Self::default_lengths(),
            reps: 3,
            max_seconds: 30.0,
            max_bytes: 8.0 * (1u64 << 30) as f64,
            max_buffer: None,
        }
    }

    /// The shape at length `t`.
    pub fn shape(&self, t: usize) -> AttentionShape {
        AttentionShape { batch: self.batch, heads: self.heads, head: self.head, t }
    }

    /// Refuses what cannot run, naming the flag.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.batch == 0 {
            return Err(InputError::new("--batch", "0", "at least 1"));
        }
        if self.heads == 0 || self.batch * self.heads > 65_535 {
            return Err(InputError::new(
                "--heads",
                self.heads.to_string(),
                "at least 1, and batch × heads at most 65,535 (the kernels' grid)",
            ));
        }
        if self.head == 0 || self.head > crate::model::plan::MAX_FUSED_HEAD {
            return Err(InputError::new(
                "--head",
                self.head.to_string(),
                format!(
                    "a head size from 1 to {} (the fused kernels keep a row in registers)",
                    crate::model::plan::MAX_FUSED_HEAD
                ),
            ));
        }
        if self.lengths.is_empty() || self.lengths.contains(&0) {
            return Err(InputError::new("--lengths", format!("{:?}", self.lengths), "one or more lengths ≥ 1"));
        }
        if self.reps == 0 {
            return Err(InputError::new("--reps", "0", "at least 1"));
        }
        Ok(())
    }

    /// Why the row of `kind` at `t` is not run, if it is not: beyond the memory or buffer limit.
    pub fn skip_reason(&self, kind: AttentionKernel, t: usize) -> Option<String> {
        let shape = self.shape(t);
        let peak = shape.peak_bytes(kind);
        if peak > self.max_bytes {
            return Some(format!(
                "needs about {} (model), more than the {} allowed",
                crate::units::format_bytes(peak),
                crate::units::format_bytes(self.max_bytes)
            ));
        }
        let largest = match kind {
            AttentionKernel::Reference => shape.tt_bytes(4.0),
            AttentionKernel::Fused => shape.td_bytes(),
        };
        match self.max_buffer {
            Some(limit) if largest > limit => Some(format!(
                "one tensor of {} exceeds the adapter's {} buffer limit",
                crate::units::format_bytes(largest),
                crate::units::format_bytes(limit)
            )),
            _ => None,
        }
    }
}

/// One measured row: `lmlab bench attention --json`'s `rows` and the page's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionRow {
    pub kind: AttentionKernel,
    pub t: usize,
    /// Seconds per forward + backward (mean of the timed passes).
    pub seconds: f64,
    /// Peak bytes allocated beyond the inputs: measured (the memory pools' high-water mark) where
    /// `peak_measured`, else [`AttentionShape::peak_bytes`].
    pub peak_bytes: u64,
    pub peak_measured: bool,
    /// The model's peak ([`AttentionShape::peak_bytes`]).
    pub model_peak_bytes: u64,
    /// The model's memory traffic ([`AttentionShape::traffic_bytes`]).
    pub traffic_bytes: f64,
}

/// A row not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRow {
    pub kind: AttentionKernel,
    pub t: usize,
    pub reason: String,
}

/// The fused kernels against the reference at one length, when both rows exist: (speed-up =
/// reference seconds / fused seconds, memory ratio = reference peak / fused peak). The memory
/// ratio is `None` when a measured peak is 0: the pass fit in pages the pools already held (the
/// pools reserve in pages of megabytes, so small T are below what they can resolve).
pub fn ratios(rows: &[AttentionRow], t: usize) -> Option<(f64, Option<f64>)> {
    let find = |kind| rows.iter().find(|r| r.kind == kind && r.t == t);
    let (f, r) = (find(AttentionKernel::Fused)?, find(AttentionKernel::Reference)?);
    let memory = (f.peak_bytes > 0 && r.peak_bytes > 0).then(|| r.peak_bytes as f64 / f.peak_bytes as f64);
    Some((r.seconds / f.seconds, memory))
}

/// How peak memory grows between the first and last rows of `kind`: the exponent p of
/// peak ∝ T^p (1: linear, 2: quadratic). `None` with fewer than two rows.
pub fn growth_exponent(rows: &[AttentionRow], kind: AttentionKernel) -> Option<f64> {
    let of: Vec<_> = rows.iter().filter(|r| r.kind == kind && r.peak_bytes > 0).collect();
    let (a, b) = (of.first()?, of.last()?);
    (b.t > a.t).then(|| (b.peak_bytes as f64 / a.peak_bytes as f64).ln() / (b.t as f64 / a.t as f64).ln())
}

/// Predict-then-check questions of the attention lesson.
pub fn exercises() -> Vec<Exercise> {
    const GIB: f64 = (1u64 << 30) as f64;
    let probs = AttentionShape { batch: 8, heads: 16, head: 64, t: 4096 };
    let gpt2 = AttentionShape { batch: 8, heads: 12, head: 64, t: 4096 };
    let t1024 = AttentionShape { batch: 8, heads: 16, head: 64, t: 1024 };
    vec![
        Exercise::new(
            "attn-probs-4096",
            "At T = 4096, 16 heads, batch 8, how many GiB do the fp32 attention probabilities of one layer take?",
            probs.tt_bytes(4.0) / GIB,
            Tolerance::Relative(0.01),
            "GiB",
            "8 × 16 × 4096² × 4 bytes = 8 GiB for one layer's probabilities — kept for the backward.",
        ),
        Exercise::new(
            "attn-gpt2-4096",
            "gpt2-small has 12 layers of 12 heads. Training at T = 4096, batch 8, how many GiB of fp32 probabilities does the decomposed form keep for the backward across all layers?",
            12.0 * gpt2.tt_bytes(4.0) / GIB,
            Tolerance::Relative(0.01),
            "GiB",
            "12 layers × 8 × 12 × 4096² × 4 bytes = 72 GiB: half an H200 before a single weight or activation. The fused kernels keep none of it.",
        ),
        Exercise::new(
            "attn-lse-4096",
            "The fused forward keeps one f32 log-sum-exp per row instead of the probabilities. At T = 4096, 16 heads, batch 8, how many MiB?",
            (probs.batch * probs.heads * probs.t) as f64 * 4.0 / (1u64 << 20) as f64,
            Tolerance::Relative(0.01),
            "MiB",
            "8 × 16 × 4096 × 4 bytes = 2 MiB — 4096× less than the 8 GiB of probabilities.",
        ),
        Exercise::new(
            "attn-traffic-1024",
            "The decomposed forward + backward moves about 12 T×T f32 matrices per head through memory. At T = 1024, 16 heads, batch 8, how many milliseconds do those bytes alone take at an H200's 4.8 TB/s?",
            REFERENCE_TT_PASSES * t1024.tt_bytes(4.0) / 4.8e12 * 1e3,
            Tolerance::Relative(0.03),
            "ms",
            "12 × 8 × 16 × 1024² × 4 bytes = 6.4 GB; at 4.8 TB/s that is 1.3 ms, while the matmul FLOPs (≈ 12 × 1024² × 64 × 128 ≈ 103 GFLOP) take 0.1 ms at the H200's ~1 PFLOP/s bf16: bandwidth-bound.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_fit_webgpu_shared_memory() {
        for (head, rows) in [(16, 64), (32, 64), (64, 32), (128, 16), (1, 64), (100, 16)] {
            assert_eq!(tile_rows(head), rows, "head {head}");
            assert!(2 * tile_rows(head) * head <= SHARED_FLOATS);
        }
    }

    #[test]
    fn the_reference_grows_quadratically_and_the_fused_kernels_linearly() {
        let at = |t| AttentionShape { batch: 2, heads: 4, head: 64, t };
        let growth = |kind| (at(8192).peak_bytes(kind) / at(4096).peak_bytes(kind)).log2();
        assert!((growth(AttentionKernel::Fused) - 1.0).abs() < 1e-9);
        assert!(growth(AttentionKernel::Reference) > 1.9);
        // Head 64 streams tiles of 32 rows: the re-reads are T²·d/32 = 2 T² values against the
        // reference's 12 T²; head 16's 64-row tiles re-read a quarter T².
        let traffic = |t, head, kind| AttentionShape { batch: 2, heads: 4, head, t }.traffic_bytes(kind);
        let ratio =
            |head| traffic(8192, head, AttentionKernel::Reference) / traffic(8192, head, AttentionKernel::Fused);
        assert!(ratio(64) > 1.8 && ratio(64) < 2.0, "{}", ratio(64));
        assert!(ratio(16) > 10.0, "{}", ratio(16));
    }

    #[test]
    fn the_issue_example_is_8_gib() {
        let e = exercises().into_iter().find(|e| e.id == "attn-probs-4096").unwrap();
        assert!(e.check("8").unwrap().correct);
        let e = exercises().into_iter().find(|e| e.id == "attn-gpt2-4096").unwrap();
        assert!(e.check("72").unwrap().correct);
    }

    #[test]
    fn lengths_parse_sorted_and_bad_ones_are_named() {
        assert_eq!(parse_lengths("--lengths", "512, 128,512 256").unwrap(), vec![128, 256, 512]);
        for bad in ["", "128,0", "128,x", "100000"] {
            assert!(parse_lengths("--lengths", bad).unwrap_err().to_string().contains("--lengths"), "{bad}");
        }
    }

    #[test]
    fn rows_beyond_the_limits_are_skipped_with_the_reason() {
        let mut bench = AttentionBench::default_shape();
        bench.max_buffer = Some(128.0 * (1u64 << 20) as f64);
        assert!(bench.skip_reason(AttentionKernel::Reference, 2048).is_none());
        let why = bench.skip_reason(AttentionKernel::Reference, 4096).unwrap();
        assert!(why.contains("buffer limit"), "{why}");
        assert!(bench.skip_reason(AttentionKernel::Fused, 8192).is_none());
        bench.max_bytes = 1e6;
        assert!(bench.skip_reason(AttentionKernel::Fused, 8192).unwrap().contains("allowed"));
        let bad = AttentionBench { head: 256, ..AttentionBench::default_shape() };
        assert!(bad.validate().unwrap_err().to_string().contains("--head"));
    }
}
