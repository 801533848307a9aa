//! "Predict, then check" exercises.
//!
//! Each lab asks a few questions from the lectures. The student writes a number first, then checks
//! it. Answers are never typed into this file: every lab module computes its own answers with the
//! same functions the lab uses (see `precision::exercises`, `accounting::exercises`), so a bug in a
//! lab shows up as a wrong exercise too.

use serde::Serialize;

use crate::units::{format_number, parse_number};
use crate::InputError;

/// How close an answer must be to count as right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tolerance {
    /// |answer − expected| ≤ tolerance.
    Absolute(f64),
    /// |answer − expected| ≤ tolerance · |expected|.
    Relative(f64),
}

/// One question with its computed answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exercise {
    /// Stable id, used in URLs and tests.
    pub id: &'static str,
    pub question: &'static str,
    pub answer: f64,
    pub tolerance: Tolerance,
    /// Unit the answer is expected in (`"days"`, `"GiB"`), empty for a plain number.
    pub unit: &'static str,
    /// Shown after checking: why the answer is what it is.
    pub explanation: &'static str,
}

/// The verdict on a student's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub correct: bool,
    pub given: f64,
    pub expected: f64,
    /// e.g. "Right: 143.9 days." or "Not quite: 9.953 (you said 10)."
    pub message: String,
}

impl Exercise {
    pub fn new(
        id: &'static str,
        question: &'static str,
        answer: f64,
        tolerance: Tolerance,
        unit: &'static str,
        explanation: &'static str,
    ) -> Self {
        Self { id, question, answer, tolerance, unit, explanation }
    }

    /// Checks an answer as typed (`"143"`, `"40B"`, `"6.3e24"`).
    pub fn check(&self, typed: &str) -> Result<Verdict, InputError> {
        let given = parse_number("answer", typed)?;
        let diff = (given - self.answer).abs();
        let correct = match self.tolerance {
            Tolerance::Absolute(t) => diff <= t,
            Tolerance::Relative(t) => diff <= t * self.answer.abs(),
        };
        let shown = format_number(self.answer);
        let unit = if self.unit.is_empty() { String::new() } else { format!(" {}", self.unit) };
        let message = if correct {
            format!("Right: {shown}{unit}.")
        } else {
            format!("Not quite: the answer is {shown}{unit} (you said {}).", format_number(given))
        };
        Ok(Verdict { correct, given, expected: self.answer, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_within_tolerance() {
        let e = Exercise::new("x", "q", 143.93, Tolerance::Relative(0.01), "days", "");
        assert!(e.check("144").unwrap().correct);
        assert!(!e.check("150").unwrap().correct);
        assert!(e.check("ten").is_err());
        let z = Exercise::new("z", "q", 0.0, Tolerance::Absolute(0.0), "", "");
        assert!(z.check("0").unwrap().correct);
        assert!(!z.check("1e-8").unwrap().correct);
    }

    #[test]
    fn every_lab_exercise_accepts_its_own_answer_and_rejects_a_far_one() {
        let all = crate::precision::exercises()
            .into_iter()
            .chain(crate::accounting::exercises())
            .chain(crate::tokenize::exercises());
        for e in all {
            let right = e.check(&format!("{:e}", e.answer)).unwrap();
            assert!(right.correct, "{}", e.id);
            let wrong = e.check(&format!("{:e}", e.answer * 3.0 + 1.0)).unwrap();
            assert!(!wrong.correct, "{}", e.id);
        }
    }
}
