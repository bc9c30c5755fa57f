//! CSV files: plain, gzipped, or a zip member, read as a stream.

use std::io::{BufRead, BufReader, Read};

use super::bounded::{read_error, Bounded, Limits};
use super::{Cell, RawTable};
use crate::catalog::{Encoding, RawSource};
use crate::error::{Error, ErrorKind, Result};
use crate::text;

/// Parses CSV from a stream into a raw table. Text must be valid in the
/// declared encoding; rows must have as many fields as the header, except
/// wholly empty rows at the end of the file (spreadsheet exports often leave
/// some). Lines, fields and the whole stream are capped by `limits`.
pub fn read_csv(input: impl Read, raw: &RawSource, limits: &Limits) -> Result<RawTable> {
    read_csv_keeping(input, raw, limits, None)
}

/// Which headers to keep (`None`: all). A large file keeps only the
/// columns its dataset claims, so the others never take memory.
pub type Keep<'a> = Option<&'a dyn Fn(&str) -> bool>;

/// As [`read_csv`], keeping only the columns whose header `keep` accepts.
pub fn read_csv_keeping(
    input: impl Read,
    raw: &RawSource,
    limits: &Limits,
    keep: Keep<'_>,
) -> Result<RawTable> {
    let mut input = BufReader::with_capacity(64 << 10, Bounded::lines(input, limits));
    let head = input.fill_buf().map_err(|e| read_error(e, "cannot read"))?;
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::unreadable("the file is empty"));
    }
    if crate::fetch::looks_like_html(&head[..head.len().min(512)]) {
        return Err(Error::new(ErrorKind::HtmlFile));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut headers: Option<Vec<String>> = None;
    let mut groups: Option<Vec<String>> = None;
    let mut rows = Rows::default();
    let mut mask: Option<Vec<bool>> = None;
    let mut record = ::csv::ByteRecord::new();
    let mut record_no = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(e)),
        }
        record_no += 1;
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(record_no);
        if record_no < raw.header_row && Some(record_no) != raw.group_row {
            continue;
        }
        if Some(record_no) == raw.group_row {
            groups = Some(decode_record(&record, raw.encoding, limits).map_err(|e| e.row(line))?);
        } else if record_no == raw.header_row {
            let fields = decode_record(&record, raw.encoding, limits).map_err(|e| e.row(line))?;
            let full = match groups.take() {
                Some(g) => with_groups(&g, &fields),
                None => fields,
            };
            mask = keep.map(|k| full.iter().map(|h| k(h)).collect::<Vec<bool>>());
            let width = mask
                .as_ref()
                .map_or(full.len(), |m| m.iter().filter(|k| **k).count());
            rows.columns = (0..width).map(|_| Vec::new()).collect();
            headers = Some(full);
        } else {
            // A data row: only the kept fields are decoded (a postcode
            // directory's fifty columns are read for the eight claimed).
            let empty = record.iter().all(|f| blank(f, raw.encoding));
            rows.push(&record, mask.as_deref(), raw.encoding, limits)
                .map_err(|e| e.row(line))?;
            rows.shape.push((line, record.len(), empty));
        }
    }
    let Some(headers) = headers else {
        return Err(Error::unreadable(format!(
            "the file has no header row (expected at row {})",
            raw.header_row
        )));
    };
    while rows.shape.last().is_some_and(|r| r.2) {
        rows.shape.pop();
    }
    if let Some((line, n, _)) = rows.shape.iter().find(|r| r.1 != headers.len()) {
        return Err(Error::new(ErrorKind::RaggedRow {
            fields: *n,
            expected: headers.len(),
        })
        .row(*line));
    }
    let headers = match &mask {
        Some(m) => headers
            .into_iter()
            .zip(m)
            .filter(|(_, k)| **k)
            .map(|(h, _)| h)
            .collect(),
        None => headers,
    };
    let height = rows.shape.len();
    for col in &mut rows.columns {
        if col.len() > height {
            // Blank rows at the end take no memory on to `conform`.
            col.truncate(height);
            col.shrink_to_fit();
        }
    }
    Ok(RawTable {
        headers,
        columns: rows.columns,
        row_numbers: rows.shape.into_iter().map(|r| r.0).collect(),
        sheet: None,
    })
}

