//! The plan: the catalog, `datasets.toml` and `stages/` compiled once into
//! what the build runs.
//!
//! Compiling resolves every table to the stage that produces it, declares
//! every table's schema (datasets from `datasets.toml`, stage outputs from
//! each kind's [`Stage::outputs`]), validates every stage against those
//! schemas (so a misspelt column is a `check` error, never a build failure),
//! works out once which tables cannot be built and why, and orders the
//! stages into *waves*: every stage in a wave depends only on earlier
//! waves, so a wave's stages can run together. Every problem is collected,
//! so one run of `check` reports them all.

mod order;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use indexmap::IndexMap;

use crate::catalog::Catalog;
use crate::contract::{Inputs, PlanCtx, Schemas, TableSchema, Validator};
use crate::error::{ConfigError, Error, Result};
use crate::frame::ColType;
use crate::schema::{ColumnType, DatasetSpec};
use crate::stages::StageSpec;
use crate::units::Rule;

/// A validated, ordered plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stages: IndexMap<String, PlannedStage>,
    /// Stage names, wave by wave.
    pub waves: Vec<Vec<String>>,
    /// Every table's declared schema: datasets and stage outputs.
    pub schemas: Schemas,
    /// Why each table that will not be built is missing.
    pub unavailable: BTreeMap<String, String>,
}

/// A stage with its resolved inputs and outputs.
#[derive(Debug, Clone)]
pub struct PlannedStage {
    pub spec: StageSpec,
    pub inputs: Inputs,
    /// Tables it will write.
    pub outputs: Vec<String>,
    /// Tables it would write but cannot in this catalog, with the reason;
    /// published as unavailable, never skipped silently.
    pub unavailable: Vec<(String, String)>,
}

impl PlannedStage {
    /// True if every table the stage declares is unavailable: it does not run.
    pub fn skipped(&self) -> bool {
        self.outputs.is_empty() && !self.unavailable.is_empty()
    }
}

/// The schema of a dataset as loaded: its canonical columns, and a column
/// family per header pattern.
pub fn dataset_schema(id: &str, d: &DatasetSpec) -> TableSchema {
    let ty = |t: ColumnType| match t {
        ColumnType::String | ColumnType::Geometry => ColType::String,
        ColumnType::Int => ColType::Int,
        ColumnType::Float => ColType::Float,
    };
    let mut s = TableSchema::new(id);
    for (name, c) in &d.columns {
        s = match c.rule(name) {
            Some(r) => s.col_rule(name, ty(c.ty), r),
            None => s.col(name, ty(c.ty)),
        };
        if let Some(text) = &c.description {
            s.descriptions.insert(name.clone(), text.clone());
        }
    }
    s.key = d.key.clone();
    s.open = d
        .groups
        .iter()
        .map(|g| (g.prefix.clone(), ty(g.ty)))
        .collect();
    for g in &d.groups {
        if let Some(unit) = g.unit {
            let mut r = Rule::of(unit);
            r.range = g.range.map(|[lo, hi]| (lo, hi));
            r.direction = g.direction;
            s.rules.insert(format!("{}*", g.prefix), r);
        }
    }
    s
}

