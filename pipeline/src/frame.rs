//! Tables for stage logic, and the one edge where polars is used for them.
//!
//! Stages read a handful of columns from tables of a few tens of thousands of
//! rows, join them by area code and write new columns. They do that on plain
//! vectors ([`Values`]) read from a [`Table`], and build their outputs with a
//! [`TableBuilder`]; neither exposes polars, whose Rust API changes between
//! minor versions. Parquet in, Parquet out, and the typed cells the static
//! API turns into JSON, are here too, so an upgrade of polars touches this
//! file, the readers' `conform` and the diff report only.

use std::path::Path;

use polars::prelude::*;

use crate::error::{Error, ErrorKind, Result};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Str(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Str(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Picks rows by index; `None` gives a null.
    pub fn gather(&self, idx: &[Option<usize>]) -> Values {
        fn pick<T: Clone>(v: &[Option<T>], idx: &[Option<usize>]) -> Vec<Option<T>> {
            idx.iter().map(|i| i.and_then(|i| v[i].clone())).collect()
        }
        match self {
            Values::Str(v) => Values::Str(pick(v, idx)),
            Values::Int(v) => Values::Int(pick(v, idx)),
            Values::Float(v) => Values::Float(pick(v, idx)),
            Values::Bool(v) => Values::Bool(pick(v, idx)),
        }
    }

    /// The value as text (codes, names), for joins and messages.
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            Values::Str(v) => v[i].clone(),
            Values::Int(v) => v[i].map(|x| x.to_string()),
            Values::Float(v) => v[i].map(|x| x.to_string()),
            Values::Bool(v) => v[i].map(|x| x.to_string()),
        }
    }

    /// A text cell, borrowed, to compare without a copy; `None` for a
    /// null, and for every cell of a column that is not text.
    pub fn str(&self, i: usize) -> Option<&str> {
        match self {
            Values::Str(v) => v[i].as_deref(),
            _ => None,
        }
    }

    /// The value as a number (ranks, scores).
    pub fn number(&self, i: usize) -> Option<f64> {
        match self {
            Values::Str(v) => v[i].as_deref().and_then(|s| s.parse().ok()),
            Values::Int(v) => v[i].map(|x| x as f64),
            Values::Float(v) => v[i],
            Values::Bool(v) => v[i].map(|x| f64::from(u8::from(x))),
        }
    }

    /// Every value as text (for tests and messages).
    pub fn texts(&self) -> Vec<Option<String>> {
        (0..self.len()).map(|i| self.text(i)).collect()
    }

    /// Every value as a number (for tests and messages).
    pub fn numbers(&self) -> Vec<Option<f64>> {
        (0..self.len()).map(|i| self.number(i)).collect()
    }

    pub fn null_count(&self) -> usize {
        (0..self.len()).filter(|&i| self.text(i).is_none()).count()
    }

    /// A column of nulls of the given kind.
    pub fn nulls_like(&self, n: usize) -> Values {
        match self {
            Values::Str(_) => Values::Str(vec![None; n]),
            Values::Int(_) => Values::Int(vec![None; n]),
            Values::Float(_) => Values::Float(vec![None; n]),
            Values::Bool(_) => Values::Bool(vec![None; n]),
        }
    }

    fn into_column(self, name: &str) -> Column {
        match self {
            Values::Str(v) => Column::new(name.into(), v),
            Values::Int(v) => Column::new(name.into(), v),
            Values::Float(v) => Column::new(name.into(), v),
            Values::Bool(v) => Column::new(name.into(), v),
        }
    }
}

/// The physical type of a table's column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColType {
    String,
    Int,
    Float,
    Bool,
}

impl ColType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColType::String => "string",
            ColType::Int => "int",
            ColType::Float => "float",
            ColType::Bool => "bool",
        }
    }

    fn of(dt: &DataType) -> Option<ColType> {
        Some(match dt {
            DataType::String => ColType::String,
            DataType::Boolean => ColType::Bool,
            DataType::Float32 | DataType::Float64 => ColType::Float,
            dt if dt.is_integer() => ColType::Int,
            _ => return None,
        })
    }
}