/// The data rows as they are read: each kept cell goes straight into its
/// column (measured: a vector per row, transposed at the end, was 1% of a
/// build in allocation and copying).
#[derive(Default)]
struct Rows {
    /// One per kept header; every row has a cell in each.
    columns: Vec<Vec<Cell>>,
    /// Per row: its line, its number of fields, whether all were blank.
    shape: Vec<(usize, usize, bool)>,
}

impl Rows {
    /// Decodes a data row's kept fields (every field when `mask` is
    /// `None`) into the columns, checking every field's length. A row
    /// with fewer fields has empty cells at its end, one with more has its
    /// extra fields dropped (either is refused as ragged unless it is a
    /// blank row at the end of the file).
    fn push(
        &mut self,
        record: &::csv::ByteRecord,
        mask: Option<&[bool]>,
        encoding: Encoding,
        limits: &Limits,
    ) -> Result<()> {
        let mut kept = 0;
        // A record that is UTF-8 as a whole, cut between characters into
        // its fields, needs no field checked alone: one pass over its
        // bytes, not one per field left unread (most of a postcode
        // directory's 40-odd columns).
        let unread_ok = encoding == Encoding::Utf8
            && std::str::from_utf8(record.as_slice()).is_ok_and(|s| {
                let mut at = 0;
                record.iter().all(|f| {
                    at += f.len();
                    s.is_char_boundary(at)
                })
            });
        for (i, f) in record.iter().enumerate() {
            check_field(i, f, limits)?;
            if mask.is_none_or(|m| m.get(i).copied().unwrap_or(false)) {
                let cell = cell(decode(f, encoding)?);
                if let Some(col) = self.columns.get_mut(kept) {
                    col.push(cell);
                }
                kept += 1;
            } else if encoding == Encoding::Utf8 && !unread_ok && std::str::from_utf8(f).is_err() {
                // A field left unread must still be text: a file that is
                // not in its declared encoding is refused, whichever
                // column shows it.
                decode(f, encoding)?;
            }
        }
        for col in self.columns.iter_mut().skip(kept) {
            col.push(Cell::Empty);
        }
        Ok(())
    }
}

fn cell(f: String) -> Cell {
    if text::is_blank(&f) {
        Cell::Empty
    } else {
        Cell::Text(f)
    }
}

/// A parse or read error, with the line where the parser was.
fn csv_error(e: ::csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize);
    let err = match e.into_kind() {
        ::csv::ErrorKind::Io(io) => read_error(io, "cannot read"),
        other => Error::unreadable(format!("malformed CSV: {other:?}")),
    };
    match line {
        Some(l) => err.row(l),
        None => err,
    }
}

/// Whether a field is empty once trimmed (decoded only when not ASCII, so
/// that a non-breaking space counts as blank as `str::trim` says).
fn blank(f: &[u8], encoding: Encoding) -> bool {
    // ASCII's White_Space, as `str::trim` has it (vertical tab included).
    if f.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r'))
    {
        return true;
    }
    !f.is_ascii() && decode(f, encoding).is_ok_and(|s| s.trim().is_empty())
}

fn check_field(i: usize, f: &[u8], limits: &Limits) -> Result<()> {
    if f.len() > limits.max_field {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!(
                "a field ({}) of {} bytes, longer than {}",
                i + 1,
                f.len(),
                limits.max_field
            ),
        }));
    }
    Ok(())
}

/// The fields of a record as text in the declared encoding.
fn decode_record(
    record: &::csv::ByteRecord,
    encoding: Encoding,
    limits: &Limits,
) -> Result<Vec<String>> {
    record
        .iter()
        .enumerate()
        .map(|(i, f)| {
            check_field(i, f, limits)?;
            decode(f, encoding)
        })
        .collect()
}

fn decode(bytes: &[u8], encoding: Encoding) -> Result<String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes).map(str::to_string).map_err(|e| {
            let at = e.valid_up_to();
            Error::unreadable(format!(
                "the file is not valid UTF-8 (byte 0x{:02x} in this row); if it is Windows-1252, \
                 declare `encoding = \"windows-1252\"` for this source",
                bytes[at]
            ))
        }),
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()),
    }
}

