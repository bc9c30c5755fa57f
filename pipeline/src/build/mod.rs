//! Running the plan into a release directory.
//!
//! A build never leaves half a release behind: every file is written into a
//! staging directory beside `--out`, and only when every stage has succeeded
//! is the staging directory swapped in for the old release. Each unit of
//! stage work is cached under the hash of everything that determines its
//! output (see `crate::cache::units`), so a rebuild after a change computes
//! only what the change reaches, and a rebuild of the release in place does
//! nothing at all (see `current`).

mod current;
mod run;
mod schedule;

pub use current::KEY_FILE;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::cache::{Cache, DirLock};
use crate::catalog::Catalog;
use crate::contract::UnitTime;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{fetch_all, FetchOptions};
use crate::plan::Plan;
use crate::read::Limits;
use crate::release::{self, sibling, Manifest};

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub out: PathBuf,
    /// The previous release, to derive the version from the change.
    pub previous: Option<PathBuf>,
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
    /// What a reader takes at most from one source.
    pub limits: Limits,
}

/// What a build did, for logs and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub total: Duration,
    pub fetch: Duration,
    /// Per stage: wall time, units computed, units taken from the cache.
    pub stages: Vec<StageReport>,
    /// The build's steps one after another (the stages, then the
    /// release's own files), which add up to the total.
    pub phases: Phases,
    pub manifest: Manifest,
}

#[derive(Debug, Clone, Default)]
pub struct StageReport {
    pub name: String,
    /// When the stage's first work started, counted from the first stage's.
    pub started: Duration,
    pub wall: Duration,
    pub computed: usize,
    pub cached: usize,
    /// Per unit (dataset, table) time, for the benchmark.
    pub units: Vec<UnitTime>,
}

impl BuildReport {
    /// Units of stage work actually computed (0 for a no-op rebuild).
    pub fn computed(&self) -> usize {
        self.stages.iter().map(|s| s.computed).sum()
    }
}

/// Runs the whole plan and writes the release directory.
pub fn build(catalog: &Catalog, plan: &Plan, opts: &BuildOptions) -> Result<BuildReport> {
    let started = Instant::now();
    // Before any work: an --out this tool may not replace, or a --previous
    // that is not a release, stops here.
    release::check_out(&opts.out)?;
    check_previous(opts.previous.as_deref())?;
    let cache = Cache::open(&opts.cache_dir)?;
    let _cache_lock = DirLock::acquire(&opts.cache_dir.join(".lock"), true)?;
    cache.clean_tmp()?;
    let _out_lock = DirLock::acquire(&sibling(&opts.out, ".lock"), true)?;
    for what in release::recover(&opts.out)? {
        warn!(%what, "Tidied what an interrupted build left.");
    }
    release::check_out(&opts.out)?;

    let fetch_started = Instant::now();
    let sources = inputs(catalog, &cache, &opts.fetch)?;
    let key = current::key(
        catalog,
        plan,
        &cache,
        &sources,
        opts.previous.as_deref(),
        &opts.limits,
    )?;
    let fetch = fetch_started.elapsed();
    if let Some(manifest) = current::in_place(&opts.out, &key) {
        cache.save()?;
        info!(out = %opts.out.display(), "The release in place was built from the same inputs; nothing to do.");
        return Ok(BuildReport {
            total: started.elapsed(),
            fetch,
            stages: Vec::new(),
            phases: Vec::new(),
            manifest,
        });
    }
    // A release in place that holds files its manifest does not list is
    // refused now, before the stages run (and again at the swap).
    release::check_replaceable(&opts.out)?;

    let staging = sibling(&opts.out, &format!(".partial-{}", std::process::id()));
    // A staging folder of a dead build with this process id is ours to
    // remove (it holds the marker); anything else by that name is not.
    if std::fs::symlink_metadata(&staging).is_ok() {
        if !release::is_release(&staging) || staging.is_symlink() {
            return Err(Error::new(ErrorKind::OutputRefused {
                path: staging,
                reason: "is where this build stages its release, but is not one this tool made"
                    .into(),
            }));
        }
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    // From here on, a failure removes the staging directory (a full disk
    // can already refuse its marker).
    let tables_dir = staging.join("tables");
    let result = std::fs::create_dir_all(&tables_dir)
        .map_err(|e| Error::io(&tables_dir, e))
        .and_then(|()| release::write_marker(&staging))
        .and_then(|()| write_release(catalog, plan, &cache, &sources, &staging, opts, &key));
    let (manifest, stages, phases) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    cache.save()?;
    let report = BuildReport {
        total: started.elapsed(),
        fetch,
        stages,
        phases,
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

/// Every available source's file: local files in place, others fetched
/// into the cache.
fn inputs(
    catalog: &Catalog,
    cache: &Cache,
    fetch: &FetchOptions,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut sources: BTreeMap<String, PathBuf> = catalog
        .sources
        .values()
        .filter_map(|s| s.local_path.clone().map(|p| (s.id.clone(), p)))
        .collect();
    let absent: Vec<String> = sources
        .iter()
        .filter(|(id, p)| catalog.sources[*id].raw.unavailable.is_none() && !p.exists())
        .map(|(id, p)| format!("`{id}` ({})", p.display()))
        .collect();
    if !absent.is_empty() {
        return Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "{} of the catalog's local files are not there: {}{}. Point the catalog at the folder that holds them: \
                 set the environment variable its header names in `data_dir_env` (CENSUS_DATA_DIR for the shared data), or correct its `data_dir`",
                absent.len(),
                absent.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if absent.len() > 5 { ", ..." } else { "" }
            ),
        }));
    }
    // A device or pipe would be read until killed (/dev/zero) or block,
    // and every local path is hashed for the build's key, an unavailable
    // source's too: a source is a regular file, or a folder of member
    // files (a postcode directory's).
    if let Some((id, p)) = sources.iter().find(|(id, p)| {
        let folder = catalog.sources[*id].raw.member.is_some() && p.is_dir();
        p.exists() && !(p.is_file() || folder)
    }) {
        return Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "the catalog's local file for `{id}`, {}, is not a regular file (a device, pipe, socket, or a folder for a source without `member`): point its `path` at the file itself",
                p.display()
            ),
        }));
    }
    let needs_fetch = catalog
        .sources
        .values()
        .any(|s| s.local_path.is_none() && s.raw.unavailable.is_none());
    if needs_fetch {
        let rt = tokio::runtime::Runtime::new().map_err(|e| Error::new(ErrorKind::Io(e)))?;
        sources.extend(rt.block_on(fetch_all(catalog, cache, fetch))?);
    }
    Ok(sources)
}

