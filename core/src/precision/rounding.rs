//! Rounding an `f64` into a format, and reading a format's bits back.
//!
//! One generic routine serves every format, so the rounding rule is written once: split the input
//! into an integer significand and a power of two, shift the significand to the format's quantum
//! (the value of its last mantissa bit at that magnitude), round the shifted-out bits to nearest
//! with ties to even, and only then check for overflow. Doing the arithmetic on integers makes the
//! result exact — there is no intermediate `f32`, so unlike `ml_dtypes`' float64→bf16/fp8 casts
//! (which go through float32 and can round twice) every input is rounded exactly once.

use serde::{Serialize, Serializer};

use super::exact::exact_decimal;
use super::format::{pow2, Format, Specials};
use crate::InputError;

/// What kind of value a bit pattern holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Zero,
    Subnormal,
    Normal,
    Inf,
    Nan,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Zero => "zero",
            Class::Subnormal => "subnormal",
            Class::Normal => "normal",
            Class::Inf => "inf",
            Class::Nan => "nan",
        }
    }
}

/// Rounds `x` to `format` (round to nearest, ties to even) and returns the bit pattern, sign bit
/// highest, in the low `format.total_bits()` bits.
///
/// Overflow gives ±infinity in IEEE formats and NaN in fp8 E4M3 (which has no infinity), as
/// `ml_dtypes` does. NaN inputs give the format's quiet NaN with the input's sign.
pub fn encode(format: Format, x: f64) -> u64 {
    if format == Format::Fp64 {
        return x.to_bits();
    }
    let p = format.mantissa_bits();
    let sign = u64::from(x.is_sign_negative()) << (format.total_bits() - 1);
    if x.is_nan() {
        return sign | quiet_nan(format);
    }
    if x.is_infinite() {
        return sign | overflow(format);
    }
    if x == 0.0 {
        return sign;
    }

    // |x| = m · 2^e exactly, with m an integer of at most 53 bits.
    let raw = x.abs().to_bits();
    let (m, e) = match raw >> 52 {
        0 => (raw, -1074i32),
        biased => ((raw & ((1 << 52) - 1)) | (1 << 52), biased as i32 - 1075),
    };
    let magnitude_exp = e + 63 - m.leading_zeros() as i32; // floor(log2 |x|)
                                                           // The quantum: the value of one unit in the last mantissa place at this magnitude. Below the
                                                           // normal range it stays fixed at the subnormal spacing.
    let mut q = magnitude_exp.max(format.min_exponent()) - p as i32;
    let mut n = round_shift_right(m, q - e);
    if n >> (p + 1) != 0 {
        // Rounding carried into a new binade (e.g. 1.111…1 → 10.000): renormalize.
        n >>= 1;
        q += 1;
    }
    let magnitude = if n >> p == 0 {
        n // subnormal (or zero after underflow): biased exponent 0
    } else {
        let biased = i64::from(q) + i64::from(p) + i64::from(format.bias());
        if biased >= 1 << format.exponent_bits() {
            return sign | overflow(format);
        }
        ((biased as u64) << p) | (n - (1 << p))
    };
    if magnitude > format.max_finite_magnitude() {
        return sign | overflow(format);
    }
    sign | magnitude
}

/// `m / 2^shift` rounded to nearest, ties to even (`shift` may be ≤ 0: then it is exact).
fn round_shift_right(m: u64, shift: i32) -> u64 {
    if shift <= 0 {
        return m << (-shift);
    }
    if shift >= 64 {
        return 0; // m < 2^53, so m / 2^64 < 1/2: rounds to zero
    }
    let kept = m >> shift;
    let rest = m & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if rest > half || (rest == half && kept & 1 == 1) {
        kept + 1
    } else {
        kept
    }
}

/// The quiet NaN `ml_dtypes` and numpy produce: top mantissa bit set (all bits set in E4M3FN).
fn quiet_nan(format: Format) -> u64 {
    let p = format.mantissa_bits();
    let exp_ones = ((1u64 << format.exponent_bits()) - 1) << p;
    match format.specials() {
        Specials::Ieee => exp_ones | (1 << (p - 1)),
        Specials::FiniteNan => exp_ones | ((1 << p) - 1),
    }
}

/// What a too-large magnitude becomes: infinity where the format has one, NaN otherwise.
fn overflow(format: Format) -> u64 {
    match format.specials() {
        Specials::Ieee => ((1u64 << format.exponent_bits()) - 1) << format.mantissa_bits(),
        Specials::FiniteNan => quiet_nan(format),
    }
}

