//! JSON Lines: one object per probe, the contract documented in docs/json.md.

use std::io::{self, Write};

use crate::report::Report;

/// Writes `report` as one line of JSON.
pub fn write_report(w: &mut impl Write, report: &Report) -> io::Result<()> {
    // `io::Error::from` keeps the kind of an I/O error (a closed pipe stays `BrokenPipe`).
    serde_json::to_writer(&mut *w, report).map_err(io::Error::from)?;
    w.write_all(b"\n")
}
