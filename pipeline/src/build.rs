//! Running the stage graph into a release directory.
//!
//! A build never leaves half a release behind: every file is written into a
//! staging directory beside `--out`, and only when every stage has succeeded
//! is the staging directory swapped in for the old release. Each unit of stage
//! work (one dataset for `load`) is cached under the hash of everything that
//! determines its output, so an unchanged rebuild only copies cached files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{debug, info, info_span, warn};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::cache::{engine_version, sha256_bytes, sha256_file, write_atomic, Cache, DirLock};
use crate::catalog::{Catalog, Source};
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{fetch_all, FetchOptions};
use crate::graph::Graph;
use crate::index::IndexStage;
use crate::read::{conform, read_raw};
use crate::release::{self, InputRef, Manifest, TableEntry};
use crate::stage::StageKind;
use crate::values::read_parquet;
use crate::verify::TableReport;

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub out: PathBuf,
    /// The previous release, to derive the version from the change.
    pub previous: Option<PathBuf>,
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
}

/// What a build did, for logs and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub total: Duration,
    pub fetch: Duration,
    /// Per stage: wall time, units computed, units taken from the cache.
    pub stages: Vec<StageReport>,
    pub manifest: Manifest,
}

#[derive(Debug, Clone, Default)]
pub struct StageReport {
    pub name: String,
    pub wall: Duration,
    pub computed: usize,
    pub cached: usize,
    /// Per unit (dataset) time, for the benchmark.
    pub units: Vec<(String, Duration, bool)>,
}

impl StageReport {
    fn record(&mut self, unit: &str, took: Duration, computed: bool) {
        if computed {
            self.computed += 1;
        } else {
            self.cached += 1;
        }
        self.units.push((unit.to_string(), took, computed));
    }
}

impl BuildReport {
    /// Units of stage work actually computed (0 for a no-op rebuild).
    pub fn computed(&self) -> usize {
        self.stages.iter().map(|s| s.computed).sum()
    }
}

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
    pub parquet_sha256: String,
    pub parquet_bytes: u64,
}

