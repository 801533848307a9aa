//! The mixed-precision accumulation demo of CS336 lecture 2.
//!
//! Summing 0.01 a thousand times should give 10. In fp32 it gives 10.0001335; in fp16 the running
//! sum soon becomes so large that each addition is rounded away (9.953125); bf16 stalls at 4.
//! Keeping the fp16 values but accumulating in fp32 recovers most of the accuracy — the core idea
//! of mixed-precision training.

use serde::Serialize;

use super::format::Format;
use super::rounding::round;

/// How the values are stored and where they are summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccumulationRecipe {
    Fp32,
    Fp16,
    Bf16,
    /// Values rounded to fp16, accumulator in fp32.
    Fp16InFp32,
    /// Values rounded to bf16, accumulator in fp32.
    Bf16InFp32,
}

impl AccumulationRecipe {
    pub const ALL: [AccumulationRecipe; 5] = [
        AccumulationRecipe::Fp32,
        AccumulationRecipe::Fp16,
        AccumulationRecipe::Bf16,
        AccumulationRecipe::Fp16InFp32,
        AccumulationRecipe::Bf16InFp32,
    ];

    /// (format of the added values, format of the accumulator)
    fn formats(self) -> (Format, Format) {
        match self {
            AccumulationRecipe::Fp32 => (Format::Fp32, Format::Fp32),
            AccumulationRecipe::Fp16 => (Format::Fp16, Format::Fp16),
            AccumulationRecipe::Bf16 => (Format::Bf16, Format::Bf16),
            AccumulationRecipe::Fp16InFp32 => (Format::Fp16, Format::Fp32),
            AccumulationRecipe::Bf16InFp32 => (Format::Bf16, Format::Fp32),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AccumulationRecipe::Fp32 => "fp32",
            AccumulationRecipe::Fp16 => "fp16",
            AccumulationRecipe::Bf16 => "bf16",
            AccumulationRecipe::Fp16InFp32 => "fp16 values, fp32 sum",
            AccumulationRecipe::Bf16InFp32 => "bf16 values, fp32 sum",
        }
    }
}

/// One recipe's run: the running sum after every addition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccumulationRun {
    pub recipe: AccumulationRecipe,
    pub label: &'static str,
    /// The value actually added each time (the input rounded to the value format).
    pub addend: f64,
    pub result: f64,
    /// The exact answer, value × times.
    pub exact: f64,
    pub abs_error: f64,
    /// The running sum after each addition (for the chart).
    pub trajectory: Vec<f64>,
}

/// Adds `value` to a zero accumulator `times` times, rounding exactly as the recipe's formats do:
/// each sum of two stored values is computed exactly (in f64) and rounded once to the accumulator
/// format, which is what IEEE addition in that format yields.
pub fn accumulate(value: f64, times: usize, recipe: AccumulationRecipe) -> AccumulationRun {
    let (value_format, sum_format) = recipe.formats();
    let addend = round(value_format, value);
    let mut sum = 0.0;
    let mut trajectory = Vec::with_capacity(times);
    for _ in 0..times {
        sum = round(sum_format, sum + addend);
        trajectory.push(sum);
    }
    let exact = value * times as f64;
    AccumulationRun {
        recipe,
        label: recipe.label(),
        addend,
        result: sum,
        exact,
        abs_error: (sum - exact).abs(),
        trajectory,
    }
}

/// The lecture's demo: 0.01 summed a thousand times under every recipe.
pub fn accumulation_demo(value: f64, times: usize) -> Vec<AccumulationRun> {
    AccumulationRecipe::ALL.iter().map(|&r| accumulate(value, times, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers CS336 lecture 2 prints with torch.
    #[test]
    fn lecture_numbers() {
        assert!((accumulate(0.01, 1000, AccumulationRecipe::Fp32).result - 10.0001335).abs() < 1e-6);
        assert_eq!(accumulate(0.01, 1000, AccumulationRecipe::Fp16).result, 9.953125);
        assert!((accumulate(0.01, 1000, AccumulationRecipe::Fp16InFp32).result - 10.0021).abs() < 1e-4);
        assert_eq!(accumulate(0.01, 1000, AccumulationRecipe::Bf16).result, 4.0);
    }
}
