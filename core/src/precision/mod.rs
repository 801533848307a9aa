//! # Floating-point precision (lecture 2: "Resource accounting" — tensors and their dtypes)
//!
//! Every number a model stores is rounded to a small binary format. This module defines the formats
//! a student meets in deep learning (fp64 down to fp8), rounds any `f64` into them exactly as
//! hardware and `ml_dtypes` do (round to nearest, ties to even), decodes bit patterns back to exact
//! values, and measures what the rounding costs: error, ulp, tensor memory, accumulation drift.
//!
//! * [`Format`] — the formats and their ranges ([`Format::range`]).
//! * [`encode`], [`decode`], [`classify`], [`represent`] — the rounding itself (module `rounding`).
//! * [`exact_decimal`] — the exact decimal expansion of a stored value (0.1 in fp32 is
//!   0.100000001490116119384765625).
//! * [`tensor_bytes`] — shape × dtype → bytes (module `memory`).
//! * [`accumulate`] — the mixed-precision accumulation demo (module `accumulation`).

mod accumulation;
mod exact;
mod format;
mod memory;
mod rounding;

use crate::InputError;

/// Reads a value to round, as the CLI's VALUE and the page's text box take it: any decimal f64
/// spelling (`0.1`, `-2.5e-8`, `1_000`, `1,024`), `inf`, `-inf`, `nan`. Decimal text is parsed to the
/// nearest f64 first; that f64 is what every format is rounded from. A decimal comma (`1,5`) is
/// refused, naming the decimal point (see [`crate::units::strip_separators`]).
pub fn parse_value(field: &str, text: &str) -> Result<f64, InputError> {
    parse_input(field, text).map(|i| i.value)
}

/// A number as typed, read for rounding: its nearest f64, and whether the text was a finite
/// decimal too large for f64 (`1e999`), which f64 itself already rounds to ±inf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Input {
    pub value: f64,
    /// The decimal is finite but beyond f64's range (about ±1.8e308): `value` is ±inf, and every
    /// format's error is infinite, not the 0 that comparing inf with inf would give.
    pub beyond_f64: bool,
}

/// As [`parse_value`], keeping whether a finite decimal overflowed f64 (see [`Input`]).
pub fn parse_input(field: &str, text: &str) -> Result<Input, InputError> {
    let expected = "a decimal number such as 0.1, -2.5e-8, inf or nan";
    let t = crate::units::strip_separators(field, text)?;
    let special = match t.to_ascii_lowercase().trim_start_matches('+') {
        "inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        "-nan" => Some(-f64::NAN),
        _ => None,
    };
    if let Some(value) = special {
        return Ok(Input { value, beyond_f64: false });
    }
    let numeric = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match t.parse::<f64>() {
        // Only digits reach here, so an infinite result is a finite decimal that overflowed.
        Ok(value) if numeric => Ok(Input { value, beyond_f64: value.is_infinite() }),
        _ => Err(InputError::new(field, text, expected)),
    }
}

/// [`represent`] for a typed [`Input`]: a decimal beyond f64 is stored as inf (or NaN in E4M3),
/// an infinitely large error, so its absolute and relative errors are inf.
pub fn represent_input(format: Format, input: Input) -> Representation {
    let mut r = represent(format, input.value);
    if input.beyond_f64 {
        r.abs_error = f64::INFINITY;
        r.rel_error = f64::INFINITY;
    }
    r
}

/// Reads a bit pattern: hexadecimal (`0x3C00`) or binary (`0b0011110000000000`, or just 0s and 1s).
pub fn parse_bits(field: &str, text: &str) -> Result<u64, InputError> {
    let t = text.trim().replace(['_', ' '], "");
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else if let Some(bin) = t.strip_prefix("0b") {
        u64::from_str_radix(bin, 2)
    } else {
        u64::from_str_radix(&t, 2)
    };
    parsed.map_err(|_| InputError::new(field, text, "hex like 0x3C00 or binary like 0b0011110000000000"))
}

pub use accumulation::{accumulate, accumulation_demo, AccumulationRecipe, AccumulationRun};
pub use exact::exact_decimal;
pub use format::{Format, FormatRange, Specials};
pub use memory::{parse_shape, tensor_bytes, TensorMemory};
pub use rounding::{classify, decode, encode, from_bits, represent, round, ulp, Class, Representation};

use crate::exercise::{Exercise, Tolerance};

