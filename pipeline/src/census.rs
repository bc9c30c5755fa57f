//! Census 2021 indicators by LSOA 2021, ward 2024 and LAD 2024, and the
//! geography checks of every local authority table they use.
//!
//! Indicators are declared in the stage spec: each names its source table
//! per geography and how to compute it (a count, a share, a median age, a
//! share of a long-form category). An indicator whose table is not in the
//! catalog in use is published with `status = "unavailable"` and the reason,
//! never filled. Wards are built from LSOAs (ONS best fit); LAD 2024 figures
//! come from the published local authority tables where there are some
//! (aggregating the districts merged in April 2023, stated per row), and
//! from LSOAs otherwise.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use geo::GeodesicArea;
use indexmap::IndexMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::index::BuiltTable;
use crate::values::Values;
use crate::verify::{Check, Status, TableReport};

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
    pub list_code_pattern: String,
    /// Lower-tier codes only: no E10 counties, E12 regions, E92 countries.
    pub code_pattern: String,
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
    pub fn inputs(&self) -> Vec<String> {
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

    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        let mut seen = BTreeSet::new();
        for i in &self.indicators {
            if !seen.insert(&i.id) {
                errors.push(format!("{what}: indicator `{}` is declared twice", i.id));
            }
            if i.lsoa.is_none() && i.ltla.is_none() {
                errors.push(format!(
                    "{what}: indicator `{}` names no `lsoa` or `ltla` table",
                    i.id
                ));
            }
            let m = &i.method;
            let kinds = [
                !m.numerator.is_empty() || m.category.is_some(),
                m.median_age_prefix.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                errors.push(format!(
                    "{what}: indicator `{}` must give either `numerator` (or `category`) or `median_age_prefix`",
                    i.id
                ));
            }
        }
        if let Some(a) = &self.areas {
            if !seen.contains(&a.population_indicator) {
                errors.push(format!(
                    "{what} field `areas.population_indicator` names unknown indicator `{}`",
                    a.population_indicator
                ));
            }
        }
    }
}

/// One output row.
#[derive(Default)]
struct Rows {
    code: Vec<Option<String>>,
    geo_type: Vec<String>,
    indicator: Vec<String>,
    value: Vec<Option<f64>>,
    numerator: Vec<Option<f64>>,
    denominator: Vec<Option<f64>>,
    unit: Vec<String>,
    source: Vec<String>,
    vintage: Vec<String>,
    status: Vec<String>,
    reason: Vec<Option<String>>,
}

