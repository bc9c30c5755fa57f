//! The scores of one geography type: standardised indicators, theme and
//! overall scores, their ranks, coverage and flags.

use indexmap::IndexMap;
use std::collections::BTreeMap;

use super::{Comparability, Direction, PlacesStage, Theme};
use crate::contract::{Built, BuiltTable};
use crate::error::Result;
use crate::frame::{Table, TableBuilder, Values};
use crate::hash::HashMap;
use crate::stages::census::IndicatorStatus;
use crate::stages::summary::rank_desc;

/// The indicators table, as read.
pub struct Long {
    code: Values,
    geo: Values,
    ind: Values,
    value: Values,
    status: Values,
    reason: Values,
}

impl Long {
    pub fn read(t: &Table) -> Result<Long> {
        Ok(Long {
            code: t.values("geography_code")?,
            geo: t.values("geography_type")?,
            ind: t.values("indicator_id")?,
            value: t.values("value")?,
            status: t.values("status")?,
            reason: t.values("reason")?,
        })
    }
}

/// One geography type's indicator values, and why indicators are
/// unavailable or approximate.
#[derive(Default)]
struct Indicators {
    /// indicator -> area -> value.
    values: BTreeMap<String, BTreeMap<String, f64>>,
    unavailable: BTreeMap<String, String>,
    approximate: BTreeMap<String, String>,
}

/// Reads the areas' table and the flags' table alike (they share columns).
fn indicators_of(longs: &[Long], geo_type: &str) -> Indicators {
    let mut out = Indicators::default();
    for long in longs {
        add_indicators(long, geo_type, &mut out);
    }
    out
}

fn add_indicators(long: &Long, geo_type: &str, out: &mut Indicators) {
    for i in 0..long.code.len() {
        // Columns the stage writes as text (see `census::rows::COLUMNS`):
        // compared in place, as each of the 700,000 rows is read once per
        // geography type.
        if long.geo.str(i) != Some(geo_type) {
            continue;
        }
        let id = long.ind.text(i).unwrap_or_default();
        let status = long.status.str(i).and_then(IndicatorStatus::parse);
        match (status, long.code.text(i), long.value.number(i)) {
            (Some(IndicatorStatus::Unavailable), _, _) => {
                out.unavailable
                    .insert(id, long.reason.text(i).unwrap_or_default());
            }
            (Some(s), Some(c), Some(v)) => {
                if s == IndicatorStatus::Approximate {
                    out.approximate
                        .insert(id.clone(), long.reason.text(i).unwrap_or_default());
                }
                out.values.entry(id).or_default().insert(c, v);
            }
            _ => {}
        }
    }
}

/// What the themes add up to for every area.
struct Tally {
    theme_scores: Vec<(f64, Vec<Option<f64>>)>,
    coverage_num: Vec<f64>,
    coverage_den: f64,
    flags: Vec<Vec<String>>,
    notes: Vec<String>,
    /// Columns no area has a value in, and why: published as such.
    missing: IndexMap<String, String>,
}

/// Builds the table of one geography type.
pub fn build(spec: &PlacesStage, longs: &[Long], geo_type: &str, table: &str) -> Result<Built> {
    let data = indicators_of(longs, geo_type);
    let mut areas: Vec<String> = data
        .values
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect();
    areas.sort();
    areas.dedup();
    let n = areas.len();
    let pos: HashMap<&str, usize> = areas
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();
    let mut b = TableBuilder::new();
    b.push(&format!("{geo_type}_code"), areas.clone());
    let mut tally = Tally {
        theme_scores: Vec::new(),
        coverage_num: vec![0.0; n],
        coverage_den: 0.0,
        flags: vec![Vec::new(); n],
        notes: Vec::new(),
        missing: IndexMap::new(),
    };
    for theme in &spec.themes {
        add_theme(theme, &data, &pos, n, geo_type, &mut tally, &mut b);
    }
    overall(&mut tally, n, &mut b);
    let mut notes = tally.notes;
    notes.sort();
    notes.dedup();
    let mut meta = BuiltTable::new(
        table,
        format!(
            "{} Areas: {geo_type}. z_<indicator>: the Census 2021 indicator standardised across areas ((x - mean) / sd), signed so that higher = more favourable \
             (descriptive indicators keep their natural sign and are not scored). Theme score: weighted mean of the theme's available scored indicators; \
             overall score: weighted mean of the theme scores; ranks: 1 = highest score (most favourable). coverage: share of the declared weight available for the area; \
             flags: indicators missing for the area. No Census 2011 value is used or presented as current.",
            spec.description
        ),
    );
    meta.notes = notes;
    meta.missing = tally.missing;
    Ok(Built {
        table: b.finish(n)?,
        meta,
    })
}

