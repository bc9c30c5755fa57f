//! Plain Rust columns for stage logic.
//!
//! Stages read a handful of columns from tables of a few tens of thousands of
//! rows, join them by area code and write new columns. Doing that on plain
//! vectors keeps the logic readable and independent of polars' fast-moving
//! API; polars stays at the edges (Parquet in, Parquet out).

use polars::prelude::*;

use crate::error::{Error, Result};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Str(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
}

impl Values {
    /// Reads a column of a frame (String, Int64 or Float64).
    pub fn from_frame(frame: &DataFrame, name: &str) -> Result<Values> {
        let col = frame
            .column(name)
            .map_err(|_| Error::schema(format!("the table has no column `{name}`")))?;
        Ok(match col.dtype() {
            DataType::String => {
                Values::Str(col.str()?.iter().map(|o| o.map(str::to_string)).collect())
            }
            DataType::Int64 => Values::Int(col.i64()?.iter().collect()),
            DataType::Float64 => Values::Float(col.f64()?.iter().collect()),
            other => {
                return Err(Error::schema(format!(
                    "column `{name}` has type {other}, expected string, int or float"
                )))
            }
        })
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Str(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
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
        }
    }

    /// The value as text (codes, names), for joins and messages.
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            Values::Str(v) => v[i].clone(),
            Values::Int(v) => v[i].map(|x| x.to_string()),
            Values::Float(v) => v[i].map(|x| x.to_string()),
        }
    }

    /// The value as a number (ranks, scores).
    pub fn number(&self, i: usize) -> Option<f64> {
        match self {
            Values::Str(v) => v[i].as_deref().and_then(|s| s.parse().ok()),
            Values::Int(v) => v[i].map(|x| x as f64),
            Values::Float(v) => v[i],
        }
    }

    pub fn null_count(&self) -> usize {
        (0..self.len()).filter(|&i| self.text(i).is_none()).count()
    }

    pub fn into_column(self, name: &str) -> Column {
        match self {
            Values::Str(v) => Column::new(name.into(), v),
            Values::Int(v) => Column::new(name.into(), v),
            Values::Float(v) => Column::new(name.into(), v),
        }
    }

    /// A column of nulls of the given kind.
    pub fn nulls_like(&self, n: usize) -> Values {
        match self {
            Values::Str(_) => Values::Str(vec![None; n]),
            Values::Int(_) => Values::Int(vec![None; n]),
            Values::Float(_) => Values::Float(vec![None; n]),
        }
    }
}

/// Reads a Parquet table.
pub fn read_parquet(path: &std::path::Path) -> Result<DataFrame> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(f)
        .finish()
        .map_err(|e| Error::table(e).file(path))
}

/// Reads only `columns` of a Parquet table (all of them when `None`).
pub fn read_parquet_columns(
    path: &std::path::Path,
    columns: Option<Vec<String>>,
) -> Result<DataFrame> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(f)
        .with_columns(columns)
        .finish()
        .map_err(|e| Error::table(e).file(path))
}
