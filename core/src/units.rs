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
/// `field` names the value in the error message (e.g. `"--params"`). A comma is read only as a
/// thousands separator (see [`strip_separators`]): `1,5` is refused rather than read as 15.
pub fn parse_number(field: &str, text: &str) -> Result<f64, InputError> {
    let expected = "a number such as 0.5, 70e9, 70B or 1,024 (suffixes k, M, B/G, T, P)";
    let cleaned = strip_separators(field, text)?;
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

/// Removes digit separators from a typed number: `_` anywhere (`1_000_000`), and commas that group
/// thousands (`1,024`, `-12,345,678.5`). Any other comma is refused, naming the decimal point:
/// `1,5` is how much of Europe writes one and a half, and silently reading it as 15 (or `0,1` as 1)
/// would give a student a wrong answer with no hint why. A comma is a thousands separator only in
/// the integer part, after 1–3 leading digits, and before every group of exactly three digits.
pub fn strip_separators(field: &str, text: &str) -> Result<String, InputError> {
    let t: String = text.trim().chars().filter(|c| *c != '_').collect();
    if !t.contains(',') {
        return Ok(t);
    }
    let body = t.trim_start_matches(['+', '-']);
    let int_end = body.find(|c: char| !(c.is_ascii_digit() || c == ',')).unwrap_or(body.len());
    let (int_part, rest) = body.split_at(int_end);
    let groups: Vec<&str> = int_part.split(',').collect();
    let grouped = !rest.contains(',') && (1..=3).contains(&groups[0].len()) && groups[1..].iter().all(|g| g.len() == 3);
    if grouped {
        return Ok(t.replace(',', ""));
    }
    let expected = if t.matches(',').count() == 1 && !t.contains('.') {
        format!("a decimal point ({}), not a comma; commas only group thousands, as in 1,024", t.replace(',', "."))
    } else {
        "a decimal point (1.5), not a comma; commas only group thousands, as in 1,024".to_string()
    };
    Err(InputError::new(field, text, expected))
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

/// Prints a count for people, with one rule everywhere (pages, CLI, tests):
///
/// * below 1,000: three significant digits (`512`, `0.25`, `60.1` hours, `481` GPU-hours);
/// * from 1,000 to below 10 million: rounded to a whole number with commas grouping thousands,
///   `172,352` and `1,114,112`: every digit is still meaningful, and the grouping is the one
///   [`parse_number`] reads back;
/// * from 10 million to below 10¹⁸: three significant digits and a short-scale suffix, `124M`,
///   `2.13B`, `46.7B`, `5.12T`, `1.5P` — the way model and dataset sizes are quoted, and again a
///   spelling [`parse_number`] accepts. Three digits, never more: a mantissa never has three digits
///   after its point, so `2.13B` cannot be misread as the European `2.127` (2127) the old
///   `172.352K` invited;
/// * from 10¹⁸ up: scientific notation with three significant digits, `6.3e24`.
pub fn format_count(x: f64) -> String {
    if !x.is_finite() {
        return format_number(x);
    }
    let a = x.abs();
    if a < 1e3 {
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 12) as usize;
        let s = trim_zeros(&format!("{x:.decimals$}"));
        // 999.7 rounds to "1000", which the grouped rule prints as 1,000.
        if s.trim_start_matches('-') != "1000" {
            return if a == 0.0 { "0".into() } else { s };
        }
    }
    if a < 1e7 {
        let rounded = x.round();
        // Rounding can carry 9,999,999.6 up to 10,000,000, which the next rule prints.
        if rounded.abs() < 1e7 {
            return group_thousands(rounded as i64);
        }
    }
    // Round to three significant digits first, so that 999.6M becomes 1B rather than "1000M".
    let rounded: f64 = format!("{:.2e}", x).parse().unwrap_or(x);
    let r = rounded.abs();
    let (scale, suffix) = if r >= 1e18 {
        let s = format!("{x:.2e}");
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{}", trim_zeros(m), e),
            None => s,
        };
    } else if r >= 1e15 {
        (1e15, "P")
    } else if r >= 1e12 {
        (1e12, "T")
    } else if r >= 1e9 {
        (1e9, "B")
    } else {
        (1e6, "M")
    };
    let m = rounded / scale;
    let decimals = if m.abs() >= 100.0 {
        0
    } else if m.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{}{}", trim_zeros(&format!("{m:.decimals$}")), suffix)
}

/// `1234567` → `1,234,567`.
fn group_thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
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

/// Prints a duration the way a person plans with it: seconds, minutes, hours, days or years.
///
/// What-if inputs make absurd durations easy to reach (10³⁰ parameters, 10¹² GPUs), so both ends
/// stay readable: anything under a second is `< 1 s` (a training run that short is a sign to check
/// the inputs, not a number to plan with), and from 1,000 years up the years are written in
/// scientific notation (`3.2e18 years`) instead of a 20-digit number.
pub fn format_duration(seconds: f64) -> String {
    const YEAR: f64 = 365.25 * 86400.0;
    if !seconds.is_finite() {
        return "forever".into();
    }
    if seconds < 1.0 {
        "< 1 s".into()
    } else if seconds < 120.0 {
        format!("{} s", format_number((seconds * 10.0).round() / 10.0))
    } else if seconds < 7200.0 {
        format!("{:.1} minutes", seconds / 60.0)
    } else if seconds < 2.0 * 86400.0 {
        format!("{:.1} hours", seconds / 3600.0)
    } else if seconds < 2.0 * YEAR {
        format!("{:.1} days", seconds / 86400.0)
    } else if seconds < 1000.0 * YEAR {
        format!("{:.1} years", seconds / YEAR)
    } else {
        format!("{:.1e} years", seconds / YEAR)
    }
}

