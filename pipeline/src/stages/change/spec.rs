//! The spec of an `index_change` stage.

use serde::{Deserialize, Serialize};

use crate::contract::Validator;

/// Parameters of an `index_change` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStage {
    pub description: String,
    /// The nation (for descriptions).
    pub nation: String,
    /// The earlier edition's index (on LSOA 2011).
    pub before: EditionSpec,
    /// The later edition's index (on LSOA 2021).
    pub after: EditionSpec,
    /// The exact LSOA 2011 -> 2021 look-up with CHGIND.
    pub lookup: ChangeLookup,
    /// Keep look-up rows whose LSOA codes start with this (the nation).
    pub code_prefix: String,
    /// A move of less than this many percentile points is "broadly stable".
    pub stable_within_points: f64,
    /// Ward comparisons need at least this share of the ward's population in
    /// comparable LSOAs.
    pub min_comparable_share: f64,
    /// Output tables.
    pub lsoa21_table: String,
    pub ward_table: String,
    pub lsoa11_table: String,
    /// LSOA 2021 -> ward look-up for the ward comparison.
    pub wards: WardSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EditionSpec {
    pub edition: String,
    pub table: String,
    pub key: String,
    /// Population weights: a column of the index, or of another table.
    pub population: PopulationRef,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationRef {
    #[serde(default)]
    pub table: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    pub column: String,
    /// Why these are not the edition's own denominators, when they are not.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLookup {
    pub table: String,
    pub lsoa11: String,
    pub lsoa21: String,
    pub change: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardSpec {
    pub table: String,
    pub key: String,
    pub code: String,
    pub name: String,
    pub lad_code: String,
    /// Output names, e.g. `ward24_code`.
    pub output_code: String,
    pub output_name: String,
    pub output_lad_code: String,
}

impl ChangeLookup {
    /// Checks the look-up's columns.
    pub fn validate(&self, field: &str, v: &mut Validator<'_>) {
        v.columns(
            field,
            &self.table,
            [&self.lsoa11, &self.lsoa21, &self.change],
        );
    }
}

impl EditionSpec {
    /// Checks the index's key and ranks, and the population's columns.
    pub fn validate(&self, field: &str, v: &mut Validator<'_>) {
        let rank = "imd_rank".to_string();
        let decile = "imd_decile".to_string();
        v.columns(field, &self.table, [&self.key, &rank, &decile]);
        let p = &self.population;
        let pt = p.table.as_ref().unwrap_or(&self.table);
        let pk = p.key.as_ref().unwrap_or(&self.key);
        v.columns(&format!("{field}.population"), pt, [pk, &p.column]);
    }
}

impl WardSpec {
    pub fn validate(&self, field: &str, v: &mut Validator<'_>) {
        v.columns(
            field,
            &self.table,
            [&self.key, &self.code, &self.name, &self.lad_code],
        );
    }
}