/// Why a table's declared key does not hold: the check that failed, what
/// it found, and up to five keys.
#[derive(Debug, PartialEq)]
pub struct KeyFault {
    pub check: &'static str,
    pub detail: String,
    pub examples: Vec<String>,
}

/// A table: a release table read back, or a stage's output being built.
#[derive(Debug, Clone)]
pub struct Table {
    df: DataFrame,
}

impl Table {
    pub(crate) fn from_frame(df: DataFrame) -> Table {
        Table { df }
    }

    pub(crate) fn frame(&self) -> &DataFrame {
        &self.df
    }

    /// Reads a Parquet file, only `columns` of it when given.
    pub fn read_parquet(path: &Path, columns: Option<Vec<String>>) -> Result<Table> {
        Table::read_parquet_rows(path, columns, None)
    }

    /// Reads `rows` of a Parquet file (all when `None`), only `columns` of
    /// it when given: a table too large to hold whole is read a slice at a
    /// time.
    pub fn read_parquet_rows(
        path: &Path,
        columns: Option<Vec<String>>,
        rows: Option<std::ops::Range<usize>>,
    ) -> Result<Table> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut df = ParquetReader::new(f)
            .with_columns(columns)
            .with_slice(rows.map(|r| (r.start, r.len())))
            .finish()
            .map_err(|e| Error::table(e).file(path))?;
        // One chunk per column, a column at a time, here: `cells` needs one,
        // and rechunking there would copy a column the table still holds
        // (measured: +630 MB on a 2.7-million-row postcode table).
        df.rechunk_mut();
        Ok(Table { df })
    }

    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// What breaks `key` in a table whose rows are grouped by the key's
    /// first column (as `release::write_parquet` sorts them): empty key
    /// cells, or keys on two rows. Rows that share the first column are
    /// few (an area's indicators), so the rest of the key is compared
    /// within each group.
    pub fn key_fault(&self, key: &[String]) -> Result<Option<KeyFault>> {
        let cols = key
            .iter()
            .map(|k| self.cells(k))
            .collect::<Result<Vec<_>>>()?;
        for (k, c) in key.iter().zip(&cols) {
            let empty = c.null_count();
            if empty > 0 {
                return Ok(Some(KeyFault {
                    check: "key_complete",
                    detail: format!(
                        "key column `{k}` is empty on {empty} row{}",
                        if empty == 1 { "" } else { "s" }
                    ),
                    examples: Vec::new(),
                }));
            }
        }
        let Some(first) = cols.first() else {
            return Ok(None);
        };
        let rest = &cols[1..];
        let cmp = |a: &usize, b: &usize| {
            rest.iter()
                .map(|c| c.key_cmp(*a, *b))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let shown = |i: usize| {
            cols.iter()
                .map(|c| c.shown(i))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (n, mut start, mut group) = (self.height(), 0, Vec::new());
        let mut repeated = Vec::new();
        for end in 1..=n {
            if end < n && first.key_cmp(end - 1, end).is_eq() {
                continue;
            }
            if end - start > 1 {
                group.clear();
                group.extend(start..end);
                group.sort_by(cmp);
                for w in group.windows(2).filter(|w| cmp(&w[0], &w[1]).is_eq()) {
                    if repeated.last() != Some(&shown(w[0])) {
                        repeated.push(shown(w[0]));
                    }
                }
            }
            start = end;
        }
        Ok((!repeated.is_empty()).then(|| KeyFault {
            check: "key_unique",
            detail: format!(
                "{} keys ({}) are each on more than one row, the first {}",
                repeated.len(),
                key.join(", "),
                repeated[0]
            ),
            examples: repeated.into_iter().take(5).collect(),
        }))
    }

    /// Rows `rows` of the table, sharing its memory.
    pub fn slice(&self, rows: std::ops::Range<usize>) -> Table {
        let start = i64::try_from(rows.start).unwrap_or(i64::MAX);
        Table {
            df: self.df.slice(start, rows.len()),
        }
    }

    /// Stacks tables of the same columns (the members of one source).
    pub fn concat(tables: Vec<Table>) -> Result<Table> {
        let mut it = tables.into_iter();
        let Some(first) = it.next() else {
            return Ok(Table {
                df: DataFrame::empty(),
            });
        };
        let mut df = first.df;
        for t in it {
            df.vstack_mut_owned(t.df)?;
        }
        df.rechunk_mut();
        Ok(Table { df })
    }

    pub fn names(&self) -> Vec<String> {
        self.df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    /// Multiplies a numeric column by `factor` in place (a unit conversion);
    /// the column becomes a float. A power of ten moves the decimal point of
    /// the number as published (see [`crate::decimal::shift_decimal`]).
    pub fn scale(&mut self, name: &str, factor: f64) -> Result<()> {
        let values = self.values(name)?;
        let shift = crate::decimal::power_of_ten(factor);
        let scaled: Vec<Option<f64>> = (0..values.len())
            .map(|i| {
                let x = values.number(i)?;
                Some(shift.map_or(x * factor, |p| crate::decimal::shift_decimal(x, p)))
            })
            .collect();
        self.df.with_column(Column::new(name.into(), scaled))?;
        Ok(())
    }

    /// Column names and their types, in order.
    pub fn schema(&self) -> Vec<(String, Option<ColType>)> {
        self.df
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), ColType::of(c.dtype())))
            .collect()
    }

    fn column(&self, name: &str) -> Result<&Column> {
        self.df.column(name).map_err(|_| {
            Error::new(ErrorKind::MissingColumn {
                table: None,
                column: name.to_string(),
                available: self.names(),
            })
        })
    }

    /// Reads a column (string, integer, float or boolean).
    pub fn values(&self, name: &str) -> Result<Values> {
        let col = self.column(name)?;
        Ok(match col.dtype() {
            DataType::String => {
                Values::Str(col.str()?.iter().map(|o| o.map(str::to_string)).collect())
            }
            DataType::Int64 => Values::Int(col.i64()?.iter().collect()),
            DataType::Float64 => Values::Float(col.f64()?.iter().collect()),
            DataType::Boolean => Values::Bool(col.bool()?.iter().collect()),
            other => return Err(not_plain(name, other)),
        })
    }

    /// A text column's cells, borrowed; `None` if the column is not text.
    pub fn text_cells(
        &self,
        name: &str,
    ) -> Result<Option<impl Iterator<Item = Option<&str>> + '_>> {
        let col = self.column(name)?;
        Ok(match col.dtype() {
            DataType::String => Some(col.str()?.iter()),
            _ => None,
        })
    }

    /// As [`Table::cells`], for the column types [`Table::values`] accepts
    /// (text, Int64, Float64, bool), refusing others with the same error.
    pub fn plain_cells(&self, name: &str) -> Result<Cells> {
        match self.column(name)?.dtype() {
            DataType::String | DataType::Int64 | DataType::Float64 | DataType::Boolean => {
                self.cells(name)
            }
            other => Err(not_plain(name, other)),
        }
    }

    /// A number column's cells (Int64 as f64), read in place; `None` if the
    /// column is not Int64 or Float64.
    pub fn number_cells(
        &self,
        name: &str,
    ) -> Result<Option<Box<dyn Iterator<Item = Option<f64>> + '_>>> {
        let col = self.column(name)?;
        Ok(match col.dtype() {
            DataType::Int64 => Some(Box::new(col.i64()?.iter().map(|o| o.map(|x| x as f64)))),
            DataType::Float64 => Some(Box::new(col.f64()?.iter())),
            _ => None,
        })
    }

    /// A column as typed cells for JSON, without copying its values (the
    /// long Census table has ~740k rows).
    pub fn cells(&self, name: &str) -> Result<Cells> {
        let col = self.column(name)?.as_materialized_series().rechunk();
        Ok(match col.dtype() {
            DataType::String => Cells::Str(col.str()?.clone()),
            DataType::Boolean => Cells::Bool(col.bool()?.clone()),
            DataType::Float32 | DataType::Float64 => {
                Cells::Float(col.cast(&DataType::Float64)?.f64()?.clone())
            }
            // Strict: a plain cast would turn an unsigned value above
            // i64::MAX into null, publishing a number as missing.
            dt if dt.is_integer() => match col.strict_cast(&DataType::Int64) {
                Ok(ints) => Cells::Int(ints.i64()?.clone()),
                Err(_) => return Err(too_large(name, dt)),
            },
            other => return Err(not_plain(name, other)),
        })
    }

    /// True if `column` is text in ascending order, nulls first (the order
    /// a stable sort would leave it in).
    fn text_sorted(&self, column: &str) -> bool {
        let Ok(ca) = self.df.column(column).and_then(|c| c.str().cloned()) else {
            return false;
        };
        let mut prev: Option<Option<&str>> = None;
        for v in ca.iter() {
            if prev.is_some_and(|p| p > v) {
                return false;
            }
            prev = Some(v);
        }
        true
    }

    /// Writes the table as zstd-compressed Parquet with full statistics and
    /// the given key-value metadata, its rows sorted by `sort_by` (ties
    /// keep their order) in groups of [`ROW_GROUP`].
    pub fn write_parquet(
        &mut self,
        path: &Path,
        metadata: Vec<(String, String)>,
        sort_by: &[String],
    ) -> Result<()> {
        let by: Vec<&str> = sort_by
            .iter()
            .map(String::as_str)
            .filter(|c| self.df.schema().contains(c))
            .collect();
        // A table already in order (the postcode tables, 2.7 million rows at
        // full scale) is not sorted again: a sort copies the whole frame.
        let in_order = match by.as_slice() {
            [] => true,
            [c] => self.text_sorted(c),
            _ => false,
        };
        if !in_order {
            self.df
                .sort_in_place(by, SortMultipleOptions::default().with_maintain_order(true))
                .map_err(|e| Error::table(e).file(path))?;
        }
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .with_statistics(StatisticsOptions::full())
            .with_row_group_size(Some(ROW_GROUP))
            .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata)))
            .finish(&mut self.df)
            .map_err(|e| Error::table(e).file(path))?;
        Ok(())
    }
}