/// "Predict, then check" questions of the precision lab; every answer is computed by this module.
pub fn exercises() -> Vec<Exercise> {
    let gpt3_ffn = tensor_bytes(&[12288 * 4, 12288], Format::Fp32).bytes as f64 / (1u64 << 30) as f64;
    let fp16_sum = accumulate(0.01, 1000, AccumulationRecipe::Fp16).result;
    vec![
        Exercise::new(
            "fp16-underflow",
            "What is 1e-8 once stored in fp16?",
            round(Format::Fp16, 1e-8),
            Tolerance::Absolute(0.0),
            "",
            "fp16's smallest subnormal is 2^-24 ≈ 6e-8, so 1e-8 rounds to 0: the value underflows. \
             This is why fp16 training needs loss scaling, and why bf16 (fp32's exponent range) does not.",
        ),
        Exercise::new(
            "e4m3-max",
            "What is the largest finite value of fp8 E4M3 (the OCP \"FN\" variant used on H100)?",
            Format::Fp8E4M3.range().max_finite,
            Tolerance::Relative(0.0),
            "",
            "E4M3FN has no infinities: only S.1111.111 is NaN, so 1.110₂ × 2^8 = 448 is the top. \
             Anything from 464 up overflows to NaN.",
        ),
        Exercise::new(
            "bf16-epsilon",
            "What is bf16's machine epsilon (the gap between 1 and the next larger value)?",
            Format::Bf16.range().epsilon,
            Tolerance::Relative(1e-9),
            "",
            "bf16 keeps 7 mantissa bits, so epsilon is 2^-7 = 0.0078125: about two decimal digits.",
        ),
        Exercise::new(
            "gpt3-ffn-memory",
            "How many GiB does one GPT-3 feed-forward matrix (4·12288 × 12288) take in fp32?",
            gpt3_ffn,
            Tolerance::Relative(0.02),
            "GiB",
            "4·12288 × 12288 = 604M values × 4 bytes = 2.4 GB = 2.25 GiB — for a single matrix.",
        ),
        Exercise::new(
            "fp16-accumulate",
            "Add 0.01 to an fp16 accumulator a thousand times. What is the result?",
            fp16_sum,
            Tolerance::Absolute(0.005),
            "",
            "fp16 gives 9.953125: 0.01 is stored as 0.010002136, and once the sum passes 8 each addition \
             rounds to a multiple of 2^-7. Accumulating in fp32 fixes it — the reason for mixed precision.",
        ),
    ]
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn values_and_bits() {
        assert_eq!(parse_value("VALUE", "0.1").unwrap(), 0.1);
        assert_eq!(parse_value("VALUE", "-inf").unwrap(), f64::NEG_INFINITY);
        assert!(parse_value("VALUE", "nan").unwrap().is_nan());
        assert!(parse_value("VALUE", "1e400").unwrap().is_infinite());
        for bad in ["", "abc", "0x10", "1.2.3"] {
            assert!(parse_value("VALUE", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_value("VALUE", "1,024").unwrap(), 1024.0);
        assert_eq!(parse_bits("--bits", "0x3C00").unwrap(), 0x3C00);
        assert_eq!(parse_bits("--bits", "0b101").unwrap(), 5);
        assert_eq!(parse_bits("--bits", "0111").unwrap(), 7);
        assert!(parse_bits("--bits", "0xZZ").is_err());
    }

    #[test]
    fn a_decimal_comma_is_refused_not_read_as_fifteen() {
        let err = parse_value("value", "1,5").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'1,5'") && msg.contains("decimal point (1.5)") && msg.contains("not a comma"), "{msg}");
        assert!(parse_value("value", "0,1").is_err());
    }

    #[test]
    fn a_decimal_beyond_f64_has_an_infinite_error() {
        // f64's largest finite value is (2 − 2^-52)·2^1023 ≈ 1.797e308; 1e999 is far beyond it.
        let input = parse_input("value", "1e999").unwrap();
        assert!(input.beyond_f64 && input.value == f64::INFINITY);
        for f in Format::ALL {
            let r = represent_input(f, input);
            // Stored as inf, or NaN in E4M3 which has no infinity: either way the error is unbounded.
            assert!(r.value.is_infinite() || r.value.is_nan(), "{f}: {}", r.value);
            assert_eq!(r.abs_error, f64::INFINITY, "{f}");
            assert_eq!(r.rel_error, f64::INFINITY, "{f}");
        }
        // The largest finite f64 typed out is not beyond it, and typing inf asks for inf: error 0.
        assert!(!parse_input("value", "1.7976931348623157e308").unwrap().beyond_f64);
        let inf = parse_input("value", "inf").unwrap();
        assert!(!inf.beyond_f64);
        assert_eq!(represent_input(Format::Fp32, inf).abs_error, 0.0);
        assert_eq!(parse_input("value", "-1e999").unwrap().value, f64::NEG_INFINITY);
    }
}
