//! Summary measures for larger areas, by MHCLG's method (IoD technical
//! report; File 10 of each edition).
//!
//! For each area (local authority or ward) of small areas with national
//! rank `r` (1 = most deprived, N areas in the nation) and population `w`:
//! - average score: `sum(w * score) / sum(w)`;
//! - average rank: `sum(w * (N + 1 - r)) / sum(w)` (higher = more deprived);
//! - proportion of its small areas in the most deprived 10% nationally;
//! - extent: `sum(w * e(p)) / sum(w)`, with `p = ceil(r * 100 / N)` and
//!   `e = 1` for p <= 10, `0.95 - (p - 11) * 0.90 / 19` for 11 <= p <= 30, else 0;
//! - local concentration: the population-weighted mean inverted rank of the
//!   area's most deprived small areas holding exactly 10% of its population
//!   (the last one counted only for the population still needed);
//! - income / employment scale: the numbers of income- and employment-deprived
//!   people (`sum(rate * population)`).
//!
//! Each measure is then ranked across areas, 1 = most deprived, ties sharing
//! the lowest rank (as File 10 does for zero extent).
//!
//! These reproduce IoD2019 File 10 to its published rounding (Hartlepool:
//! average rank 22,581.98, extent 0.4973, local concentration 32,560.44).

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::index::BuiltTable;
use crate::values::Values;
use crate::verify::{Check, Status, TableReport};

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
    /// Set when these are not the edition's own denominators: the reason,
    /// published, and every weighted measure is flagged approximate.
    #[serde(default)]
    pub approximate: Option<String>,
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

impl AreaSummaryStage {
    pub fn inputs(&self) -> Vec<String> {
        let mut t = vec![self.index.clone()];
        t.extend(self.group.table.clone());
        t.extend(self.population.table.clone());
        t.extend(self.compare.as_ref().map(|c| c.table.clone()));
        t.sort();
        t.dedup();
        t
    }
}

/// One small area as the summary sees it.
#[derive(Debug, Clone)]
pub struct SmallArea {
    pub code: String,
    pub area: String,
    pub rank: f64,
    pub score: Option<f64>,
    pub population: f64,
    pub income_rate: Option<f64>,
    pub employment_rate: Option<f64>,
    pub working_age: Option<f64>,
}

/// The summary measures of one area.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub area: String,
    pub lsoa_count: usize,
    pub population: f64,
    pub average_score: Option<f64>,
    pub average_rank: f64,
    pub proportion_most_deprived_10pc: f64,
    pub extent: f64,
    pub local_concentration: f64,
    pub income_scale: Option<f64>,
    pub employment_scale: Option<f64>,
}

/// The extent weight of a small area at national percentile `p`.
pub fn extent_weight(p: i64) -> f64 {
    match p {
        ..=10 => 1.0,
        11..=30 => 0.95 - (p - 11) as f64 * 0.90 / 19.0,
        _ => 0.0,
    }
}

/// Summarises small areas by area. `n` is the number of small areas in the
/// nation (percentiles are national).
pub fn summarise(areas: &[SmallArea], n: usize) -> Vec<Summary> {
    let mut by_area: BTreeMap<&str, Vec<&SmallArea>> = BTreeMap::new();
    for a in areas {
        by_area.entry(&a.area).or_default().push(a);
    }
    let nf = n as f64;
    by_area
        .into_iter()
        .map(|(area, mut members)| {
            let pop: f64 = members.iter().map(|a| a.population).sum();
            let inv = |a: &SmallArea| nf + 1.0 - a.rank;
            let wmean = |f: &dyn Fn(&SmallArea) -> f64| {
                members.iter().map(|a| a.population * f(a)).sum::<f64>() / pop
            };
            let average_score = members
                .iter()
                .map(|a| a.score.map(|s| s * a.population))
                .sum::<Option<f64>>()
                .map(|s| s / pop);
            let average_rank = wmean(&|a| inv(a));
            let in_top_decile = members
                .iter()
                .filter(|a| (a.rank * 10.0 / nf).ceil() <= 1.0)
                .count();
            let extent = wmean(&|a| extent_weight((a.rank * 100.0 / nf).ceil() as i64));
            members.sort_by(|a, b| a.rank.total_cmp(&b.rank));
            let need = 0.1 * pop;
            let (mut acc, mut total) = (0.0, 0.0);
            for a in &members {
                let take = a.population.min(need - acc);
                if take <= 0.0 {
                    break;
                }
                total += take * inv(a);
                acc += take;
            }
            let local_concentration = if acc > 0.0 { total / acc } else { f64::NAN };
            let income_scale = members
                .iter()
                .map(|a| a.income_rate.map(|r| r * a.population))
                .sum::<Option<f64>>();
            let employment_scale = members
                .iter()
                .map(|a| Some(a.employment_rate? * a.working_age?))
                .sum::<Option<f64>>();
            Summary {
                area: area.to_string(),
                lsoa_count: members.len(),
                population: pop,
                average_score,
                average_rank,
                proportion_most_deprived_10pc: in_top_decile as f64 / members.len() as f64,
                extent,
                local_concentration,
                income_scale,
                employment_scale,
            }
        })
        .collect()
}

