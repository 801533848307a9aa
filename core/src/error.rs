//! Errors for bad user input.
//!
//! Every entry point that takes a value from a person (a CLI flag, a text box on a page) reports a bad
//! value with an [`InputError`] that names the field, repeats the value, and says what is accepted.
//! The CLI prints it on one line and exits with code 2; the web pages show it inline.

use std::fmt;

/// A value a person typed that the lab cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// What the value was for, in the user's words (`"--mfu"`, `"GPU"`, `"shape"`).
    pub field: String,
    /// The value as typed.
    pub value: String,
    /// What would have been accepted, e.g. `"a number in (0, 1]"` or `"one of: a100, h100, …"`.
    pub expected: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, value: impl Into<String>, expected: impl Into<String>) -> Self {
        Self { field: field.into(), value: value.into(), expected: expected.into() }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.trim().is_empty() {
            write!(f, "{} is empty: expected {}", self.field, self.expected)
        } else {
            write!(f, "invalid {} '{}': expected {}", self.field, self.value, self.expected)
        }
    }
}

impl std::error::Error for InputError {}
