//! Demo fixtures shared by the tests and `reach demo`: a run-time PKI and a small TLS server.

pub mod pki;
pub mod tls_server;
