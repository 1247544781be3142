//! Where targets come from: the command line, a file or stdin (one per line, `#` comments,
//! blank lines, line numbers in errors), and CIDR blocks expanded lazily under a cap.
//! Everything is an iterator, so an input of any length is read as it is probed.

use std::io::BufRead;

use crate::target::{self, Block, Target, TargetError};

/// Default cap on the addresses one CIDR block may expand to (`--max-addresses` lifts it).
pub const DEFAULT_MAX_ADDRESSES: u128 = 4096;

/// One target expression: a single target or a block to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// One target.
    One(Target),
    /// Every address of a block.
    Block(Block),
}

/// A line of input that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {problem}")]
pub struct InputError {
    /// `stdin` or the file name.
    pub source_name: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// Parses one target expression, enforcing the block cap.
pub fn parse_expr(text: &str, max_addresses: u128) -> Result<Expr, TargetError> {
    match target::parse_block(text) {
        Some(Ok(block)) => {
            if block.len() > max_addresses {
                return Err(TargetError {
                    input: text.trim().to_string(),
                    problem: format!(
                        "the block holds {} addresses, more than --max-addresses {max_addresses}",
                        block.len()
                    ),
                });
            }
            Ok(Expr::Block(block))
        }
        Some(Err(e)) => Err(e),
        None => target::parse(text).map(Expr::One),
    }
}

/// Expands expressions into targets, lazily.
pub fn targets(exprs: impl Iterator<Item = Expr>) -> impl Iterator<Item = Target> {
    exprs.flat_map(|expr| -> Box<dyn Iterator<Item = Target> + Send> {
        match expr {
            Expr::One(t) => Box::new(std::iter::once(t)),
            Expr::Block(b) => Box::new(b.into_targets()),
        }
    })
}

/// Reads target expressions from `reader`, one per line. Blank lines and `#` comments (whole
/// line or trailing) are skipped; bad lines come out as errors with their line number.
pub fn read_lines(
    reader: impl BufRead,
    source_name: String,
    max_addresses: u128,
) -> impl Iterator<Item = Result<Expr, InputError>> {
    reader.lines().enumerate().filter_map(move |(index, line)| {
        let line_no = index + 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                return Some(Err(InputError {
                    source_name: source_name.clone(),
                    line: line_no,
                    problem: format!("unreadable: {e}"),
                }));
            }
        };
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            return None;
        }
        Some(parse_expr(text, max_addresses).map_err(|e| InputError {
            source_name: source_name.clone(),
            line: line_no,
            problem: e.to_string(),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Host;

    #[test]
    fn lines_skip_comments_and_blanks_and_number_errors() {
        let input = "# inventory\n\n192.0.2.1:443\n  203.0.113.10,a.example  # lb1\nbad:99999\n198.51.100.0/30\n";
        let items: Vec<_> = read_lines(input.as_bytes(), "hosts.txt".into(), 16).collect();
        assert_eq!(items.len(), 4);
        assert!(matches!(&items[0], Ok(Expr::One(t)) if t.port == Some(443)));
        assert!(matches!(&items[1], Ok(Expr::One(t)) if t.sni.as_deref() == Some("a.example")));
        let err = items[2].as_ref().unwrap_err();
        assert_eq!(err.line, 5);
        assert!(
            err.to_string()
                .starts_with("hosts.txt line 5: invalid target \"bad:99999\""),
            "{err}"
        );
        assert!(matches!(&items[3], Ok(Expr::Block(b)) if b.len() == 4));
    }

    #[test]
    fn blocks_expand_lazily_and_respect_the_cap() {
        let exprs = vec![
            parse_expr("192.0.2.0/30", 16).unwrap(),
            parse_expr("host.example", 16).unwrap(),
        ];
        let hosts: Vec<String> = targets(exprs.into_iter())
            .map(|t| t.host.to_string())
            .collect();
        assert_eq!(
            hosts,
            [
                "192.0.2.0",
                "192.0.2.1",
                "192.0.2.2",
                "192.0.2.3",
                "host.example"
            ]
        );
        let err = parse_expr("2001:db8::/64", DEFAULT_MAX_ADDRESSES).unwrap_err();
        assert!(err.to_string().contains("--max-addresses"), "{err}");
        // A huge block is never materialised: taking a few addresses is instant.
        let Expr::Block(b) = parse_expr("2001:db8::/64", u128::MAX).unwrap() else {
            panic!()
        };
        assert_eq!(b.into_targets().take(3).count(), 3);
        assert!(
            matches!(parse_expr("203.0.113.9", 1).unwrap(), Expr::One(t) if t.host == Host::Ip("203.0.113.9".parse().unwrap()))
        );
    }
}
