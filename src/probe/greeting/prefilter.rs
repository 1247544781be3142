//! The literal words every match of a table pattern starts with: run by `build.rs` over the
//! built-in table, so a process never parses the ~200 patterns to learn them (that parse was
//! half the instructions of a one-shot check). Also compiled into the unit tests.

/// The words one of which starts every match of `pattern` (its literal prefixes, lowercased),
/// or `None` when some match could start otherwise. Parsed without Unicode or case folding,
/// with `{V}` standing as any one character (extraction stops there; the version grammar would
/// only multiply the work): cheap, and exact for the ASCII subjects it is used on.
pub(crate) fn starts(pattern: &str) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let pattern = pattern.replace("{V}", "(?s:.)");
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(&pattern)
        .ok()?;
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_total(64)
        .extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().len() < 2) {
        return None;
    }
    let words: Vec<Vec<u8>> = literals
        .iter()
        .map(|l| l.as_bytes().to_ascii_lowercase())
        .collect();
    words.iter().all(|w| w.is_ascii()).then_some(words)
}
