//! `load`: each dataset's source file into `tables/<dataset>.parquet`, with
//! its canonical columns and types.
//!
//! Each dataset is one unit of work, cached under the digest of its source
//! file, its catalog entry and its dataset declaration, so a rebuild with
//! nothing changed reads no file. A file whose digest differs from its pin
//! is never read; a file with another number of rows than declared stops the
//! build.

mod spec;

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use crate::cache::{copy, sha256_bytes, sha256_file, unit_key, Cache};
use crate::catalog::{Catalog, Format, Source};
use crate::contract::{Inputs, Output, PlanCtx, RunCtx, Stage, StageRun, UnitTime, Validator};
use crate::error::{Error, ErrorKind, Result};
use crate::par::parallel_map;
use crate::read::{claims, conform, members, read_raw, Conformed, Limits};
use crate::release::{write_parquet, FileEntry, InputKind, InputRef, TableEntry};

pub use spec::{DatasetSelection, LoadStage};

/// What is cached for one loaded table, beside its Parquet file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadMeta {
    pub dataset: String,
    pub rows: usize,
    pub source_sha256: String,
    pub source_file: String,
    pub derived: bool,
    pub mapping: indexmap::IndexMap<String, String>,
    pub missing: indexmap::IndexMap<String, String>,
    pub unmapped: Vec<String>,
    /// Columns converted from the unit the file uses, and how.
    #[serde(default)]
    pub conversions: indexmap::IndexMap<String, String>,
    pub parquet_sha256: String,
    pub parquet_bytes: u64,
}

impl LoadMeta {
    /// The table's manifest entry.
    fn entry(self, rel: &str, description: &str) -> TableEntry {
        TableEntry {
            path: rel.to_string(),
            rows: self.rows,
            stage: "load".into(),
            description: description.to_string(),
            inputs: vec![InputRef {
                kind: InputKind::File,
                name: self.source_file,
                sha256: self.source_sha256,
            }],
            derived: self.derived,
            missing_columns: self.missing,
            computed_columns: Default::default(),
            notes: self
                .conversions
                .iter()
                .map(|(c, how)| format!("`{c}`: {how}."))
                .collect(),
            file: Some(FileEntry {
                path: rel.to_string(),
                bytes: self.parquet_bytes,
                sha256: self.parquet_sha256,
            }),
            csv: None,
        }
    }
}

impl LoadStage {
    /// The selected dataset ids, in order (`None` for a malformed selection).
    fn selected<'a>(&'a self, catalog: &'a Catalog) -> Option<Vec<&'a String>> {
        match &self.datasets {
            DatasetSelection::All(s) if s == "all" => Some(catalog.sources.keys().collect()),
            DatasetSelection::All(_) => None,
            DatasetSelection::List(ids) => Some(ids.iter().collect()),
        }
    }
}

impl Stage for LoadStage {
    fn inputs(&self) -> Inputs {
        Inputs::default()
    }

    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output> {
        let catalog = ctx.catalog;
        let Some(ids) = self.selected(catalog) else {
            return Vec::new();
        };
        ids.into_iter()
            .filter_map(|id| {
                let schema = ctx.schemas.get(id)?.clone();
                let unavailable = match catalog.sources.get(id) {
                    Some(src) => src.raw.unavailable.clone(),
                    None => Some(format!(
                        "catalog `{}` has no source for this dataset",
                        catalog.name
                    )),
                };
                Some(Output {
                    schema,
                    unavailable,
                })
            })
            .collect()
    }

    fn validate(&self, v: &mut Validator<'_>) {
        match &self.datasets {
            DatasetSelection::All(s) if s == "all" => {}
            DatasetSelection::All(s) => v.error(format!(
                "field `datasets` must be \"all\" or a list of dataset ids, got {s:?}"
            )),
            DatasetSelection::List(ids) => {
                for id in ids {
                    if !v.catalog.datasets.contains_key(id) {
                        v.error(format!("field `datasets` refers to unknown dataset `{id}`"));
                    }
                }
            }
        }
    }

