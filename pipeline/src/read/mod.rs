//! Readers: from a file as published to a table with canonical columns.
//!
//! Reading happens in two steps. A format reader (`csv`, `sheet`, `geo`, `esri`)
//! turns bytes into a [`RawTable`]: the headers exactly as published and the
//! cells, each remembering the row it came from. Then [`conform`] maps the
//! headers onto the dataset's canonical columns by their declared aliases and
//! converts every cell to its declared type. Keeping the second step common
//! means every format gets the same header matching, the same handling of
//! declared-missing columns, and the same error messages naming the column
//! and row, and polars only ever sees clean, typed columns.

pub mod blank_rows;
pub mod bounded;
mod conform;
mod csv;
mod esri;
mod geo;
mod geojson_text;
pub mod members;
mod sheet;

use std::path::Path;

use crate::catalog::{Format, RawSource, Source};
use crate::error::{Error, ErrorKind, Result};

pub use bounded::Limits;
pub use conform::{claims, conform, Conformed};

use bounded::read_all;

/// One cell as read, before its canonical type is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Int(i64),
}

/// A table as published: headers and cells, column by column.
#[derive(Debug, Default)]
pub struct RawTable {
    /// Headers as published (group prefix included where declared).
    pub headers: Vec<String>,
    /// `columns[c][r]` is the cell of header `c` in data row `r`.
    pub columns: Vec<Vec<Cell>>,
    /// The row number in the file (1-based) of each data row, for messages.
    pub row_numbers: Vec<usize>,
    /// The sheet the table came from, for messages.
    pub sheet: Option<String>,
}

impl RawTable {
    pub fn height(&self) -> usize {
        self.row_numbers.len()
    }

    /// Builds a table from header and data rows (padded or rejected by the
    /// format reader beforehand).
    fn from_rows(headers: Vec<String>, rows: Vec<(usize, Vec<Cell>)>) -> RawTable {
        let width = headers.len();
        let mut columns: Vec<Vec<Cell>> =
            (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
        let mut row_numbers = Vec::with_capacity(rows.len());
        for (n, row) in rows {
            row_numbers.push(n);
            let mut cells = row.into_iter();
            for col in columns.iter_mut() {
                col.push(cells.next().unwrap_or(Cell::Empty));
            }
        }
        RawTable {
            headers,
            columns,
            row_numbers,
            sheet: None,
        }
    }
}

/// Reads a source's file into a raw table, from the bytes read (the
/// caller hashes the same bytes, so the digest published is that of what
/// was read). `path` is where they came from, for shapefiles (several files)
/// and messages.
pub fn read_raw(source: &Source, path: &Path, bytes: &[u8], limits: &Limits) -> Result<RawTable> {
    let ctx = |e: Error| damaged_hint(e, source).source_id(&source.id).file(path);
    if source.raw.format == Format::Shapefile && source.raw.member.is_none() {
        return geo::read_shapefile(path).map_err(ctx);
    }
    read_raw_bytes(&source.raw, bytes, limits).map_err(ctx)
}

/// An unreadable local file's error, with what to do when nothing else
/// vouches for its bytes: such a file may have been cut short or damaged
/// on its way (an interrupted download or copy), and the cure is the
/// publisher's own copy. A pinned file has the publisher's sha256 (checked
/// before it is read), and a fetched one was checked as it came: for them
/// the cause is elsewhere, and no advice is better than wrong advice.
fn damaged_hint(mut e: Error, source: &Source) -> Error {
    let unvouched = source.local_path.is_some() && source.raw.sha256.is_none();
    if let (ErrorKind::Unreadable { reason }, true) = (&mut e.kind, unvouched) {
        let whence = match &source.raw.url {
            Some(url) => format!(" ({url})"),
            None => String::new(),
        };
        reason.push_str(&format!(
            ". If the file was cut short or damaged (an interrupted download or copy), \
             replace it with the publisher's copy{whence}; pin its `sha256` in the catalog to catch this before it is read"
        ));
    }
    e
}

/// Reads a file's bytes as the source's format says (every format but
/// shapefiles, which are several files). Bad input gives an error, never a
/// panic: this is the entry point the fuzz targets drive.
pub fn read_raw_bytes(raw: &RawSource, bytes: &[u8], limits: &Limits) -> Result<RawTable> {
    match raw.format {
        Format::Csv => csv::read_csv(bytes, raw, limits),
        Format::CsvGz => csv::read_csv(flate2::read::MultiGzDecoder::new(bytes), raw, limits),
        Format::Zip => {
            let member = raw.member.as_deref().unwrap_or_default();
            read_zip_member(bytes, member, raw, limits)
                .map_err(|e| e.sheet(format!("zip member {member}")))
        }
        Format::Xlsx | Format::Ods => {
            check_zip_size(bytes, limits)?;
            sheet::read_sheet(bytes, raw, raw.format)
        }
        Format::Xls => sheet::read_sheet(bytes, raw, raw.format),
        Format::EsriJson => {
            check_whole_size(bytes, limits)?;
            esri::read_esri_json(bytes)
        }
        Format::Geojson => {
            check_whole_size(bytes, limits)?;
            geo::read_geojson(bytes)
        }
        Format::GeojsonGz => {
            let max = limits.whole(bytes.len());
            let text = read_all(
                flate2::read::MultiGzDecoder::new(bytes),
                max,
                "not a valid gzip file (truncated or corrupt?)",
            )?;
            geo::read_geojson(&text)
        }
        Format::Shapefile => match raw.member.as_deref() {
            Some(member) => geo::read_zipped_shapefile(bytes, member, limits),
            None => Err(Error::unreadable(
                "a shapefile is read from its path, not from bytes",
            )),
        },
    }
}

/// Streams a CSV member of a zip archive, or reads a workbook member
/// (publishers ship some workbooks zipped) within the reader's limit.
fn read_zip_member(
    bytes: &[u8],
    member: &str,
    raw: &RawSource,
    limits: &Limits,
) -> Result<RawTable> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::unreadable(format!("not a valid zip archive: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|s| s.into_owned()))
        .collect();
    let file = zip.by_name(member).map_err(|_| {
        Error::new(ErrorKind::NotInFile {
            what: "zip member",
            name: member.to_string(),
            available: names.clone(),
        })
    })?;
    if file.size() > limits.max_bytes {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!(
                "a member of {} bytes, more than {} bytes after decompression",
                file.size(),
                limits.max_bytes
            ),
        }));
    }
    if !crate::catalog::is_workbook_name(member) {
        return csv::read_csv(file, raw, limits);
    }
    let format = match member.to_ascii_lowercase() {
        m if m.ends_with(".xlsx") => Format::Xlsx,
        m if m.ends_with(".ods") => Format::Ods,
        _ => Format::Xls,
    };
    let book = read_member_whole(file, limits)?;
    if format != Format::Xls {
        check_zip_size(&book, limits)?;
    }
    sheet::read_sheet(&book, raw, format)
}