/// The build's steps in order, with their wall times.
type Phases = Vec<(String, Duration)>;

/// Runs the stages into `staging`, then writes the verification report,
/// the data package, the diff report and the manifest, and swaps the
/// release into place.
fn write_release(
    catalog: &Catalog,
    plan: &Plan,
    cache: &Cache,
    sources: &BTreeMap<String, PathBuf>,
    staging: &Path,
    opts: &BuildOptions,
    key: &str,
) -> Result<(Manifest, Vec<StageReport>, Phases)> {
    let mut o = run::run_stages(catalog, plan, cache, sources, staging, opts.limits)?;
    let mut phases = std::mem::take(&mut o.waves);
    let t = Instant::now();
    release::write_verification(staging, &o.verification)?;
    let (version, why) = crate::package::write_datapackage(
        staging,
        catalog,
        &o.tables,
        &plan.schemas,
        opts.previous.as_deref(),
    )?;
    // The diff report against the previous release, for review.
    if let Some(prev) = opts.previous.as_deref() {
        let r = crate::report::diff(prev, staging)?;
        crate::report::write(staging, &r)?;
    }
    info!(version = %version, reasons = %why.join("; "), "Release version.");
    phases.push(("verification, data package, report".into(), t.elapsed()));
    let t = Instant::now();
    let manifest =
        release::write_manifest(staging, catalog, o.tables, o.files, o.unavailable, &version)?;
    phases.push(("manifest".into(), t.elapsed()));
    let t = Instant::now();
    current::record(staging, key)?;
    release::swap_into_place(staging, &opts.out)?;
    phases.push((
        "swap into place (and remove the old release)".into(),
        t.elapsed(),
    ));
    Ok((manifest, o.reports, phases))
}

/// A `--previous` must be a release: one with a data package to compare.
fn check_previous(previous: Option<&Path>) -> Result<()> {
    match previous {
        Some(p) if !p.join("datapackage.json").is_file() => Err(Error::new(ErrorKind::Usage {
            reason: format!(
                "--previous {} is not a release directory (it has no datapackage.json); give the directory of the last published release, or leave --previous out for a first release",
                p.display()
            ),
        })),
        _ => Ok(()),
    }
}
