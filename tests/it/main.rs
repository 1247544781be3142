//! The integration tests of `reach`: one test binary, one module per layer or feature, and one
//! support tree (`support/`) that starts the servers they probe.
//!
//! Run one module with `cargo test --test it tls::` (or any part of a test's name). Tests that
//! need root, the network lab or an installed daemon skip with a message on a developer
//! machine and fail under `CI=true`: [`support::skip_or_fail`] is that policy, and every daemon
//! runs through [`support::daemons::Daemon`], in a temporary working directory.

mod cli;
mod dns;
mod frontends;
mod fuzz_seeds;
mod greeting;
mod json_contract;
mod latency;
mod many_targets;
mod matrix;
mod monitor;
mod quic;
mod schemes;
mod starttls;
mod support;
mod tcp;
mod tls;
mod trace;
mod udp;
mod usage;
mod verdict;
mod vhost;
