//! The exact decimal expansion of a binary floating-point value.
//!
//! Every finite binary float is m · 2^e, a dyadic rational, so its decimal expansion terminates:
//! for e < 0, m · 2^e = m · 5^-e / 10^-e. We compute the digits of m · 5^-e (or m · 2^e) with a
//! tiny base-10⁹ big integer and place the decimal point. This is what float.exposed shows and what
//! makes "0.1 is not 0.1" concrete. At most ~770 digits (fp64's smallest subnormal).

/// Writes `x` exactly: `0.100000001490116119384765625` for 0.1f32, `-0` for negative zero,
/// `inf`, `-inf`, `nan` for the specials.
pub fn exact_decimal(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x.is_infinite() {
        return format!("{sign}inf");
    }
    if x == 0.0 {
        return format!("{sign}0");
    }
    let raw = x.abs().to_bits();
    let (mut m, mut e) = match raw >> 52 {
        0 => (raw, -1074i32),
        biased => ((raw & ((1 << 52) - 1)) | (1 << 52), biased as i32 - 1075),
    };
    let zeros = m.trailing_zeros() as i32;
    m >>= zeros;
    e += zeros;

    let mut digits = BigDecimalDigits::from_u64(m);
    if e >= 0 {
        digits.multiply_by_power(2, e as u32);
        return format!("{sign}{}", digits.to_decimal_string());
    }
    let frac_digits = (-e) as usize;
    digits.multiply_by_power(5, frac_digits as u32);
    let text = digits.to_decimal_string();
    let (int_part, frac_part) = if text.len() > frac_digits {
        let (i, f) = text.split_at(text.len() - frac_digits);
        (i.to_string(), f.to_string())
    } else {
        ("0".to_string(), format!("{}{}", "0".repeat(frac_digits - text.len()), text))
    };
    format!("{sign}{int_part}.{frac_part}")
}

/// A non-negative integer in base 10⁹ limbs, least significant first.
struct BigDecimalDigits(Vec<u32>);

const LIMB: u64 = 1_000_000_000;

impl BigDecimalDigits {
    fn from_u64(mut v: u64) -> Self {
        let mut limbs = Vec::new();
        while v > 0 {
            limbs.push((v % LIMB) as u32);
            v /= LIMB;
        }
        Self(limbs)
    }

    fn multiply_small(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = (product % LIMB) as u32;
            carry = product / LIMB;
        }
        while carry > 0 {
            self.0.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
    }

    /// Multiplies by base^exp, a few factors at a time (each factor stays below 2³²).
    fn multiply_by_power(&mut self, base: u32, mut exp: u32) {
        let per_step = if base == 2 { 31 } else { 13 }; // 2^31, 5^13 < 2^32
        while exp > 0 {
            let k = exp.min(per_step);
            self.multiply_small(base.pow(k));
            exp -= k;
        }
    }

    fn to_decimal_string(&self) -> String {
        let mut out = String::new();
        for (i, limb) in self.0.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&limb.to_string());
            } else {
                out.push_str(&format!("{limb:09}"));
            }
        }
        if out.is_empty() {
            out.push('0');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_binary_fractions_exactly() {
        assert_eq!(exact_decimal(0.1f32 as f64), "0.100000001490116119384765625");
        assert_eq!(exact_decimal(0.1), "0.1000000000000000055511151231257827021181583404541015625");
        assert_eq!(exact_decimal(-2.5), "-2.5");
        assert_eq!(exact_decimal(65504.0), "65504");
        assert_eq!(exact_decimal(2f64.powi(100)), "1267650600228229401496703205376");
        assert_eq!(exact_decimal(-0.0), "-0");
        assert_eq!(exact_decimal(f64::NEG_INFINITY), "-inf");
        let tiny = exact_decimal(5e-324);
        assert!(tiny.starts_with("0.000") && tiny.ends_with("625"));
        assert_eq!(tiny.len(), 2 + 1074);
        assert!(tiny.trim_start_matches("0.").trim_start_matches('0').starts_with("494065645841246544"));
    }
}
