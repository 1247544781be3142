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

/// A line of input that could not be used, or (line 0) a problem with the input as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {problem}", line_part(*.line))]
pub struct InputError {
    /// `stdin` or the file name.
    pub source_name: String,
    /// 1-based line number; 0 when the problem is about the whole input.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

fn line_part(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" line {line}")
    }
}

/// Longest input line kept, in bytes: four times the longest target (2048 characters), with
/// room for a trailing comment. A longer line is skipped as it streams past, never held whole.
pub(crate) const MAX_LINE: usize = 8 * 1024;

/// Lines that are not text (a NUL byte, or invalid UTF-8 outside a comment) after which the
/// input is taken for a binary file and abandoned.
pub(crate) const MAX_BINARY_LINES: usize = 5;

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
///
/// Reading is bounded: a line longer than 8 KiB (`MAX_LINE`) is skipped with one error without being
/// held in memory; lines that are not text are skipped, and after five of them
/// (or one endless line of NUL bytes, as `/dev/zero`) the input is abandoned with one error; a
/// read error ends the input with one error; an input with no target at all says so.
pub fn read_lines(
    reader: impl BufRead,
    source_name: String,
    max_addresses: u128,
) -> impl Iterator<Item = Result<Expr, InputError>> {
    Lines {
        reader,
        source_name,
        max_addresses,
        line_no: 0,
        buf: Vec::new(),
        not_text: Vec::new(),
        targets_seen: false,
        done: false,
    }
}

/// One raw line as read.
enum Raw {
    /// At most [`MAX_LINE`] bytes, without the newline.
    Line,
    /// Longer than [`MAX_LINE`]: skipped. `nul` when a NUL byte was seen in what was read;
    /// `ended` when the newline was reached (otherwise the input was abandoned mid-line).
    TooLong { nul: bool, ended: bool },
}

struct Lines<R> {
    reader: R,
    source_name: String,
    max_addresses: u128,
    line_no: usize,
    /// The current line (bounded by [`MAX_LINE`]).
    buf: Vec<u8>,
    /// Numbers of the lines that were not text.
    not_text: Vec<usize>,
    /// Whether any line held a target (good or bad).
    targets_seen: bool,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    fn error(&self, line: usize, problem: impl Into<String>) -> InputError {
        InputError {
            source_name: self.source_name.clone(),
            line,
            problem: problem.into(),
        }
    }

    /// Reads one line into `buf` with bounded memory; `None` at the end of the input.
    fn read_raw(&mut self) -> std::io::Result<Option<Raw>> {
        self.buf.clear();
        let mut any = false;
        let mut too_long = false;
        let mut nul = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            if !too_long && self.buf.len() + part.len() > MAX_LINE {
                too_long = true;
                nul = self.buf.contains(&0);
                self.buf.clear();
            }
            if too_long {
                nul = nul || part.contains(&0);
            } else {
                self.buf.extend_from_slice(part);
            }
            let used = part.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(Some(if too_long {
                    Raw::TooLong { nul, ended: true }
                } else {
                    Raw::Line
                }));
            }
            if too_long && nul {
                // An over-long line of binary (`/dev/zero` is one endless line): no use
                // reading on to its end, which may never come.
                return Ok(Some(Raw::TooLong { nul, ended: false }));
            }
        }
        Ok(match (any, too_long) {
            (false, _) => None,
            (true, false) => Some(Raw::Line),
            (true, true) => Some(Raw::TooLong { nul, ended: true }),
        })
    }

    /// The target text of the line in `buf`, `Ok(None)` for blank and comment lines, `Err(())`
    /// when the line is not text.
    fn text(&self) -> Result<Option<String>, ()> {
        if self.buf.contains(&0) {
            return Err(());
        }
        let line = String::from_utf8_lossy(&self.buf);
        let line = if self.line_no == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            &line
        };
        let text = line.split('#').next().unwrap_or("").trim();
        // Invalid UTF-8 inside a comment is harmless; in the target part it is not text.
        if text.contains(char::REPLACEMENT_CHARACTER) {
            return Err(());
        }
        Ok((!text.is_empty()).then(|| text.to_string()))
    }

    /// Notes a line that is not text; the error that abandons the input once there are enough.
    fn not_text(&mut self) -> Option<InputError> {
        self.not_text.push(self.line_no);
        (self.not_text.len() >= MAX_BINARY_LINES).then(|| self.binary())
    }

    fn binary(&mut self) -> InputError {
        self.done = true;
        self.error(
            0,
            format!(
                "the input looks binary ({} with NUL bytes or invalid UTF-8: {}); stopped reading it",
                lines_word(self.not_text.len()),
                line_list(&self.not_text)
            ),
        )
    }

    /// What is left to say at the end of the input.
    fn at_end(&mut self) -> Option<InputError> {
        self.done = true;
        if !self.not_text.is_empty() {
            let n = self.not_text.len();
            return Some(self.error(
                0,
                format!(
                    "{} {} not text (NUL bytes or invalid UTF-8), skipped",
                    if n == 1 { "line" } else { "lines" },
                    line_list(&self.not_text)
                ),
            ));
        }
        if !self.targets_seen {
            let why = if self.line_no == 0 {
                "the input is empty"
            } else {
                "only comments and blank lines"
            };
            return Some(self.error(0, format!("no targets: {why}")));
        }
        None
    }
}

fn lines_word(n: usize) -> String {
    if n == 1 {
        "1 line".into()
    } else {
        format!("{n} lines")
    }
}