/// Ranks values so that the largest gets rank 1; ties share the lowest rank.
pub fn rank_desc(values: &[Option<f64>]) -> Vec<Option<i64>> {
    values
        .iter()
        .map(|v| v.map(|x| 1 + values.iter().filter(|o| o.is_some_and(|y| y > x)).count() as i64))
        .collect()
}

/// Runs an `area_summary` stage.
pub fn build_summary(
    spec: &AreaSummaryStage,
    inputs: &HashMap<String, DataFrame>,
    input_missing: &HashMap<String, IndexMap<String, String>>,
) -> Result<(DataFrame, BuiltTable)> {
    let err = |m: String| {
        Error::new(ErrorKind::Verification(format!(
            "table `{}`: {m}",
            spec.table
        )))
    };
    let index = &inputs[&spec.index];
    let codes = Values::from_frame(index, &spec.key)?;
    let n = codes.len();
    let rank = Values::from_frame(index, "imd_rank")?;
    let idx_missing = input_missing.get(&spec.index).cloned().unwrap_or_default();
    let score = if idx_missing.contains_key("imd_score") {
        None
    } else {
        Some(Values::from_frame(index, "imd_score")?)
    };
    let rate = |c: &Option<String>| -> Result<Option<Values>> {
        match c {
            Some(c) if !idx_missing.contains_key(c) => Values::from_frame(index, c).map(Some),
            _ => Ok(None),
        }
    };
    let (income, employment) = (rate(&spec.income_rate)?, rate(&spec.employment_rate)?);

    // Group assignment and population, by small-area code.
    let lookup = |table: &Option<String>,
                  key: &Option<String>,
                  col: &str|
     -> Result<HashMap<String, Values>> {
        let frame = &inputs[table.as_ref().unwrap_or(&spec.index)];
        let k = Values::from_frame(frame, key.as_deref().unwrap_or(&spec.key))?;
        let v = Values::from_frame(frame, col)?;
        let mut m: HashMap<String, Values> = HashMap::new();
        for i in 0..k.len() {
            if let Some(code) = k.text(i) {
                m.insert(code, v.gather(&[Some(i)]));
            }
        }
        Ok(m)
    };
    let group_code = lookup(&spec.group.table, &spec.group.key, &spec.group.code)?;
    let group_name = spec
        .group
        .name
        .as_ref()
        .map(|c| lookup(&spec.group.table, &spec.group.key, c))
        .transpose()?;
    let pops = lookup(
        &spec.population.table,
        &spec.population.key,
        &spec.population.column,
    )?;
    let working = spec
        .population
        .working_age
        .as_ref()
        .map(|c| lookup(&spec.population.table, &spec.population.key, c))
        .transpose()?;

    let mut areas = Vec::with_capacity(n);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let (mut unassigned, mut no_population) = (Vec::new(), Vec::new());
    for i in 0..n {
        let code = codes.text(i).unwrap_or_default();
        let Some(area) = group_code.get(&code).and_then(|v| v.text(0)) else {
            unassigned.push(code);
            continue;
        };
        let Some(population) = pops.get(&code).and_then(|v| v.number(0)) else {
            no_population.push(code);
            continue;
        };
        if let Some(nm) = group_name
            .as_ref()
            .and_then(|m| m.get(&code))
            .and_then(|v| v.text(0))
        {
            names.entry(area.clone()).or_insert(nm);
        }
        areas.push(SmallArea {
            code: code.clone(),
            area,
            rank: rank
                .number(i)
                .ok_or_else(|| err(format!("{code} has no imd_rank")))?,
            score: score.as_ref().and_then(|s| s.number(i)),
            population,
            income_rate: income.as_ref().and_then(|s| s.number(i)),
            employment_rate: employment.as_ref().and_then(|s| s.number(i)),
            working_age: working
                .as_ref()
                .and_then(|m| m.get(&code))
                .and_then(|v| v.number(0)),
        });
    }
    if !unassigned.is_empty() {
        return Err(err(format!(
            "{} small areas have no {} in the assignment (first: {:?})",
            unassigned.len(),
            spec.area_type,
            &unassigned[..unassigned.len().min(5)]
        )));
    }
    if !no_population.is_empty() {
        return Err(err(format!(
            "{} small areas have no population (first: {:?})",
            no_population.len(),
            &no_population[..no_population.len().min(5)]
        )));
    }
    let summaries = summarise(&areas, n);
    let mut report = TableReport {
        table: spec.table.clone(),
        checks: Vec::new(),
    };
    population_check(&areas, &summaries, &mut report);

    // Columns.
    let col_f = |f: &dyn Fn(&Summary) -> Option<f64>| summaries.iter().map(f).collect::<Vec<_>>();
    let mut cols: Vec<Column> = vec![Column::new(
        spec.group.output_code.as_str().into(),
        summaries.iter().map(|s| s.area.clone()).collect::<Vec<_>>(),
    )];
    if let Some(out) = &spec.group.output_name {
        cols.push(Column::new(
            out.as_str().into(),
            summaries
                .iter()
                .map(|s| names.get(&s.area).cloned())
                .collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new(
        "lsoa_count".into(),
        summaries
            .iter()
            .map(|s| s.lsoa_count as i64)
            .collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "population".into(),
        col_f(&|s| Some(s.population)),
    ));
    type Measure = fn(&Summary) -> Option<f64>;
    let measures: [(&str, Measure); 7] = [
        ("imd_average_score", |s| s.average_score),
        ("imd_average_rank", |s| Some(s.average_rank)),
        ("imd_proportion_most_deprived_10pc", |s| {
            Some(s.proportion_most_deprived_10pc)
        }),
        ("imd_extent", |s| Some(s.extent)),
        ("imd_local_concentration", |s| Some(s.local_concentration)),
        ("income_scale", |s| s.income_scale),
        ("employment_scale", |s| s.employment_scale),
    ];
    let mut missing = IndexMap::new();
    let mut computed = IndexMap::new();
    let mut produced: HashMap<String, Vec<Option<f64>>> = HashMap::new();
    for (name, f) in &measures {
        let values = col_f(f);
        let ranks = rank_desc(&values);
        let rank_name = format!("rank_of_{name}");
        if values.iter().all(Option::is_none) {
            let reason = match *name {
                "imd_average_score" => "the index has no IMD scores".to_string(),
                "income_scale" => match &spec.income_rate {
                    None => "the index publishes no income-deprivation rate (`income_rate` is not set)".to_string(),
                    Some(c) => format!("the index has no `{c}` values"),
                },
                _ => match (&spec.employment_rate, &spec.population.working_age) {
                    (None, _) => "the index publishes no employment-deprivation rate (`employment_rate` is not set)".to_string(),
                    (_, None) => "no working-age population is declared (`population.working_age`)".to_string(),
                    (Some(c), _) => format!("the index has no `{c}` values"),
                },
            };
            missing.insert(name.to_string(), reason.clone());
            missing.insert(rank_name.clone(), reason);
        } else if let Some(why) = &spec.population.approximate {
            if *name != "imd_proportion_most_deprived_10pc" {
                computed.insert(
                    name.to_string(),
                    format!("approximate: population-weighted with {why}"),
                );
            }
        }
        produced.insert(name.to_string(), values.clone());
        cols.push(Column::new((*name).into(), values));
        cols.push(Column::new(rank_name.as_str().into(), ranks));
    }
    let frame = DataFrame::new(summaries.len(), cols)?;

    // Against the published summaries, to their rounding.
    if let Some(c) = &spec.compare {
        compare_published(
            c,
            &frame,
            &spec.group.output_code,
            inputs,
            spec.population.approximate.as_deref(),
            &computed,
            &mut report,
        )?;
    }
    if let Some(first) = report.checks.iter().find(|c| c.status == Status::Fail) {
        return Err(err(format!(
            "check `{}`: {}; first offending rows: {}",
            first.check,
            first.detail,
            first.examples.join("; ")
        )));
    }
    let built = BuiltTable {
        name: spec.table.clone(),
        description: format!(
            "{} Summary measures by MHCLG's method (IoD technical report) for each {}: average score, average rank (of inverted ranks, so higher = more deprived), \
             proportion of LSOAs in the most deprived 10% nationally, extent, local concentration, income and employment scales; each ranked across areas with 1 = most deprived. \
             Compare within one nation and edition only.",
            spec.description, spec.area_type
        ),
        missing,
        computed,
        notes: spec.population.approximate.iter().map(|w| format!("Population weights: {w}")).collect(),
        verification: Some(report),
    };
    Ok((frame, built))
}

/// Every small area is in exactly one area, and each area's population is
/// the sum of its small areas' populations.
fn population_check(areas: &[SmallArea], summaries: &[Summary], report: &mut TableReport) {
    let mut sums: HashMap<&str, f64> = HashMap::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for a in areas {
        *sums.entry(&a.area).or_default() += a.population;
        *seen.entry(&a.code).or_default() += 1;
    }
    let twice: Vec<String> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(k, c)| format!("{k} counted {c} times"))
        .collect();
    let bad: Vec<String> = summaries
        .iter()
        .filter(|s| (sums.get(s.area.as_str()).copied().unwrap_or(0.0) - s.population).abs() > 1e-6)
        .map(|s| {
            format!(
                "{}: population {} but its LSOAs hold {}",
                s.area,
                s.population,
                sums.get(s.area.as_str()).copied().unwrap_or(0.0)
            )
        })
        .collect();
    if twice.is_empty() && bad.is_empty() {
        report.checks.push(Check {
            check: "population_adds_up".into(),
            status: Status::Pass,
            detail: "every LSOA is in exactly one area, and each area's population is the sum of its LSOAs'".into(),
            examples: Vec::new(),
        });
    } else {
        let mut ex: Vec<String> = twice.into_iter().chain(bad).collect();
        ex.sort();
        ex.truncate(10);
        report.checks.push(Check {
            check: "population_adds_up".into(),
            status: Status::Fail,
            detail: "areas' populations do not add up from their LSOAs".into(),
            examples: ex,
        });
    }
}

fn compare_published(
    c: &CompareSpec,
    ours: &DataFrame,
    our_key: &str,
    inputs: &HashMap<String, DataFrame>,
    approximate: Option<&str>,
    approximate_columns: &IndexMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let theirs = &inputs[&c.table];
    let tk = Values::from_frame(theirs, &c.key)?;
    let pos: HashMap<String, usize> = (0..tk.len())
        .filter_map(|i| Some((tk.text(i)?, i)))
        .collect();
    let ok = Values::from_frame(ours, our_key)?;
    let missing_areas: Vec<String> = (0..ok.len())
        .filter_map(|i| ok.text(i))
        .filter(|k| !pos.contains_key(k))
        .collect();
    let extra = tk.len().saturating_sub(ok.len() - missing_areas.len());
    if !missing_areas.is_empty() || extra > 0 {
        report.checks.push(Check {
            check: format!("published_{}_areas", c.table),
            status: Status::Fail,
            detail: format!(
                "{} areas are not in `{}`, and it has {extra} areas we do not",
                missing_areas.len(),
                c.table
            ),
            examples: missing_areas.into_iter().take(10).collect(),
        });
        return Ok(());
    }
    for (col, pubc) in &c.columns {
        // Approximate weights explain differences only in weighted measures.
        let approximate = approximate
            .filter(|_| approximate_columns.contains_key(col.trim_start_matches("rank_of_")));
        let mine = Values::from_frame(ours, col)?;
        let published = Values::from_frame(theirs, &pubc.published)?;
        let scale = 10f64.powi(pubc.decimals as i32);
        let (mut diffs, mut beyond) = (Vec::new(), Vec::new());
        for i in 0..ok.len() {
            let k = ok.text(i).unwrap_or_default();
            let (Some(a), Some(b)) = (mine.number(i), published.number(pos[&k])) else {
                continue;
            };
            let rounded = (a * scale).round() / scale;
            let d = (rounded - b).abs();
            if d > 0.5 / scale {
                let line = format!("{k}: ours {rounded}, published {b}");
                if d > pubc.tolerance && approximate.is_none() {
                    beyond.push(line.clone());
                }
                diffs.push(line);
            }
        }
        let check = format!("reproduces_{}_{}", c.table, col);
        let (status, detail) = if diffs.is_empty() {
            (
                Status::Pass,
                format!(
                    "`{col}` equals the published `{}` to {} decimals for every area",
                    pubc.published, pubc.decimals
                ),
            )
        } else if !beyond.is_empty() {
            diffs = beyond;
            (
                Status::Fail,
                format!(
                    "{} areas differ from the published `{}` by more than {} (the method or the inputs differ from the publisher's)",
                    diffs.len(),
                    pubc.published,
                    pubc.tolerance
                ),
            )
        } else {
            let why = match approximate {
                Some(w) => format!("expected: the population weights are {w}"),
                None => format!(
                    "within {}: {}",
                    pubc.tolerance,
                    c.note.as_deref().unwrap_or("no reason recorded")
                ),
            };
            (
                Status::Warn,
                format!(
                    "{} areas differ from the published `{}` ({why})",
                    diffs.len(),
                    pubc.published
                ),
            )
        };
        report.checks.push(Check {
            check,
            status,
            detail,
            examples: diffs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str, area: &str, rank: f64, population: f64) -> SmallArea {
        SmallArea {
            code: code.into(),
            area: area.into(),
            rank,
            score: Some(rank),
            population,
            income_rate: Some(0.1),
            employment_rate: None,
            working_age: None,
        }
    }

    #[test]
    fn extent_weights_follow_the_published_formula() {
        assert_eq!(extent_weight(1), 1.0);
        assert_eq!(extent_weight(10), 1.0);
        assert!((extent_weight(11) - 0.95).abs() < 1e-12);
        assert!((extent_weight(30) - 0.05).abs() < 1e-12);
        assert_eq!(extent_weight(31), 0.0);
    }

    #[test]
    fn local_concentration_counts_the_last_area_only_for_the_population_needed() {
        // 1,000 people: the 10% (100) are 60 in rank 1 and 40 of the 500 in rank 2.
        let a = [
            area("a", "X", 1.0, 60.0),
            area("b", "X", 2.0, 500.0),
            area("c", "X", 3.0, 440.0),
        ];
        let s = &summarise(&a, 10)[0];
        let expected = (60.0 * 10.0 + 40.0 * 9.0) / 100.0;
        assert!(
            (s.local_concentration - expected).abs() < 1e-9,
            "{}",
            s.local_concentration
        );
        assert_eq!(s.income_scale, Some(100.0));
        assert_eq!(s.employment_scale, None);
    }

    #[test]
    fn ranks_put_the_largest_first_and_ties_share_the_lowest_rank() {
        assert_eq!(
            rank_desc(&[Some(0.5), Some(0.0), Some(0.9), Some(0.0)]),
            vec![Some(2), Some(3), Some(1), Some(3)]
        );
    }

    #[test]
    fn an_area_whose_lsoas_do_not_add_up_is_caught() {
        let a = [
            area("a", "W1", 1.0, 100.0),
            area("b", "W1", 2.0, 200.0),
            area("a", "W2", 1.0, 100.0),
        ];
        let mut s = summarise(&a, 10);
        s[0].population = 250.0; // W1 reports 250, its LSOAs hold 300
        let mut r = TableReport::default();
        population_check(&a, &s, &mut r);
        assert_eq!(r.checks[0].status, Status::Fail);
        let all = r.checks[0].examples.join("\n");
        assert!(
            all.contains("W1: population 250 but its LSOAs hold 300"),
            "{all}"
        );
        assert!(all.contains("a counted 2 times"), "{all}");
    }
}
