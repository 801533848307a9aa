//! The floating-point formats of the lab and their ranges.

use serde::{Deserialize, Serialize};

use super::exact::exact_decimal;
use crate::InputError;

/// A binary floating-point format: 1 sign bit, `exponent_bits`, `mantissa_bits` (stored fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// IEEE 754 binary64, the reference every other format is rounded from.
    Fp64,
    /// IEEE 754 binary32: the default dtype of PyTorch tensors.
    Fp32,
    /// NVIDIA TensorFloat-32: fp32's 8 exponent bits with fp16's 10 mantissa bits (19 bits stored in a
    /// 32-bit register); what Ampere+ tensor cores use for "fp32" matmuls when allowed.
    Tf32,
    /// IEEE 754 binary16.
    Fp16,
    /// Google's brain float: fp32's exponent range with 7 mantissa bits.
    Bf16,
    /// OCP 8-bit E4M3 "FN" (`float8_e4m3fn`): no infinities, one NaN per sign (S.1111.111), max 448.
    #[serde(rename = "fp8e4m3")]
    Fp8E4M3,
    /// OCP 8-bit E5M2 (`float8_e5m2`): IEEE-like with infinities and NaNs, max 57344.
    #[serde(rename = "fp8e5m2")]
    Fp8E5M2,
}

/// How a format spends its top exponent on special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Specials {
    /// IEEE 754: the all-ones exponent holds ±infinity (zero mantissa) and NaNs (any other mantissa).
    /// Overflow rounds to infinity.
    Ieee,
    /// "Finite, NaN only" (the OCP E4M3 FN convention): the all-ones exponent holds ordinary numbers,
    /// except all-ones exponent *and* mantissa, which is NaN. No infinities: overflow gives NaN.
    FiniteNan,
}

/// The numbers that describe a format, for the range table and `lmlab float --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FormatRange {
    pub format: Format,
    pub total_bits: u32,
    pub sign_bits: u32,
    pub exponent_bits: u32,
    pub mantissa_bits: u32,
    pub bias: i32,
    pub specials: Specials,
    pub max_finite: f64,
    pub min_normal: f64,
    pub min_subnormal: f64,
    /// Machine epsilon: the gap between 1 and the next representable value, 2^-mantissa_bits.
    pub epsilon: f64,
    /// Decimal digits of precision, log10(2^(mantissa_bits+1)).
    pub decimal_digits: f64,
    /// `max_finite` written out exactly.
    pub max_finite_exact: String,
    /// `min_subnormal` written out exactly.
    pub min_subnormal_exact: String,
}

impl Format {
    /// Every format, widest first.
    pub const ALL: [Format; 7] =
        [Format::Fp64, Format::Fp32, Format::Tf32, Format::Fp16, Format::Bf16, Format::Fp8E4M3, Format::Fp8E5M2];