/// Rows per Parquet row group (polars splits a table into groups of equal
/// size, so groups hold 65,536 to about 131,000 rows). Tables are sorted by
/// their area code and cut into groups so that a remote reader (DuckDB over
/// HTTP range requests) asking for one area skips every group whose min/max
/// statistics exclude it; polars' default (262,144 rows) left the
/// 740,613-row Census table in three groups, unsorted, so one area's rows
/// meant the whole file (measured: 6.7 MB read for 16 rows, now 0.7 MB).
pub const ROW_GROUP: usize = 65_536;

/// Writes a Parquet file's rows as gzip-compressed CSV with a header row
/// (nulls as empty cells), always as one gzip member: several members are
/// valid gzip, but not every reader goes past the first one (zlib's
/// `inflate` with a gzip header stops there, without an error), so a table
/// is never cut into separately compressed pieces.
///
/// Rows are read `CSV_CHUNK` at a time, so no more than that many are ever
/// a frame in memory. A table of up to `WHOLE_ROWS` rows has its CSV text
/// gathered and encoded at once with libdeflate, as the API's files are
/// (see `gz::encode`; the shared release's largest, the 697,000-row Census
/// table, is 71 MB of CSV). A larger one (the postcode directory, 2.7
/// million rows at full scale) is encoded by zlib as it is written, so its
/// text is never whole in memory either.
pub fn parquet_to_csv_gz(parquet: &Path, out: &Path) -> Result<()> {
    const WHOLE_ROWS: usize = 1 << 20;
    const CSV_CHUNK: usize = 1 << 18;
    let rows = ParquetReader::new(std::fs::File::open(parquet).map_err(|e| Error::io(parquet, e))?)
        .num_rows()
        .map_err(|e| Error::table(e).file(parquet))?;
    if rows > WHOLE_ROWS {
        return stream_csv_gz(parquet, rows, CSV_CHUNK, out);
    }
    let mut csv = Vec::new();
    write_csv(parquet, rows, CSV_CHUNK, &mut csv, out)?;
    std::fs::write(out, crate::gz::encode(&csv)).map_err(|e| Error::io(out, e))
}

