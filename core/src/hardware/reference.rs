//! Inputs for the kernels and the CPU reference every GPU result is checked against.
//!
//! The check is a rigorous bound, not a guessed tolerance: summing K products in a format with unit
//! roundoff u, in any order, errs by at most γₖ·Σ|aᵢₖ||bₖⱼ| with γₖ = k·u / (1 − k·u) (Higham,
//! *Accuracy and Stability of Numerical Algorithms*, §3.1). The reference sums in f64, whose own error
//! is far below that. A kernel that reads a wrong element, drops a tile edge or races on a barrier
//! misses by far more than the bound.
//!
//! Large outputs are checked on a deterministic sample of entries (every dot product of a sample is
//! computed in full), which keeps a 4096³ check to seconds; the report says how many were checked.

use serde::Serialize;

use super::kernels::Kernel;
use crate::precision::{self, Format};

/// Outputs with at most this many entries are checked in full; larger ones on a sample this size.
pub const FULL_CHECK_ENTRIES: usize = 1 << 18;

/// Row stride (elements) of a row of `cols` elements: padded to a multiple of 4 for `vec4` loads.
pub fn padded(cols: u32) -> u32 {
    cols.div_ceil(4) * 4
}

/// A matrix multiply's problem: C (m×n) = A (m×k) · B (k×n).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MatmulShape {
    pub m: u32,
    pub n: u32,
    pub k: u32,
}

impl MatmulShape {
    pub fn square(n: u32) -> MatmulShape {
        MatmulShape { m: n, n, k: n }
    }

    /// FLOPs of the product: one multiply and one add per (i, j, k).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// The fewest bytes any kernel must move: read A and B once, write C once.
    pub fn min_bytes(&self, input_bytes: u64) -> f64 {
        let (m, n, k) = (self.m as f64, self.n as f64, self.k as f64);
        input_bytes as f64 * (m * k + k * n) + 4.0 * m * n
    }

    /// Arithmetic intensity of the problem (FLOPs per byte of compulsory traffic), the x of the roofline.
    pub fn intensity(&self, input_bytes: u64) -> f64 {
        self.flops() / self.min_bytes(input_bytes)
    }
}