/// A step-sized duration with its unit: `54.4 ms`, `3.52 s`, `820 µs` (three significant digits;
/// [`format_duration`] is for training runs, in seconds to years).
pub fn format_step_time(seconds: f64) -> String {
    let (value, unit) = match seconds.abs() {
        s if s >= 1.0 || s == 0.0 => (seconds, "s"),
        s if s >= 1e-3 => (seconds * 1e3, "ms"),
        _ => (seconds * 1e6, "µs"),
    };
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_times_keep_three_digits() {
        assert_eq!(format_step_time(0.054_444), "54.4 ms");
        assert_eq!(format_step_time(3.517), "3.52 s");
        assert_eq!(format_step_time(0.000_82), "820 µs");
        assert_eq!(format_step_time(0.0), "0.00 s");
    }

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
        assert_eq!(format_bytes(128.0), "128 B");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(80.0 * 1024.0 * 1024.0 * 1024.0), "80 GiB");
        assert_eq!(format_duration(143.93 * 86400.0), "143.9 days");
        assert_eq!(format_number(4.513e12), "4.513e12");
        assert_eq!(format_number(0.1), "0.1");
    }

    #[test]
    fn counts_are_grouped_below_ten_million_and_three_digits_above() {
        // GPT-2 XL's checkpoint-free figures a student meets: 172352 and 1114112 are exact integers.
        assert_eq!(format_count(172_352.0), "172,352");
        assert_eq!(format_count(1_114_112.0), "1,114,112");
        assert_eq!(format_count(50_257.0), "50,257");
        assert_eq!(format_count(9_999_999.0), "9,999,999");
        assert_eq!(format_count(-1234.0), "-1,234");
        assert_eq!(format_count(999.0), "999");
        assert_eq!(format_count(0.5), "0.5");
        assert_eq!(format_count(0.0), "0");
        // Below 1,000 also three significant digits: 60.119 hours is 60.1, 480.96 GPU-hours 481.
        assert_eq!(format_count(60.119), "60.1");
        assert_eq!(format_count(480.96), "481");
        assert_eq!(format_count(999.7), "1,000");
        // Counts are whole: 3453.6 GPU-hours round to 3,454.
        assert_eq!(format_count(3453.6), "3,454");
        // Above: three significant digits. 2,127,057,600 = 2.127…e9 → 2.13 billion.
        assert_eq!(format_count(2_127_057_600.0), "2.13B");
        assert_eq!(format_count(46_702_792_704.0), "46.7B");
        assert_eq!(format_count(124_439_808.0), "124M");
        assert_eq!(format_count(10_000_000.0), "10M");
        // 999,600,000 has three significant digits 1.00e9: a billion, not "1000M".
        assert_eq!(format_count(999_600_000.0), "1B");
        assert_eq!(format_count(5.12e12), "5.12T");
        assert_eq!(format_count(1.5e15), "1.5P");
        assert_eq!(format_count(6.3e24), "6.3e24");
        // Never three digits after a point, which a European reader takes for a thousands group.
        for x in [60.119, 480.96, 1234.5, 172_352.0, 1.114e6, 2.127e9, 12.88e9, 46.703e9, 999.9e12] {
            let s = format_count(x);
            let after_point = s.split_once('.').map_or(0, |(_, f)| f.chars().take_while(char::is_ascii_digit).count());
            assert!(after_point < 3, "{x} → {s}");
        }
        // What is printed reads back (to three digits) as the same count.
        for x in [172_352.0, 2.127e9, 46.703e9, 5.12e12] {
            let back = parse_number("n", &format_count(x)).unwrap();
            assert!((back / x - 1.0).abs() < 5e-3, "{x} → {back}");
        }
    }

    #[test]
    fn durations_stay_readable_at_absurd_scales() {
        const YEAR: f64 = 365.25 * 86400.0;
        // 1e12 GPUs: a fraction of a second.
        assert_eq!(format_duration(0.05), "< 1 s");
        assert_eq!(format_duration(0.0), "< 1 s");
        assert_eq!(format_duration(45.0), "45 s");
        assert_eq!(format_duration(90.0 * 60.0), "90.0 minutes");
        assert_eq!(format_duration(36.0 * 3600.0), "36.0 hours");
        assert_eq!(format_duration(3.0 * YEAR), "3.0 years");
        // 1e30 parameters: 1.0966e21 days / 365.25 = 3.0e18 years.
        let s = format_duration(1_096_583_571_949_918_748_672.0 * 86400.0);
        assert_eq!(s, "3.0e18 years");
        let s = format_duration(5e4 * YEAR);
        assert!(s.contains("years") && s.contains('e'), "{s}");
        assert_eq!(format_duration(f64::INFINITY), "forever");
    }

    #[test]
    fn a_decimal_comma_is_refused_naming_the_decimal_point() {
        let err = parse_number("value", "1,5").unwrap_err();
        assert_eq!(err.value, "1,5");
        let msg = err.to_string();
        assert!(msg.contains("1,5") && msg.contains("decimal point (1.5)") && msg.contains("not a comma"), "{msg}");
        for bad in ["0,1", "70,5B", "1,5e3", ",5", "1,02", "1,0245", "1.5,3", "1,,024"] {
            assert!(parse_number("n", bad).is_err(), "{bad}");
        }
        // Thousands separators are still read.
        assert_eq!(parse_number("n", "1,024").unwrap(), 1024.0);
        assert_eq!(parse_number("n", "12,345,678.5").unwrap(), 12_345_678.5);
        assert_eq!(parse_number("n", "-1,000").unwrap(), -1000.0);
        assert_eq!(parse_number("n", "1,000B").unwrap(), 1e12);
    }
}