/// Writes a Parquet file's `rows` rows as CSV with a header row, `chunk`
/// rows at a time.
fn write_csv(
    parquet: &Path,
    rows: usize,
    chunk: usize,
    w: &mut impl std::io::Write,
    out: &Path,
) -> Result<()> {
    let mut offset = 0;
    loop {
        let file = std::fs::File::open(parquet).map_err(|e| Error::io(parquet, e))?;
        let mut df = ParquetReader::new(file)
            .with_slice(Some((offset, chunk)))
            .finish()
            .map_err(|e| Error::table(e).file(parquet))?;
        CsvWriter::new(&mut *w)
            .include_header(offset == 0)
            .finish(&mut df)
            .map_err(|e| Error::table(e).file(out))?;
        offset += chunk;
        if offset >= rows {
            return Ok(());
        }
    }
}

/// The CSV of a table too large to hold in memory, gzip-encoded by zlib as
/// it is written.
fn stream_csv_gz(parquet: &Path, rows: usize, chunk: usize, out: &Path) -> Result<()> {
    let file = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        // Level 2: about libdeflate's level 1 in size.
        flate2::Compression::new(2),
    );
    write_csv(parquet, rows, chunk, &mut gz, out)?;
    let mut w = gz.finish().map_err(|e| Error::io(out, e))?;
    std::io::Write::flush(&mut w).map_err(|e| Error::io(out, e))
}

