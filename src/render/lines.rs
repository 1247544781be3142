//! The building block of the human report: a labelled line with a tone.
//!
//! Each layer turns its part of a report into `Line`s (pure, testable without a terminal); the
//! human renderer alone escapes values and applies colour, so no layer can forget to.

/// How a line should look: the renderer maps tones to colours when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral information.
    Plain,
    /// A passed check.
    Good,
    /// Worth a look, not a failure.
    Warn,
    /// A failed check.
    Bad,
    /// Secondary detail.
    Dim,
}

/// One line of the human report, below a probe's verdict line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Nesting level (0 = directly under the verdict line).
    pub indent: u8,
    /// Short label, e.g. `tls`, `chain[0]`, `greeting`. Written by us, never from the network.
    pub label: String,
    /// The value; may contain network-supplied text: the renderer escapes it.
    pub value: String,
    /// How it should look.
    pub tone: Tone,
}

impl Line {
    /// A line at `indent` with `label`, `value` and `tone`.
    pub fn new(indent: u8, label: impl Into<String>, value: impl Into<String>, tone: Tone) -> Self {
        Line {
            indent,
            label: label.into(),
            value: value.into(),
            tone,
        }
    }
}
