//! `lmlab::precision` against numpy / ml_dtypes, bit for bit.
//!
//! The vectors (≥ 20,000 inputs per format: random bit patterns, random float64s across and beyond
//! each range, every representable value or a sample of them, the halfway ties between neighbours
//! and their float64 neighbours, subnormals, overflow, infinities, NaNs) are made by
//! `tests/fixtures/precision/generate_vectors.py`; see its docstring for where each expected value
//! comes from. The same test runs natively and, with `wasm-bindgen-test`, in headless Chromium, so
//! the browser's lab rounds exactly like the CLI's.

use lmlab::precision::{classify, decode, encode, Class, Format};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test;

macro_rules! vectors {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/precision/", $name, ".csv"))
    };
}

fn check(format: Format, csv: &str) {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, line) in csv.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!(cols.len(), 5, "{format}.csv line {}: {line}", i + 1);
        let input = f64::from_bits(u64::from_str_radix(cols[0], 16).unwrap());
        let expected = u64::from_str_radix(cols[1], 16).unwrap();
        let decoded = f64::from_bits(u64::from_str_radix(cols[2], 16).unwrap());
        let class = cols[3];
        let got = encode(format, input);
        let sign_bit = 1u64 << (format.total_bits() - 1);
        let ok = if input.is_nan() {
            // NaN payloads are the library's choice; NaN-ness and sign are not.
            classify(format, got) == Class::Nan && (got & sign_bit) == (expected & sign_bit)
        } else {
            let value = decode(format, got);
            got == expected
                && (value.to_bits() == decoded.to_bits() || value.is_nan() && decoded.is_nan())
                && classify(format, got).as_str() == class
        };
        if !ok && failures.len() < 10 {
            failures.push(format!(
                "line {}: input {input:e} ({}) expected {expected:#x} = {decoded:e} [{class}], got {got:#x} = {:e} [{}]",
                i + 1,
                cols[0],
                decode(format, got),
                classify(format, got).as_str()
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{format}: {} mismatches, first:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 20_000, "{format}: only {checked} vectors");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fp64_matches_numpy() {
    check(Format::Fp64, vectors!("fp64"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fp32_matches_numpy() {
    check(Format::Fp32, vectors!("fp32"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn tf32_matches_pytorch_rounding() {
    check(Format::Tf32, vectors!("tf32"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fp16_matches_numpy() {
    check(Format::Fp16, vectors!("fp16"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn bf16_matches_ml_dtypes() {
    check(Format::Bf16, vectors!("bf16"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fp8_e4m3fn_matches_ml_dtypes() {
    check(Format::Fp8E4M3, vectors!("fp8e4m3"));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn fp8_e5m2_matches_ml_dtypes() {
    check(Format::Fp8E5M2, vectors!("fp8e5m2"));
}

/// The lecture-2 accumulation demo against numpy's own loop (accumulation.json).
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn accumulation_matches_numpy() {
    use lmlab::precision::{accumulate, AccumulationRecipe as R};
    let json = include_str!("../../../tests/fixtures/precision/accumulation.json");
    let number = |key: &str| -> f64 {
        let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} missing"));
        let rest = &json[at + key.len() + 3..];
        rest[..rest.find([',', '\n']).unwrap()].trim().parse().unwrap()
    };
    for (recipe, key) in [
        (R::Fp32, "fp32"),
        (R::Fp16, "fp16"),
        (R::Bf16, "bf16"),
        (R::Fp16InFp32, "fp16-in-fp32"),
        (R::Bf16InFp32, "bf16-in-fp32"),
    ] {
        assert_eq!(accumulate(0.01, 1000, recipe).result, number(key), "{key}");
    }
}