/// The column names and types of a Parquet file, read from its footer
/// only (`None` for a type the stages never write).
pub fn parquet_schema(path: &Path) -> Result<Vec<(String, Option<ColType>)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let schema = ParquetReader::new(file)
        .schema()
        .map_err(|e| Error::table(e).file(path))?;
    Ok(schema
        .iter()
        .map(|(name, field)| {
            let ty = match field.dtype() {
                ArrowDataType::Boolean => Some(ColType::Bool),
                ArrowDataType::Int8
                | ArrowDataType::Int16
                | ArrowDataType::Int32
                | ArrowDataType::Int64
                | ArrowDataType::UInt32
                | ArrowDataType::UInt64 => Some(ColType::Int),
                ArrowDataType::Float32 | ArrowDataType::Float64 => Some(ColType::Float),
                ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 | ArrowDataType::Utf8View => {
                    Some(ColType::String)
                }
                _ => None,
            };
            (name.to_string(), ty)
        })
        .collect())
}

/// The error for a column of a type the typed readers do not take.
fn not_plain(column: &str, dtype: &DataType) -> Error {
    Error::new(ErrorKind::WrongType {
        column: column.to_string(),
        expected: "string, int, float or bool".into(),
        got: dtype.to_string(),
    })
}

fn too_large(column: &str, dtype: &DataType) -> Error {
    Error::new(ErrorKind::WrongType {
        column: column.to_string(),
        expected: "integers within the signed 64-bit range".into(),
        got: format!("{dtype} values outside it"),
    })
}

/// A column's cells, typed, for turning rows into JSON.
pub enum Cells {
    Str(StringChunked),
    Int(Int64Chunked),
    Float(Float64Chunked),
    Bool(BooleanChunked),
}

impl Cells {
    /// How many cells are null.
    pub fn null_count(&self) -> usize {
        match self {
            Cells::Str(v) => v.null_count(),
            Cells::Int(v) => v.null_count(),
            Cells::Float(v) => v.null_count(),
            Cells::Bool(v) => v.null_count(),
        }
    }