    fn splits_by_output(&self) -> bool {
        true
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        // Largest files first, so the long ones start early.
        let mut ids: Vec<&String> = ctx.outputs.iter().collect();
        ids.sort_by_key(|id| {
            std::cmp::Reverse(
                ctx.sources
                    .get(*id)
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len()),
            )
        });
        let results = parallel_map(&ids, |id| -> Result<(String, TableEntry, UnitTime)> {
            let t0 = Instant::now();
            let src = &ctx.catalog.sources[*id];
            let input = ctx.sources.get(*id).ok_or_else(|| {
                Error::new(ErrorKind::NotCached {
                    reason: "the source's file was not fetched".into(),
                })
                .source_id(*id)
            })?;
            let limits = Limits {
                max_bytes: src.raw.max_bytes.unwrap_or(ctx.limits.max_bytes),
                ..ctx.limits
            };
            let (entry, computed) =
                load_dataset(ctx.catalog, src, input, ctx.cache, ctx.staging, &limits)
                    .map_err(|e| e.source_id(*id).stage(ctx.stage))?;
            (ctx.progress)();
            let unit = UnitTime {
                unit: (*id).clone(),
                took: t0.elapsed(),
                computed,
            };
            Ok(((*id).clone(), entry, unit))
        });
        let mut run = StageRun::default();
        for r in results {
            let (id, entry, unit) = r?;
            run.units.push(unit);
            run.tables.push((id, entry));
        }
        Ok(run)
    }
}

/// The digest of a source's input: the file's sha256 (remembered by the
/// cache per path, size and mtime), or for a folder of members the digest
/// of the members its pattern selects. A shapefile on disk is read with
/// the files beside it (its attributes are in the `.dbf`, its projection
/// in the `.prj`), so their digests are part of its own: a changed name in
/// the `.dbf` must not leave the cached table in place.
pub fn input_digest(cache: &Cache, src: &Source, input: &Path) -> Result<String> {
    match src.raw.member.as_deref() {
        Some(m) if input.is_dir() => members::folder_digest(input, m),
        None if src.raw.format == Format::Shapefile && input.is_file() => {
            let mut parts = vec![cache.file_sha256(input)?];
            for ext in SHAPEFILE_SIDECARS {
                let side = input.with_extension(ext);
                if side.is_file() {
                    parts.push(format!("{ext}:{}", cache.file_sha256(&side)?));
                }
            }
            Ok(sha256_bytes(parts.join("\n").as_bytes()))
        }
        _ => cache.file_sha256(input),
    }
}

/// The files a shapefile's reader may open beside the `.shp`.
const SHAPEFILE_SIDECARS: [&str; 4] = ["dbf", "prj", "shx", "cpg"];

/// Loads one dataset, from the unit cache when its key matches.
/// Returns the release entry and whether work was done.
fn load_dataset(
    catalog: &Catalog,
    src: &Source,
    input: &Path,
    cache: &Cache,
    staging: &Path,
    limits: &Limits,
) -> Result<(TableEntry, bool)> {
    let dataset = &catalog.datasets[&src.id];
    let input_sha = input_digest(cache, src, input)?;
    let key = unit_key(&serde_json::json!({
        "kind": "load",
        // The table's metadata names its source.
        "source_id": src.id,
        "dataset": dataset,
        "source": src.raw,
        "input_sha256": input_sha,
    }));
    let unit = cache.get_or_build(&key, |work| read_into(catalog, src, input, limits, work))?;
    let rel = format!("tables/{}.parquet", src.id);
    copy(&unit.dir.join("table.parquet"), &staging.join(&rel))?;
    if unit.computed {
        info!(dataset = %src.id, rows = unit.meta.rows, "Loaded.");
    } else {
        debug!(dataset = %src.id, "Taken from the stage cache.");
    }
    Ok((unit.meta.entry(&rel, &dataset.title), unit.computed))
}

