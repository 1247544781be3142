//! One probe: walks the layers for one address, times them, and returns a Report, never an Err.

pub mod errqueue;
pub mod tcp;
pub mod trace;
