//! The TCP layer: verdicts over loopback sockets and through the network-namespace lab.

mod lab;
mod loopback;
mod sweep_timing;