fn fields(format: Format, bits: u64) -> (u64, u64, u64) {
    let p = format.mantissa_bits();
    let sign = (bits >> (format.total_bits() - 1)) & 1;
    let exponent = (bits >> p) & ((1 << format.exponent_bits()) - 1);
    let mantissa = bits & ((1 << p) - 1);
    (sign, exponent, mantissa)
}

/// The class of a bit pattern.
pub fn classify(format: Format, bits: u64) -> Class {
    let (_, exponent, mantissa) = fields(format, bits);
    let exp_ones = (1u64 << format.exponent_bits()) - 1;
    let man_ones = (1u64 << format.mantissa_bits()) - 1;
    match (exponent, format.specials()) {
        (0, _) if mantissa == 0 => Class::Zero,
        (0, _) => Class::Subnormal,
        (e, Specials::Ieee) if e == exp_ones && mantissa == 0 => Class::Inf,
        (e, Specials::Ieee) if e == exp_ones => Class::Nan,
        (e, Specials::FiniteNan) if e == exp_ones && mantissa == man_ones => Class::Nan,
        _ => Class::Normal,
    }
}

/// The exact value a bit pattern stands for (every format here fits in an `f64` exactly).
pub fn decode(format: Format, bits: u64) -> f64 {
    if format == Format::Fp64 {
        return f64::from_bits(bits);
    }
    let (sign, exponent, mantissa) = fields(format, bits);
    let p = format.mantissa_bits() as i32;
    let magnitude = match classify(format, bits) {
        Class::Zero => 0.0,
        Class::Inf => f64::INFINITY,
        Class::Nan => f64::NAN,
        Class::Subnormal => mantissa as f64 * pow2(format.min_exponent() - p),
        Class::Normal => ((1u64 << p) | mantissa) as f64 * pow2(exponent as i32 - format.bias() - p),
    };
    if sign == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// `x` rounded to `format` and read back: what a tensor of that dtype would hold.
pub fn round(format: Format, x: f64) -> f64 {
    decode(format, encode(format, x))
}

/// The unit in the last place at a stored value: the gap to the next value of larger magnitude.
/// NaN for infinities and NaNs.
pub fn ulp(format: Format, bits: u64) -> f64 {
    let (_, exponent, _) = fields(format, bits);
    let p = format.mantissa_bits() as i32;
    match classify(format, bits) {
        Class::Inf | Class::Nan => f64::NAN,
        Class::Zero | Class::Subnormal => pow2(format.min_exponent() - p),
        Class::Normal => pow2(exponent as i32 - format.bias() - p),
    }
}

/// Everything the precision lab shows about one value in one format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Representation {
    pub format: Format,
    /// The value asked for (before rounding).
    #[serde(serialize_with = "number_or_name")]
    pub input: f64,
    /// The bit pattern as 0s and 1s, sign first (19 characters for tf32).
    pub bits: String,
    /// The bit pattern in hexadecimal.
    pub hex: String,
    pub sign: u64,
    /// The biased exponent field.
    pub exponent: u64,
    /// The stored mantissa (fraction) field.
    pub mantissa: u64,
    /// The stored value.
    #[serde(serialize_with = "number_or_name")]
    pub value: f64,
    /// The stored value written out exactly in decimal.
    pub exact: String,
    pub class: Class,
    /// |stored − input|.
    #[serde(serialize_with = "number_or_name")]
    pub abs_error: f64,
    /// |stored − input| / |input| (0 when both are zero).
    #[serde(serialize_with = "number_or_name")]
    pub rel_error: f64,
    /// Spacing of the format at the stored value.
    #[serde(serialize_with = "number_or_name")]
    pub ulp: f64,
}

/// JSON has no infinities or NaN: write those as the strings `"inf"`, `"-inf"`, `"nan"`.
fn number_or_name<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else {
        s.serialize_str(&x.to_string().to_lowercase())
    }
}

/// Rounds `x` into `format` and describes the result.
pub fn represent(format: Format, x: f64) -> Representation {
    describe(format, encode(format, x), x)
}

/// Describes an explicit bit pattern (the "flip a bit" view). Fails if `bits` has more bits than
/// the format.
pub fn from_bits(format: Format, bits: u64) -> Result<Representation, InputError> {
    let width = format.total_bits();
    if width < 64 && bits >> width != 0 {
        return Err(InputError::new(
            "bits",
            format!("{bits:#x}"),
            format!("at most {width} bits for {}", format.key()),
        ));
    }
    Ok(describe(format, bits, decode(format, bits)))
}

