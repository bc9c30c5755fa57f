//! Stage specs: the files in `stages/`, one stage each.
//!
//! A stage is a closed set of kinds (a `kind = "..."` tag), not a plugin
//! registry: every kind is known at compile time, so `check` can validate a
//! spec fully without running anything. The file's stem is the stage's name.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::de_collect;

/// One stage, as declared in `stages/<name>.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StageKind {
    /// Reads each dataset's file into `tables/<dataset>.parquet` with its
    /// canonical columns and types.
    Load(LoadStage),
    /// Assembles one nation's deprivation index for one edition from loaded
    /// tables, computes its quantiles and verifies its geography.
    DeprivationIndex(Box<crate::index::IndexStage>),
    /// Stacks the current edition of every nation into one table.
    StackIndices(crate::index::StackStage),
    /// Summarises an index for larger areas by MHCLG's method.
    AreaSummary(Box<crate::summary::AreaSummaryStage>),
    /// The LSOA 2011 -> 2021 boundary changes, spelled out.
    BoundaryChange(crate::change::BoundaryChangeStage),
    /// Compares two editions across the boundary change.
    IndexChange(Box<crate::change::ChangeStage>),
    /// Publishes the small area -> ward assignment, checked on boundaries.
    WardAssignment(Box<crate::wards::WardStage>),
    /// Census 2021 indicators by LSOA, ward and local authority.
    CensusIndicators(Box<crate::census::CensusStage>),
    /// Places Scores from a taxonomy of themes and indicators.
    PlacesScores(Box<crate::places::PlacesStage>),
    /// The static JSON API: a file per area code and per postcode outcode.
    StaticApi(Box<crate::api::ApiStage>),
}

/// Parameters of a `load` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LoadStage {
    /// What the stage is for, in a sentence.
    pub description: String,
    /// `"all"` for every dataset the catalog declares, or a list of dataset ids.
    pub datasets: DatasetSelection,
}

/// Which datasets a load stage reads.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum DatasetSelection {
    /// The literal `"all"`.
    All(String),
    List(Vec<String>),
}

/// A stage spec read from disk.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub path: PathBuf,
    pub kind: StageKind,
}

impl StageSpec {
    /// The stage's kind as written in its spec.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            StageKind::Load(_) => "load",
            StageKind::DeprivationIndex(_) => "deprivation_index",
            StageKind::StackIndices(_) => "stack_indices",
            StageKind::AreaSummary(_) => "area_summary",
            StageKind::BoundaryChange(_) => "boundary_change",
            StageKind::IndexChange(_) => "index_change",
            StageKind::WardAssignment(_) => "ward_assignment",
            StageKind::CensusIndicators(_) => "census_indicators",
            StageKind::PlacesScores(_) => "places_scores",
            StageKind::StaticApi(_) => "static_api",
        }
    }
}

/// Reads every `*.toml` in `dir`, in name order, collecting problems.
pub fn load_stages(dir: &Path, errors: &mut Vec<String>) -> Vec<StageSpec> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            errors.push(format!(
                "cannot read stages directory {}: {e}",
                dir.display()
            ));
            return Vec::new();
        }
    };
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let what = format!("Stage `{name}` ({})", path.display());
        if !crate::catalog::is_identifier(&name) {
            errors.push(format!(
                "{what}: file name must be snake_case, e.g. `load.toml`"
            ));
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{what}: cannot read: {e}"));
                continue;
            }
        };
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{what}: invalid TOML: {e}"));
                continue;
            }
        };
        if !table.contains_key("kind") {
            errors.push(format!(
                "{what} has no `kind` (one of: load, deprivation_index, stack_indices, area_summary, boundary_change, index_change, ward_assignment, census_indicators, places_scores, static_api)"
            ));
            continue;
        }
        if let Some(kind) = de_collect::<StageKind>(table, &what, errors) {
            out.push(StageSpec { name, path, kind });
        }
    }
    out
}
