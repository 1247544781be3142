//! The greeting layer: what a service says first, or answers to what the probe sends.

mod corpus;
mod daemons;
mod http_redis;
