//! CSV files: plain, gzipped, or a zip member (already unpacked by the caller).

use crate::catalog::{Encoding, RawSource};
use crate::error::{Error, ErrorKind, Result};

use super::{Cell, RawTable};

/// Parses CSV bytes into a raw table. Text must be valid in the declared
/// encoding; rows must have as many fields as the header, except wholly empty
/// rows at the end of the file (spreadsheet exports often leave some).
pub fn read_csv(bytes: &[u8], raw: &RawSource) -> Result<RawTable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::unreadable("the file is empty"));
    }
    let text = decode(bytes, raw.encoding)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());

    let mut headers: Option<Vec<String>> = None;
    let mut groups: Option<Vec<String>> = None;
    let mut rows: Vec<(usize, Vec<Cell>)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record_no = i + 1;
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            let err = Error::unreadable(format!("malformed CSV: {e}"));
            match line {
                Some(l) => err.row(l),
                None => err,
            }
        })?;
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(record_no);
        if Some(record_no) == raw.group_row {
            groups = Some(record.iter().map(str::to_string).collect());
            continue;
        }
        if record_no < raw.header_row {
            continue;
        }
        if record_no == raw.header_row {
            headers = Some(record.iter().map(str::to_string).collect());
            continue;
        }
        rows.push((
            line,
            record
                .iter()
                .map(|f| {
                    if f.trim().is_empty() {
                        Cell::Empty
                    } else {
                        Cell::Text(f.to_string())
                    }
                })
                .collect(),
        ));
    }
    let Some(mut headers) = headers else {
        return Err(Error::unreadable(format!(
            "the file has no header row (expected at row {})",
            raw.header_row
        )));
    };
    if let Some(groups) = groups {
        headers = with_groups(&groups, &headers);
    }
    while rows
        .last()
        .is_some_and(|(_, r)| r.iter().all(|c| *c == Cell::Empty))
    {
        rows.pop();
    }
    for (line, row) in &rows {
        if row.len() != headers.len() {
            return Err(Error::new(ErrorKind::RaggedRow {
                fields: row.len(),
                expected: headers.len(),
            })
            .row(*line));
        }
    }
    Ok(RawTable::from_rows(headers, rows))
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

fn decode(bytes: &[u8], encoding: Encoding) -> Result<std::borrow::Cow<'_, str>> {
    match encoding {
        Encoding::Utf8 => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(std::borrow::Cow::Borrowed(s)),
            Err(e) => {
                let at = e.valid_up_to();
                let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
                Err(Error::unreadable(format!(
                    "the file is not valid UTF-8 (byte 0x{:02x} at offset {at}); if it is Windows-1252, \
                     declare `encoding = \"windows-1252\"` for this source",
                    bytes[at]
                ))
                .row(line))
            }
        },
        Encoding::Windows1252 => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            Ok(text)
        }
    }
}