/// Deterministic values in [-1, 1): SplitMix64 (Steele et al., 2014) from `seed`.
pub fn uniform(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // 24 random bits → exactly representable in f32.
            ((z >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

/// The inputs of one matmul, already in the GPU layout (row strides padded with zeros).
#[derive(Debug, Clone)]
pub struct MatmulInputs {
    pub shape: MatmulShape,
    /// A as the kernel sees it (for f16, values already rounded to f16), stride `lda`.
    pub a: Vec<f32>,
    /// B likewise, stride `ldb`.
    pub b: Vec<f32>,
    pub lda: u32,
    pub ldb: u32,
    pub ldc: u32,
}

impl MatmulInputs {
    /// Random A and B for `shape`; for an f16 kernel the values are rounded to f16 first, so the
    /// reference multiplies exactly what the GPU multiplies.
    pub fn new(shape: MatmulShape, kernel: Kernel, seed: u64) -> MatmulInputs {
        let (lda, ldb, ldc) = (padded(shape.k), padded(shape.n), padded(shape.n));
        let to_input = |x: f32| if kernel == Kernel::F16 { precision::round(Format::Fp16, x as f64) as f32 } else { x };
        let fill = |rows: u32, cols: u32, ld: u32, seed: u64| {
            let values = uniform(seed, rows as usize * cols as usize);
            let mut out = vec![0.0f32; rows as usize * ld as usize];
            for r in 0..rows as usize {
                for c in 0..cols as usize {
                    out[r * ld as usize + c] = to_input(values[r * cols as usize + c]);
                }
            }
            out
        };
        let a = fill(shape.m, shape.k, lda, seed);
        let b = fill(shape.k, shape.n, ldb, seed ^ 0x5EED);
        MatmulInputs { shape, a, b, lda, ldb, ldc }
    }

    /// The bytes uploaded for an input matrix: f32, or f16 bit patterns for the f16 kernel.
    pub fn upload_bytes(values: &[f32], kernel: Kernel) -> Vec<u8> {
        if kernel == Kernel::F16 {
            values.iter().flat_map(|&x| (precision::encode(Format::Fp16, x as f64) as u16).to_le_bytes()).collect()
        } else {
            values.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
    }

    /// Elements of the output buffer (rows × padded stride).
    pub fn c_len(&self) -> usize {
        self.shape.m as usize * self.ldc as usize
    }

    /// The exact dot product for C[i, j] (in f64) and Σ|a||b| for its error bound.
    fn entry(&self, i: usize, j: usize) -> (f64, f64) {
        let (mut sum, mut abs) = (0.0f64, 0.0f64);
        for k in 0..self.shape.k as usize {
            let p = self.a[i * self.lda as usize + k] as f64 * self.b[k * self.ldb as usize + j] as f64;
            sum += p;
            abs += p.abs();
        }
        (sum, abs)
    }

    /// The entries the check visits: all of them for small outputs, else a spread-out sample that
    /// always includes the four corners (where tile edges are).
    pub fn checked_entries(&self) -> Vec<(usize, usize)> {
        let (m, n) = (self.shape.m as usize, self.shape.n as usize);
        if m * n <= FULL_CHECK_ENTRIES {
            return (0..m).flat_map(|i| (0..n).map(move |j| (i, j))).collect();
        }
        let mut picks: Vec<(usize, usize)> = vec![(0, 0), (0, n - 1), (m - 1, 0), (m - 1, n - 1)];
        let r = uniform(0xC0FFEE ^ (m * n) as u64, 2 * 16_384);
        picks.extend(r.chunks(2).map(|p| {
            let i = (((p[0] + 1.0) / 2.0) as f64 * m as f64) as usize;
            let j = (((p[1] + 1.0) / 2.0) as f64 * n as f64) as usize;
            (i.min(m - 1), j.min(n - 1))
        }));
        picks
    }

    /// Compares the GPU's C (stride `ldc`) with the reference on [`Self::checked_entries`].
    pub fn check(&self, c: &[f32], kernel: Kernel) -> Check {
        let k = self.shape.k as f64;
        let bound_factor = match kernel {
            // 16 products summed in f16, then ⌈K/16⌉ partial sums added in f32.
            Kernel::F16 => {
                gamma(17.0, unit_roundoff(Format::Fp16)) + gamma((k / 16.0).ceil() + 2.0, unit_roundoff(Format::Fp32))
            }
            _ => gamma(k + 1.0, unit_roundoff(Format::Fp32)),
        };
        // Underflow adds an absolute error of at most half the smallest subnormal step per operation:
        // 2^-25 per term for f16 (products of small values land in f16's subnormals), 2^-150 for f32.
        let absolute = match kernel {
            Kernel::F16 => (k + 1.0) * 2f64.powi(-25),
            _ => (k + 1.0) * 2f64.powi(-150),
        };
        let mut check = Check { entries: 0, max_abs_error: 0.0, worst_ratio: 0.0, ok: true, first_bad: None };
        for (i, j) in self.checked_entries() {
            let (exact, abs) = self.entry(i, j);
            let got = c.get(i * self.ldc as usize + j).copied().unwrap_or(f32::NAN) as f64;
            let err = (got - exact).abs();
            let bound = bound_factor * abs + absolute;
            check.entries += 1;
            // Written so that a NaN error (a never-written or garbage entry) fails too.
            let within = err <= bound;
            if !within {
                check.ok = false;
                if check.first_bad.is_none() {
                    check.first_bad = Some(BadEntry { row: i, col: j, got, expected: exact });
                }
            }
            if err.is_nan() {
                check.max_abs_error = f64::NAN;
            } else if err > check.max_abs_error {
                check.max_abs_error = err;
            }
            let ratio = err / bound;
            if ratio > check.worst_ratio || ratio.is_nan() {
                check.worst_ratio = ratio;
            }
        }
        check
    }
}

/// The copy kernel's check: the output must equal the input bit for bit.
pub fn check_copy(src: &[f32], dst: &[f32]) -> Check {
    let mut check =
        Check { entries: src.len(), max_abs_error: 0.0, worst_ratio: 0.0, ok: src.len() == dst.len(), first_bad: None };
    for (i, (s, d)) in src.iter().zip(dst).enumerate() {
        if s.to_bits() != d.to_bits() {
            check.ok = false;
            check.max_abs_error = check.max_abs_error.max((s - d).abs() as f64);
            if check.first_bad.is_none() {
                check.first_bad = Some(BadEntry { row: 0, col: i, got: *d as f64, expected: *s as f64 });
            }
        }
    }
    check
}

/// Unit roundoff u = 2^-(significand bits) of a format (2^-24 for f32, 2^-11 for f16).
pub fn unit_roundoff(format: Format) -> f64 {
    0.5 * 2f64.powi(-(format.mantissa_bits() as i32))
}

/// γₙ = n·u / (1 − n·u): the relative error bound of an n-term sum (∞ once n·u ≥ 1).
pub fn gamma(n: f64, u: f64) -> f64 {
    let nu = n * u;
    if nu >= 1.0 {
        f64::INFINITY
    } else {
        nu / (1.0 - nu)
    }
}

/// The verdict on one result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Output entries compared with the reference.
    pub entries: usize,
    pub max_abs_error: f64,
    /// Largest error / bound over the entries (≤ 1 is correct).
    pub worst_ratio: f64,
    pub ok: bool,
    pub first_bad: Option<BadEntry>,
}

/// The first entry outside its bound, for the error message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadEntry {
    pub row: usize,
    pub col: usize,
    pub got: f64,
    pub expected: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(inputs: &MatmulInputs) -> Vec<f32> {
        let s = inputs.shape;
        let mut c = vec![0.0f32; inputs.c_len()];
        for i in 0..s.m as usize {
            for j in 0..s.n as usize {
                let mut acc = 0.0f32;
                for k in 0..s.k as usize {
                    acc += inputs.a[i * inputs.lda as usize + k] * inputs.b[k * inputs.ldb as usize + j];
                }
                c[i * inputs.ldc as usize + j] = acc;
            }
        }
        c
    }

    #[test]
    fn an_f32_loop_passes_and_an_off_by_one_fails() {
        let inputs = MatmulInputs::new(MatmulShape { m: 37, n: 53, k: 29 }, Kernel::Tiled, 7);
        assert_eq!((inputs.lda, inputs.ldb, inputs.ldc), (32, 56, 56));
        let mut c = naive(&inputs);
        let good = inputs.check(&c, Kernel::Tiled);
        assert!(good.ok && good.entries == 37 * 53, "{good:?}");
        assert!(good.worst_ratio < 0.5, "an f32 loop is well inside the bound: {good:?}");
        // Dropping one term of one dot product (a missed tile edge) is caught and located.
        let (i, j) = (36, 52);
        c[i * 56 + j] -= inputs.a[i * 32 + 28] * inputs.b[28 * 56 + j];
        let bad = inputs.check(&c, Kernel::Tiled);
        assert!(!bad.ok);
        assert_eq!(bad.first_bad.as_ref().map(|b| (b.row, b.col)), Some((i, j)));
    }

    #[test]
    fn padding_is_zero_and_f16_inputs_are_f16_values() {
        let inputs = MatmulInputs::new(MatmulShape { m: 3, n: 5, k: 6 }, Kernel::F16, 1);
        assert_eq!(inputs.lda, 8);
        for r in 0..3 {
            assert_eq!(&inputs.a[r * 8 + 6..r * 8 + 8], &[0.0, 0.0]);
        }
        for &x in &inputs.a {
            assert_eq!(precision::round(Format::Fp16, x as f64), x as f64, "{x} is not an f16 value");
        }
        let bytes = MatmulInputs::upload_bytes(&[1.0, -2.0, 0.5], Kernel::F16);
        // IEEE half: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800.
        assert_eq!(bytes, [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38]);
    }

    #[test]
    fn bounds_and_intensity_match_the_formulas() {
        assert_eq!(unit_roundoff(Format::Fp32), 2f64.powi(-24));
        assert_eq!(unit_roundoff(Format::Fp16), 2f64.powi(-11));
        assert!((gamma(10.0, 0.01) - 0.1 / 0.9).abs() < 1e-15);
        assert!(gamma(2.0, 0.5).is_infinite());
        // 4096³ in f32: 2·4096³ FLOPs over 3·4096²·4 bytes = 4096/6 FLOP/byte.
        let s = MatmulShape::square(4096);
        assert!((s.intensity(4) - 4096.0 / 6.0).abs() < 1e-9);
        assert_eq!(s.flops(), 2.0 * 4096f64.powi(3));
    }

    #[test]
    fn large_outputs_are_sampled_with_the_corners() {
        let inputs =
            MatmulInputs { shape: MatmulShape::square(1024), a: vec![], b: vec![], lda: 1024, ldb: 1024, ldc: 1024 };
        let picks = inputs.checked_entries();
        assert_eq!(picks.len(), 4 + 16_384);
        assert!(picks.contains(&(1023, 1023)) && picks.contains(&(0, 1023)));
        assert!(picks.iter().all(|&(i, j)| i < 1024 && j < 1024));
        // Spread over the whole matrix, not bunched in one corner.
        assert!(picks.iter().any(|&(i, _)| i > 900) && picks.iter().any(|&(_, j)| j < 100));
    }

    #[test]
    fn uniform_values_are_in_range_and_reproducible() {
        let v = uniform(3, 10_000);
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        assert_eq!(v, uniform(3, 10_000));
        let mean: f64 = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
    }
}
