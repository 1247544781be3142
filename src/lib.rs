//! reach: walk the layers of a connection and stop at the first one that fails, saying which
//! layer, why, and who answered.

pub mod cert;
pub mod demo;
pub mod probe;
pub mod render;
pub mod report;
