//! reach: walk the layers of a connection and stop at the first one that fails, saying which
//! layer, why, and who answered.

// Hostile input must become a verdict, never a panic: no unwrap outside tests.
#![warn(clippy::unwrap_used)]

pub mod app;
pub mod cancel;
pub mod cert;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod exit;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod input;
pub(crate) mod platform;
pub mod probe;
pub mod render;
pub mod report;
pub mod run;
pub mod serve;
pub mod service;
pub mod stats;
pub mod target;
pub mod verdict;