fn line_list(lines: &[usize]) -> String {
    let list: Vec<String> = lines.iter().map(usize::to_string).collect();
    list.join(", ")
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = Result<Expr, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let raw = match self.read_raw() {
                Ok(Some(raw)) => raw,
                Ok(None) => return self.at_end().map(Err),
                Err(e) => {
                    // An unreadable input (a directory, an I/O error) fails once, not per line.
                    self.done = true;
                    return Some(Err(self.error(
                        self.line_no + 1,
                        format!("unreadable: {e}; stopped reading"),
                    )));
                }
            };
            self.line_no += 1;
            match raw {
                Raw::TooLong { nul: true, ended } => {
                    if !ended {
                        return Some(Err(self.binary_now()));
                    }
                    if let Some(e) = self.not_text() {
                        return Some(Err(e));
                    }
                }
                Raw::TooLong { nul: false, .. } => {
                    self.targets_seen = true;
                    return Some(Err(self.error(
                        self.line_no,
                        format!("longer than {MAX_LINE} bytes, skipped"),
                    )));
                }
                Raw::Line => match self.text() {
                    Ok(None) => {}
                    Ok(Some(text)) => {
                        self.targets_seen = true;
                        return Some(
                            parse_expr(&text, self.max_addresses)
                                .map_err(|e| self.error(self.line_no, e.to_string())),
                        );
                    }
                    Err(()) => {
                        if let Some(e) = self.not_text() {
                            return Some(Err(e));
                        }
                    }
                },
            }
        }
        None
    }
}

impl<R: BufRead> Lines<R> {
    /// Abandons the input at once (an endless binary line).
    fn binary_now(&mut self) -> InputError {
        self.not_text.push(self.line_no);
        self.binary()
    }
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

    fn errors(items: &[Result<Expr, InputError>]) -> Vec<String> {
        items
            .iter()
            .filter_map(|i| i.as_ref().err().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn a_long_line_is_skipped_as_it_streams_past() {
        use std::io::Read;
        let long = std::io::repeat(b'a').take(20 * 1024 * 1024);
        let input = b"192.0.2.1:1\n".chain(long).chain(&b"\n192.0.2.2:2\n"[..]);
        // A small buffer, as a pipe would deliver it.
        let reader = std::io::BufReader::with_capacity(4096, input);
        let items: Vec<_> = read_lines(reader, "in".into(), 16).collect();
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[2], Ok(Expr::One(t)) if t.port == Some(2)));
        assert_eq!(
            errors(&items),
            ["in line 2: longer than 8192 bytes, skipped"]
        );
    }

    #[test]
    fn a_binary_input_is_abandoned_with_one_message() {
        // A deterministic stand-in for a binary file: bytes of every value, newlines included.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let bytes: Vec<u8> = (0..1_000_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let items: Vec<_> = read_lines(&bytes[..], "blob".into(), 16).collect();
        let errs = errors(&items);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("blob: the input looks binary (5 lines"),
            "{errs:?}"
        );
        assert!(items.iter().all(Result::is_err));
    }

    #[test]
    fn an_endless_line_of_nul_bytes_stops_at_once() {
        // `/dev/zero`: one line that never ends. Must return, with bounded memory.
        let items: Vec<_> = read_lines(
            std::io::BufReader::new(std::io::repeat(0)),
            "/dev/zero".into(),
            16,
        )
        .collect();
        assert_eq!(
            errors(&items),
            [
                "/dev/zero: the input looks binary (1 line with NUL bytes or invalid UTF-8: 1); stopped reading it"
            ]
        );
    }

    #[test]
    fn a_few_lines_that_are_not_text_are_named_once_at_the_end() {
        let input = b"\xef\xbb\xbf192.0.2.1:1 # caf\xe9 (Latin-1 in a comment is fine)\nab\x00cd\n\xff\xfe:443\n192.0.2.2:2\n";
        let items: Vec<_> = read_lines(&input[..], "mixed".into(), 16).collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(matches!(&items[0], Ok(Expr::One(t)) if t.port == Some(1)));
        assert!(matches!(&items[1], Ok(Expr::One(t)) if t.port == Some(2)));
        assert_eq!(
            errors(&items),
            ["mixed: lines 2, 3 not text (NUL bytes or invalid UTF-8), skipped"]
        );
    }

    #[test]
    fn an_input_without_targets_says_so() {
        let items: Vec<_> = read_lines(&b""[..], "empty.txt".into(), 16).collect();
        assert_eq!(
            errors(&items),
            ["empty.txt: no targets: the input is empty"]
        );
        let items: Vec<_> =
            read_lines(&b"# nothing yet\n\n  \n"[..], "todo.txt".into(), 16).collect();
        assert_eq!(
            errors(&items),
            ["todo.txt: no targets: only comments and blank lines"]
        );
    }

    /// A reader that always fails, as reading a directory does.
    struct Failing;

    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            // Not a raw errno: EISDIR is 21 on Linux only.
            Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "Is a directory",
            ))
        }
    }

    #[test]
    fn an_unreadable_input_fails_once() {
        let items: Vec<_> =
            read_lines(std::io::BufReader::new(Failing), "dir".into(), 16).collect();
        assert_eq!(items.len(), 1);
        let errs = errors(&items);
        assert!(
            errs[0].starts_with("dir line 1: unreadable: Is a directory"),
            "{errs:?}"
        );
    }
}