/// Runs the whole graph and writes the release directory.
pub fn build(catalog: &Catalog, graph: &Graph, opts: &BuildOptions) -> Result<BuildReport> {
    let started = Instant::now();
    let cache = Cache::open(&opts.cache_dir)?;
    let _cache_lock = DirLock::acquire(&opts.cache_dir.join(".lock"), true)?;
    let out_lock_path = sibling(&opts.out, ".lock");
    let _out_lock = DirLock::acquire(&out_lock_path, true)?;

    // 1. Inputs: local files in place, or fetched into the cache.
    let fetch_started = Instant::now();
    let mut inputs: BTreeMap<String, PathBuf> = catalog
        .sources
        .values()
        .filter_map(|s| s.local_path.clone().map(|p| (s.id.clone(), p)))
        .collect();
    let needs_fetch = catalog
        .sources
        .values()
        .any(|s| s.local_path.is_none() && s.raw.unavailable.is_none());
    if needs_fetch {
        let rt = tokio::runtime::Runtime::new().map_err(|e| Error::new(ErrorKind::Io(e)))?;
        inputs.extend(rt.block_on(fetch_all(catalog, &cache, &opts.fetch))?);
    }
    let fetch = fetch_started.elapsed();

    // 2. Stages, wave by wave, into a staging directory.
    let staging = sibling(&opts.out, &format!(".partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    let tables_dir = staging.join("tables");
    std::fs::create_dir_all(&tables_dir).map_err(|e| Error::io(&tables_dir, e))?;
    let result = run_stages(catalog, graph, &cache, &inputs, &staging);
    let outputs = match result.and_then(|o| {
        release::write_verification(&staging, &o.verification)?;
        let (version, why) = crate::package::write_datapackage(
            &staging,
            catalog,
            &o.tables,
            opts.previous.as_deref(),
        )?;
        // The diff report against the previous release, for review.
        if let Some(prev) = opts
            .previous
            .as_deref()
            .filter(|p| p.join("datapackage.json").is_file())
        {
            let r = crate::report::diff(prev, &staging)?;
            crate::report::write(&staging, &r)?;
        }
        Ok((o, version, why))
    }) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let (outputs, version, why) = outputs;
    let stages = outputs.reports;
    info!(version = %version, reasons = %why.join("; "), "Release version.");

    // 3. Manifest, then the swap.
    let manifest = match release::write_manifest(
        &staging,
        catalog,
        outputs.tables,
        outputs.api_files,
        outputs.unavailable,
        &version,
    ) {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if let Err(e) = release::swap_into_place(&staging, &opts.out) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    cache.save()?;
    let report = BuildReport {
        total: started.elapsed(),
        fetch,
        stages,
        manifest,
    };
    info!(
        out = %opts.out.display(),
        tables = report.manifest.tables.len(),
        computed = report.computed(),
        secs = report.total.as_secs_f64(),
        "Build complete."
    );
    Ok(report)
}

/// What the stages produced: reports, release tables, unavailable tables,
/// and verification reports.
struct StageOutputs {
    reports: Vec<StageReport>,
    tables: BTreeMap<String, TableEntry>,
    unavailable: Vec<(String, String)>,
    verification: Vec<TableReport>,
    /// Files of the static API, with their digests (known, not re-hashed).
    api_files: Vec<release::FileEntry>,
}

fn run_stages(
    catalog: &Catalog,
    graph: &Graph,
    cache: &Cache,
    inputs: &BTreeMap<String, PathBuf>,
    staging: &Path,
) -> Result<StageOutputs> {
    let reports = Mutex::new(Vec::new());
    let tables: Mutex<BTreeMap<String, TableEntry>> = Mutex::new(BTreeMap::new());
    let verification = Mutex::new(Vec::new());
    let api_files = Mutex::new(Vec::new());
    let mut unavailable = Vec::new();
    let index_specs: Vec<IndexStage> = graph
        .stages
        .values()
        .filter_map(|p| match &p.spec.kind {
            StageKind::DeprivationIndex(ix) => Some((**ix).clone()),
            _ => None,
        })
        .collect();
    // Why each table that will not be built is missing, for stages that
    // publish what they cannot compute as unavailable.
    let unavailable_reasons: std::collections::HashMap<String, String> = graph
        .stages
        .values()
        .flat_map(|p| p.unavailable.iter().cloned())
        .chain(
            catalog
                .datasets
                .keys()
                .filter(|d| !catalog.sources.contains_key(*d))
                .map(|d| {
                    (
                        d.clone(),
                        format!(
                            "catalog `{}` declares no source for dataset `{d}`",
                            catalog.name
                        ),
                    )
                }),
        )
        .collect();
    for wave in &graph.waves {
        parallel(wave, |name| -> Result<()> {
            let stage = &graph.stages[name];
            if stage.outputs.is_empty() && !matches!(stage.spec.kind, StageKind::StaticApi(_)) {
                for (t, reason) in &stage.unavailable {
                    warn!(stage = %name, table = %t, %reason, "Table unavailable; published as such.");
                }
                return Ok(());
            }
            let started = Instant::now();
            let span = info_span!("stage", stage = %name);
            span.pb_set_length(stage.outputs.len() as u64);
            span.pb_set_message(&format!("stage {name}"));
            // Entered only for the progress bar's lifetime; stages run on
            // rayon threads, so the span is not entered (it would nest).
            let _bar = span.clone();
            let mut report = StageReport {
                name: name.clone(),
                ..Default::default()
            };
            match &stage.spec.kind {
                StageKind::Load(_) => {
                    // Largest files first, so the long ones start early.
                    let mut ids: Vec<&String> = stage.outputs.iter().collect();
                    ids.sort_by_key(|id| {
                        std::cmp::Reverse(
                            inputs
                                .get(*id)
                                .and_then(|p| std::fs::metadata(p).ok())
                                .map_or(0, |m| m.len()),
                        )
                    });
                    let results: Vec<Result<(String, TableEntry, Duration, bool)>> =
                        parallel_map(&ids, |id| {
                            let id: &String = id;
                            let t0 = Instant::now();
                            let src = &catalog.sources[id];
                            let input = inputs.get(id).ok_or_else(|| {
                                Error::new(ErrorKind::NotCached(
                                    "the source's file was not fetched".into(),
                                ))
                                .source_id(id)
                            })?;
                            let (entry, computed) =
                                load_dataset(catalog, src, input, cache, staging)
                                    .map_err(|e| e.source_id(id).stage(name.clone()))?;
                            span.pb_inc(1);
                            Ok((id.clone(), entry, t0.elapsed(), computed))
                        });
                    for r in results {
                        let (id, entry, took, computed) = r?;
                        report.record(&id, took, computed);
                        tables.lock().expect("tables lock").insert(id, entry);
                    }
                }
                StageKind::StaticApi(api) => {
                    let t0 = Instant::now();
                    let input_entries: BTreeMap<String, TableEntry> = {
                        let t = tables.lock().expect("tables lock");
                        stage
                            .optional_inputs
                            .iter()
                            .filter_map(|i| t.get(i).map(|e| (i.clone(), e.clone())))
                            .collect()
                    };
                    let (out, computed) = build_api(
                        name,
                        api,
                        &input_entries,
                        &unavailable_reasons,
                        cache,
                        staging,
                    )
                    .map_err(|e| e.stage(name.clone()))?;
                    span.pb_inc(1);
                    report.record("api", t0.elapsed(), computed);
                    info!(stage = %name, areas = out.areas, postcodes = out.postcodes, outcodes = out.outcodes, files = out.files.len(), "API written.");
                    api_files.lock().expect("api lock").extend(out.files);
                }
                _ => {
                    let t0 = Instant::now();
                    let input_entries: BTreeMap<String, TableEntry> = {
                        let t = tables.lock().expect("tables lock");
                        stage
                            .inputs
                            .iter()
                            .chain(&stage.optional_inputs)
                            .filter_map(|i| t.get(i).map(|e| (i.clone(), e.clone())))
                            .collect()
                    };
                    let (built, computed) = derive_tables(
                        name,
                        &stage.spec.kind,
                        &input_entries,
                        &index_specs,
                        &unavailable_reasons,
                        cache,
                        staging,
                    )
                    .map_err(|e| e.stage(name.clone()))?;
                    span.pb_inc(1);
                    for (entry, report_v) in built {
                        let table = entry
                            .path
                            .trim_start_matches("tables/")
                            .trim_end_matches(".parquet")
                            .to_string();
                        report.record(&table, t0.elapsed(), computed);
                        if let Some(v) = report_v {
                            verification.lock().expect("verification lock").push(v);
                        }
                        tables.lock().expect("tables lock").insert(table, entry);
                    }
                }
            }
            report.wall = started.elapsed();
            info!(
                stage = %name,
                computed = report.computed,
                cached = report.cached,
                ms = report.wall.as_millis() as u64,
                "Stage finished."
            );
            reports.lock().expect("reports lock").push(report);
            Ok(())
        })?;
        for name in wave {
            unavailable.extend(graph.stages[name].unavailable.iter().cloned());
        }
    }
    let mut reports = reports.into_inner().expect("reports lock");
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    let mut verification = verification.into_inner().expect("verification lock");
    verification.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(StageOutputs {
        reports,
        tables: tables.into_inner().expect("tables lock"),
        unavailable,
        verification,
        api_files: api_files.into_inner().expect("api lock"),
    })
}

/// A table a derived stage wrote, with its verification report if any.
type VerifiedTable = (TableEntry, Option<TableReport>);

/// Runs `f` on every item with at most one worker per core, and returns the
/// results in order.
///
/// Plain scoped threads rather than rayon: a rayon worker that waits on
/// polars' own thread pool steals more jobs meanwhile, so large tables would
/// be loaded many at once and memory would grow with the catalog.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                *results[i].lock().expect("result slot") = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("result slot")
                .expect("every item ran")
        })
        .collect()
}