/// Reads and conforms a source (one file, or every member matching its
/// pattern, each conformed as it is read so that only compact columns are
/// kept), with the digest of the bytes read, checked against the pin before
/// anything is conformed and again against what was read.
fn read_source(
    src: &Source,
    dataset: &crate::schema::DatasetSpec,
    input: &Path,
    limits: &Limits,
) -> Result<(Conformed, String)> {
    let member = src.raw.member.as_deref().filter(|m| members::is_pattern(m));
    let Some(pattern) = member else {
        let bytes = std::fs::read(input).map_err(|e| Error::io(input, e))?;
        let sha = sha256_bytes(&bytes);
        check_pin(src, &sha, input)?;
        let raw = read_raw(src, input, &bytes, limits)?;
        drop(bytes);
        check_rows(src, raw.height(), input)?;
        let conformed = conform(&raw, src, dataset).map_err(|e| e.file(input))?;
        return Ok((conformed, sha));
    };
    let before = match input.is_dir() {
        true => members::folder_digest(input, pattern)?,
        false => sha256_file(input)?,
    };
    check_pin(src, &before, input)?;
    let keep = |h: &str| claims(src, dataset, h);
    let mut parts: Vec<Conformed> = Vec::new();
    let read = members::for_each_member(&src.raw, input, limits, Some(&keep), |name, raw| {
        let c = conform(&raw, src, dataset).map_err(|e| e.sheet(format!("member {name}")))?;
        parts.push(c);
        Ok(())
    })
    .map_err(|e| e.source_id(&src.id).file(input))?;
    if read != before {
        return Err(Error::unreadable(
            "the file changed while it was read (its sha256 differs from the one checked first); run the build again",
        )
        .source_id(&src.id)
        .file(input));
    }
    let mut parts = parts.into_iter();
    let first = parts
        .next()
        .ok_or_else(|| Error::unreadable("no member was read"))?;
    let tables = std::iter::once(first.table)
        .chain(parts.map(|p| p.table))
        .collect();
    let conformed = Conformed {
        table: crate::frame::Table::concat(tables)?,
        ..first
    };
    check_rows(src, conformed.table.height(), input)?;
    Ok((conformed, read))
}

/// The digest read must be the pinned one. A cached download is named by
/// its digest: one whose bytes no longer give its name was damaged in the
/// cache (not changed by its publisher), so it is removed, to be fetched
/// again, and the error says so.
fn check_pin(src: &Source, sha: &str, input: &Path) -> Result<()> {
    let named = input
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if named != sha && crate::cache::is_cached_blob(input) {
        let _ = std::fs::remove_file(input);
        return Err(Error::unreadable(format!(
            "the cached copy was damaged: its sha256 is now {sha}, not the {named} it is named by. It has been removed: \
             run the command again to fetch it afresh (from the publisher, or from --mirror)"
        ))
        .file(input));
    }
    match &src.raw.sha256 {
        Some(pin) if pin != sha => Err(Error::new(ErrorKind::ChecksumMismatch {
            expected: pin.clone(),
            actual: sha.to_string(),
            quarantined: None,
        })
        .file(input)),
        _ => Ok(()),
    }
}

/// The number of rows read must be the declared one.
fn check_rows(src: &Source, got: usize, input: &Path) -> Result<()> {
    match src.raw.rows {
        Some(expected) if got != expected => Err(Error::new(ErrorKind::RowCount { expected, got })
            .source_id(&src.id)
            .file(input)),
        _ => Ok(()),
    }
}

/// Reads, checks and conforms a source file into `work/table.parquet`.
/// The pin is checked against the digest of the bytes actually read (not a
/// digest remembered for the file's size and time, which an edit in place
/// can keep), and that digest is the one published.
fn read_into(
    catalog: &Catalog,
    src: &Source,
    input: &Path,
    limits: &Limits,
    work: &Path,
) -> Result<LoadMeta> {
    let dataset = &catalog.datasets[&src.id];
    let (conformed, input_sha) = read_source(src, dataset, input, limits)?;
    let input_sha = input_sha.as_str();
    let mut table = conformed.table;
    let parquet = work.join("table.parquet");
    write_parquet(
        &mut table,
        &parquet,
        &dataset.key,
        vec![
            ("census_pipeline.source".into(), src.id.clone()),
            ("census_pipeline.source_file".into(), src.file_name()),
            (
                "census_pipeline.source_sha256".into(),
                input_sha.to_string(),
            ),
            ("census_pipeline.licence".into(), src.raw.licence.clone()),
        ],
    )?;
    Ok(LoadMeta {
        dataset: src.id.clone(),
        rows: table.height(),
        source_sha256: input_sha.to_string(),
        source_file: src.file_name(),
        derived: src.raw.derived,
        mapping: conformed.mapping,
        missing: conformed.missing,
        unmapped: conformed.unmapped,
        conversions: conformed.conversions,
        parquet_sha256: sha256_file(&parquet)?,
        parquet_bytes: std::fs::metadata(&parquet)
            .map_err(|e| Error::io(&parquet, e))?
            .len(),
    })
}
