//! A gzip CSV beside each Parquet table, for readers without Parquet (R's
//! `read.csv`, spreadsheets). Each is a cache unit keyed by its Parquet
//! file's digest, so a rebuild with nothing changed writes none.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{FileEntry, TableEntry};
use crate::cache::{link_or_copy, sha256_file, unit_key, Cache};
use crate::error::{Error, Result};
use crate::frame::parquet_to_csv_gz;
use crate::par::parallel_map;

#[derive(Debug, Serialize, Deserialize)]
struct CsvMeta {
    bytes: u64,
    sha256: String,
}

/// Writes `tables/<name>.csv.gz` for every table with a Parquet file, and
/// records it in the table's entry.
pub fn write_all(
    cache: &Cache,
    staging: &Path,
    tables: &mut BTreeMap<String, TableEntry>,
) -> Result<()> {
    let todo: Vec<(&String, &TableEntry)> =
        tables.iter().filter(|(_, t)| t.file.is_some()).collect();
    // Largest first, so the long ones start early.
    let mut todo = todo;
    todo.sort_by_key(|(_, t)| std::cmp::Reverse(t.file.as_ref().map_or(0, |f| f.bytes)));
    let written = parallel_map(&todo, |(name, t)| -> Result<(String, FileEntry)> {
        let parquet = t
            .file
            .as_ref()
            .map(|f| f.sha256.clone())
            .unwrap_or_default();
        let key = unit_key(&serde_json::json!({"kind": "csv.gz", "parquet_sha256": parquet}));
        let unit = cache.get_or_build(&key, |work| {
            let out = work.join("table.csv.gz");
            parquet_to_csv_gz(&staging.join(&t.path), &out)
                .map_err(|e| e.source_id(name.as_str()))?;
            let bytes = std::fs::metadata(&out)
                .map_err(|e| Error::io(&out, e))?
                .len();
            Ok(CsvMeta {
                bytes,
                sha256: sha256_file(&out)?,
            })
        })?;
        let rel = format!("tables/{name}.csv.gz");
        link_or_copy(&unit.dir.join("table.csv.gz"), &staging.join(&rel))?;
        Ok((
            (*name).clone(),
            FileEntry {
                path: rel,
                bytes: unit.meta.bytes,
                sha256: unit.meta.sha256,
            },
        ))
    });
    for w in written {
        let (name, file) = w?;
        if let Some(t) = tables.get_mut(&name) {
            t.csv = Some(file);
        }
    }
    Ok(())
}