fn describe(format: Format, bits: u64, input: f64) -> Representation {
    let value = decode(format, bits);
    let (sign, exponent, mantissa) = fields(format, bits);
    let width = format.total_bits() as usize;
    let abs_error = if value.is_nan() && input.is_nan() || value == input {
        0.0
    } else if value.is_nan() || input.is_nan() {
        f64::INFINITY
    } else {
        (value - input).abs()
    };
    let rel_error = if abs_error == 0.0 {
        0.0
    } else if input == 0.0 || !input.is_finite() {
        f64::INFINITY
    } else {
        abs_error / input.abs()
    };
    Representation {
        format,
        input,
        bits: format!("{bits:0width$b}"),
        hex: format!("0x{bits:0w$X}", w = width.div_ceil(4)),
        sign,
        exponent,
        mantissa,
        value,
        exact: exact_decimal(value),
        class: classify(format, bits),
        abs_error,
        rel_error,
        ulp: ulp(format, bits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_examples() {
        // CS336 lecture 2: 1e-8 underflows in fp16 but not in bf16.
        assert_eq!(round(Format::Fp16, 1e-8), 0.0);
        assert_ne!(round(Format::Bf16, 1e-8), 0.0);
        assert_eq!(encode(Format::Fp32, 0.1), u64::from(0.1f32.to_bits()));
        assert_eq!(represent(Format::Fp32, 0.1).exact, "0.100000001490116119384765625");
    }

    #[test]
    fn ties_go_to_even_and_overflow_follows_the_format() {
        // 1 + 2^-11 is halfway between fp16's 1 and 1 + 2^-10: ties to the even mantissa (1).
        assert_eq!(encode(Format::Fp16, 1.0 + 2f64.powi(-11)), 0x3C00);
        assert_eq!(encode(Format::Fp16, 1.0 + 3.0 * 2f64.powi(-11)), 0x3C02);
        assert_eq!(encode(Format::Fp16, 65520.0), 0x7C00); // rounds past 65504 → inf
        assert_eq!(encode(Format::Fp16, 65519.99), 0x7BFF);
        assert_eq!(encode(Format::Fp8E4M3, 464.0), 0x7E); // tie → 448 (even)
        assert_eq!(encode(Format::Fp8E4M3, 464.01), 0x7F); // → NaN, no infinity
        assert_eq!(encode(Format::Fp8E4M3, f64::NEG_INFINITY), 0xFF);
        assert_eq!(encode(Format::Fp8E5M2, 61440.0), 0x7C); // tie with inf → inf
        assert_eq!(classify(Format::Fp8E4M3, 0x78), Class::Normal); // exponent all ones is a number
        assert_eq!(decode(Format::Fp8E4M3, 0x78), 256.0);
    }

    #[test]
    fn subnormals_round_into_the_normal_range() {
        let min_normal = Format::Fp16.range().min_normal;
        let largest_sub = min_normal - 2f64.powi(-24);
        assert_eq!(classify(Format::Fp16, encode(Format::Fp16, largest_sub)), Class::Subnormal);
        let nudged = largest_sub + 2f64.powi(-25) + 2f64.powi(-40);
        assert_eq!(decode(Format::Fp16, encode(Format::Fp16, nudged)), min_normal);
        assert_eq!(encode(Format::Fp16, 2f64.powi(-25)), 0); // tie with zero → zero (even)
        assert_eq!(encode(Format::Fp16, -2f64.powi(-25) * 1.0001), 0x8001);
    }

    #[test]
    fn bits_round_trip_through_decode() {
        for format in Format::ALL.into_iter().filter(|f| f.total_bits() <= 19) {
            for bits in 0..(1u64 << format.total_bits()) {
                let v = decode(format, bits);
                if v.is_nan() {
                    assert_eq!(classify(format, bits), Class::Nan);
                } else {
                    assert_eq!(encode(format, v), bits, "{format} {bits:#x} = {v}");
                }
            }
        }
    }

    #[test]
    #[allow(clippy::approx_constant)] // 3.14159 is the lecture's input, not π
    fn describes_a_value() {
        let r = represent(Format::Bf16, 3.14159);
        assert_eq!(r.bits.len(), 16);
        assert_eq!(r.bits, "0100000001001001");
        assert_eq!(r.value, 3.140625);
        assert_eq!(r.class, Class::Normal);
        assert_eq!(r.ulp, 2f64.powi(-6));
        assert!((r.abs_error - 0.000965).abs() < 1e-6);
        assert!(from_bits(Format::Fp8E5M2, 0x1FF).is_err());
        assert_eq!(from_bits(Format::Fp8E5M2, 0x7B).unwrap().value, 57344.0);
    }
}
