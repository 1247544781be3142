//! Renderers: pure functions of the reports and a writer. stdout carries only the report.

pub mod greeting;
pub mod human;
pub mod json;
pub(crate) mod junit;
pub mod lines;
pub(crate) mod nagios;
pub(crate) mod printer;
pub mod quic;
pub mod sanitize;
pub mod summary;
pub mod tls;
pub mod trace;
pub(crate) mod udp;