    /// Orders cells `i` and `j` as polars sorts them: nulls first, and for
    /// floats -0.0 equal to 0.0 and every NaN equal, after all numbers.
    pub fn key_cmp(&self, i: usize, j: usize) -> std::cmp::Ordering {
        let float = |x: f64| match x {
            _ if x.is_nan() => f64::NAN,
            _ if x == 0.0 => 0.0,
            _ => x,
        };
        match self {
            Cells::Str(v) => v.get(i).cmp(&v.get(j)),
            Cells::Int(v) => v.get(i).cmp(&v.get(j)),
            Cells::Float(v) => match (v.get(i), v.get(j)) {
                (Some(a), Some(b)) => float(a).total_cmp(&float(b)),
                (a, b) => a.is_some().cmp(&b.is_some()),
            },
            Cells::Bool(v) => v.get(i).cmp(&v.get(j)),
        }
    }

    /// Cell `i` as a message shows it.
    pub fn shown(&self, i: usize) -> String {
        match self {
            Cells::Str(v) => v.get(i).map_or("null".into(), str::to_string),
            Cells::Int(v) => v.get(i).map_or("null".into(), |x| x.to_string()),
            Cells::Float(v) => v.get(i).map_or("null".into(), |x| x.to_string()),
            Cells::Bool(v) => v.get(i).map_or("null".into(), |x| x.to_string()),
        }
    }

    /// Cell `i`, to serialise as JSON without building a value (a file of
    /// the API writes hundreds of cells, and no text needs copying).
    pub fn json(&self, i: usize) -> JsonCell<'_> {
        JsonCell { cells: self, i }
    }

    /// True if cell `i` is null (or a float JSON cannot hold, written as
    /// null).
    pub fn is_null_in_json(&self, i: usize) -> bool {
        match self {
            Cells::Str(v) => v.get(i).is_none(),
            Cells::Int(v) => v.get(i).is_none(),
            Cells::Float(v) => !v.get(i).is_some_and(f64::is_finite),
            Cells::Bool(v) => v.get(i).is_none(),
        }
    }

    /// Every text cell, borrowed, in row order (all `None` for a column
    /// not of text): one pass, for loops over millions of rows.
    pub fn strs(&self) -> Vec<Option<&str>> {
        match self {
            Cells::Str(v) => v.iter().collect(),
            other => vec![None; other.len()],
        }
    }

    /// A text cell, borrowed (`None` for a null or a column not of text).
    pub fn str(&self, i: usize) -> Option<&str> {
        match self {
            Cells::Str(v) => v.get(i),
            _ => None,
        }
    }

    /// A cell as a number (`None` for a null or text that is not one).
    pub fn number(&self, i: usize) -> Option<f64> {
        match self {
            Cells::Str(v) => v.get(i).and_then(|s| s.parse().ok()),
            Cells::Int(v) => v.get(i).map(|x| x as f64),
            Cells::Float(v) => v.get(i),
            Cells::Bool(v) => v.get(i).map(|x| f64::from(u8::from(x))),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Cells::Str(v) => v.len(),
            Cells::Int(v) => v.len(),
            Cells::Float(v) => v.len(),
            Cells::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            Cells::Str(v) => v.get(i).map(str::to_string),
            Cells::Int(v) => v.get(i).map(|x| x.to_string()),
            Cells::Float(v) => v.get(i).map(|x| x.to_string()),
            Cells::Bool(v) => v.get(i).map(|x| x.to_string()),
        }
    }
}

/// Data that becomes one column of a [`TableBuilder`].
pub trait IntoColumn {
    #[doc(hidden)]
    fn into_column(self, name: &str) -> Column;
}

macro_rules! into_column {
    ($($t:ty),*) => {$(
        impl IntoColumn for $t {
            fn into_column(self, name: &str) -> Column {
                Column::new(name.into(), self)
            }
        }
    )*};
}
into_column!(
    Vec<String>,
    Vec<Option<String>>,
    Vec<i64>,
    Vec<Option<i64>>,
    Vec<f64>,
    Vec<Option<f64>>,
    Vec<bool>,
    Vec<Option<bool>>
);

/// Borrowed text: polars copies it into the column, so a stage can build a
/// column of millions of cells without an allocation per cell.
impl IntoColumn for Vec<Option<&str>> {
    fn into_column(self, name: &str) -> Column {
        Column::new(name.into(), self)
    }
}