/// One theme: its indicators' z-scores, and its score and rank.
fn add_theme(
    theme: &Theme,
    data: &Indicators,
    pos: &HashMap<&str, usize>,
    n: usize,
    geo_type: &str,
    tally: &mut Tally,
    b: &mut TableBuilder,
) {
    let mut sum = vec![0.0; n];
    let mut wsum = vec![0.0; n];
    for ti in &theme.indicators {
        let z = standardise(data.values.get(&ti.id), pos, n, ti.direction);
        let scored = ti.direction != Direction::Descriptive;
        if scored {
            tally.coverage_den += theme.weight * ti.weight;
        }
        for a in 0..n {
            match z[a] {
                Some(v) if scored => {
                    sum[a] += ti.weight * v;
                    wsum[a] += ti.weight;
                    tally.coverage_num[a] += theme.weight * ti.weight;
                }
                None if scored => tally.flags[a].push(format!("{} unavailable", ti.id)),
                _ => {}
            }
        }
        if let Some(r) = data.unavailable.get(&ti.id) {
            tally
                .notes
                .push(format!("`{}` is unavailable at {geo_type}: {r}", ti.id));
        }
        if let Some(r) = data.approximate.get(&ti.id) {
            tally.notes.push(format!("`{}` is approximate: {r}", ti.id));
        }
        if ti.census_2011.comparability == Comparability::NotComparable {
            tally.notes.push(format!(
                "`{}`: its Census 2011 equivalent ({}) is not comparable; only the 2021 value is used",
                ti.id, ti.census_2011.table
            ));
        }
        if z.iter().all(Option::is_none) {
            let why = data.unavailable.get(&ti.id).map_or_else(
                || format!("no {geo_type} has a value of `{}`", ti.id),
                |r| format!("`{}` is unavailable at {geo_type}: {r}", ti.id),
            );
            tally.missing.insert(format!("z_{}", ti.id), why);
        }
        b.push(&format!("z_{}", ti.id), z);
    }
    let score: Vec<Option<f64>> = (0..n)
        .map(|a| (wsum[a] > 0.0).then(|| sum[a] / wsum[a]))
        .collect();
    if score.iter().all(Option::is_none) {
        let why = format!(
            "no scored indicator of theme `{}` has a value at {geo_type}",
            theme.id
        );
        tally
            .missing
            .insert(format!("theme_{}_score", theme.id), why.clone());
        tally
            .missing
            .insert(format!("theme_{}_rank", theme.id), why);
    }
    b.push(&format!("theme_{}_score", theme.id), score.clone());
    b.push(&format!("theme_{}_rank", theme.id), rank_desc(&score));
    tally.theme_scores.push((theme.weight, score));
}

/// The overall score and rank, coverage and flags.
fn overall(tally: &mut Tally, n: usize, b: &mut TableBuilder) {
    let overall: Vec<Option<f64>> = (0..n)
        .map(|a| {
            let (s, w) = tally
                .theme_scores
                .iter()
                .filter_map(|(w, sc)| sc[a].map(|v| (w * v, *w)))
                .fold((0.0, 0.0), |acc, x| (acc.0 + x.0, acc.1 + x.1));
            (w > 0.0).then(|| s / w)
        })
        .collect();
    b.push("overall_score", overall.clone());
    b.push("overall_rank", rank_desc(&overall));
    let den = tally.coverage_den;
    b.push(
        "coverage",
        tally
            .coverage_num
            .iter()
            .map(|c| if den > 0.0 { c / den } else { 0.0 })
            .collect::<Vec<f64>>(),
    );
    b.push(
        "flags",
        std::mem::take(&mut tally.flags)
            .into_iter()
            .map(|f| (!f.is_empty()).then(|| f.join("; ")))
            .collect::<Vec<Option<String>>>(),
    );
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
