//! Blank lines between a CSV file's rows, kept as rows.
//!
//! The csv crate skips blank lines. In a one-column patient list a blank
//! line is a patient whose postcode is missing, so skipping it would move
//! every later answer up beside the wrong patient. [`BlankRowsKept`] writes
//! `""` into each blank line, outside any quoted cell, so that the csv
//! crate reads it as a row with one empty cell; and
//! [`TrailingBlankRowsDropped`] drops the rows with every cell empty that
//! follow the last row with content (a file's trailing newlines are not
//! patients, and they move no answer). Whether blank rows before the first
//! row with content are rows is the reader's to decide: not before a
//! header, but before a headerless file's first patient.
//!
//! Both hold a fixed amount of memory however many blank lines there are.

use std::io::{self, Read};

const BOM: &[u8] = b"\xef\xbb\xbf";

/// How the line before ended, so that the second byte of a two-byte line
/// end (`\r\n`, or the rarer `\n\r`) is not read as a blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// With nothing a next byte could complete (the start of the file, or
    /// a two-byte line end).
    Whole,
    Cr,
    Lf,
}

/// Where the scan stands, following csv_core's reading of `,`, `"`, `\r`
/// and `\n` (a quote opens a quoted cell only at a cell's start; `""`
/// inside one is a quote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    LineStart(Ended),
    /// A `\r` at the start of a line after a `\r`: a blank line, unless a
    /// `\n` follows (`\r\r\n`, which Python's csv module writes on Windows
    /// for one line end).
    SecondCr,
    CellStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted cell: it closes the cell, or with a second
    /// quote stands for one.
    QuoteInQuoted,
}

/// A reader that passes a CSV file through, writing `""` into each blank
/// line.
pub struct BlankRowsKept<R> {
    inner: R,
    state: State,
    /// Bytes of a byte-order mark seen at the start (csv_core strips it).
    bom: usize,
    /// Whether anything but a mark has been read: a mark after that is
    /// text.
    started: bool,
    /// Bytes ready to hand out, and how many have been.
    out: Vec<u8>,
    taken: usize,
    input: Vec<u8>,
}

impl<R: Read> BlankRowsKept<R> {
    pub fn new(inner: R) -> Self {
        BlankRowsKept {
            inner,
            state: State::LineStart(Ended::Whole),
            bom: 0,
            started: false,
            out: Vec::new(),
            taken: 0,
            input: vec![0; 64 << 10],
        }
    }

    fn scan(&mut self, b: u8) {
        if self.bom < BOM.len() && !self.started {
            if b == BOM[self.bom] {
                self.bom += 1;
                self.out.push(b);
                return;
            }
            if self.bom > 0 {
                // Part of a mark only: the bytes began a row.
                self.started = true;
                self.state = State::Unquoted;
            }
            self.bom = BOM.len();
        }
        self.started = true;
        match self.state {
            State::LineStart(ended) => self.line_start(b, ended),
            State::SecondCr => {
                if b == b'\n' {
                    // `\r\r\n`: one line end, no blank line.
                    self.out.extend_from_slice(b"\r\n");
                    self.state = State::LineStart(Ended::Whole);
                } else {
                    self.blank_line(b'\r');
                    self.state = State::LineStart(Ended::Cr);
                    self.scan(b);
                }
            }
            _ => self.in_row(b),
        }
    }

    fn line_start(&mut self, b: u8, ended: Ended) {
        match (b, ended) {
            // The second byte of a `\r\n` or `\n\r` that ended the line.
            (b'\n', Ended::Cr) | (b'\r', Ended::Lf) => {
                self.out.push(b);
                self.state = State::LineStart(Ended::Whole);
            }
            (b'\r', Ended::Cr) => self.state = State::SecondCr,
            (b'\n' | b'\r', _) => {
                self.blank_line(b);
                self.state = State::LineStart(if b == b'\r' { Ended::Cr } else { Ended::Lf });
            }
            _ => {
                self.state = State::CellStart;
                self.in_row(b);
            }
        }
    }

    /// A blank line between rows: an empty cell, then its line end.
    fn blank_line(&mut self, end: u8) {
        self.out.extend_from_slice(b"\"\"");
        self.out.push(end);
    }

    fn in_row(&mut self, b: u8) {
        use State::*;
        self.out.push(b);
        self.state = match (self.state, b) {
            (CellStart, b'"') | (QuoteInQuoted, b'"') => Quoted,
            (Quoted, b'"') => QuoteInQuoted,
            (Quoted, _) => Quoted,
            (_, b',') => CellStart,
            (_, b'\n') => LineStart(Ended::Lf),
            (_, b'\r') => LineStart(Ended::Cr),
            _ => Unquoted,
        };
    }
}

impl<R: Read> Read for BlankRowsKept<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.taken == self.out.len() {
            self.out.clear();
            self.taken = 0;
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                if self.state == State::SecondCr {
                    // A last `\r\r`: a blank line at the end, dropped.
                    self.state = State::LineStart(Ended::Cr);
                }
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

/// Records as the csv crate reads them, but those with every cell empty
/// after the last record with content are dropped. The ones before it are
/// counted and given back as they were (one empty cell each), so memory
/// stays fixed however many there are.
pub struct TrailingBlankRowsDropped<I> {
    inner: I,
    held: u64,
    next: Option<csv::ByteRecord>,
}

impl<I> TrailingBlankRowsDropped<I> {
    pub fn new(inner: I) -> Self {
        TrailingBlankRowsDropped {
            inner,
            held: 0,
            next: None,
        }
    }