/// Combines a group header row (merged cells, so blank after the first
/// column of each group) with the field row: `Property type: Houses / Address count`.
pub(crate) fn with_groups(groups: &[String], fields: &[String]) -> Vec<String> {
    let mut current = String::new();
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            if let Some(g) = groups.get(i).filter(|g| !g.trim().is_empty()) {
                current = g.trim().to_string();
            }
            match (current.is_empty(), field.trim().is_empty()) {
                (true, _) => field.clone(),
                (false, true) => current.clone(),
                (false, false) => format!("{current} / {}", field.trim()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawSource {
        toml::from_str(
            "title = \"t\"\npublisher = \"p\"\nlicence = \"l\"\nedition = \"e\"\ngeography = \"g\"\nformat = \"csv\"",
        )
        .unwrap()
    }

    fn read(text: &str, keep: Keep<'_>) -> Result<RawTable> {
        read_csv_keeping(text.as_bytes(), &raw(), &Limits::default(), keep)
    }

    fn text(t: &RawTable, c: usize) -> Vec<String> {
        t.columns[c]
            .iter()
            .map(|cell| match cell {
                Cell::Text(s) => s.clone(),
                Cell::Empty => "<empty>".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn cells_go_to_their_columns_with_the_line_of_each_row() {
        let t = read(
            "code,name,n\nE1,Alpha,1\n\"E2\",\" \",2\nE3,\"two\nlines\",3\n",
            None,
        )
        .unwrap();
        assert_eq!(t.headers, ["code", "name", "n"]);
        assert_eq!(text(&t, 0), ["E1", "E2", "E3"]);
        assert_eq!(text(&t, 1), ["Alpha", "<empty>", "two\nlines"]);
        assert_eq!(t.row_numbers, [2, 3, 4]);
    }

    #[test]
    fn only_kept_columns_are_held_and_a_short_blank_row_at_the_end_is_dropped() {
        let keep = |h: &str| h != "name";
        let t = read("code,name,n\nE1,Alpha,1\nE2,Beta,2\n,\n , ,\n", Some(&keep)).unwrap();
        assert_eq!(t.headers, ["code", "n"]);
        assert_eq!(t.columns.len(), 2);
        assert_eq!(text(&t, 0), ["E1", "E2"]);
        assert_eq!(text(&t, 1), ["1", "2"]);
        assert_eq!(t.row_numbers, [2, 3]);
    }

    #[test]
    fn a_short_or_long_row_is_refused_with_its_line_unless_blank_at_the_end() {
        for (csv, line) in [
            ("code,n\nE1,1\nE2\nE3,3\n", 3),
            ("code,n\nE1,1\nE2,2,extra\n", 3),
            ("code,n\nE1,1\n,\nE3\n", 4),
            ("code,n\n\"\",\"\"\nE2,2,\n", 3),
        ] {
            let e = read(csv, None).unwrap_err();
            assert!(
                matches!(e.kind, ErrorKind::RaggedRow { .. }),
                "{csv:?}: {e}"
            );
            assert!(
                e.to_string().contains(&format!("row {line}")),
                "{csv:?}: {e}"
            );
        }
    }

    #[test]
    fn an_unkept_field_must_still_be_utf8() {
        let keep = |h: &str| h == "code";
        let mut bytes = b"code,name\nE1,".to_vec();
        bytes.extend_from_slice(b"Caf\xe9\n");
        let e = read_csv_keeping(&bytes[..], &raw(), &Limits::default(), Some(&keep)).unwrap_err();
        assert!(e.to_string().contains("row 2"), "{e}");
        // "é" (C3 A9) cut in two by a comma: the record's bytes without the
        // commas are UTF-8, but neither field is.
        for row in [
            &b"E1,\xc3,\xa9\n"[..],
            b"E1\xc3,\xa9,x\n",
            b"E1,x,\xc3\xa9\xc3\n",
        ] {
            let mut bytes = b"code,name,note\n".to_vec();
            bytes.extend_from_slice(row);
            let read = read_csv_keeping(&bytes[..], &raw(), &Limits::default(), Some(&keep));
            let e = read.expect_err("a field that is not UTF-8");
            assert!(e.to_string().contains("row 2"), "{e}");
        }
        let ok = b"code,name,note\nE1,Caf\xc3\xa9,\xc3\xa9\n";
        read_csv_keeping(&ok[..], &raw(), &Limits::default(), Some(&keep)).unwrap();
    }
}
