//! The release directory: what a build publishes, and how it is put in place.
//!
//! ```text
//! <out>/tables/<table>.parquet   zstd-compressed tables
//! <out>/tables/<table>.csv.gz    the same rows as gzip CSV
//! <out>/manifest.json            every file with bytes and sha256, every
//!                                table with its source, rows, missing columns
//!                                (with reasons) and unavailable datasets
//! ```
//!
//! The manifest holds no timestamps, so the same inputs give a byte-identical
//! release and a diff between releases shows only real changes.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cache::{engine_version, sha256_file};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::frame::Table;

pub mod csv;
mod swap;
pub use swap::{
    check_out, check_replaceable, is_release, recover, sibling, swap_into_place, unlisted_files,
    write_marker, BUILD_KEY, MARKER,
};

/// `manifest.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The release's version (semver), derived from the change against the
    /// previous release.
    #[serde(default)]
    pub version: String,
    pub pipeline_version: String,
    pub catalog: String,
    /// What a person wants first: how many tables and files, how large.
    #[serde(default)]
    pub summary: Summary,
    /// Datasets the stages asked for that this catalog cannot provide.
    pub unavailable: Vec<Unavailable>,
    pub tables: BTreeMap<String, TableEntry>,
    /// Every file of the release except the manifest itself, by path (last:
    /// the API makes them tens of thousands).
    pub files: Vec<FileEntry>,
}

/// The release in numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub tables: usize,
    pub unavailable: usize,
    pub files: usize,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Unavailable {
    pub dataset: String,
    pub reason: String,
}

/// A table of the release and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    pub path: String,
    pub rows: usize,
    /// The stage that wrote it.
    pub stage: String,
    /// What the table is, with its conventions and caveats.
    pub description: String,
    /// The files or tables it was made from, with their sha256.
    pub inputs: Vec<InputRef>,
    /// True if any input is a third party's re-shaping, not the publisher's file.
    pub derived: bool,
    /// Columns with no source (all null), with the reason.
    pub missing_columns: indexmap::IndexMap<String, String>,
    /// Columns computed rather than published, with how.
    #[serde(default, skip_serializing_if = "indexmap::IndexMap::is_empty")]
    pub computed_columns: indexmap::IndexMap<String, String>,
    /// Provenance notes (e.g. names taken from an ONS look-up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileEntry>,
    /// The same rows as gzip CSV, beside the Parquet file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<FileEntry>,
}

/// An input of a table: a source file or another table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputRef {
    pub kind: InputKind,
    pub name: String,
    pub sha256: String,
}

/// What an input of a table is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A source file, as fetched.
    File,
    /// Another table of the release.
    Table,
}

impl InputRef {
    /// The Parquet key-value form of a table's inputs: `name:sha256,...`.
    pub fn provenance(inputs: &[InputRef]) -> String {
        inputs
            .iter()
            .map(|i| format!("{}:{}", i.name, i.sha256))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Writes a table as zstd-compressed Parquet, with key-value metadata: the
/// pipeline version, the build time, then `metadata` (its inputs and their
/// sha256, its stage or source), and the column its rows are sorted by.
///
/// Rows are sorted by the first column of the table's key, which in every
/// table is the area code (or the postcode): that is what a remote reader
/// filters on, and what lets it skip row groups. Rows of one area keep the
/// order the stage wrote them in (a stable sort), so a Census area's
/// indicators stay in the order the stage declares them (population first)
/// rather than in the alphabetical order of their ids.
pub fn write_parquet(
    table: &mut Table,
    path: &Path,
    key: &[String],
    metadata: Vec<(String, String)>,
) -> Result<()> {
    let mut kv = vec![
        ("census_pipeline.version".to_string(), engine_version()),
        ("census_pipeline.built_at".to_string(), build_time()),
    ];
    kv.extend(metadata);
    let sort_by: Vec<String> = key.iter().take(1).cloned().collect();
    if let Some(c) = sort_by.first() {
        kv.push(("census_pipeline.sorted_by".into(), c.clone()));
    }
    table.write_parquet(path, kv, &sort_by)
}

/// The build time recorded in tables: `SOURCE_DATE_EPOCH` when set (for
/// reproducible builds), else now. A table's time is that of the run that
/// computed it: a cached table keeps its time, so a rebuild from the same
/// cache is byte-identical.
pub fn build_time() -> String {
    let t = fixed_epoch()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or_else(chrono::Utc::now);
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The build time fixed by `SOURCE_DATE_EPOCH` or [`set_build_epoch`], if
/// any (it is part of a build's key).
pub fn fixed_epoch() -> Option<i64> {
    BUILD_EPOCH.get().copied().or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    })
}

static BUILD_EPOCH: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Fixes the build time of this process's builds, as `SOURCE_DATE_EPOCH`
/// does, without touching the environment (for tests and programs that
/// embed the library). The first call wins.
pub fn set_build_epoch(seconds: i64) {
    let _ = BUILD_EPOCH.set(seconds);
}

/// Writes `manifest.json` into the staging directory. File digests come from
/// the stage cache where known; anything else in the directory is hashed.
pub fn write_manifest(
    staging: &Path,
    catalog: &Catalog,
    mut tables: BTreeMap<String, TableEntry>,
    other_files: Vec<FileEntry>,
    unavailable: Vec<(String, String)>,
    version: &str,
) -> Result<Manifest> {
    let mut known: BTreeMap<String, FileEntry> = tables
        .values()
        .flat_map(|t| t.file.iter().chain(t.csv.iter()).cloned())
        .map(|f| (f.path.clone(), f))
        .chain(other_files.into_iter().map(|f| (f.path.clone(), f)))
        .collect();
    let mut files = Vec::new();
    for (entry, rel) in crate::cache::files_under(staging)? {
        if rel == "manifest.json" {
            continue;
        }
        let f = match known.remove(&rel) {
            Some(f) => f,
            None => FileEntry {
                bytes: std::fs::metadata(&entry)
                    .map_err(|e| Error::io(&entry, e))?
                    .len(),
                sha256: sha256_file(&entry)?,
                path: rel,
            },
        };
        files.push(f);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for t in tables.values_mut() {
        t.file = None;
        t.csv = None;
    }
    let mut unavailable: Vec<Unavailable> = unavailable
        .into_iter()
        .map(|(dataset, reason)| Unavailable { dataset, reason })
        .collect();
    unavailable.sort_by(|a, b| a.dataset.cmp(&b.dataset));
    let manifest = Manifest {
        version: version.to_string(),
        pipeline_version: engine_version(),
        catalog: catalog.name.clone(),
        summary: Summary {
            tables: tables.len(),
            unavailable: unavailable.len(),
            files: files.len(),
            bytes: files.iter().map(|f| f.bytes).sum(),
        },
        files,
        tables,
        unavailable,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(Error::table)?;
    let path = staging.join("manifest.json");
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    Ok(manifest)
}

/// Writes `verification.json`: every check of every verified table.
pub fn write_verification(staging: &Path, reports: &[crate::checks::TableReport]) -> Result<()> {
    let path = staging.join("verification.json");
    // Totals first: how many checks passed, warned, failed, could not run.
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for c in reports.iter().flat_map(|r| &r.checks) {
        let key = match c.status {
            crate::checks::Status::Pass => "pass",
            crate::checks::Status::Warn => "warn",
            crate::checks::Status::Fail => "fail",
            crate::checks::Status::NotAvailable => "not_available",
        };
        *totals.entry(key).or_default() += 1;
    }
    let json =
        serde_json::to_vec_pretty(&serde_json::json!({ "totals": totals, "tables": reports }))
            .map_err(Error::table)?;
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))
}
