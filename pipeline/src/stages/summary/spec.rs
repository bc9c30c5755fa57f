//! The spec of an `area_summary` stage.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Parameters of an `area_summary` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSummaryStage {
    pub description: String,
    /// The output table, e.g. `imd_england_2019_lad19`.
    pub table: String,
    /// The index table summarised (an output of a `deprivation_index` stage).
    pub index: String,
    /// The index table's area-code column.
    pub key: String,
    /// The kind of area summarised, e.g. `LAD 2019`, `Ward 2024`.
    pub area_type: String,
    /// How small areas are assigned to areas.
    pub group: GroupSpec,
    /// The population weights.
    pub population: PopulationSpec,
    /// The index column holding the income-deprivation rate (a proportion),
    /// for the income scale; unset where the index has none (WIMD's scores
    /// are not rates).
    #[serde(default)]
    pub income_rate: Option<String>,
    /// Likewise for the employment scale (with `population.working_age`).
    #[serde(default)]
    pub employment_rate: Option<String>,
    /// Why the income and employment scales are approximate whatever the
    /// weights (the rates are published rounded, so their sums are not the
    /// publisher's counts): published with both scales and their ranks.
    #[serde(default)]
    pub scales_approximate: Option<String>,
    /// The published summaries to reproduce (File 10), if any.
    #[serde(default)]
    pub compare: Option<CompareSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The table holding the assignment (default: the index table itself).
    #[serde(default)]
    pub table: Option<String>,
    /// Its small-area column (default: the stage's key).
    #[serde(default)]
    pub key: Option<String>,
    /// Its area code and name columns.
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Output names of the area code and name columns.
    pub output_code: String,
    #[serde(default)]
    pub output_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// The table holding populations (default: the index table itself).
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// Total population column.
    pub column: String,
    /// Working-age population column, for the employment scale.
    #[serde(default)]
    pub working_age: Option<String>,
    /// The table holding `working_age`, when not `table` (e.g. the index's
    /// own denominators while the weights are Census residents).
    #[serde(default)]
    pub working_age_table: Option<String>,
    /// Its small-area column (default: the stage's key).
    #[serde(default)]
    pub working_age_key: Option<String>,
    /// Set when these are not the edition's own denominators: the reason,
    /// published, and every weighted measure is flagged approximate.
    #[serde(default)]
    pub approximate: Option<String>,
    /// The edition's own denominators, used in place of the weights above
    /// whenever the catalog provides their table (production reads IoD2025
    /// File 6); without it the weights above are used, flagged
    /// `approximate`.
    #[serde(default)]
    pub preferred: Option<PreferredPopulation>,
}

/// The edition's own population denominators.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreferredPopulation {
    pub table: String,
    /// Its small-area column.
    pub key: String,
    /// Total population column.
    pub column: String,
    /// Its working-age column, for the employment scale (default: the
    /// working-age population declared above).
    #[serde(default)]
    pub working_age: Option<String>,
    /// Set when the summaries stay approximate even with these weights
    /// (areas built from whole small areas by best fit): the reason.
    #[serde(default)]
    pub approximate: Option<String>,
}

impl PopulationSpec {
    /// The weights a build uses: the preferred denominators when
    /// `available` says their table was built, else these.
    pub fn resolved(&self, available: impl Fn(&str) -> bool) -> PopulationSpec {
        let Some(p) = self.preferred.as_ref().filter(|p| available(&p.table)) else {
            return self.clone();
        };
        let own_working_age = p.working_age.is_some();
        PopulationSpec {
            table: Some(p.table.clone()),
            key: Some(p.key.clone()),
            column: p.column.clone(),
            working_age: p.working_age.clone().or_else(|| self.working_age.clone()),
            working_age_table: match own_working_age {
                true => None,
                false => self
                    .working_age_table
                    .clone()
                    .or_else(|| self.table.clone()),
            },
            working_age_key: match own_working_age {
                true => None,
                false => self.working_age_key.clone().or_else(|| self.key.clone()),
            },
            approximate: p.approximate.clone(),
            preferred: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompareSpec {
    pub table: String,
    pub key: String,
    /// Why differences within the columns' tolerances are expected.
    #[serde(default)]
    pub note: Option<String>,
    /// Our column -> the published column, with the published decimals.
    pub columns: IndexMap<String, ComparedColumn>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComparedColumn {
    pub published: String,
    /// Decimal places the publisher rounds to (0 for ranks).
    pub decimals: u32,
    /// A difference beyond the rounding but within this is reported with the
    /// comparison's `note`; beyond it the build fails.
    #[serde(default)]
    pub tolerance: f64,
}
