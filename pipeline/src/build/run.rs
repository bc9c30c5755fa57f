//! Running the stages, each through the stage contract, as soon as the
//! tables it reads are written (see `schedule`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::{info, info_span, warn};
use tracing_indicatif::span_ext::IndicatifSpanExt;

use super::{schedule, StageReport};
use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::checks::TableReport;
use crate::contract::{RunCtx, StageRun};
use crate::error::Result;
use crate::par::lock;
use crate::plan::{Plan, PlannedStage};
use crate::read::Limits;
use crate::release::csv::Copies;
use crate::release::{FileEntry, TableEntry};

/// What the stages produced.
pub struct StageOutputs {
    pub reports: Vec<StageReport>,
    pub tables: BTreeMap<String, TableEntry>,
    /// Tables that could not be built, with the reason.
    pub unavailable: Vec<(String, String)>,
    pub verification: Vec<TableReport>,
    /// Files other than tables (the static API), with their digests.
    pub files: Vec<FileEntry>,
    /// The phases the stages took (one: they overlap), for the benchmark.
    pub waves: Vec<(String, Duration)>,
}

/// What the stages of a build share while they run.
struct Shared<'a> {
    catalog: &'a Catalog,
    plan: &'a Plan,
    cache: &'a Cache,
    sources: &'a BTreeMap<String, PathBuf>,
    staging: &'a Path,
    limits: Limits,
    reports: Mutex<Vec<StageReport>>,
    tables: Mutex<BTreeMap<String, TableEntry>>,
    verification: Mutex<Vec<TableReport>>,
    files: Mutex<Vec<FileEntry>>,
}

pub fn run_stages(
    catalog: &Catalog,
    plan: &Plan,
    cache: &Cache,
    sources: &BTreeMap<String, PathBuf>,
    staging: &Path,
    limits: Limits,
) -> Result<StageOutputs> {
    let shared = Shared {
        catalog,
        plan,
        cache,
        sources,
        staging,
        limits,
        reports: Mutex::new(Vec::new()),
        tables: Mutex::new(BTreeMap::new()),
        verification: Mutex::new(Vec::new()),
        files: Mutex::new(Vec::new()),
    };
    let copies = Copies::new(cache, staging);
    let (waves, unavailable, csv) = std::thread::scope(|s| {
        let worker = s.spawn(|| copies.work());
        // Closed however the stages end, a panic included: the scope waits
        // for the worker, which waits for the queue to close.
        let closing = copies.closer();
        let waves = run_all(&shared, plan, &copies);
        if waves.is_err() {
            // A failed build publishes nothing: the copies left are moot.
            copies.cancel();
        }
        let t = Instant::now();
        drop(closing);
        copies.work();
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
        waves.map(|(mut w, u)| {
            w.push(("CSV copies left when the stages ended".into(), t.elapsed()));
            (w, u)
        })
    })
    .map(|(w, u)| (w, u, copies.finish()))?;
    let mut tables = shared
        .tables
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    for (name, file) in csv? {
        if let Some(t) = tables.get_mut(&name) {
            t.csv = Some(file);
        }
    }
    let reports = merge_reports(
        shared
            .reports
            .into_inner()
            .unwrap_or_else(|p| p.into_inner()),
    );
    let mut verification = shared
        .verification
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    verification.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(StageOutputs {
        reports,
        tables,
        unavailable,
        verification,
        files: shared.files.into_inner().unwrap_or_else(|p| p.into_inner()),
        waves,
    })
}

/// The stages' wall time, and the tables that are unavailable.
type Waves = (Vec<(String, Duration)>, Vec<(String, String)>);

/// Runs every stage, each piece of work as soon as the tables it reads are
/// written (see `schedule`), queueing each table for its CSV copy as soon
/// as it is written.
fn run_all(shared: &Shared<'_>, plan: &Plan, copies: &Copies<'_>) -> Result<Waves> {
    let t = Instant::now();
    let size_of = |id: &str| {
        shared
            .sources
            .get(id)
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    };
    let tasks = schedule::tasks(plan, size_of);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    schedule::run(tasks, workers, |task| {
        let written = shared.run_one(&task.stage, &task.outputs, t)?;
        copies.submit(written);
        Ok(())
    })?;
    let unavailable = plan
        .waves
        .iter()
        .flatten()
        .flat_map(|name| plan.stages[name].unavailable.iter().cloned())
        .collect();
    let waves = vec![(
        "stages (each as soon as the tables it reads are written)".to_string(),
        t.elapsed(),
    )];
    Ok((waves, unavailable))
}

impl Shared<'_> {
    /// Runs a stage for `outputs` (all its tables, or one table of a stage
    /// that splits by output) and returns the tables it wrote. `t0` is when
    /// the stages began, for the report's timeline.
    fn run_one(
        &self,
        name: &str,
        outputs: &[String],
        t0: Instant,
    ) -> Result<Vec<(String, TableEntry)>> {
        let stage: &PlannedStage = &self.plan.stages[name];
        if stage.skipped() {
            for (t, reason) in &stage.unavailable {
                warn!(stage = %name, table = %t, %reason, "Table unavailable; published as such.");
            }
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let span = info_span!("stage", stage = %name);
        span.pb_set_length(outputs.len().max(1) as u64);
        span.pb_set_message(&format!("stage {name}"));
        // Entered only for the progress bar's lifetime; stages run on
        // worker threads, so the span is not entered (it would nest).
        let progress = || span.pb_inc(1);
        let inputs: BTreeMap<String, TableEntry> = {
            let t = lock(&self.tables);
            stage
                .inputs
                .all()
                .filter_map(|i| t.get(i).map(|e| (i.clone(), e.clone())))
                .collect()
        };
        let ctx = RunCtx {
            stage: name,
            catalog: self.catalog,
            cache: self.cache,
            staging: self.staging,
            sources: self.sources,
            inputs,
            schemas: &self.plan.schemas,
            unavailable: &self.plan.unavailable,
            outputs,
            progress: &progress,
            limits: self.limits,
        };
        let run = stage.spec.kind.stage().run(&ctx)?;
        Ok(self.record(name, run, started, t0))
    }

    fn record(
        &self,
        name: &str,
        run: StageRun,
        started: Instant,
        t0: Instant,
    ) -> Vec<(String, TableEntry)> {
        let mut report = StageReport {
            name: name.to_string(),
            started: started.duration_since(t0),
            ..Default::default()
        };
        for u in run.units {
            if u.computed {
                report.computed += 1;
            } else {
                report.cached += 1;
            }
            report.units.push(u);
        }
        lock(&self.verification).extend(run.verification);
        lock(&self.files).extend(run.files);
        lock(&self.tables).extend(run.tables.iter().cloned());
        report.wall = started.elapsed();
        info!(
            stage = %name,
            computed = report.computed,
            cached = report.cached,
            ms = report.wall.as_millis() as u64,
            "Stage finished."
        );
        lock(&self.reports).push(report);
        run.tables
    }
}

/// One report per stage: a stage run table by table spans from its first
/// table's start to its last table's end.
fn merge_reports(reports: Vec<StageReport>) -> Vec<StageReport> {
    let mut by_name: BTreeMap<String, StageReport> = BTreeMap::new();
    for r in reports {
        match by_name.get_mut(&r.name) {
            None => {
                by_name.insert(r.name.clone(), r);
            }
            Some(m) => {
                let end = (m.started + m.wall).max(r.started + r.wall);
                m.started = m.started.min(r.started);
                m.wall = end - m.started;
                m.computed += r.computed;
                m.cached += r.cached;
                m.units.extend(r.units);
            }
        }
    }
    by_name.into_values().collect()
}
