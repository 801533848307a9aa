//! Human quantities: parsing what people type and printing what they read.
//!
//! Counts in this field are written `70B`, `15T`, `70e9` or `1,024`; memory in GiB or vendor GB;
//! training time in days. Parsing lives here so the CLI and the web pages accept exactly the same
//! spellings and reject the same mistakes with the same message.

use crate::InputError;

/// Suffixes accepted after a number: thousand, million, billion (B or G), trillion, quadrillion.
const SUFFIXES: [(char, f64); 7] =
    [('k', 1e3), ('K', 1e3), ('M', 1e6), ('B', 1e9), ('G', 1e9), ('T', 1e12), ('P', 1e15)];

/// Parses a finite number such as `0.5`, `70e9`, `70B`, `1.5k`, `1,024` or `1_000_000`.
///
/// `field` names the value in the error message (e.g. `"--params"`).
pub fn parse_number(field: &str, text: &str) -> Result<f64, InputError> {
    let expected = "a number such as 0.5, 70e9, 70B or 1,024 (suffixes k, M, B/G, T, P)";
    let trimmed = text.trim();
    let cleaned: String = trimmed.chars().filter(|c| *c != ',' && *c != '_').collect();
    let (digits, scale) = match cleaned.chars().last() {
        Some(last) => match SUFFIXES.iter().find(|(s, _)| *s == last) {
            Some((_, scale)) => (&cleaned[..cleaned.len() - last.len_utf8()], *scale),
            None => (cleaned.as_str(), 1.0),
        },
        None => return Err(InputError::new(field, text, expected)),
    };
    // Rust's f64 parser also takes "inf" and "NaN"; a count or a rate never is one.
    let looks_numeric =
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match digits.parse::<f64>() {
        Ok(v) if looks_numeric && (v * scale).is_finite() => Ok(v * scale),
        _ => Err(InputError::new(field, text, expected)),
    }
}

/// Parses a number that must be strictly positive (sizes, counts, token totals).
pub fn parse_positive(field: &str, text: &str) -> Result<f64, InputError> {
    let v = parse_number(field, text)?;
    if v > 0.0 {
        Ok(v)
    } else {
        Err(InputError::new(field, text, "a number greater than zero"))
    }
}

/// Parses a whole number of at least 1 (layers, heads, GPUs, batch size).
pub fn parse_count(field: &str, text: &str) -> Result<u64, InputError> {
    let v = parse_number(field, text)?;
    if v >= 1.0 && v.fract() == 0.0 && v <= u64::MAX as f64 {
        Ok(v as u64)
    } else {
        Err(InputError::new(field, text, "a whole number of at least 1"))
    }
}

/// Parses a whole number that may be 0 (seeds, warm-up steps, top-k where 0 means "no limit").
pub fn parse_whole(field: &str, text: &str) -> Result<u64, InputError> {
    let v = parse_number(field, text)?;
    if v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64 {
        Ok(v as u64)
    } else {
        Err(InputError::new(field, text, "a whole number ≥ 0"))
    }
}

/// Checks a model FLOPs utilization, which must lie in (0, 1].
pub fn check_mfu(field: &str, mfu: f64) -> Result<f64, InputError> {
    if mfu > 0.0 && mfu <= 1.0 {
        Ok(mfu)
    } else {
        Err(InputError::new(field, format_number(mfu), "a fraction in (0, 1], e.g. 0.5"))
    }
}

/// Prints a count with a short-scale suffix: `2.127B`, `124.4M`, `6.3e24` for astronomical values.
pub fn format_count(x: f64) -> String {
    let a = x.abs();
    let (scale, suffix) = if a >= 1e18 {
        return format!("{x:.3e}");
    } else if a >= 1e15 {
        (1e15, "P")
    } else if a >= 1e12 {
        (1e12, "T")
    } else if a >= 1e9 {
        (1e9, "B")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e3 {
        (1e3, "K")
    } else {
        return format_number(x);
    };
    format!("{}{}", trim_zeros(&format!("{:.3}", x / scale)), suffix)
}

/// Prints a number compactly: integers as integers, others with four significant digits or in
/// scientific notation when very large or small.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{x:.3e}");
        // "4.513e12" rather than "4.513e12" with trailing zeros in the mantissa.
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{}", trim_zeros(m), e),
            None => s,
        };
    }
    if x.fract() == 0.0 {
        return format!("{x:.0}");
    }
    trim_zeros(&format!("{:.*}", (4 - a.log10().floor() as i32).clamp(0, 10) as usize, x))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Prints a byte count in binary units (B, KiB, MiB, GiB, TiB), as memory is allocated.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", format_number(bytes))
    } else {
        format!("{} {}", trim_zeros(&format!("{v:.2}")), UNITS[unit])
    }
}

/// Prints a duration the way a person plans with it: seconds, minutes, hours or days.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "forever".into();
    }
    if seconds < 120.0 {
        format!("{} s", format_number(seconds))
    } else if seconds < 7200.0 {
        format!("{:.1} minutes", seconds / 60.0)
    } else if seconds < 2.0 * 86400.0 {
        format!("{:.1} hours", seconds / 3600.0)
    } else if seconds < 2.0 * 365.25 * 86400.0 {
        format!("{:.1} days", seconds / 86400.0)
    } else {
        format!("{:.1} years", seconds / (365.25 * 86400.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ways_people_write_counts() {
        assert_eq!(parse_number("n", "70e9").unwrap(), 70e9);
        assert_eq!(parse_number("n", "70B").unwrap(), 70e9);
        assert_eq!(parse_number("n", "15T").unwrap(), 15e12);
        assert_eq!(parse_number("n", "1,024").unwrap(), 1024.0);
        assert_eq!(parse_number("n", " 0.5 ").unwrap(), 0.5);
        assert_eq!(parse_number("n", "1.5k").unwrap(), 1500.0);
    }

    #[test]
    fn rejects_what_is_not_a_number_and_names_it() {
        for bad in ["", "abc", "inf", "NaN", "1.2.3", "B", "--"] {
            let err = parse_number("--params", bad).unwrap_err();
            assert_eq!(err.field, "--params");
            assert_eq!(err.value, bad);
        }
        assert!(parse_positive("--tokens", "0").is_err());
        assert!(parse_positive("--tokens", "-5").is_err());
        assert!(parse_count("--gpus", "2.5").is_err());
        assert_eq!(parse_count("--gpus", "1024").unwrap(), 1024);
        assert_eq!(parse_whole("--seed", "0").unwrap(), 0);
        assert!(parse_whole("--seed", "-1").is_err() && parse_whole("--seed", "1.5").is_err());
        assert!(check_mfu("--mfu", 1.5).is_err());
        assert!(check_mfu("--mfu", 0.0).is_err());
        assert_eq!(check_mfu("--mfu", 1.0).unwrap(), 1.0);
    }

    #[test]
    fn prints_quantities() {
        assert_eq!(format_count(2_127_057_600.0), "2.127B");
        assert_eq!(format_bytes(128.0), "128 B");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(80.0 * 1024.0 * 1024.0 * 1024.0), "80 GiB");
        assert_eq!(format_duration(143.93 * 86400.0), "143.9 days");
        assert_eq!(format_number(4.513e12), "4.513e12");
        assert_eq!(format_number(0.1), "0.1");
    }
}