    /// The name used on the command line, in URLs and in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Format::Fp64 => "fp64",
            Format::Fp32 => "fp32",
            Format::Tf32 => "tf32",
            Format::Fp16 => "fp16",
            Format::Bf16 => "bf16",
            Format::Fp8E4M3 => "fp8e4m3",
            Format::Fp8E5M2 => "fp8e5m2",
        }
    }

    /// A longer human name.
    pub fn title(self) -> &'static str {
        match self {
            Format::Fp64 => "fp64 (IEEE double)",
            Format::Fp32 => "fp32 (IEEE single)",
            Format::Tf32 => "tf32 (TensorFloat-32)",
            Format::Fp16 => "fp16 (IEEE half)",
            Format::Bf16 => "bf16 (bfloat16)",
            Format::Fp8E4M3 => "fp8 E4M3 (OCP FN)",
            Format::Fp8E5M2 => "fp8 E5M2",
        }
    }

    /// Reads a format name; accepts the keys and the common aliases (`float32`, `half`, `e4m3`, …).
    pub fn parse(text: &str) -> Result<Format, InputError> {
        let t = text.trim().to_ascii_lowercase().replace(['_', '-', ' '], "");
        let format = match t.as_str() {
            "fp64" | "float64" | "f64" | "double" => Format::Fp64,
            "fp32" | "float32" | "f32" | "float" | "single" => Format::Fp32,
            "tf32" | "tensorfloat32" => Format::Tf32,
            "fp16" | "float16" | "f16" | "half" => Format::Fp16,
            "bf16" | "bfloat16" => Format::Bf16,
            "fp8e4m3" | "e4m3" | "fp8e4m3fn" | "float8e4m3fn" | "e4m3fn" => Format::Fp8E4M3,
            "fp8e5m2" | "e5m2" | "float8e5m2" => Format::Fp8E5M2,
            _ => {
                let keys: Vec<&str> = Format::ALL.iter().map(|f| f.key()).collect();
                return Err(InputError::new("format", text, format!("one of: {}", keys.join(", "))));
            }
        };
        Ok(format)
    }

    pub fn exponent_bits(self) -> u32 {
        match self {
            Format::Fp64 => 11,
            Format::Fp32 | Format::Tf32 | Format::Bf16 => 8,
            Format::Fp16 | Format::Fp8E5M2 => 5,
            Format::Fp8E4M3 => 4,
        }
    }

    pub fn mantissa_bits(self) -> u32 {
        match self {
            Format::Fp64 => 52,
            Format::Fp32 => 23,
            Format::Tf32 | Format::Fp16 => 10,
            Format::Bf16 => 7,
            Format::Fp8E4M3 => 3,
            Format::Fp8E5M2 => 2,
        }
    }

    /// Sign + exponent + mantissa bits. (tf32 is 19 bits, kept in a 32-bit register.)
    pub fn total_bits(self) -> u32 {
        1 + self.exponent_bits() + self.mantissa_bits()
    }

    /// Bytes one element takes in memory: tf32 lives in 4-byte fp32 storage.
    pub fn storage_bytes(self) -> u64 {
        match self {
            Format::Tf32 => 4,
            f => u64::from(f.total_bits() / 8),
        }
    }

    pub fn bias(self) -> i32 {
        (1 << (self.exponent_bits() - 1)) - 1
    }

    pub fn specials(self) -> Specials {
        match self {
            Format::Fp8E4M3 => Specials::FiniteNan,
            _ => Specials::Ieee,
        }
    }

    /// The largest finite value's bits without the sign (exponent and mantissa fields).
    pub(crate) fn max_finite_magnitude(self) -> u64 {
        let (e, p) = (self.exponent_bits(), self.mantissa_bits());
        let all_ones_exp = (1u64 << e) - 1;
        let all_ones_man = (1u64 << p) - 1;
        match self.specials() {
            Specials::Ieee => ((all_ones_exp - 1) << p) | all_ones_man,
            Specials::FiniteNan => (all_ones_exp << p) | (all_ones_man - 1),
        }
    }

    /// Smallest unbiased exponent of a normal number, 1 − bias.
    pub(crate) fn min_exponent(self) -> i32 {
        1 - self.bias()
    }

    /// The format's range table row.
    pub fn range(self) -> FormatRange {
        let p = self.mantissa_bits() as i32;
        let max_finite = super::decode(self, self.max_finite_magnitude());
        let min_subnormal = pow2(self.min_exponent() - p);
        FormatRange {
            format: self,
            total_bits: self.total_bits(),
            sign_bits: 1,
            exponent_bits: self.exponent_bits(),
            mantissa_bits: self.mantissa_bits(),
            bias: self.bias(),
            specials: self.specials(),
            max_finite,
            min_normal: pow2(self.min_exponent()),
            min_subnormal,
            epsilon: pow2(-p),
            decimal_digits: f64::from(p as u32 + 1) * std::f64::consts::LOG10_2,
            max_finite_exact: exact_decimal(max_finite),
            min_subnormal_exact: exact_decimal(min_subnormal),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// 2^n exactly, for any n an f64 can hold (subnormals included).
pub(crate) fn pow2(n: i32) -> f64 {
    if n >= -1022 {
        assert!(n <= 1023, "2^{n} overflows f64");
        f64::from_bits(((n + 1023) as u64) << 52)
    } else {
        assert!(n >= -1074, "2^{n} underflows f64");
        f64::from_bits(1u64 << (n + 1074))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranges every reference table lists (IEEE 754, OCP 8-bit FP spec, NVIDIA's TF32 note).
    #[test]
    fn ranges_match_the_specifications() {
        let r = Format::Fp16.range();
        assert_eq!(
            (r.max_finite, r.min_normal, r.min_subnormal, r.epsilon),
            (65504.0, 2f64.powi(-14), 2f64.powi(-24), 2f64.powi(-10))
        );
        let r = Format::Bf16.range();
        assert_eq!(r.max_finite, 3.3895313892515355e38);
        assert_eq!(r.min_normal, f32::MIN_POSITIVE as f64);
        let r = Format::Fp32.range();
        assert_eq!(r.max_finite, f32::MAX as f64);
        assert_eq!(r.min_subnormal, 2f64.powi(-149));
        assert_eq!(r.epsilon, f32::EPSILON as f64);
        assert_eq!(Format::Fp8E4M3.range().max_finite, 448.0);
        assert_eq!(Format::Fp8E4M3.range().min_subnormal, 2f64.powi(-9));
        assert_eq!(Format::Fp8E5M2.range().max_finite, 57344.0);
        assert_eq!(Format::Fp8E5M2.range().min_subnormal, 2f64.powi(-16));
        assert_eq!(Format::Tf32.range().max_finite, (2.0 - 2f64.powi(-10)) * 2f64.powi(127));
        assert_eq!(Format::Fp64.range().max_finite, f64::MAX);
        assert_eq!(Format::Fp64.range().min_subnormal, 5e-324);
        assert_eq!(Format::Fp8E4M3.bias(), 7);
        assert_eq!(Format::Tf32.total_bits(), 19);
    }

    #[test]
    fn parses_names_and_aliases() {
        assert_eq!(Format::parse("bfloat16").unwrap(), Format::Bf16);
        assert_eq!(Format::parse("FP8E4M3").unwrap(), Format::Fp8E4M3);
        assert_eq!(Format::parse("float8_e5m2").unwrap(), Format::Fp8E5M2);
        let err = Format::parse("fp12").unwrap_err();
        assert!(err.to_string().contains("fp12") && err.to_string().contains("bf16"), "{err}");
        for f in Format::ALL {
            assert_eq!(Format::parse(f.key()).unwrap(), f);
        }
    }
}
