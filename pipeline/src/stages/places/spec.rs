//! The spec of a `places_scores` stage: a taxonomy of themes.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Parameters of a `places_scores` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacesStage {
    pub description: String,
    /// The long-form indicators table (a `census_indicators` output).
    pub indicators_table: String,
    /// Its companion of indicators unavailable for a whole geography type,
    /// whose reasons the scores quote.
    #[serde(default)]
    pub unavailable_table: Option<String>,
    /// Output table per geography type of the indicators table.
    pub outputs: IndexMap<String, String>,
    pub themes: Vec<Theme>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub id: String,
    pub title: String,
    #[serde(default = "one")]
    pub weight: f64,
    pub indicators: Vec<ThemeIndicator>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Published standardised, not scored (e.g. age structure).
    Descriptive,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeIndicator {
    /// An indicator id of the indicators table.
    pub id: String,
    pub direction: Direction,
    #[serde(default = "one")]
    pub weight: f64,
    /// The Census 2011 equivalent, for users comparing with old profiles.
    pub census_2011: Census2011,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Census2011 {
    /// The 2011 table, e.g. `KS402EW`, or `none`.
    pub table: String,
    pub comparability: Comparability,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparability {
    Comparable,
    BroadlyComparable,
    NotComparable,
}

impl PlacesStage {
    pub fn indicator_ids(&self) -> Vec<String> {
        self.themes
            .iter()
            .flat_map(|t| t.indicators.iter().map(|i| i.id.clone()))
            .collect()
    }
}