/// Text with few distinct values repeated on millions of rows (reasons,
/// source names): each distinct value is stored once and every row's cell
/// is a view of it, 16 bytes instead of the text (measured on the
/// 2.7-million-row postcode table: 190 MB -> 44 MB for one column).
pub struct Repeated<'a>(pub Vec<Option<&'a str>>);

impl IntoColumn for Repeated<'_> {
    fn into_column(self, name: &str) -> Column {
        let mut values: Vec<&str> = Vec::new();
        let mut at: crate::hash::HashMap<&str, IdxSize> = Default::default();
        let idx: Vec<Option<IdxSize>> = self
            .0
            .iter()
            .map(|v| {
                v.map(|s| {
                    *at.entry(s).or_insert_with(|| {
                        values.push(s);
                        (values.len() - 1) as IdxSize
                    })
                })
            })
            .collect();
        let dict = StringChunked::from_iter_values(name.into(), values.into_iter());
        let idx = IdxCa::from_iter_options("".into(), idx.into_iter());
        // Gathering views copies the 16-byte views, not the text.
        match dict.take(&idx) {
            Ok(taken) => Column::from(taken.with_name(name.into()).into_series()),
            Err(_) => Column::new(name.into(), self.0),
        }
    }
}

impl IntoColumn for Values {
    fn into_column(self, name: &str) -> Column {
        Values::into_column(self, name)
    }
}

/// Builds a table column by column.
#[derive(Default)]
pub struct TableBuilder {
    columns: Vec<Column>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, name: &str, data: impl IntoColumn) -> &mut Self {
        self.columns.push(data.into_column(name));
        self
    }

    /// A column of `n` nulls of the given type.
    pub fn push_nulls(&mut self, name: &str, ty: ColType, n: usize) -> &mut Self {
        let dt = match ty {
            ColType::String => DataType::String,
            ColType::Int => DataType::Int64,
            ColType::Float => DataType::Float64,
            ColType::Bool => DataType::Boolean,
        };
        self.columns.push(Column::full_null(name.into(), n, &dt));
        self
    }

    /// The table; every column must have `height` rows.
    pub fn finish(self, height: usize) -> Result<Table> {
        Ok(Table {
            df: DataFrame::new(height, self.columns)?,
        })
    }
}

/// One cell of a column, serialised as JSON: a string, a number, a boolean
/// or null, as `serde_json::Value` would write it (a float that is not
/// finite is null).
pub struct JsonCell<'a> {
    cells: &'a Cells,
    i: usize,
}

