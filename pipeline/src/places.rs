//! Places Scores: themes of standardised indicators, from a declarative
//! taxonomy (`stages/places.toml`).
//!
//! For each geography (LAD 2024, ward 2024) every indicator is standardised
//! across areas (z-score), signed so that higher = more favourable by its
//! declared direction, and combined into theme scores (weighted means of the
//! available indicators) and an overall score (weighted mean of the themes).
//! Coverage is the share of the declared weight that was available; an area
//! missing an indicator is never given a filled-in value. Each indicator
//! records its Census 2011 equivalent and comparability, but no 2011 value is
//! ever used or presented as current.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::index::BuiltTable;
use crate::summary::rank_desc;
use crate::values::Values;

/// Parameters of a `places_scores` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlacesStage {
    pub description: String,
    /// The long-form indicators table (a `census_indicators` output).
    pub indicators_table: String,
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
    pub fn inputs(&self) -> Vec<String> {
        vec![self.indicators_table.clone()]
    }
    pub fn outputs(&self) -> Vec<String> {
        self.outputs.values().cloned().collect()
    }
    pub fn indicator_ids(&self) -> Vec<String> {
        self.themes
            .iter()
            .flat_map(|t| t.indicators.iter().map(|i| i.id.clone()))
            .collect()
    }
}

