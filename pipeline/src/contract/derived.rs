//! Running a kind that turns tables into tables, through the unit cache.
//!
//! The whole stage is one unit, keyed by its spec and the digests of the
//! tables it reads. A cached unit's Parquet files are copied into the
//! release; otherwise the inputs are read from the staging directory, the
//! kind's [`Build::build`] runs, every output is checked against the schema
//! the kind declared, and the outputs are written with their provenance.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use super::{Build, Built, Frames, RunCtx, StageRun, UnitTime};
use crate::cache::{copy, sha256_file, unit_key};
use crate::checks::TableReport;
use crate::error::{Error, Result};
use crate::frame::Table;
use crate::hash::HashMap;
use crate::release::{write_parquet, FileEntry, InputKind, InputRef, TableEntry};

/// What a derived stage caches beside its Parquet files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DerivedMeta {
    tables: Vec<DerivedTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DerivedTable {
    name: String,
    entry: TableEntry,
    verification: Option<TableReport>,
}

/// The tables a stage reads, with their digests, for its cache key and
/// provenance.
pub fn table_refs(inputs: &BTreeMap<String, TableEntry>) -> Vec<InputRef> {
    inputs
        .iter()
        .map(|(name, e)| InputRef {
            kind: InputKind::Table,
            name: name.clone(),
            sha256: e
                .file
                .as_ref()
                .map(|f| f.sha256.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// Runs a derived stage: from the unit cache, or by building it.
pub fn run<S: Build>(spec: &S, ctx: &RunCtx<'_>) -> Result<StageRun> {
    let t0 = Instant::now();
    let input_refs = table_refs(&ctx.inputs);
    // Besides the inputs' bytes, what a stage reads about them from the
    // plan: their declared schemas (an index's nation and edition, a
    // column's unit and direction), the columns they declare missing,
    // which are derived, and why the tables it lacks are unavailable. A
    // changed declaration can leave a table's bytes as they were, and its
    // readers must not come from the cache then. Its outputs' schemas too,
    // which its checks use.
    let schemas: BTreeMap<&String, _> = ctx
        .schemas
        .iter()
        .filter(|(n, _)| ctx.inputs.contains_key(*n) || ctx.outputs.contains(n))
        .collect();
    let missing: BTreeMap<&String, _> = ctx
        .inputs
        .iter()
        .map(|(n, e)| (n, &e.missing_columns))
        .collect();
    // Whether an input is derived rather than published: the outputs say
    // so in turn.
    let derived: BTreeMap<&String, bool> = ctx.inputs.iter().map(|(n, e)| (n, e.derived)).collect();
    // And which of their columns are computed: a stage carrying one on says so.
    let computed: BTreeMap<&String, _> = ctx
        .inputs
        .iter()
        .map(|(n, e)| (n, &e.computed_columns))
        .collect();
    let key = unit_key(&serde_json::json!({
        "stage": ctx.stage,
        "spec": spec,
        "inputs": input_refs,
        "schemas": schemas,
        "missing": missing,
        "derived": derived,
        "computed": computed,
        "unavailable": ctx.unavailable,
    }));
    let unit = ctx
        .cache
        .get_or_build(&key, |work| build_unit(spec, ctx, &input_refs, work))
        .map_err(|e| e.stage(ctx.stage))?;
    let mut run = StageRun::default();
    for t in unit.meta.tables {
        let file = format!("{}.parquet", t.name);
        copy(
            &unit.dir.join(&file),
            &ctx.staging.join("tables").join(&file),
        )?;
        run.units.push(UnitTime {
            unit: t.name.clone(),
            took: t0.elapsed(),
            computed: unit.computed,
        });
        run.verification.extend(t.verification);
        run.tables.push((t.name, t.entry));
    }
    if !unit.computed {
        debug!(stage = ctx.stage, "Taken from the stage cache.");
    }
    (ctx.progress)();
    Ok(run)
}

/// Reads the inputs, builds, checks and writes the outputs into `work`.
fn build_unit<S: Build>(
    spec: &S,
    ctx: &RunCtx<'_>,
    input_refs: &[InputRef],
    work: &Path,
) -> Result<DerivedMeta> {
    let mut tables = HashMap::default();
    for name in ctx.inputs.keys() {
        let path = ctx.staging.join(format!("tables/{name}.parquet"));
        tables.insert(name.clone(), Table::read_parquet(&path, None)?);
    }
    let frames = Frames::of(tables, ctx);
    let derived = ctx.inputs.values().any(|e| e.derived);
    let outputs = spec.build(&frames)?;
    drop(frames);
    let mut meta = DerivedMeta { tables: Vec::new() };
    for built in outputs {
        meta.tables
            .push(write_output(built, ctx, input_refs, derived, work)?);
    }
    Ok(meta)
}

/// Checks one output against its declared schema and writes it.
fn write_output(
    built: Built,
    ctx: &RunCtx<'_>,
    input_refs: &[InputRef],
    derived: bool,
    work: &Path,
) -> Result<DerivedTable> {
    let Built { mut table, meta } = built;
    let schema = ctx.schemas.get(&meta.name).ok_or_else(|| {
        Error::table(format!(
            "stage `{}` built table `{}`, which it does not declare",
            ctx.stage, meta.name
        ))
    })?;
    schema.conforms(&table)?;
    schema.check_values(&table)?;
    let file_name = format!("{}.parquet", meta.name);
    let parquet = work.join(&file_name);
    write_parquet(
        &mut table,
        &parquet,
        &schema.key,
        vec![
            ("census_pipeline.stage".into(), ctx.stage.to_string()),
            (
                "census_pipeline.inputs".into(),
                InputRef::provenance(input_refs),
            ),
        ],
    )?;
    // The data package declares the key unique and required: the table
    // must bear that out (sorted by the key's first column now).
    if let Some(f) = table.key_fault(&schema.key)? {
        return Err(Error::check(&meta.name, f.check, f.detail, f.examples));
    }
    let rel = format!("tables/{file_name}");
    let entry = TableEntry {
        path: rel.clone(),
        rows: table.height(),
        stage: ctx.stage.to_string(),
        description: meta.description,
        inputs: input_refs.to_vec(),
        derived,
        missing_columns: meta.missing,
        computed_columns: meta.computed,
        notes: meta.notes,
        file: Some(FileEntry {
            path: rel,
            bytes: std::fs::metadata(&parquet)
                .map_err(|e| Error::io(&parquet, e))?
                .len(),
            sha256: sha256_file(&parquet)?,
        }),
        csv: None,
    };
    info!(stage = ctx.stage, table = %file_name, rows = table.height(), "Built.");
    Ok(DerivedTable {
        name: meta.name,
        entry,
        verification: meta.verification,
    })
}
