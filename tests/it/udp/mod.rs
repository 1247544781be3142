//! The UDP layer (`-u`, `udp://`): verdicts and application answers from real daemons on
//! loopback, and ICMP evidence through the network-namespace lab.

mod daemons;
mod lab;
