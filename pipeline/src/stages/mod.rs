//! Stage kinds, and the stage specs in `stages/`, one stage each.
//!
//! A stage is a closed set of kinds (a `kind = "..."` tag), not a plugin
//! registry: every kind is known at compile time, so `check` can validate a
//! spec fully without running anything. The file's stem is the stage's name.
//!
//! Each kind lives in its own folder here (`spec.rs` for its TOML, the
//! logic in named phases beside it) and implements
//! [`crate::contract::Stage`]. [`StageKind`] below is the only place the
//! kinds are told apart: adding a kind is a new folder and one arm in it.

pub mod api;
pub mod boundary_change;
pub mod census;
pub mod change;
pub mod index;
pub mod load;
pub mod places;
pub mod postcodes;
pub mod site;
pub mod stack;
pub mod summary;
pub mod wards;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::de_collect;
use crate::contract::Stage;
use crate::error::ConfigError;

/// Declares the closed enum of kinds and its one dispatch from a single
/// list, so that a kind is added in one place.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident($ty:ty)),* $(,)?) => {
        /// One stage, as declared in `stages/<name>.toml`.
        #[derive(Debug, Clone, Deserialize, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum StageKind {
            $($(#[$doc])* $variant($ty),)*
        }

        impl StageKind {
            /// The kind's implementation of the stage contract.
            pub fn stage(&self) -> &dyn Stage {
                match self {
                    $(StageKind::$variant(s) => s,)*
                }
            }
        }
    };
}

kinds! {
    /// Reads each dataset's file into `tables/<dataset>.parquet` with its
    /// canonical columns and types.
    Load(load::LoadStage),
    /// Assembles one nation's deprivation index for one edition from loaded
    /// tables, computes its quantiles and verifies its geography.
    DeprivationIndex(Box<index::IndexStage>),
    /// Stacks the current edition of every nation into one table.
    StackIndices(stack::StackStage),
    /// Summarises an index for larger areas by MHCLG's method.
    AreaSummary(Box<summary::AreaSummaryStage>),
    /// The LSOA 2011 -> 2021 boundary changes, spelled out.
    BoundaryChange(boundary_change::BoundaryChangeStage),
    /// Compares two editions across the boundary change.
    IndexChange(Box<change::ChangeStage>),
    /// Publishes the small area -> ward assignment, checked on boundaries.
    WardAssignment(Box<wards::WardStage>),
    /// Census 2021 indicators by LSOA, ward and local authority.
    CensusIndicators(Box<census::CensusStage>),
    /// Places Scores from a taxonomy of themes and indicators.
    PlacesScores(Box<places::PlacesStage>),
    /// Every postcode with its status and the small areas the indices use.
    PostcodeAreas(Box<postcodes::PostcodeStage>),
    /// The static JSON API: a file per area code and per postcode outcode.
    StaticApi(Box<api::ApiStage>),
    /// One static page for people that reads the API in the browser.
    StaticSite(site::SiteStage),
}

/// Every kind's name as written in a spec's `kind`, as serde lists them
/// (so the list cannot drift from the enum).
pub fn kind_names() -> String {
    let mut probe = toml::Table::new();
    probe.insert("kind".into(), toml::Value::String("\u{1}".into()));
    let msg = match toml::Value::Table(probe).try_into::<StageKind>() {
        Ok(_) => return String::new(),
        Err(e) => e.to_string(),
    };
    msg.split("expected one of ")
        .nth(1)
        .map(|s| s.lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

/// A stage spec read from disk.
#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub path: PathBuf,
    pub kind: StageKind,
}

impl StageSpec {
    /// How the spec is named in messages: its name and file.
    pub fn entry(&self) -> String {
        format!("Stage `{}` ({})", self.name, self.path.display())
    }
}

/// Reads every `*.toml` in `dir`, in name order, collecting problems.
pub fn load_stages(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<StageSpec> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            errors.push(ConfigError::message(
                "",
                format!("cannot read stages directory {}: {e}", dir.display()),
            ));
            return Vec::new();
        }
    };
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        if let Some(spec) = load_stage(&path, errors) {
            out.push(spec);
        }
    }
    out
}

fn load_stage(path: &Path, errors: &mut Vec<ConfigError>) -> Option<StageSpec> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let what = format!("Stage `{name}` ({})", path.display());
    if !crate::catalog::is_identifier(&name) {
        errors.push(ConfigError::message(
            &what,
            ": file name must be snake_case, e.g. `load.toml`",
        ));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::message(&what, format!(": cannot read: {e}")));
            return None;
        }
    };
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::message(&what, format!(": invalid TOML: {e}")));
            return None;
        }
    };
    if !table.contains_key("kind") {
        errors.push(ConfigError::message(
            &what,
            format!("has no `kind` (one of: {})", kind_names()),
        ));
        return None;
    }
    let kind = de_collect::<StageKind>(table, &what, errors)?;
    Some(StageSpec {
        name,
        path: path.to_path_buf(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_are_listed_from_the_enum() {
        let names = kind_names();
        assert!(names.starts_with("`load`, `deprivation_index`"), "{names}");
        assert!(names.ends_with("`static_site`"), "{names}");
    }
}