/// Runs a `places_scores` stage.
pub fn build_places(
    spec: &PlacesStage,
    inputs: &HashMap<String, DataFrame>,
) -> Result<Vec<(DataFrame, BuiltTable)>> {
    let t = &inputs[&spec.indicators_table];
    let (code, geo, ind, value, status, reason) = (
        Values::from_frame(t, "geography_code")?,
        Values::from_frame(t, "geography_type")?,
        Values::from_frame(t, "indicator_id")?,
        Values::from_frame(t, "value")?,
        Values::from_frame(t, "status")?,
        Values::from_frame(t, "reason")?,
    );
    let mut out = Vec::new();
    for (geo_type, table) in &spec.outputs {
        // indicator -> area -> value; and why an indicator is unavailable.
        let mut values: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        let mut unavailable: BTreeMap<String, String> = BTreeMap::new();
        let mut approximate: BTreeMap<String, String> = BTreeMap::new();
        for i in 0..code.len() {
            if geo.text(i).as_deref() != Some(geo_type.as_str()) {
                continue;
            }
            let id = ind.text(i).unwrap_or_default();
            match (status.text(i).as_deref(), code.text(i), value.number(i)) {
                (Some("unavailable"), _, _) => {
                    unavailable.insert(id, reason.text(i).unwrap_or_default());
                }
                (Some(s), Some(c), Some(v)) => {
                    if s == "approximate" {
                        approximate.insert(id.clone(), reason.text(i).unwrap_or_default());
                    }
                    values.entry(id).or_default().insert(c, v);
                }
                _ => {}
            }
        }
        let mut areas: Vec<String> = values.values().flat_map(|m| m.keys().cloned()).collect();
        areas.sort();
        areas.dedup();
        let n = areas.len();
        let pos: HashMap<&str, usize> = areas
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();

        let mut cols: Vec<Column> = vec![Column::new(
            format!("{geo_type}_code").into(),
            areas.clone(),
        )];
        let mut theme_scores: Vec<(f64, Vec<Option<f64>>)> = Vec::new();
        let mut coverage_num = vec![0.0; n];
        let mut coverage_den = 0.0;
        let mut flags: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut notes = Vec::new();
        for theme in &spec.themes {
            let mut sum = vec![0.0; n];
            let mut wsum = vec![0.0; n];
            for ti in &theme.indicators {
                let z = standardise(values.get(&ti.id), &pos, n, ti.direction);
                let scored = ti.direction != Direction::Descriptive;
                if scored {
                    coverage_den += theme.weight * ti.weight;
                }
                for a in 0..n {
                    match z[a] {
                        Some(v) if scored => {
                            sum[a] += ti.weight * v;
                            wsum[a] += ti.weight;
                            coverage_num[a] += theme.weight * ti.weight;
                        }
                        None if scored => flags[a].push(format!("{} unavailable", ti.id)),
                        _ => {}
                    }
                }
                if let Some(r) = unavailable.get(&ti.id) {
                    notes.push(format!("`{}` is unavailable at {geo_type}: {r}", ti.id));
                }
                if let Some(r) = approximate.get(&ti.id) {
                    notes.push(format!("`{}` is approximate: {r}", ti.id));
                }
                if ti.census_2011.comparability == Comparability::NotComparable {
                    notes.push(format!(
                        "`{}`: its Census 2011 equivalent ({}) is not comparable; only the 2021 value is used",
                        ti.id, ti.census_2011.table
                    ));
                }
                cols.push(Column::new(format!("z_{}", ti.id).into(), z));
            }
            let score: Vec<Option<f64>> = (0..n)
                .map(|a| (wsum[a] > 0.0).then(|| sum[a] / wsum[a]))
                .collect();
            cols.push(Column::new(
                format!("theme_{}_score", theme.id).into(),
                score.clone(),
            ));
            cols.push(Column::new(
                format!("theme_{}_rank", theme.id).into(),
                rank_desc(&score),
            ));
            theme_scores.push((theme.weight, score));
        }
        let overall: Vec<Option<f64>> = (0..n)
            .map(|a| {
                let (s, w) = theme_scores
                    .iter()
                    .filter_map(|(w, sc)| sc[a].map(|v| (w * v, *w)))
                    .fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
                (w > 0.0).then(|| s / w)
            })
            .collect();
        cols.push(Column::new("overall_score".into(), overall.clone()));
        cols.push(Column::new("overall_rank".into(), rank_desc(&overall)));
        cols.push(Column::new(
            "coverage".into(),
            coverage_num
                .iter()
                .map(|c| {
                    if coverage_den > 0.0 {
                        c / coverage_den
                    } else {
                        0.0
                    }
                })
                .collect::<Vec<f64>>(),
        ));
        cols.push(Column::new(
            "flags".into(),
            flags
                .into_iter()
                .map(|f| (!f.is_empty()).then(|| f.join("; ")))
                .collect::<Vec<Option<String>>>(),
        ));
        notes.sort();
        notes.dedup();
        let frame = DataFrame::new(n, cols)?;
        out.push((
            frame,
            BuiltTable {
                name: table.clone(),
                description: format!(
                    "{} Areas: {geo_type}. z_<indicator>: the Census 2021 indicator standardised across areas ((x - mean) / sd), signed so that higher = more favourable \
                     (descriptive indicators keep their natural sign and are not scored). Theme score: weighted mean of the theme's available scored indicators; \
                     overall score: weighted mean of the theme scores; ranks: 1 = highest score (most favourable). coverage: share of the declared weight available for the area; \
                     flags: indicators missing for the area. No Census 2011 value is used or presented as current.",
                    spec.description
                ),
                notes,
                ..Default::default()
            },
        ));
    }
    Ok(out)
}

/// z-scores of an indicator over the areas (None where an area has none).
fn standardise(
    values: Option<&BTreeMap<String, f64>>,
    pos: &HashMap<&str, usize>,
    n: usize,
    dir: Direction,
) -> Vec<Option<f64>> {
    let mut z = vec![None; n];
    let Some(values) = values else { return z };
    let xs: Vec<f64> = values.values().copied().filter(|v| v.is_finite()).collect();
    if xs.len() < 2 {
        return z;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt();
    if sd == 0.0 {
        return z;
    }
    let sign = if dir == Direction::LowerIsBetter {
        -1.0
    } else {
        1.0
    };
    for (area, v) in values {
        if let Some(&i) = pos.get(area.as_str()) {
            z[i] = Some(sign * (v - mean) / sd);
        }
    }
    z
}