impl Plan {
    /// Plans `stages` against `catalog`, collecting every problem.
    pub fn compile(
        catalog: &Catalog,
        stages: Vec<StageSpec>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Plan> {
        let before = errors.len();
        let mut schemas: Schemas = catalog
            .datasets
            .iter()
            .map(|(id, d)| (id.clone(), dataset_schema(id, d)))
            .collect();
        let mut stages: IndexMap<String, PlannedStage> = stages
            .into_iter()
            .map(|spec| {
                let p = PlannedStage {
                    inputs: spec.kind.stage().inputs(),
                    spec,
                    outputs: Vec::new(),
                    unavailable: Vec::new(),
                };
                (p.spec.name.clone(), p)
            })
            .collect();
        // Names first (they do not depend on schemas), then the order, then
        // the schemas in that order (an output's types may follow its inputs').
        declare_outputs(catalog, &mut stages, &mut schemas, None);
        let producer = producers(&stages, errors);
        check_inputs(catalog, &stages, &producer, errors);
        let waves = order::waves(&stages, &producer, errors)?;
        declare_outputs(catalog, &mut stages, &mut schemas, Some(&waves));
        for p in stages.values() {
            let mut v = Validator::new(p.spec.entry(), catalog, &schemas);
            p.spec.kind.stage().validate(&mut v);
            errors.extend(v.into_errors());
        }
        if errors.len() > before {
            return None;
        }
        let unavailable = unavailable(catalog, &mut stages);
        Some(Plan {
            stages,
            waves,
            schemas,
            unavailable,
        })
    }
}

/// Asks every stage for its outputs (in wave order when known), recording
/// their schemas and the ones that cannot be built.
fn declare_outputs(
    catalog: &Catalog,
    stages: &mut IndexMap<String, PlannedStage>,
    schemas: &mut Schemas,
    waves: Option<&Vec<Vec<String>>>,
) {
    let order: Vec<String> = match waves {
        Some(w) => w.iter().flatten().cloned().collect(),
        None => stages.keys().cloned().collect(),
    };
    for name in order {
        let p = &mut stages[&name];
        let outputs = p.spec.kind.stage().outputs(&PlanCtx { catalog, schemas });
        p.outputs.clear();
        p.unavailable.clear();
        for o in outputs {
            match o.unavailable {
                Some(reason) => p.unavailable.push((o.schema.name.clone(), reason)),
                None => p.outputs.push(o.schema.name.clone()),
            }
            schemas.insert(o.schema.name.clone(), o.schema);
        }
    }
}

/// Which stage writes each table; a table written twice is an error.
fn producers(
    stages: &IndexMap<String, PlannedStage>,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let mut producer: BTreeMap<String, String> = BTreeMap::new();
    for (name, p) in stages {
        for t in &p.outputs {
            if let Some(other) = producer.insert(t.clone(), name.clone()) {
                errors.push(ConfigError::message(
                    "",
                    format!("Table `{t}` is produced by both stage `{other}` and stage `{name}`"),
                ));
            }
        }
    }
    producer
}

/// Every required input is produced (or declared unavailable); every
/// optional one is a dataset or produced.
fn check_inputs(
    catalog: &Catalog,
    stages: &IndexMap<String, PlannedStage>,
    producer: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) {
    let unavailable: BTreeSet<&String> = stages
        .values()
        .flat_map(|p| p.unavailable.iter().map(|(t, _)| t))
        .collect();
    for (name, p) in stages {
        for t in &p.inputs.required {
            if !producer.contains_key(t) && !unavailable.contains(t) {
                errors.push(ConfigError::message(
                    "",
                    format!("Stage `{name}` reads table `{t}`, which no stage produces"),
                ));
            }
        }
        for t in &p.inputs.optional {
            if !producer.contains_key(t) && !catalog.datasets.contains_key(t) {
                errors.push(ConfigError::message(
                    "",
                    format!(
                        "Stage `{name}` reads table `{t}`, which is neither a dataset nor produced by a stage"
                    ),
                ));
            }
        }
    }
}

/// Marks every output of a stage with an unavailable required input as
/// unavailable too (to a fixed point), and returns why each table that
/// will not be built is missing: the stages' reasons, and every dataset the
/// catalog declares no source for.
fn unavailable(
    catalog: &Catalog,
    stages: &mut IndexMap<String, PlannedStage>,
) -> BTreeMap<String, String> {
    let mut reasons: BTreeMap<String, String> = stages
        .values()
        .flat_map(|p| p.unavailable.iter().cloned())
        .collect();
    loop {
        let mut changed = false;
        for p in stages.values_mut() {
            if p.outputs.is_empty() {
                continue;
            }
            if let Some(t) = p.inputs.required.iter().find(|t| reasons.contains_key(*t)) {
                let reason = format!("input `{t}` is unavailable: {}", reasons[t]);
                for out in std::mem::take(&mut p.outputs) {
                    reasons.insert(out.clone(), reason.clone());
                    p.unavailable.push((out, reason.clone()));
                }
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for d in catalog.datasets.keys() {
        if !catalog.sources.contains_key(d) {
            reasons.insert(
                d.clone(),
                format!(
                    "catalog `{}` declares no source for dataset `{d}`",
                    catalog.name
                ),
            );
        }
    }
    reasons
}

/// Loads and validates a catalog and the stages directory together, so that
/// one run reports every configuration error in both.
pub fn load_config(catalog_path: &Path, stages_dir: &Path) -> Result<(Catalog, Plan)> {
    let mut errors = Vec::new();
    let catalog = Catalog::load_collecting(catalog_path, &mut errors);
    let stages = crate::stages::load_stages(stages_dir, &mut errors);
    let plan = match &catalog {
        Some(c) => Plan::compile(c, stages, &mut errors),
        None => None,
    };
    match (catalog, plan) {
        (Some(c), Some(p)) if errors.is_empty() => Ok((c, p)),
        _ => Err(Error::config(errors)),
    }
}
