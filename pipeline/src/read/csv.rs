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
    // Line, number of fields, whether all were empty, the kept cells.
    let mut rows: Vec<(usize, usize, bool, Vec<Cell>)> = Vec::new();
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
            mask = keep.map(|k| full.iter().map(|h| k(h)).collect());
            headers = Some(full);
        } else {
            // A data row: only the kept fields are decoded (a postcode
            // directory's fifty columns are read for the eight claimed).
            let empty = record.iter().all(|f| blank(f, raw.encoding));
            let cells = decode_kept(&record, mask.as_deref(), raw.encoding, limits)
                .map_err(|e| e.row(line))?;
            rows.push((line, record.len(), empty, cells));
        }
    }
    let Some(headers) = headers else {
        return Err(Error::unreadable(format!(
            "the file has no header row (expected at row {})",
            raw.header_row
        )));
    };
    while rows.last().is_some_and(|r| r.2) {
        rows.pop();
    }
    if let Some((line, n, _, _)) = rows.iter().find(|r| r.1 != headers.len()) {
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
    let rows = rows.into_iter().map(|(l, _, _, c)| (l, c)).collect();
    Ok(RawTable::from_rows(headers, rows))
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

/// The cells of a data row's kept fields (every field when `mask` is
/// `None`); every field's length is checked against the limit.
fn decode_kept(
    record: &::csv::ByteRecord,
    mask: Option<&[bool]>,
    encoding: Encoding,
    limits: &Limits,
) -> Result<Vec<Cell>> {
    let mut cells =
        Vec::with_capacity(mask.map_or(record.len(), |m| m.iter().filter(|k| **k).count()));
    for (i, f) in record.iter().enumerate() {
        check_field(i, f, limits)?;
        if mask.is_none_or(|m| m.get(i).copied().unwrap_or(false)) {
            cells.push(cell(decode(f, encoding)?));
        } else if encoding == Encoding::Utf8 && std::str::from_utf8(f).is_err() {
            // A field left unread must still be text: a file that is not
            // in its declared encoding is refused, whichever column shows it.
            decode(f, encoding)?;
        }
    }
    Ok(cells)
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
