//! Blank lines between a CSV file's rows, kept as rows.
//!
//! The csv crate skips blank lines. In a one-column patient list a blank
//! line is a patient whose postcode is missing, so skipping it would move
//! every later answer up beside the wrong patient. [`BlankRowsKept`] writes
//! `""` into each blank line that lies between two rows, outside any quoted
//! cell, so that the csv crate reads it as a row with one empty cell.
//!
//! Blank lines before the first row or after the last stay blank (and are
//! skipped): they move no answer, and a file's trailing newlines are not
//! patients.

use std::io::{self, Read};

/// Where the scan stands, following csv_core's reading of `,`, `"`, `\r`
/// and `\n` (a quote opens a quoted cell only at a cell's start; `""`
/// inside one is a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `after_cr` when the line ended with `\r`,
    /// so that a `\n` next only completes its `\r\n`.
    LineStart {
        after_cr: bool,
    },
    CellStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: it closes the cell, or with a second
    /// quote stands for one.
    QuoteInQuoted,
}

/// A reader that passes a CSV file through, writing `""` into each blank
/// line between rows.
pub struct BlankRowsKept<R> {
    inner: R,
    state: State,
    /// Whether a row has begun: blank lines before the first are left alone.
    seen_row: bool,
    /// The line ends of blank lines not yet known to lie before a row.
    pending: Vec<u8>,
    /// Bytes ready to hand out, and how many have been.
    out: Vec<u8>,
    taken: usize,
    input: Vec<u8>,
}

impl<R: Read> BlankRowsKept<R> {
    pub fn new(inner: R) -> Self {
        BlankRowsKept {
            inner,
            state: State::LineStart { after_cr: false },
            seen_row: false,
            pending: Vec::new(),
            out: Vec::new(),
            taken: 0,
            input: vec![0; 64 << 10],
        }
    }

    fn scan(&mut self, b: u8) {
        use State::*;
        if let LineStart { after_cr } = self.state {
            match b {
                // The `\n` of a `\r\n` that ended the line before.
                b'\n' if after_cr => self.hold_or_pass(b),
                b'\n' | b'\r' => {
                    if self.seen_row {
                        // A blank line: its `""` is written only if a row follows.
                        self.pending.extend_from_slice(b"\x00");
                        self.pending.push(b);
                    } else {
                        self.out.push(b);
                    }
                }
                _ => {
                    self.flush_pending();
                    self.seen_row = true;
                }
            }
            self.state = match b {
                b'\n' => LineStart { after_cr: false },
                b'\r' => LineStart { after_cr: true },
                _ => CellStart,
            };
            if !matches!(self.state, CellStart) {
                return;
            }
        }
        self.out.push(b);
        self.state = match (self.state, b) {
            (CellStart, b'"') | (QuoteInQuoted, b'"') => Quoted,
            (Quoted, b'"') => QuoteInQuoted,
            (Quoted, _) => Quoted,
            (_, b',') => CellStart,
            (_, b'\n') => LineStart { after_cr: false },
            (_, b'\r') => LineStart { after_cr: true },
            _ => Unquoted,
        };
    }

    /// A line end that completes a `\r\n`: part of the blank line held, if
    /// one is.
    fn hold_or_pass(&mut self, b: u8) {
        if self.pending.is_empty() {
            self.out.push(b);
        } else {
            self.pending.push(b);
        }
    }

    /// The blank lines held lie between rows: each becomes `""`. A zero
    /// byte marks where each began.
    fn flush_pending(&mut self) {
        for &p in &self.pending {
            if p == 0 {
                self.out.extend_from_slice(b"\"\"");
            } else {
                self.out.push(p);
            }
        }
        self.pending.clear();
    }
}

impl<R: Read> Read for BlankRowsKept<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.taken == self.out.len() {
            self.out.clear();
            self.taken = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                // Blank lines after the last row stay blank: dropped.
                return Ok(0);
            }
            let input = std::mem::take(&mut self.input);
            for &b in &input[..n] {
                self.scan(b);
            }
            self.input = input;
        }
        let n = buf.len().min(self.out.len() - self.taken);
        buf[..n].copy_from_slice(&self.out[self.taken..self.taken + n]);
        self.taken += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> String {
        let mut s = String::new();
        BlankRowsKept::new(text.as_bytes())
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn a_blank_line_between_rows_becomes_an_empty_cell() {
        assert_eq!(kept("pc\nA\n\nB\n"), "pc\nA\n\"\"\nB\n");
        assert_eq!(kept("A\n\n\nB"), "A\n\"\"\n\"\"\nB");
    }

    #[test]
    fn crlf_and_cr_line_ends_are_blank_lines_too() {
        assert_eq!(kept("A\r\n\r\nB\r\n"), "A\r\n\"\"\r\nB\r\n");
        assert_eq!(kept("A\r\rB\r"), "A\r\"\"\rB\r");
    }

    #[test]
    fn blank_lines_before_the_first_row_or_after_the_last_stay_blank() {
        assert_eq!(kept("\n\nA\nB\n\n\n"), "\n\nA\nB\n");
        assert_eq!(kept(""), "");
    }

    #[test]
    fn a_blank_line_inside_a_quoted_cell_is_the_cell_s_own() {
        let text = "A,\"two\n\nlines\"\n\"say \"\"hi\"\"\n\n\",x\n\nB\n";
        assert_eq!(
            kept(text),
            "A,\"two\n\nlines\"\n\"say \"\"hi\"\"\n\n\",x\n\"\"\nB\n"
        );
    }

    #[test]
    fn a_quote_inside_an_unquoted_cell_opens_nothing() {
        assert_eq!(kept("a\"b,c\n\nd\n"), "a\"b,c\n\"\"\nd\n");
    }

    /// Hands out one byte a read, as a slow pipe might.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn reads_the_same_whatever_the_pieces_it_is_given_in() {
        let text = "pc\r\nA\r\n\r\n\"B\n\nC\"\r\n\r\nD";
        let mut r = BlankRowsKept::new(Trickle(text.as_bytes()));
        let mut out = Vec::new();
        let mut one = [0u8; 1];
        while r.read(&mut one).unwrap() == 1 {
            out.push(one[0]);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "pc\r\nA\r\n\"\"\r\n\"B\n\nC\"\r\n\"\"\r\nD"
        );
    }
}
