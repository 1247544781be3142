//! The TLS layer: handshakes, certificate verdicts and the TLS report, against in-process
//! servers, `openssl s_server` and nginx.

mod certs;
mod edges;
mod handshake;
mod nginx;
mod openssl;
mod report;
mod revocation;