impl serde::Serialize for JsonCell<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        let i = self.i;
        match self.cells {
            Cells::Str(v) => match v.get(i) {
                Some(s) => ser.serialize_str(s),
                None => ser.serialize_unit(),
            },
            Cells::Int(v) => match v.get(i) {
                Some(x) => ser.serialize_i64(x),
                None => ser.serialize_unit(),
            },
            Cells::Float(v) => match v.get(i).filter(|x| x.is_finite()) {
                Some(x) => ser.serialize_f64(x),
                None => ser.serialize_unit(),
            },
            Cells::Bool(v) => match v.get(i) {
                Some(b) => ser.serialize_bool(b),
                None => ser.serialize_unit(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::testing::{ints, opt_strs, strs, table};

    #[test]
    fn a_key_must_be_whole_and_on_one_row_only() {
        let key = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let fault = |t: &Table, k: &[&str]| t.key_fault(&key(k)).unwrap();
        // Grouped by the first column; the second repeats within a group,
        // but not next to itself, and in the last group too.
        let t = table(vec![
            ("code", strs(&["A", "A", "A", "B", "C", "C"])),
            ("id", ints(&[1, 2, 1, 1, 3, 3])),
        ]);
        let f = fault(&t, &["code", "id"]).unwrap();
        assert_eq!(f.check, "key_unique");
        assert_eq!(
            f.detail,
            "2 keys (code, id) are each on more than one row, the first A, 1"
        );
        assert_eq!(f.examples, ["A, 1", "C, 3"]);
        assert_eq!(fault(&t, &["code"]).unwrap().examples, ["A", "C"]);
        let t = table(vec![
            ("code", strs(&["A", "A", "B", "C"])),
            ("id", ints(&[1, 2, 1, 1])),
        ]);
        assert_eq!(fault(&t, &["code", "id"]), None);
        assert_eq!(fault(&t, &[]), None);
        // An empty cell in any key column.
        let t = table(vec![
            ("code", strs(&["A", "B"])),
            ("id", opt_strs(&[Some("x"), None])),
        ]);
        let f = fault(&t, &["code", "id"]).unwrap();
        assert_eq!(
            (f.check, f.detail.as_str()),
            ("key_complete", "key column `id` is empty on 1 row")
        );
        // Floats grouped as polars sorts them: -0.0 beside 0.0.
        let t = table(vec![(
            "x",
            Values::Float(vec![Some(0.0), Some(-0.0), Some(1.0)]),
        )]);
        assert_eq!(fault(&t, &["x"]).unwrap().examples, ["0"]);
    }

    /// A gzip decoder that reads one member only, as zlib's `inflate` does.
    fn first_member(path: &Path) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
            &mut text,
        )
        .unwrap();
        text
    }

    #[test]
    fn csv_copies_are_one_gzip_member_whether_written_whole_or_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("t.parquet");
        let df = df!(
            "code" => ["E1", "E2", "E3", "E4", "E5"],
            "value" => [Some(1.5), None, Some(3.0), Some(-4.25), Some(5.0)],
        )
        .unwrap();
        Table::from_frame(df)
            .write_parquet(&parquet, Vec::new(), &[])
            .unwrap();
        let (whole, streamed) = (
            dir.path().join("whole.csv.gz"),
            dir.path().join("streamed.csv.gz"),
        );
        parquet_to_csv_gz(&parquet, &whole).unwrap();
        stream_csv_gz(&parquet, 5, 2, &streamed).unwrap();
        let expected = "code,value\nE1,1.5\nE2,\nE3,3.0\nE4,-4.25\nE5,5.0\n";
        assert_eq!(first_member(&whole), expected);
        assert_eq!(
            first_member(&streamed),
            expected,
            "three chunks, one member"
        );
    }

    #[test]
    fn unsigned_cells_too_large_for_i64_are_refused_not_read_as_null() {
        let df = DataFrame::new(
            2,
            vec![
                Column::new("small".into(), [Some(2u64), None]),
                Column::new("large".into(), [Some(1u64), Some(u64::MAX)]),
            ],
        )
        .unwrap();
        let t = Table::from_frame(df);
        let small = t.cells("small").unwrap();
        assert_eq!(
            (small.shown(0), small.shown(1)),
            ("2".into(), "null".into())
        );
        let Err(e) = t.cells("large") else {
            panic!("a value above i64::MAX was taken");
        };
        assert!(matches!(e.kind, ErrorKind::WrongType { .. }), "{e}");
        assert!(e.to_string().contains("large"), "{e}");
        assert!(
            t.key_fault(&["large".to_string()]).is_err(),
            "the key check must not report the value as an empty cell"
        );
    }

    #[test]
    fn plain_cells_take_the_types_values_takes_and_refuse_the_rest() {
        let df = DataFrame::new(
            1,
            vec![
                Column::new("f64".into(), [0.5f64]),
                Column::new("f32".into(), [0.1f32]),
                Column::new("i32".into(), [1i32]),
                Column::new("s".into(), ["E01000001"]),
            ],
        )
        .unwrap();
        let t = Table::from_frame(df);
        assert_eq!(t.plain_cells("f64").unwrap().number(0), Some(0.5));
        assert_eq!(t.plain_cells("s").unwrap().str(0), Some("E01000001"));
        for c in ["f32", "i32"] {
            let Err(e) = t.plain_cells(c) else {
                panic!("{c} taken");
            };
            assert!(matches!(e.kind, ErrorKind::WrongType { .. }), "{c}: {e}");
            let v = t.values(c).unwrap_err();
            assert_eq!(e.to_string(), v.to_string(), "{c}");
        }
    }
}
