//! Renderers: pure functions of the reports and a writer. stdout carries only the report.

pub mod greeting;
pub mod lines;
pub mod sanitize;
