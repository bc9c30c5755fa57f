//! The spec of a `census_indicators` stage.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::contract::Validator;
use crate::pattern::Pattern;

/// Parameters of a `census_indicators` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CensusStage {
    pub description: String,
    pub table: String,
    /// LSOA 2021 -> ward 2024 -> LAD 2024.
    pub lsoa_lookup: LsoaLookup,
    /// LAD 2022 -> LAD 2023/2024 (the April 2023 reorganisation).
    pub lad_merge: LadMerge,
    /// Local authority tables to verify.
    #[serde(default)]
    pub la_checks: Vec<LaCheck>,
    pub indicators: Vec<Indicator>,
    /// LSOA 2021 boundaries, for areas (population density).
    #[serde(default)]
    pub areas: Option<AreaLayer>,
    /// Green space by local authority.
    #[serde(default)]
    pub green_space: Option<GreenSpace>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LsoaLookup {
    pub table: String,
    pub key: String,
    pub ward: String,
    pub lad: String,
    /// LSOA 2021 -> LAD 2022, for rolling LSOA tables up to census LADs.
    pub lad22_table: String,
    pub lad22_key: String,
    pub lad22: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LadMerge {
    pub table: String,
    pub from: String,
    pub to: String,
}

/// The geography checks of one local authority table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LaCheck {
    pub table: String,
    pub key: String,
    pub name: String,
    /// The declared vintage's list: table and code/name columns.
    pub list: String,
    pub list_code: String,
    pub list_name: String,
    /// Only list codes matching this are in the table's vintage (E+W).
    pub list_code_pattern: Pattern,
    /// Lower-tier codes only: no E10 counties, E12 regions, E92 countries.
    pub code_pattern: Pattern,
    /// The LSOA table and total column that must roll up to `total`.
    #[serde(default)]
    pub rollup: Option<Rollup>,
    /// Spellings that differ between ONS products but name the same
    /// authority, as `name = other`.
    #[serde(default)]
    pub name_aliases: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rollup {
    pub total: String,
    pub lsoa_table: String,
    pub lsoa_key: String,
    pub lsoa_total: String,
    /// Relative difference allowed by disclosure control (0.005 = 0.5%).
    pub tolerance: f64,
}

/// One indicator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub id: String,
    pub title: String,
    /// `persons`, `households`, `proportion`, `years`.
    pub unit: String,
    /// The Census 2021 table, e.g. `TS054`.
    pub source: String,
    /// How it is computed: `numerator` (+ `denominator` for a share),
    /// `category` for long-form tables, or `median_age_prefix`.
    pub method: Method,
    /// The LSOA 2021 table, if any.
    #[serde(default)]
    pub lsoa: Option<String>,
    /// The local authority (LAD 2021/22) table, if any.
    #[serde(default)]
    pub ltla: Option<String>,
}

/// How an indicator is computed from its table's columns.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Method {
    /// Columns summed for the numerator.
    #[serde(default)]
    pub numerator: Vec<String>,
    /// Columns summed for the denominator (a share when present).
    #[serde(default)]
    pub denominator: Vec<String>,
    /// Long-form tables: the category whose count is the numerator.
    #[serde(default)]
    pub category: Option<String>,
    /// Median age from single-year-of-age columns with this prefix.
    #[serde(default)]
    pub median_age_prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaLayer {
    pub table: String,
    pub key: String,
    pub geometry: String,
    /// The indicator id whose LSOA numerator is the population.
    pub population_indicator: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GreenSpace {
    pub table: String,
    pub key: String,
    pub numerator: String,
    pub denominator: String,
    /// The vintage of its local authority codes, e.g. `LAD 2020`.
    pub vintage: String,
}

impl CensusStage {
    /// Tables this stage reads. All are optional at plan time: an absent
    /// one makes its indicators unavailable, not the whole table.
    pub fn input_tables(&self) -> Vec<String> {
        let mut t: BTreeSet<String> = BTreeSet::new();
        t.insert(self.lsoa_lookup.table.clone());
        t.insert(self.lsoa_lookup.lad22_table.clone());
        t.insert(self.lad_merge.table.clone());
        for c in &self.la_checks {
            t.insert(c.table.clone());
            t.insert(c.list.clone());
            if let Some(r) = &c.rollup {
                t.insert(r.lsoa_table.clone());
            }
        }
        for i in &self.indicators {
            t.extend(i.lsoa.clone());
            t.extend(i.ltla.clone());
        }
        t.extend(self.areas.as_ref().map(|a| a.table.clone()));
        t.extend(self.green_space.as_ref().map(|g| g.table.clone()));
        t.into_iter().collect()
    }

    pub fn indicator_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.indicators.iter().map(|i| i.id.clone()).collect();
        if self.areas.is_some() {
            ids.push("population_density".into());
        }
        if self.green_space.is_some() {
            ids.push("private_outdoor_space_share".into());
        }
        ids
    }

    /// The lookups without which nothing can be computed.
    pub fn required_inputs(&self) -> Vec<String> {
        vec![
            self.lsoa_lookup.table.clone(),
            self.lsoa_lookup.lad22_table.clone(),
            self.lad_merge.table.clone(),
        ]
    }

    /// The spec against itself.
    pub fn validate_spec(&self, v: &mut Validator<'_>) {
        let mut seen = BTreeSet::new();
        for i in &self.indicators {
            if !seen.insert(&i.id) {
                v.error(format!(": indicator `{}` is declared twice", i.id));
            }
            if i.lsoa.is_none() && i.ltla.is_none() {
                v.error(format!(
                    ": indicator `{}` names no `lsoa` or `ltla` table",
                    i.id
                ));
            }
            let m = &i.method;
            let kinds = [
                !m.numerator.is_empty() || m.category.is_some(),
                m.median_age_prefix.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                v.error(format!(
                    ": indicator `{}` must give either `numerator` (or `category`) or `median_age_prefix`",
                    i.id
                ));
            }
        }
        if let Some(a) = &self.areas {
            if !seen.contains(&a.population_indicator) {
                v.error(format!(
                    "field `areas.population_indicator` names unknown indicator `{}`",
                    a.population_indicator
                ));
            }
        }
    }
}