/// Runs `f` on every item as [`parallel_map`] does; the first error wins.
fn parallel<T: Sync>(items: &[T], f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    parallel_map(items, f).into_iter().collect()
}

/// What a derived stage caches beside its Parquet files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DerivedMeta {
    tables: Vec<VerifiedTable>,
}

/// The tables a stage reads, with their digests, for its cache key and
/// provenance.
fn table_refs(inputs: &BTreeMap<String, TableEntry>) -> Vec<InputRef> {
    inputs
        .iter()
        .map(|(name, e)| InputRef {
            kind: "table".into(),
            name: name.clone(),
            sha256: e
                .file
                .as_ref()
                .map(|f| f.sha256.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// Runs a stage that reads release tables (index, stack), through the cache.
fn derive_tables(
    stage: &str,
    kind: &StageKind,
    inputs: &BTreeMap<String, TableEntry>,
    index_specs: &[IndexStage],
    unavailable: &std::collections::HashMap<String, String>,
    cache: &Cache,
    staging: &Path,
) -> Result<(Vec<VerifiedTable>, bool)> {
    let input_refs = table_refs(inputs);
    let key = sha256_bytes(
        serde_json::json!({
            "engine": engine_version(),
            "stage": stage,
            "kind": kind,
            "inputs": input_refs,
        })
        .to_string()
        .as_bytes(),
    );
    let dir = cache.stage_dir(&key);
    if let Some(meta) = std::fs::read(dir.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<DerivedMeta>(&b).ok())
    {
        for (entry, _) in &meta.tables {
            let from = dir.join(entry.path.trim_start_matches("tables/"));
            let to = staging.join(&entry.path);
            std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
        }
        debug!(stage, "Taken from the stage cache.");
        return Ok((meta.tables, false));
    }

    let mut frames = std::collections::HashMap::new();
    for name in inputs.keys() {
        frames.insert(
            name.clone(),
            read_parquet(&staging.join(format!("tables/{name}.parquet")))?,
        );
    }
    let derived = inputs.values().any(|e| e.derived);
    let missing: std::collections::HashMap<String, indexmap::IndexMap<String, String>> = inputs
        .iter()
        .map(|(n, e)| (n.clone(), e.missing_columns.clone()))
        .collect();
    let outputs = match kind {
        StageKind::DeprivationIndex(ix) => vec![crate::index::build_index(ix, &frames, &missing)?],
        StageKind::StackIndices(st) => vec![crate::index::stack(st, &frames, index_specs)?],
        StageKind::AreaSummary(a) => vec![crate::summary::build_summary(a, &frames, &missing)?],
        StageKind::BoundaryChange(b) => vec![crate::change::build_boundary_change(b, &frames)?],
        StageKind::IndexChange(c) => crate::change::build_change(c, &frames)?,
        StageKind::WardAssignment(w) => vec![crate::wards::build_wards(w, &frames)?],
        StageKind::CensusIndicators(c) => {
            vec![crate::census::build_census(c, &frames, unavailable)?]
        }
        StageKind::PlacesScores(p) => crate::places::build_places(p, &frames)?,
        StageKind::Load(_) | StageKind::StaticApi(_) => {
            unreachable!("load and API stages have their own runners")
        }
    };
    let work = tempfile::tempdir_in(cache.tmp_dir()).map_err(|e| Error::io(cache.tmp_dir(), e))?;
    let mut meta = DerivedMeta { tables: Vec::new() };
    for (mut frame, built) in outputs {
        let file_name = format!("{}.parquet", built.name);
        let parquet = work.path().join(&file_name);
        let provenance = input_refs
            .iter()
            .map(|i| format!("{}:{}", i.name, i.sha256))
            .collect::<Vec<_>>()
            .join(",");
        release::write_parquet(
            &mut frame,
            &parquet,
            vec![
                ("census_pipeline.stage".into(), stage.to_string()),
                ("census_pipeline.inputs".into(), provenance),
            ],
        )?;
        let rel = format!("tables/{file_name}");
        let entry = TableEntry {
            path: rel.clone(),
            rows: frame.height(),
            stage: stage.to_string(),
            description: built.description,
            inputs: input_refs.clone(),
            derived,
            missing_columns: built.missing,
            computed_columns: built.computed,
            notes: built.notes,
            file: Some(release::FileEntry {
                path: rel.clone(),
                bytes: std::fs::metadata(&parquet)
                    .map_err(|e| Error::io(&parquet, e))?
                    .len(),
                sha256: sha256_file(&parquet)?,
            }),
        };
        let dest = staging.join(&rel);
        std::fs::copy(&parquet, &dest).map_err(|e| Error::io(&dest, e))?;
        info!(stage, table = %file_name, rows = frame.height(), "Built.");
        meta.tables.push((entry, built.verification));
    }
    write_atomic(
        &work.path().join("meta.json"),
        &serde_json::to_vec_pretty(&meta).map_err(Error::table)?,
        work.path(),
    )?;
    let work = work.keep();
    if std::fs::rename(&work, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok((meta.tables, true))
}

/// What the API stage caches beside its files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ApiMeta {
    output: crate::api::ApiOutput,
}

/// Writes the static API into `staging`, through the cache: a cached API is
/// hard-linked into place (copied where links are impossible), so an
/// unchanged rebuild neither regenerates nor re-hashes its ~100k files.
fn build_api(
    stage: &str,
    spec: &crate::api::ApiStage,
    inputs: &BTreeMap<String, TableEntry>,
    unavailable: &std::collections::HashMap<String, String>,
    cache: &Cache,
    staging: &Path,
) -> Result<(crate::api::ApiOutput, bool)> {
    let input_refs = table_refs(inputs);
    let reads = spec.inputs();
    let missing_reasons: BTreeMap<&String, &String> = unavailable
        .iter()
        .filter(|(t, _)| reads.contains(t))
        .collect();
    let key = sha256_bytes(
        serde_json::json!({
            "engine": engine_version(),
            "stage": stage,
            "spec": spec,
            "inputs": input_refs,
            "unavailable": missing_reasons,
        })
        .to_string()
        .as_bytes(),
    );
    let dir = cache.stage_dir(&key);
    let link_all = |from_root: &Path, out: &crate::api::ApiOutput| -> Result<()> {
        let mut made = std::collections::HashSet::new();
        for f in &out.files {
            let to = staging.join(&f.path);
            if let Some(parent) = to.parent() {
                if made.insert(parent.to_path_buf()) {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
            }
            let from = from_root.join(&f.path);
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
        }
        Ok(())
    };
    if let Some(meta) = std::fs::read(dir.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<ApiMeta>(&b).ok())
    {
        link_all(&dir.join("files"), &meta.output)?;
        debug!(stage, "API taken from the stage cache.");
        return Ok((meta.output, false));
    }
    let mut frames = std::collections::HashMap::new();
    for name in inputs.keys() {
        frames.insert(
            name.clone(),
            crate::values::read_parquet_columns(
                &staging.join(format!("tables/{name}.parquet")),
                spec.columns_of(name),
            )?,
        );
    }
    let missing: std::collections::HashMap<String, indexmap::IndexMap<String, String>> = inputs
        .iter()
        .map(|(n, e)| (n.clone(), e.missing_columns.clone()))
        .collect();
    let work = tempfile::tempdir_in(cache.tmp_dir()).map_err(|e| Error::io(cache.tmp_dir(), e))?;
    let files = work.path().join("files");
    let output = crate::api::generate(spec, &frames, &missing, unavailable, &files)?;
    drop(frames);
    let meta = ApiMeta { output };
    write_atomic(
        &work.path().join("meta.json"),
        &serde_json::to_vec(&meta).map_err(Error::table)?,
        work.path(),
    )?;
    let work = work.keep();
    let root = if std::fs::rename(&work, &dir).is_ok() {
        dir.join("files")
    } else {
        work.join("files")
    };
    link_all(&root, &meta.output)?;
    if root.starts_with(&work) {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok((meta.output, true))
}

/// Loads one dataset, from the stage cache when its key matches.
/// Returns the release entry and whether work was done.
fn load_dataset(
    catalog: &Catalog,
    src: &Source,
    input: &Path,
    cache: &Cache,
    staging: &Path,
) -> Result<(TableEntry, bool)> {
    let dataset = &catalog.datasets[&src.id];
    let input_sha = cache.file_sha256(input)?;
    let key = sha256_bytes(
        serde_json::json!({
            "engine": engine_version(),
            "kind": "load",
            "dataset": dataset,
            "source": src.raw,
            "input_sha256": input_sha,
        })
        .to_string()
        .as_bytes(),
    );
    let dir = cache.stage_dir(&key);
    let rel = format!("tables/{}.parquet", src.id);
    let dest = staging.join(&rel);
    let meta_path = dir.join("meta.json");
    if let Some(meta) = std::fs::read(&meta_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<LoadMeta>(&b).ok())
    {
        let cached = dir.join("table.parquet");
        std::fs::copy(&cached, &dest).map_err(|e| Error::io(&cached, e))?;
        debug!(dataset = %src.id, "Taken from the stage cache.");
        return Ok((TableEntry::from_meta(&rel, meta, &dataset.title), false));
    }

    if let Some(pin) = &src.raw.sha256 {
        if *pin != input_sha {
            return Err(Error::new(ErrorKind::ChecksumMismatch {
                expected: pin.clone(),
                actual: input_sha,
                quarantined: input.to_path_buf(),
            })
            .file(input));
        }
    }
    let raw = read_raw(src, input)?;
    if let Some(expected) = src.raw.rows {
        if raw.height() != expected {
            return Err(Error::schema(format!(
                "expected {expected} data rows (field `rows` in the catalog), found {} (truncated, or a new edition?)",
                raw.height()
            ))
            .source_id(&src.id)
            .file(input));
        }
    }
    let conformed = conform(&raw, src, dataset).map_err(|e| e.file(input))?;
    let mut frame = conformed.frame;

    // Write into a fresh directory under the cache's tmp, then rename it to
    // the key: a crash leaves no half-written entry under a valid key.
    let work = tempfile::tempdir_in(cache.tmp_dir()).map_err(|e| Error::io(cache.tmp_dir(), e))?;
    let parquet = work.path().join("table.parquet");
    release::write_parquet(
        &mut frame,
        &parquet,
        vec![
            ("census_pipeline.source".into(), src.id.clone()),
            ("census_pipeline.source_file".into(), src.file_name()),
            ("census_pipeline.source_sha256".into(), input_sha.clone()),
            ("census_pipeline.licence".into(), src.raw.licence.clone()),
        ],
    )?;
    let meta = LoadMeta {
        dataset: src.id.clone(),
        rows: frame.height(),
        source_sha256: input_sha,
        source_file: src.file_name(),
        derived: src.raw.derived,
        mapping: conformed.mapping,
        missing: conformed.missing,
        unmapped: conformed.unmapped,
        parquet_sha256: sha256_file(&parquet)?,
        parquet_bytes: std::fs::metadata(&parquet)
            .map_err(|e| Error::io(&parquet, e))?
            .len(),
    };
    write_atomic(
        &work.path().join("meta.json"),
        &serde_json::to_vec_pretty(&meta).map_err(Error::table)?,
        work.path(),
    )?;
    std::fs::copy(&parquet, &dest).map_err(|e| Error::io(&dest, e))?;
    let work = work.keep();
    if std::fs::rename(&work, &dir).is_err() {
        // Another process cached the same key first; ours is identical.
        let _ = std::fs::remove_dir_all(&work);
    }
    info!(dataset = %src.id, rows = meta.rows, "Loaded.");
    Ok((TableEntry::from_meta(&rel, meta, &dataset.title), true))
}

/// `output` + `.lock` -> `output.lock` beside it (also for staging dirs).
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(format!(".{name}{suffix}"))
}