impl Rows {
    /// One flag row per geography type: the indicator is unavailable there.
    fn unavailable(&mut self, ind: &Indicator, geographies: &[(&str, &str)], reason: &str) {
        for (geo, vintage) in geographies {
            self.push(
                None,
                geo,
                ind,
                None,
                None,
                None,
                vintage,
                "unavailable",
                Some(reason.to_string()),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        code: Option<String>,
        geo: &str,
        ind: &Indicator,
        v: Option<f64>,
        n: Option<f64>,
        d: Option<f64>,
        vintage: &str,
        status: &str,
        reason: Option<String>,
    ) {
        self.code.push(code);
        self.geo_type.push(geo.to_string());
        self.indicator.push(ind.id.clone());
        self.value.push(v);
        self.numerator.push(n);
        self.denominator.push(d);
        self.unit.push(ind.unit.clone());
        self.source.push(ind.source.clone());
        self.vintage.push(vintage.to_string());
        self.status.push(status.to_string());
        self.reason.push(reason);
    }
}

/// Numerator, denominator (or single-year counts for a median) of one area.
#[derive(Debug, Clone, Default)]
struct Parts {
    num: f64,
    den: f64,
    ages: Vec<f64>,
}

impl Parts {
    fn add(&mut self, o: &Parts) {
        self.num += o.num;
        self.den += o.den;
        if self.ages.len() < o.ages.len() {
            self.ages.resize(o.ages.len(), 0.0);
        }
        for (a, b) in self.ages.iter_mut().zip(&o.ages) {
            *a += b;
        }
    }
}

/// The median age from counts by single year (the last band open-ended),
/// interpolating within the year where the cumulative count passes half.
pub fn median_age(counts: &[f64]) -> Option<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let half = total / 2.0;
    let mut acc = 0.0;
    for (age, c) in counts.iter().enumerate() {
        if acc + c >= half && *c > 0.0 {
            return Some(age as f64 + (half - acc) / c);
        }
        acc += c;
    }
    None
}

/// Computes one indicator's parts per area code of a table.
fn parts_of(ind: &Indicator, frame: &DataFrame, key: &str) -> Result<BTreeMap<String, Parts>> {
    let keys = Values::from_frame(frame, key)?;
    let mut out: BTreeMap<String, Parts> = BTreeMap::new();
    let m = &ind.method;
    if let Some(prefix) = &m.median_age_prefix {
        let mut age_cols: Vec<(u32, Values)> = Vec::new();
        for name in frame.get_column_names() {
            let Some(rest) = name.as_str().strip_prefix(prefix.as_str()) else {
                continue;
            };
            // "aged_under_1_year" is age 0; "aged_N_years" N; "aged_100_years_and_over" 100.
            let age = if rest.contains("under_1") {
                Some(0)
            } else {
                rest.split('_')
                    .find_map(|p| p.parse::<u32>().ok())
                    .filter(|_| !rest.contains("_to_") && !rest.contains("and_under"))
            };
            if let Some(a) = age {
                age_cols.push((a, Values::from_frame(frame, name.as_str())?));
            }
        }
        age_cols.sort_by_key(|(a, _)| *a);
        if age_cols.len() < 90 {
            return Err(Error::schema(format!(
                "indicator `{}`: only {} single-year age columns with prefix `{prefix}`",
                ind.id,
                age_cols.len()
            )));
        }
        for i in 0..keys.len() {
            let Some(k) = keys.text(i) else { continue };
            let ages = age_cols
                .iter()
                .map(|(_, v)| v.number(i).unwrap_or(0.0))
                .collect();
            out.insert(
                k,
                Parts {
                    ages,
                    ..Default::default()
                },
            );
        }
        return Ok(out);
    }
    if let Some(cat) = &m.category {
        // Long form: one row per area and category.
        let cats = Values::from_frame(frame, "category")?;
        let count = Values::from_frame(
            frame,
            m.numerator.first().map(String::as_str).unwrap_or("count"),
        )?;
        let total = Values::from_frame(
            frame,
            m.denominator.first().map(String::as_str).unwrap_or("total"),
        )?;
        for i in 0..keys.len() {
            let Some(k) = keys.text(i) else { continue };
            let p = out.entry(k).or_default();
            p.den = total.number(i).unwrap_or(p.den);
            if cats.text(i).as_deref() == Some(cat.as_str()) {
                p.num += count.number(i).unwrap_or(0.0);
            }
        }
        return Ok(out);
    }
    let num: Vec<Values> = m
        .numerator
        .iter()
        .map(|c| Values::from_frame(frame, c))
        .collect::<Result<_>>()?;
    let den: Vec<Values> = m
        .denominator
        .iter()
        .map(|c| Values::from_frame(frame, c))
        .collect::<Result<_>>()?;
    for i in 0..keys.len() {
        let Some(k) = keys.text(i) else { continue };
        let sum = |vs: &[Values]| vs.iter().map(|v| v.number(i).unwrap_or(0.0)).sum::<f64>();
        out.insert(
            k,
            Parts {
                num: sum(&num),
                den: sum(&den),
                ages: Vec::new(),
            },
        );
    }
    Ok(out)
}

fn value_of(ind: &Indicator, p: &Parts) -> (Option<f64>, Option<f64>, Option<f64>) {
    if ind.method.median_age_prefix.is_some() {
        return (median_age(&p.ages), None, Some(p.ages.iter().sum()));
    }
    if ind.method.denominator.is_empty() && ind.method.category.is_none() {
        (Some(p.num), Some(p.num), None)
    } else if p.den > 0.0 {
        (Some(p.num / p.den), Some(p.num), Some(p.den))
    } else {
        (None, Some(p.num), Some(p.den))
    }
}

fn map_of(frame: &DataFrame, key: &str, value: &str) -> Result<HashMap<String, String>> {
    let (k, v) = (
        Values::from_frame(frame, key)?,
        Values::from_frame(frame, value)?,
    );
    Ok((0..k.len())
        .filter_map(|i| Some((k.text(i)?, v.text(i)?)))
        .collect())
}

/// Runs a `census_indicators` stage. `inputs` holds the tables that exist;
/// `catalog` names the catalog, for the reasons.
pub fn build_census(
    spec: &CensusStage,
    inputs: &HashMap<String, DataFrame>,
    unavailable: &HashMap<String, String>,
) -> Result<(DataFrame, BuiltTable)> {
    let missing_reason = |t: &str| -> String {
        unavailable
            .get(t)
            .cloned()
            .unwrap_or_else(|| format!("table `{t}` is not in the catalog in use"))
    };
    let l = &spec.lsoa_lookup;
    let lk = &inputs[&l.table];
    let ward_of = map_of(lk, &l.key, &l.ward)?;
    let lad_of = map_of(lk, &l.key, &l.lad)?;
    let lad22_of = map_of(&inputs[&l.lad22_table], &l.lad22_key, &l.lad22)?;
    let lad24_of_lad22 = map_of(
        &inputs[&spec.lad_merge.table],
        &spec.lad_merge.from,
        &spec.lad_merge.to,
    )?;
    let mut report = TableReport {
        table: spec.table.clone(),
        checks: Vec::new(),
    };

    // 1. Local authority tables: vintage, tier, names, roll-up.
    for c in &spec.la_checks {
        let Some(frame) = inputs.get(&c.table) else {
            report.checks.push(Check {
                check: format!("la_{}", c.table),
                status: Status::NotAvailable,
                detail: missing_reason(&c.table),
                examples: Vec::new(),
            });
            continue;
        };
        la_check(c, frame, inputs, &lad22_of, &mut report)?;
    }
    if let Some(first) = report.checks.iter().find(|c| c.status == Status::Fail) {
        return Err(Error::new(ErrorKind::Verification(format!(
            "table `{}`, check `{}`: {}; first offending rows: {}",
            spec.table,
            first.check,
            first.detail,
            first.examples.join("; ")
        ))));
    }

    // 2. Indicators.
    let mut rows = Rows::default();
    let mut lsoa_population: HashMap<String, f64> = HashMap::new();
    for ind in &spec.indicators {
        // LSOA and ward, from the LSOA table.
        match &ind.lsoa {
            Some(t) if inputs.contains_key(t) => {
                let parts = parts_of(
                    ind,
                    &inputs[t],
                    if inputs[t].column("lsoa21_code").is_ok() {
                        "lsoa21_code"
                    } else {
                        "geography_code"
                    },
                )?;
                let mut wards: BTreeMap<String, Parts> = BTreeMap::new();
                for (code, p) in &parts {
                    let (v, n, d) = value_of(ind, p);
                    rows.push(
                        Some(code.clone()),
                        "lsoa21",
                        ind,
                        v,
                        n,
                        d,
                        "LSOA 2021",
                        "ok",
                        None,
                    );
                    if spec
                        .areas
                        .as_ref()
                        .is_some_and(|a| a.population_indicator == ind.id)
                    {
                        lsoa_population.insert(code.clone(), p.num);
                    }
                    if let Some(w) = ward_of.get(code) {
                        wards.entry(w.clone()).or_default().add(p);
                    }
                }
                for (code, p) in &wards {
                    let (v, n, d) = value_of(ind, p);
                    rows.push(
                        Some(code.clone()),
                        "ward24",
                        ind,
                        v,
                        n,
                        d,
                        "WD24 (from LSOA 2021, best fit)",
                        "ok",
                        None,
                    );
                }
                if ind.ltla.as_ref().is_none_or(|t| !inputs.contains_key(t)) {
                    // LAD 2024 from LSOAs when no local authority table is available.
                    let mut lads: BTreeMap<String, Parts> = BTreeMap::new();
                    for (code, p) in &parts {
                        if let Some(l) = lad_of.get(code) {
                            lads.entry(l.clone()).or_default().add(p);
                        }
                    }
                    for (code, p) in &lads {
                        let (v, n, d) = value_of(ind, p);
                        rows.push(
                            Some(code.clone()),
                            "lad24",
                            ind,
                            v,
                            n,
                            d,
                            "LAD 2024 (from LSOA 2021)",
                            "ok",
                            None,
                        );
                    }
                }
            }
            Some(t) => rows.unavailable(
                ind,
                &[("lsoa21", "LSOA 2021"), ("ward24", "WD24")],
                &format!("LSOA table unavailable: {}", missing_reason(t)),
            ),
            None => rows.unavailable(
                ind,
                &[("lsoa21", "LSOA 2021"), ("ward24", "WD24")],
                &format!(
                    "{} is not published at LSOA level in the catalog",
                    ind.source
                ),
            ),
        }
        // LAD 2024, from the census local authority table (LAD 2021/22).
        match &ind.ltla {
            Some(t) if inputs.contains_key(t) => {
                let parts = parts_of(ind, &inputs[t], "geography_code")?;
                let mut lads: BTreeMap<String, (Parts, Vec<String>)> = BTreeMap::new();
                for (code, p) in &parts {
                    let to = lad24_of_lad22
                        .get(code)
                        .cloned()
                        .unwrap_or_else(|| code.clone());
                    let e = lads.entry(to).or_default();
                    e.0.add(p);
                    e.1.push(code.clone());
                }
                for (code, (p, from)) in &lads {
                    let (v, n, d) = value_of(ind, p);
                    let (vintage, reason) = if from.len() > 1 || from[0] != *code {
                        (
                            "LAD 2024 (aggregated from LAD 2022)",
                            Some(format!(
                                "sum of the 2022 districts {} merged in April 2023",
                                from.join(", ")
                            )),
                        )
                    } else {
                        ("LAD 2024 (= LAD 2022)", None)
                    };
                    rows.push(
                        Some(code.clone()),
                        "lad24",
                        ind,
                        v,
                        n,
                        d,
                        vintage,
                        "ok",
                        reason,
                    );
                }
            }
            Some(t) if ind.lsoa.as_ref().is_none_or(|l| !inputs.contains_key(l)) => rows
                .unavailable(
                    ind,
                    &[("lad24", "LAD 2024")],
                    &format!("local authority table unavailable: {}", missing_reason(t)),
                ),
            None if ind.lsoa.as_ref().is_none_or(|l| !inputs.contains_key(l)) => rows.unavailable(
                ind,
                &[("lad24", "LAD 2024")],
                &format!("{} is not in the catalog at any geography", ind.source),
            ),
            _ => {}
        }
    }

    // 3. Population density, from LSOA areas (approximate: generalised boundaries).
    if let Some(a) = &spec.areas {
        let density = Indicator {
            id: "population_density".into(),
            title: "Usual residents per square kilometre".into(),
            unit: "persons per km2".into(),
            source: format!("{} / area of {}", a.population_indicator, a.table),
            method: Method {
                numerator: vec!["population".into()],
                denominator: vec!["area".into()],
                ..Default::default()
            },
            lsoa: None,
            ltla: None,
        };
        match inputs.get(&a.table) {
            Some(frame) if !lsoa_population.is_empty() => {
                let (k, g) = (
                    Values::from_frame(frame, &a.key)?,
                    Values::from_frame(frame, &a.geometry)?,
                );
                let why = "area from the generalised (BSC) LSOA boundaries, so approximate";
                let mut wards: BTreeMap<String, Parts> = BTreeMap::new();
                let mut lads: BTreeMap<String, Parts> = BTreeMap::new();
                for i in 0..k.len() {
                    let (Some(code), Some(text)) = (k.text(i), g.text(i)) else {
                        continue;
                    };
                    let Some(pop) = lsoa_population.get(&code) else {
                        continue;
                    };
                    let area_km2 = text
                        .parse::<geojson::Geometry>()
                        .ok()
                        .and_then(|g| geo::Geometry::<f64>::try_from(g).ok())
                        .map(|g| g.geodesic_area_unsigned() / 1e6);
                    let Some(area) = area_km2.filter(|a| *a > 0.0) else {
                        continue;
                    };
                    let p = Parts {
                        num: *pop,
                        den: area,
                        ages: Vec::new(),
                    };
                    rows.push(
                        Some(code.clone()),
                        "lsoa21",
                        &density,
                        Some(pop / area),
                        Some(*pop),
                        Some(area),
                        "LSOA 2021",
                        "approximate",
                        Some(why.into()),
                    );
                    if let Some(w) = ward_of.get(&code) {
                        wards.entry(w.clone()).or_default().add(&p);
                    }
                    if let Some(l) = lad_of.get(&code) {
                        lads.entry(l.clone()).or_default().add(&p);
                    }
                }
                for (geo_type, vintage, m) in [
                    ("ward24", "WD24 (from LSOA 2021)", wards),
                    ("lad24", "LAD 2024 (from LSOA 2021)", lads),
                ] {
                    for (code, p) in m {
                        rows.push(
                            Some(code),
                            geo_type,
                            &density,
                            Some(p.num / p.den),
                            Some(p.num),
                            Some(p.den),
                            vintage,
                            "approximate",
                            Some(why.into()),
                        );
                    }
                }
            }
            _ => {
                rows.unavailable(
                    &density,
                    &[("lsoa21", ""), ("ward24", ""), ("lad24", "")],
                    &format!("no LSOA areas or population: {}", missing_reason(&a.table)),
                );
            }
        }
    }

    // 4. Green space, by local authority only.
    if let Some(gs) = &spec.green_space {
        let ind = Indicator {
            id: "private_outdoor_space_share".into(),
            title: "Share of addresses with private outdoor space (garden)".into(),
            unit: "proportion".into(),
            source: "ONS access to gardens and public green space (2020)".into(),
            method: Method {
                numerator: vec![gs.numerator.clone()],
                denominator: vec![gs.denominator.clone()],
                ..Default::default()
            },
            lsoa: None,
            ltla: None,
        };
        match inputs.get(&gs.table) {
            Some(frame) => {
                let parts = parts_of(&ind, frame, &gs.key)?;
                let mut lads: BTreeMap<String, (Parts, Vec<String>)> = BTreeMap::new();
                let mut unmatched = Vec::new();
                for (code, p) in &parts {
                    if !(code.starts_with("E0") || code.starts_with("W06")) {
                        continue; // Scotland and non-district rows: outside LAD 2024 E+W
                    }
                    match lad24_of_lad22.get(code) {
                        Some(to) => {
                            let e = lads.entry(to.clone()).or_default();
                            e.0.add(p);
                            e.1.push(code.clone());
                        }
                        None => unmatched.push(code.clone()),
                    }
                }
                for (code, (p, from)) in &lads {
                    let (v, n, d) = value_of(&ind, p);
                    let reason = (from.len() > 1 || from[0] != *code).then(|| {
                        format!("sum of the {} districts {}", gs.vintage, from.join(", "))
                    });
                    rows.push(
                        Some(code.clone()),
                        "lad24",
                        &ind,
                        v,
                        n,
                        d,
                        &format!("LAD 2024 (from {})", gs.vintage),
                        "ok",
                        reason,
                    );
                }
                report.checks.push(Check {
                    check: "green_space_districts".into(),
                    status: if unmatched.is_empty() { Status::Pass } else { Status::Warn },
                    detail: format!(
                        "{} {} districts have no LAD 2024 successor in the look-up (abolished before 2022); their figures are not used",
                        unmatched.len(),
                        gs.vintage
                    ),
                    examples: unmatched,
                });
            }
            None => rows.unavailable(&ind, &[("lad24", "LAD 2024")], &missing_reason(&gs.table)),
        }
    }

    let n = rows.code.len();
    let unavailable_ids: BTreeSet<String> = rows
        .status
        .iter()
        .zip(&rows.indicator)
        .filter(|(s, _)| *s == "unavailable")
        .map(|(_, i)| i.clone())
        .collect();
    report.checks.push(Check {
        check: "unavailable_indicators".into(),
        status: if unavailable_ids.is_empty() { Status::Pass } else { Status::Warn },
        detail: format!("{} indicators are unavailable at one or more geographies, each with its reason in the table", unavailable_ids.len()),
        examples: unavailable_ids.into_iter().collect(),
    });
    let frame = DataFrame::new(
        n,
        vec![
            Column::new("geography_code".into(), rows.code),
            Column::new("geography_type".into(), rows.geo_type),
            Column::new("indicator_id".into(), rows.indicator),
            Column::new("value".into(), rows.value),
            Column::new("numerator".into(), rows.numerator),
            Column::new("denominator".into(), rows.denominator),
            Column::new("unit".into(), rows.unit),
            Column::new("source_table".into(), rows.source),
            Column::new("vintage".into(), rows.vintage),
            Column::new("status".into(), rows.status),
            Column::new("reason".into(), rows.reason),
        ],
    )?;
    Ok((
        frame,
        BuiltTable {
            name: spec.table.clone(),
            description: format!(
                "{} One row per area and indicator (long form). geography_type: lsoa21, ward24 (LSOAs by ONS best fit), lad24. \
                 status: ok, approximate (with the reason), or unavailable (one row per indicator and geography type with no code, and the reason). \
                 Counts are Census 2021 values, lightly perturbed by ONS for disclosure control, so sums agree with totals only approximately.",
                spec.description
            ),
            verification: Some(report),
            ..Default::default()
        },
    ))
}

fn la_check(
    c: &LaCheck,
    frame: &DataFrame,
    inputs: &HashMap<String, DataFrame>,
    lad22_of: &HashMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let name = |s: &str| format!("la_{}_{s}", c.table);
    let keys = Values::from_frame(frame, &c.key)?;
    let names = Values::from_frame(frame, &c.name)?;
    let list = &inputs[&c.list];
    let code_re = regex::Regex::new(&c.code_pattern)
        .map_err(|e| Error::schema(format!("`code_pattern`: {e}")))?;
    let list_re = regex::Regex::new(&c.list_code_pattern)
        .map_err(|e| Error::schema(format!("`list_code_pattern`: {e}")))?;
    let official: BTreeMap<String, String> = map_of(list, &c.list_code, &c.list_name)?
        .into_iter()
        .filter(|(k, _)| list_re.is_match(k))
        .collect();
    let codes: Vec<String> = (0..keys.len()).filter_map(|i| keys.text(i)).collect();

    let bad_tier: Vec<String> = codes
        .iter()
        .filter(|k| !code_re.is_match(k))
        .cloned()
        .collect();
    report.checks.push(Check {
        check: name("tier"),
        status: if bad_tier.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        },
        detail: if bad_tier.is_empty() {
            format!(
                "every code matches {} (no counties, regions or countries)",
                c.code_pattern
            )
        } else {
            format!(
                "{} rows are not lower-tier districts (county, region or country codes)",
                bad_tier.len()
            )
        },
        examples: bad_tier,
    });
    let ours: BTreeSet<&String> = codes.iter().collect();
    let missing: Vec<String> = official
        .keys()
        .filter(|k| !ours.contains(k))
        .map(|k| format!("{k} missing"))
        .collect();
    let extra: Vec<String> = codes
        .iter()
        .filter(|k| !official.contains_key(*k))
        .map(|k| format!("{k} not in `{}`", c.list))
        .collect();
    let ok = missing.is_empty() && extra.is_empty() && ours.len() == codes.len();
    report.checks.push(Check {
        check: name("vintage"),
        status: if ok { Status::Pass } else { Status::Fail },
        detail: format!(
            "{} rows, {} distinct codes; the vintage's list has {}",
            codes.len(),
            ours.len(),
            official.len()
        ),
        examples: extra.into_iter().chain(missing).take(10).collect(),
    });
    let wrong_names: Vec<String> = (0..keys.len())
        .filter_map(|i| {
            let (k, n) = (keys.text(i)?, names.text(i)?);
            let want = official.get(&k)?;
            let same = |a: &str, b: &str| crate::verify::same_name(a, b);
            let alias = c
                .name_aliases
                .iter()
                .any(|(x, y)| (same(&n, x) && same(want, y)) || (same(&n, y) && same(want, x)));
            (!same(&n, want) && !alias).then(|| format!("{k}: {n:?}, the list says {want:?}"))
        })
        .collect();
    report.checks.push(Check {
        check: name("names"),
        status: if wrong_names.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        },
        detail: format!("{} names differ from their codes' names", wrong_names.len()),
        examples: wrong_names,
    });
    if let Some(r) = &c.rollup {
        let Some(lsoa) = inputs.get(&r.lsoa_table) else {
            report.checks.push(Check {
                check: name("rollup"),
                status: Status::NotAvailable,
                detail: format!("`{}` is not in the catalog in use", r.lsoa_table),
                examples: Vec::new(),
            });
            return Ok(());
        };
        let (lk, lt) = (
            Values::from_frame(lsoa, &r.lsoa_key)?,
            Values::from_frame(lsoa, &r.lsoa_total)?,
        );
        let mut sums: HashMap<String, f64> = HashMap::new();
        for i in 0..lk.len() {
            if let (Some(k), Some(v)) = (lk.text(i), lt.number(i)) {
                if let Some(l) = lad22_of.get(&k) {
                    *sums.entry(l.clone()).or_default() += v;
                }
            }
        }
        let totals = Values::from_frame(frame, &r.total)?;
        let bad: Vec<String> = (0..keys.len())
            .filter_map(|i| {
                let (k, t) = (keys.text(i)?, totals.number(i)?);
                let s = sums.get(&k).copied().unwrap_or(0.0);
                ((s - t).abs() > r.tolerance * t.max(1.0))
                    .then(|| format!("{k}: table {t}, its LSOAs sum to {s}"))
            })
            .collect();
        report.checks.push(Check {
            check: name("rollup"),
            status: if bad.is_empty() { Status::Pass } else { Status::Fail },
            detail: format!(
                "LSOA totals of `{}` roll up to each district's `{}` within {}% (disclosure control); {} districts outside",
                r.lsoa_table,
                r.total,
                r.tolerance * 100.0,
                bad.len()
            ),
            examples: bad,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::median_age;

    #[test]
    fn median_age_interpolates_within_the_year() {
        // 10 people aged 0, 10 aged 1: half (10) is reached at the end of age 0.
        assert_eq!(median_age(&[10.0, 10.0]), Some(1.0));
        assert_eq!(median_age(&[0.0, 4.0, 4.0]), Some(2.0));
        assert_eq!(median_age(&[1.0, 2.0, 1.0]), Some(1.5));
        assert_eq!(median_age(&[0.0, 0.0]), None);
    }
}
