//! Pieces shared by the pages: charts, exercises, form fields.

pub mod charts;
pub mod exercises;
pub mod field;
pub mod loglog;
pub mod roofline;
pub mod tokens;
