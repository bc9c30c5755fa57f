//! The stage graph: which stage produces which table, which tables each stage
//! reads, and an order to run them in.
//!
//! Validation here is what lets `check` promise that a build will not fail on
//! configuration: every referenced dataset exists, no table is produced twice,
//! and there is no cycle. Stages are grouped into *waves*: every stage in a
//! wave depends only on earlier waves, so a wave's stages can run together.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::stage::{DatasetSelection, StageKind, StageSpec};

/// A validated, ordered stage graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub stages: IndexMap<String, PlannedStage>,
    /// Stage names, wave by wave.
    pub waves: Vec<Vec<String>>,
}

/// A stage with its resolved inputs and outputs.
#[derive(Debug, Clone)]
pub struct PlannedStage {
    pub spec: StageSpec,
    /// Tables read (produced by other stages).
    pub inputs: Vec<String>,
    /// Tables read if the catalog in use provides them; without one, the
    /// stage publishes what depends on it as unavailable.
    pub optional_inputs: Vec<String>,
    /// Tables written.
    pub outputs: Vec<String>,
    /// Datasets this stage would load but the catalog in use does not
    /// provide, with the reason; published as unavailable, never skipped silently.
    pub unavailable: Vec<(String, String)>,
}

impl Graph {
    /// Plans `stages` against `catalog`, collecting every problem.
    pub fn plan(
        catalog: &Catalog,
        stages: Vec<StageSpec>,
        errors: &mut Vec<String>,
    ) -> Option<Graph> {
        let before = errors.len();
        let mut planned: IndexMap<String, PlannedStage> = IndexMap::new();
        for spec in stages {
            let what = format!("Stage `{}`", spec.name);
            let mut p = PlannedStage {
                spec: spec.clone(),
                inputs: Vec::new(),
                optional_inputs: Vec::new(),
                outputs: Vec::new(),
                unavailable: Vec::new(),
            };
            match &spec.kind {
                StageKind::Load(load) => match &load.datasets {
                    DatasetSelection::All(s) if s == "all" => {
                        for (id, src) in &catalog.sources {
                            match &src.raw.unavailable {
                                Some(reason) => p.unavailable.push((id.clone(), reason.clone())),
                                None => p.outputs.push(id.clone()),
                            }
                        }
                    }
                    DatasetSelection::All(s) => errors.push(format!(
                        "{what} field `datasets` must be \"all\" or a list of dataset ids, got {s:?}"
                    )),
                    DatasetSelection::List(ids) => {
                        for id in ids {
                            if !catalog.datasets.contains_key(id) {
                                errors.push(format!(
                                    "{what} field `datasets` refers to unknown dataset `{id}`"
                                ));
                            } else {
                                match catalog.sources.get(id) {
                                    Some(src) => match &src.raw.unavailable {
                                        Some(reason) => p.unavailable.push((id.clone(), reason.clone())),
                                        None => p.outputs.push(id.clone()),
                                    },
                                    None => p.unavailable.push((
                                        id.clone(),
                                        format!("catalog `{}` has no source for this dataset", catalog.name),
                                    )),
                                }
                            }
                        }
                    }
                },
                StageKind::DeprivationIndex(ix) => {
                    ix.validate(&what, errors);
                    check_index_columns(&what, ix, catalog, errors);
                    p.inputs = ix.inputs();
                    p.outputs = vec![ix.table.clone()];
                }
                StageKind::AreaSummary(a) => {
                    p.inputs = a.inputs();
                    p.outputs = vec![a.table.clone()];
                }
                StageKind::CensusIndicators(c) => {
                    c.validate(&what, errors);
                    p.inputs = c.required_inputs();
                    p.optional_inputs = c.inputs().into_iter().filter(|t| !p.inputs.contains(t)).collect();
                    p.outputs = vec![c.table.clone()];
                }
                StageKind::PlacesScores(ps) => {
                    p.inputs = ps.inputs();
                    p.outputs = ps.outputs();
                }
                StageKind::WardAssignment(w) => {
                    w.validate(&what, errors);
                    p.inputs = w.inputs();
                    p.outputs = vec![w.table.clone()];
                }
                StageKind::BoundaryChange(b) => {
                    p.inputs = vec![b.lookup.table.clone()];
                    p.outputs = vec![b.table.clone()];
                }
                StageKind::IndexChange(c) => {
                    if !(0.0..=100.0).contains(&c.stable_within_points) {
                        errors.push(format!("{what} field `stable_within_points` must be between 0 and 100, got {}", c.stable_within_points));
                    }
                    if !(0.0..=1.0).contains(&c.min_comparable_share) {
                        errors.push(format!("{what} field `min_comparable_share` must be between 0 and 1, got {}", c.min_comparable_share));
                    }
                    p.inputs = c.inputs();
                    p.outputs = c.outputs();
                }
                StageKind::StaticApi(api) => {
                    api.validate(&what, errors);
                    // All optional: a missing table makes its sections
                    // unavailable, with the reason, in every file.
                    p.optional_inputs = api.inputs();
                }
                StageKind::StackIndices(st) => {
                    if st.indices.is_empty() {
                        errors.push(format!("{what} field `indices` lists no table"));
                    }
                    p.inputs = st.indices.clone();
                    p.outputs = vec![st.table.clone()];
                }
            }
            planned.insert(spec.name.clone(), p);
        }

        let mut producer: BTreeMap<String, String> = BTreeMap::new();
        for (name, p) in &planned {
            for t in &p.outputs {
                if let Some(other) = producer.insert(t.clone(), name.clone()) {
                    errors.push(format!(
                        "Table `{t}` is produced by both stage `{other}` and stage `{name}`"
                    ));
                }
            }
        }
        // Tables that cannot be built, with the reason: datasets the catalog
        // cannot provide, then (to a fixed point) every stage reading one.
        let mut unavailable: BTreeMap<String, String> = planned
            .values()
            .flat_map(|p| p.unavailable.iter().cloned())
            .collect();
        for (name, p) in &planned {
            for t in &p.inputs {
                if !producer.contains_key(t.as_str()) && !unavailable.contains_key(t) {
                    errors.push(format!(
                        "Stage `{name}` reads table `{t}`, which no stage produces"
                    ));
                }
            }
        }
        for (name, p) in &planned {
            for t in &p.optional_inputs {
                if !producer.contains_key(t.as_str()) && !catalog.datasets.contains_key(t) {
                    errors.push(format!(
                        "Stage `{name}` reads table `{t}`, which is neither a dataset nor produced by a stage"
                    ));
                }
            }
        }
        // Places Scores name Census indicators: they must exist.
        for (name, p) in &planned {
            if let StageKind::PlacesScores(ps) = &p.spec.kind {
                let known: BTreeSet<String> = planned
                    .values()
                    .filter_map(|q| match &q.spec.kind {
                        StageKind::CensusIndicators(c) if c.table == ps.indicators_table => {
                            Some(c.indicator_ids())
                        }
                        _ => None,
                    })
                    .flatten()
                    .collect();
                for id in ps.indicator_ids() {
                    if !known.contains(&id) {
                        errors.push(format!(
                            "Stage `{name}`: taxonomy indicator `{id}` is not an indicator of `{}`",
                            ps.indicators_table
                        ));
                    }
                }
            }
        }
        if errors.len() > before {
            return None;
        }
        loop {
            let mut changed = false;
            for p in planned.values_mut() {
                if p.outputs.is_empty() {
                    continue;
                }
                if let Some(t) = p.inputs.iter().find(|t| unavailable.contains_key(*t)) {
                    let reason = format!("input `{t}` is unavailable: {}", unavailable[t]);
                    for out in std::mem::take(&mut p.outputs) {
                        unavailable.insert(out.clone(), reason.clone());
                        p.unavailable.push((out, reason.clone()));
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }

        // Kahn's algorithm by waves; whatever is left over sits on a cycle.
        let mut deps: BTreeMap<String, BTreeSet<String>> = planned
            .iter()
            .map(|(name, p)| {
                let d = p
                    .inputs
                    .iter()
                    .chain(&p.optional_inputs)
                    .filter_map(|t| producer.get(t.as_str()).map(|s| s.to_string()))
                    .filter(|s| s != name)
                    .collect();
                (name.clone(), d)
            })
            .collect();
        for (name, p) in &planned {
            if p.inputs
                .iter()
                .any(|t| producer.get(t.as_str()) == Some(name))
            {
                errors.push(format!(
                    "Stage `{name}` reads a table it produces itself (a cycle)"
                ));
            }
        }
        let mut waves = Vec::new();
        while !deps.is_empty() {
            let ready: Vec<String> = deps
                .iter()
                .filter(|(_, d)| d.is_empty())
                .map(|(n, _)| n.clone())
                .collect();
            if ready.is_empty() {
                let names: Vec<&String> = deps.keys().collect();
                errors.push(format!(
                    "Stages {names:?} form a cycle through their inputs"
                ));
                return None;
            }
            for r in &ready {
                deps.remove(r);
            }
            for d in deps.values_mut() {
                for r in &ready {
                    d.remove(r);
                }
            }
            waves.push(ready);
        }
        if errors.len() > before {
            return None;
        }
        Some(Graph {
            stages: planned,
            waves,
        })
    }
}

/// Checks that an index stage's input columns exist in the loaded datasets.
fn check_index_columns(
    what: &str,
    ix: &crate::index::IndexStage,
    catalog: &Catalog,
    errors: &mut Vec<String>,
) {
    let known = |table: &str, col: &str| -> bool {
        match catalog.datasets.get(table) {
            Some(d) => !d.groups.is_empty() || d.columns.contains_key(col),
            None => true, // another stage's output: checked when it runs
        }
    };
    for f in &ix.from {
        let key = f.key.as_deref().unwrap_or(&ix.key);
        let mut cols: Vec<&str> = vec![key];
        cols.extend(f.columns.values().map(String::as_str));
        cols.extend(f.filter.keys().map(String::as_str));
        for c in cols {
            if !known(&f.table, c) {
                errors.push(format!("{what}: input `{}` has no column `{c}`", f.table));
            }
        }
    }
    if let Some(l) = &ix.verify.lookup {
        for c in [Some(&l.key), l.la_code.as_ref(), l.la_name.as_ref()]
            .into_iter()
            .flatten()
        {
            if !known(&l.table, c) {
                errors.push(format!("{what}: look-up `{}` has no column `{c}`", l.table));
            }
        }
    }
    if let Some(l) = &ix.verify.la_list {
        for c in [Some(&l.code), l.name.as_ref()].into_iter().flatten() {
            if !known(&l.table, c) {
                errors.push(format!(
                    "{what}: local authority list `{}` has no column `{c}`",
                    l.table
                ));
            }
        }
    }
}

/// Loads and validates a catalog and the stages directory together, so that
/// one run reports every configuration error in both.
pub fn load_config(
    catalog_path: &std::path::Path,
    stages_dir: &std::path::Path,
) -> Result<(Catalog, Graph)> {
    let mut errors = Vec::new();
    let catalog = Catalog::load_collecting(catalog_path, &mut errors);
    let stages = crate::stage::load_stages(stages_dir, &mut errors);
    let graph = match &catalog {
        Some(c) if errors.is_empty() => Graph::plan(c, stages, &mut errors),
        Some(c) => {
            // Still plan, to report graph errors too; the catalog's own
            // errors are already listed.
            let mut more = Vec::new();
            Graph::plan(c, stages, &mut more);
            errors.extend(more);
            None
        }
        None => None,
    };
    match (catalog, graph) {
        (Some(c), Some(g)) if errors.is_empty() => Ok((c, g)),
        _ => Err(Error::config(errors)),
    }
}
