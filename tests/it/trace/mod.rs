//! Path traces through the network-namespace lab: the library's traces and `--trace` /
//! `--explain` through the binary.

mod cli;
mod library;
