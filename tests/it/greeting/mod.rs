//! The greeting layer: what a service says first, or answers to what the probe sends.

mod daemons;
mod http_redis;