    /// Resumes after `blank` blank rows and the row with content that
    /// followed them, which come first.
    pub fn after(blank: u64, row: csv::ByteRecord, inner: I) -> Self {
        TrailingBlankRowsDropped {
            inner,
            held: blank,
            next: Some(row),
        }
    }
}

/// Whether every cell of a record is empty.
pub fn is_blank(rec: &csv::ByteRecord) -> bool {
    rec.iter().all(<[u8]>::is_empty)
}

impl<I: Iterator<Item = csv::Result<csv::ByteRecord>>> Iterator for TrailingBlankRowsDropped<I> {
    type Item = csv::Result<csv::ByteRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let blank = || csv::ByteRecord::from(vec![""]);
        if self.next.is_some() {
            if self.held > 0 {
                self.held -= 1;
                return Some(Ok(blank()));
            }
            return self.next.take().map(Ok);
        }
        loop {
            match self.inner.next()? {
                Ok(rec) if is_blank(&rec) => self.held += 1,
                Ok(rec) if self.held > 0 => {
                    self.held -= 1;
                    self.next = Some(rec);
                    return Some(Ok(blank()));
                }
                other => return Some(other),
            }
        }
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

    /// The rows the csv crate reads from `text` through both adapters.
    fn rows(text: &str) -> Vec<Vec<String>> {
        let records = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(BlankRowsKept::new(text.as_bytes()))
            .into_byte_records();
        TrailingBlankRowsDropped::new(records)
            .map(|r| {
                r.unwrap()
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_blank_line_between_rows_becomes_an_empty_cell() {
        assert_eq!(kept("pc\nA\n\nB\n"), "pc\nA\n\"\"\nB\n");
        assert_eq!(kept("A\n\n\nB"), "A\n\"\"\n\"\"\nB");
        assert_eq!(rows("pc\nA\n\nB\n"), [["pc"], ["A"], [""], ["B"]]);
    }

    #[test]
    fn crlf_and_cr_line_ends_are_blank_lines_too() {
        assert_eq!(kept("A\r\n\r\nB\r\n"), "A\r\n\"\"\r\nB\r\n");
        assert_eq!(kept("A\r\rB\r"), "A\r\"\"\rB\r");
    }

    #[test]
    fn a_doubled_carriage_return_before_a_line_feed_is_one_line_end() {
        // Python's csv writer on Windows, without newline=''.
        let text = "id,pc\r\r\n1,A\r\r\n2,B\r\r\n";
        assert_eq!(kept(text), text);
        assert_eq!(rows(text), [["id", "pc"], ["1", "A"], ["2", "B"]]);
    }

    #[test]
    fn blank_lines_before_the_first_row_are_rows_but_not_after_the_last() {
        // Whether the first are patients is the reader's to decide (not
        // before a header).
        assert_eq!(kept("\n\nA\nB\n"), "\"\"\n\"\"\nA\nB\n");
        assert_eq!(rows("\n\nA\nB\n\n\n\r\n"), [[""], [""], ["A"], ["B"]]);
        assert_eq!(rows("A\n,\n\"\"\n"), [["A"]]);
        assert_eq!(rows(""), Vec::<Vec<String>>::new());
    }

    #[test]
    fn a_byte_order_mark_is_not_a_row() {
        let text = "\u{feff}postcode\r\nA\r\n\r\nB\r\n";
        assert_eq!(rows(text), [["postcode"], ["A"], [""], ["B"]]);
        let text = "\u{feff}\r\npostcode\r\n";
        assert_eq!(rows(text), [[""], ["postcode"]]);
    }

    #[test]
    fn a_line_feed_then_carriage_return_is_one_line_end() {
        let text = "pc\n\rA\n\rB\n\r";
        assert_eq!(kept(text), text);
        assert_eq!(rows(text), [["pc"], ["A"], ["B"]]);
        assert_eq!(rows("pc\n\r\n\rA"), [["pc"], [""], ["A"]]);
    }

    #[test]
    fn rows_resume_after_the_blank_rows_a_reader_has_counted() {
        let records = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader("C\n\n".as_bytes())
            .into_byte_records();
        let again: Vec<_> =
            TrailingBlankRowsDropped::after(2, csv::ByteRecord::from(vec!["B"]), records)
                .map(|r| r.unwrap())
                .collect();
        let b = |v: &str| csv::ByteRecord::from(vec![v]);
        assert_eq!(again, [b(""), b(""), b("B"), b("C")]);
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
        let text = "\u{feff}pc\r\nA\r\n\r\n\"B\n\nC\"\r\n\r\nD\r\r\nE";
        let mut r = BlankRowsKept::new(Trickle(text.as_bytes()));
        let mut out = Vec::new();
        let mut one = [0u8; 1];
        while r.read(&mut one).unwrap() == 1 {
            out.push(one[0]);
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}pc\r\nA\r\n\"\"\r\n\"B\n\nC\"\r\n\"\"\r\nD\r\r\nE"
        );
    }

    #[test]
    fn a_million_blank_lines_hold_no_more_memory_than_one() {
        let mut text = String::from("A\n");
        text.push_str(&"\n".repeat(1_000_000));
        text.push_str("B\n");
        let mut r = BlankRowsKept::new(text.as_bytes());
        let mut buf = [0u8; 4096];
        let mut most = 0;
        while r.read(&mut buf).unwrap() > 0 {
            most = most.max(r.out.capacity());
        }
        assert!(most <= 4 * (64 << 10), "{most} bytes held");
        let records = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(BlankRowsKept::new(text.as_bytes()))
            .into_byte_records();
        assert_eq!(TrailingBlankRowsDropped::new(records).count(), 1_000_002);
    }
}
