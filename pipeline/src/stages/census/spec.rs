//! The spec of a `census_indicators` stage.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::contract::Validator;
use crate::pattern::Pattern;
use crate::units::{Direction, Unit};

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
    /// How far (relative, 0.005 = 0.5%) a district's figure from the local
    /// authority table may differ from the sum of its LSOAs before the row
    /// is `approximate` with the reason (disclosure control perturbs both).
    pub lad_tolerance: f64,
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
    /// What is counted, over what, and which end is more deprived where
    /// either is; published in the table's description.
    pub definition: String,
    /// `persons`, `households`, `proportion`, `years`.
    pub unit: String,
    /// Which end is more deprived: `higher_more_deprived`,
    /// `higher_less_deprived`, or `neutral` for a description of an area
    /// (its age, tenure or density) that no index counts as deprivation.
    /// Published on every row, so that no reader assumes one.
    pub direction: Direction,
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

/// The directions an indicator may have: a count or share is never a rank.
pub const INDICATOR_DIRECTIONS: [Direction; 3] = [
    Direction::HigherMoreDeprived,
    Direction::HigherLessDeprived,
    Direction::Neutral,
];

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
    /// Long-form tables: several categories whose counts are summed for the
    /// numerator (e.g. every kind of flat).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Median age from single-year-of-age columns with this prefix (bands
    /// such as `aged_85_years_and_over` are left out, but for the open
    /// last one).
    #[serde(default)]
    pub median_age_prefix: Option<String>,
    /// For a median age: the table's total, which the single years must add
    /// up to (checked for every area).
    #[serde(default)]
    pub total: Option<String>,
}

impl Method {
    /// The long-form categories summed for the numerator.
    pub fn all_categories(&self) -> Vec<&String> {
        self.category.iter().chain(&self.categories).collect()
    }
}

/// Where LSOA areas come from, for population density: the publisher's
/// land areas when the catalog in use has them, else shapes measured here.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaLayer {
    /// The indicator id whose LSOA numerator is the population.
    pub population_indicator: String,
    /// Land areas in km² as the publisher measures them (the Standard Area
    /// Measurements): densities are published at every level.
    #[serde(default)]
    pub measured: Option<MeasuredAreas>,
    /// Boundaries whose shapes are measured here, used when `measured` is
    /// not in the build.
    #[serde(default)]
    pub shapes: Option<AreaShapes>,
    /// The publisher's own areas to compare with, where they exist.
    #[serde(default)]
    pub reference: Option<AreaReference>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredAreas {
    pub table: String,
    pub key: String,
    pub area_km2: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaShapes {
    pub table: String,
    pub key: String,
    /// The GeoJSON column.
    pub geometry: String,
    /// Set when the shapes are generalised, saying how: small-area densities
    /// are then not published as values (generalisation shrinks small areas
    /// many times over); local authority densities are, as approximate.
    #[serde(default)]
    pub generalised: Option<String>,
}

impl AreaLayer {
    /// The tables that can give areas, in order of preference.
    pub fn tables(&self) -> Vec<String> {
        let m = self.measured.iter().map(|m| m.table.clone());
        m.chain(self.shapes.iter().map(|s| s.table.clone()))
            .collect()
    }
}

/// The publisher's areas of LSOAs 2011, compared with ours for the LSOAs the
/// 2021 boundaries left unchanged.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaReference {
    pub table: String,
    pub key: String,
    pub area_km2: String,
    /// The LSOA 2011 -> 2021 look-up and its change code (`U` = unchanged).
    pub lookup: String,
    pub lookup_lsoa11: String,
    pub lookup_lsoa21: String,
    pub lookup_change: String,
    /// The change code of an unchanged LSOA (`U`).
    pub unchanged: String,
    /// The largest relative difference allowed (0.05 = 5%).
    pub tolerance: f64,
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
    /// Districts abolished before LAD 2022 (Buckinghamshire's, the
    /// Northamptonshire ones): mapped to their successors through the small
    /// areas they shared, where all of a district's areas agree.
    #[serde(default)]
    pub predecessors: Option<Predecessors>,
}

/// Two look-ups of the same small areas: to the old districts and to LAD 2022.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Predecessors {
    pub old_table: String,
    pub old_key: String,
    pub old_code: String,
    pub new_table: String,
    pub new_key: String,
    pub new_code: String,
}

/// The unit words an indicator may declare, and what each means.
pub const INDICATOR_UNITS: [(&str, Unit); 5] = [
    ("persons", Unit::Count),
    ("households", Unit::Count),
    ("proportion", Unit::Rate),
    ("years", Unit::Years),
    ("persons per km2", Unit::PerKm2),
];

/// The unit an indicator's `unit` word stands for.
pub fn indicator_unit(word: &str) -> Option<Unit> {
    INDICATOR_UNITS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, u)| *u)
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
        if let Some(a) = &self.areas {
            t.extend(a.tables());
            if let Some(r) = &a.reference {
                t.insert(r.table.clone());
                t.insert(r.lookup.clone());
            }
        }
        if let Some(g) = &self.green_space {
            t.insert(g.table.clone());
            if let Some(p) = &g.predecessors {
                t.insert(p.old_table.clone());
                t.insert(p.new_table.clone());
            }
        }
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
            if indicator_unit(&i.unit).is_none() {
                let words: Vec<&str> = INDICATOR_UNITS.iter().map(|(w, _)| *w).collect();
                v.error(format!(
                    ": indicator `{}` has unit `{}`; one of {}",
                    i.id,
                    i.unit,
                    words.join(", ")
                ));
            }
            if !INDICATOR_DIRECTIONS.contains(&i.direction) {
                let words: Vec<&str> = INDICATOR_DIRECTIONS.iter().map(|d| d.as_str()).collect();
                v.error(format!(
                    ": indicator `{}` has direction `{}`; one of {}",
                    i.id,
                    i.direction.as_str(),
                    words.join(", ")
                ));
            }
            let m = &i.method;
            if m.total.is_some() && m.median_age_prefix.is_none() {
                v.error(format!(
                    ": indicator `{}` gives `method.total`, which only a median age uses",
                    i.id
                ));
            }
            let kinds = [
                !m.numerator.is_empty() || !m.all_categories().is_empty(),
                m.median_age_prefix.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                v.error(format!(
                    ": indicator `{}` must give either `numerator` (or `category`) or `median_age_prefix`",
                    i.id
                ));
            }
        }
        let tolerances = [("lad_tolerance", Some(self.lad_tolerance))]
            .into_iter()
            .chain([(
                "areas.reference.tolerance",
                self.areas
                    .as_ref()
                    .and_then(|a| a.reference.as_ref())
                    .map(|r| r.tolerance),
            )]);
        for (field, t) in tolerances {
            if let Some(t) = t.filter(|t| !(0.0..1.0).contains(t)) {
                v.error(format!(
                    "field `{field}` must be a fraction in 0..1 (0.005 = 0.5%), got {t}"
                ));
            }
        }
        if let Some(r) = self.areas.as_ref().and_then(|a| a.reference.as_ref()) {
            if r.unchanged.trim().is_empty() {
                v.error("field `areas.reference.unchanged` must name the change code of unchanged LSOAs (`U`)");
            }
        }
        if let Some(a) = &self.areas {
            if a.measured.is_none() && a.shapes.is_none() {
                v.error("field `areas` needs `measured` (the publisher's land areas) or `shapes` (boundaries measured here), or both");
            }
            if !seen.contains(&a.population_indicator) {
                v.error(format!(
                    "field `areas.population_indicator` names unknown indicator `{}`",
                    a.population_indicator
                ));
            }
        }
    }
}
