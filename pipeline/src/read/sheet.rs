//! Workbooks (xlsx, xls, ods) through calamine: one sheet, by name.

use std::io::Cursor;

use calamine::{Data, DataRef, Range, Reader, ReaderRef};

use crate::catalog::{Format, RawSource};
use crate::error::{Error, ErrorKind, Result};
use crate::text;

use super::{csv::with_groups, Cell, RawTable};

/// Reads the sheet `raw` names from a workbook of the given format (the
/// source's own, or that of a zip member).
pub fn read_sheet(bytes: &[u8], raw: &RawSource, format: Format) -> Result<RawTable> {
    let sheet = raw.sheet.as_deref().unwrap_or_default();
    if bytes.is_empty() {
        return Err(Error::unreadable("the file is empty"));
    }
    let cursor = Cursor::new(bytes);
    let open_err = |e: &dyn std::fmt::Display| {
        Error::unreadable(format!("cannot open as {format:?} workbook: {e}"))
    };
    let read_err = |e: &dyn std::fmt::Display| {
        Error::unreadable(format!("cannot read sheet: {e}")).sheet(sheet)
    };
    let mut rows = match format {
        // An xlsx sheet's shared strings are borrowed, not copied into
        // the sheet's cells and then again into ours.
        Format::Xlsx => {
            let mut book = calamine::Xlsx::new(cursor).map_err(|e| open_err(&e))?;
            has_sheet(&book.sheet_names(), sheet)?;
            // calamine's own error type words it as `Sheets` did ("Xlsx
            // error: ...").
            let range = book
                .worksheet_range_ref(sheet)
                .map_err(|e| read_err(&calamine::Error::from(e)))?;
            rows_of(&range, cell_ref)
        }
        Format::Xls => {
            let mut book = calamine::Xls::new(cursor).map_err(|e| open_err(&e))?;
            has_sheet(&book.sheet_names(), sheet)?;
            let range = book
                .worksheet_range(sheet)
                .map_err(|e| read_err(&calamine::Error::from(e)))?;
            rows_of(&range, cell)
        }
        _ => {
            let mut book = calamine::Ods::new(cursor).map_err(|e| open_err(&e))?;
            has_sheet(&book.sheet_names(), sheet)?;
            let range = book
                .worksheet_range(sheet)
                .map_err(|e| read_err(&calamine::Error::from(e)))?;
            rows_of(&range, cell)
        }
    };
    trim_trailing(&mut rows);

    let text_row = |n: usize| -> Option<Vec<String>> {
        rows.iter()
            .find(|(rn, _)| *rn == n)
            .map(|(_, r)| r.iter().map(cell_text).collect())
    };
    let Some(mut headers) = text_row(raw.header_row) else {
        return Err(Error::unreadable(format!(
            "the sheet has no row {} to read headers from",
            raw.header_row
        ))
        .sheet(sheet));
    };
    if let Some(g) = raw.group_row {
        headers = with_groups(&text_row(g).unwrap_or_default(), &headers);
    }
    let data: Vec<(usize, Vec<Cell>)> = rows
        .into_iter()
        .filter(|(n, _)| *n > raw.header_row)
        .collect();
    let mut table = RawTable::from_rows(headers, data);
    table.sheet = Some(sheet.to_string());
    Ok(table)
}

/// The workbook has the sheet, or the error lists those it has.
fn has_sheet(names: &[String], sheet: &str) -> Result<()> {
    if names.iter().any(|n| n == sheet) {
        return Ok(());
    }
    Err(Error::new(ErrorKind::NotInFile {
        what: "sheet",
        name: sheet.to_string(),
        available: names.to_vec(),
    })
    .sheet(sheet))
}

/// A sheet's rows as cells, each with its absolute 1-based row number.
fn rows_of<T>(range: &Range<T>, cell: impl Fn(&T) -> Cell) -> Vec<(usize, Vec<Cell>)>
where
    T: calamine::CellType,
{
    let (row0, _) = range.start().unwrap_or((0, 0));
    let row0 = row0 as usize;
    range
        .rows()
        .enumerate()
        .map(|(i, r)| (row0 + i + 1, r.iter().map(&cell).collect()))
        .collect()
}

/// Drops trailing empty rows, and the columns empty in every row.
fn trim_trailing(rows: &mut Vec<(usize, Vec<Cell>)>) {
    while rows
        .last()
        .is_some_and(|(_, r)| r.iter().all(|c| *c == Cell::Empty))
    {
        rows.pop();
    }
    let width = rows
        .iter()
        .map(|(_, r)| {
            r.iter()
                .rposition(|c| *c != Cell::Empty)
                .map_or(0, |p| p + 1)
        })
        .max()
        .unwrap_or(0);
    for (_, r) in rows.iter_mut() {
        r.truncate(width);
    }
}

fn cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Number(*f),
        Data::String(s) if text::is_blank(s) => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(dt) => Cell::Number(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

/// As [`cell`], for a cell whose shared string is borrowed (copied once,
/// here); any other kind is converted as calamine's own `Data` would be.
fn cell_ref(d: &DataRef<'_>) -> Cell {
    match d {
        DataRef::SharedString(s) if text::is_blank(s) => Cell::Empty,
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        other => cell(&Data::from(other.clone())),
    }
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Empty => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Int(i) => i.to_string(),
        Cell::Number(f) => f.to_string(),
    }
}