/// A file read whole (JSON) must stay within the source's limit.
fn check_whole_size(bytes: &[u8], limits: &Limits) -> Result<()> {
    match bytes.len() as u64 > limits.max_bytes {
        true => Err(Error::new(ErrorKind::TooLarge {
            limit: format!("{} bytes, more than {}", bytes.len(), limits.max_bytes),
        })),
        false => Ok(()),
    }
}

/// A zip member held whole in memory: at most 50 times its compressed size
/// (as a workbook's parts are), checked against the header before reading
/// and against what is read, so a member whose header lies is stopped too.
pub(crate) fn read_member_whole<R: std::io::Read>(
    file: zip::read::ZipFile<'_, R>,
    limits: &Limits,
) -> Result<Vec<u8>> {
    let max = limits.whole(file.compressed_size() as usize);
    let name = file.name().map(|n| n.into_owned()).unwrap_or_default();
    if file.size() > max {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!(
                "a member {name} of {} bytes after decompression, over {max} (50 times its compressed size)",
                file.size()
            ),
        }));
    }
    let mut out = Vec::with_capacity(file.size() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut out)
        .map_err(|e| Error::unreadable(format!("cannot read the zip member {name}: {e}")))?;
    if out.len() as u64 > max {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!("a member {name} of more than {max} bytes after decompression (its header said less)"),
        }));
    }
    Ok(out)
}

/// A workbook is a zip of XML parts: their declared sizes must stay within
/// the limit before any is opened.
fn check_zip_size(bytes: &[u8], limits: &Limits) -> Result<()> {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        // Not a zip: the workbook reader says what it is.
        return Ok(());
    };
    let max = limits.whole(bytes.len());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        if let Ok(f) = zip.by_index_raw(i) {
            total = total.saturating_add(f.size());
        }
    }
    if total > max {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!(
                "{total} bytes of XML in a workbook of {} bytes, more than {max}",
                bytes.len()
            ),
        }));
    }
    Ok(())
}
