//! `lmlab float`, `lmlab formats`, `lmlab accumulate`: the precision lab.

use lmlab::precision::{
    accumulation_demo, from_bits, parse_bits, parse_input, parse_value, represent_input, Format, Representation,
};
use lmlab::units::{format_number, parse_count};
use lmlab::InputError;

use crate::cli::{AccumulateArgs, FloatArgs, JsonFlag};
use crate::report::{print_json, print_pairs, print_table};

pub fn run(args: &FloatArgs) -> Result<(), InputError> {
    let formats = match &args.format {
        Some(f) => vec![Format::parse(f).map_err(|e| InputError { field: "--format".into(), ..e })?],
        None => Format::ALL.to_vec(),
    };
    let mut beyond_f64 = false;
    let reps: Vec<Representation> = match (&args.bits, &args.value) {
        (Some(bits), _) => vec![from_bits(formats[0], parse_bits("--bits", bits)?)?],
        (None, Some(value)) => {
            let x = parse_input("VALUE", value)?;
            beyond_f64 = x.beyond_f64;
            formats.iter().map(|&f| represent_input(f, x)).collect()
        }
        (None, None) => return Err(InputError::new("VALUE", "", "a number, or --bits with --format")),
    };
    if args.json {
        if args.format.is_some() {
            print_json(&reps[0]);
        } else {
            print_json(&reps);
        }
        return Ok(());
    }
    println!("input: {}", reps[0].input);
    if beyond_f64 {
        println!("note: the number typed is beyond float64's range (about ±1.8e308), so it reads as inf and every error is inf");
    }
    let rows: Vec<Vec<String>> = reps
        .iter()
        .map(|r| {
            vec![
                r.format.key().to_string(),
                spaced_bits(r),
                r.hex.clone(),
                shorten(&r.exact, 40),
                r.class.as_str().to_string(),
                format_number(r.abs_error),
                format_number(r.rel_error),
            ]
        })
        .collect();
    print_table(
        &["format", "bits (sign exponent mantissa)", "hex", "stored value", "class", "abs error", "rel error"],
        &rows,
    );
    Ok(())
}

/// The bit string with spaces between the sign, exponent and mantissa fields.
fn spaced_bits(r: &Representation) -> String {
    let e = r.format.exponent_bits() as usize;
    format!("{} {} {}", &r.bits[..1], &r.bits[1..1 + e], &r.bits[1 + e..])
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

pub fn formats(args: &JsonFlag) -> Result<(), InputError> {
    let ranges: Vec<_> = Format::ALL.iter().map(|f| f.range()).collect();
    if args.json {
        print_json(&ranges);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = ranges
        .iter()
        .map(|r| {
            vec![
                r.format.key().to_string(),
                format!("1/{}/{}", r.exponent_bits, r.mantissa_bits),
                r.bias.to_string(),
                format!("{:e}", r.max_finite),
                format!("{:e}", r.min_normal),
                format!("{:e}", r.min_subnormal),
                format!("{:e}", r.epsilon),
                format!("{:.2}", r.decimal_digits),
            ]
        })
        .collect();
    print_table(
        &["format", "s/e/m bits", "bias", "max finite", "min normal", "min subnormal", "epsilon", "digits"],
        &rows,
    );
    Ok(())
}

pub fn accumulate(args: &AccumulateArgs) -> Result<(), InputError> {
    let value = parse_value("--value", &args.value)?;
    if !value.is_finite() {
        return Err(InputError::new("--value", &args.value, "a finite number"));
    }
    let times = parse_count("--times", &args.times)?;
    if times > 10_000_000 {
        return Err(InputError::new("--times", &args.times, "at most 10,000,000"));
    }
    let mut runs = accumulation_demo(value, times as usize);
    if args.json {
        // The trajectories are for charts; scripts get the results.
        runs.iter_mut().for_each(|r| r.trajectory.clear());
        print_json(&runs);
        return Ok(());
    }
    println!("adding {} to zero {} times (exact answer {}):", args.value, times, format_number(runs[0].exact));
    let pairs: Vec<(&str, String)> =
        runs.iter().map(|r| (r.label, format!("{}   (error {})", r.result, format_number(r.abs_error)))).collect();
    print_pairs(&pairs);
    Ok(())
}
