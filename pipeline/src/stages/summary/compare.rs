//! Checks of a summary: its populations add up, and it reproduces the
//! publisher's own summaries (File 10) where the catalog has them.

use indexmap::IndexMap;

use super::method::{SmallArea, Summary};
use super::CompareSpec;
use crate::checks::{Check, Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;
use crate::frame::Table;
use crate::hash::HashMap;

/// Every small area is in exactly one area, and each area's population is
/// the sum of its small areas' populations.
pub fn population_check(areas: &[SmallArea], summaries: &[Summary], report: &mut TableReport) {
    let mut sums: HashMap<&str, f64> = HashMap::default();
    let mut seen: HashMap<&str, usize> = HashMap::default();
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

pub fn compare_published(
    c: &CompareSpec,
    ours: &Table,
    our_key: &str,
    inputs: &Frames<'_>,
    approximate: Option<&str>,
    approximate_columns: &IndexMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let theirs = inputs.table(&c.table)?;
    let tk = theirs.values(&c.key)?;
    let pos: HashMap<String, usize> = (0..tk.len())
        .filter_map(|i| Some((tk.text(i)?, i)))
        .collect();
    let ok = ours.values(our_key)?;
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
        let mine = ours.values(col)?;
        let published = theirs.values(&pubc.published)?;
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

/// Each area's measures are possible given its small areas: an average
/// (inverted) rank and a local concentration between the smallest and
/// largest inverted rank of its small areas, an average score between their
/// scores, and income and employment scales at most its population.
pub fn measures_plausible(
    areas: &[SmallArea],
    summaries: &[Summary],
    n: usize,
    report: &mut TableReport,
) {
    let mut bounds: HashMap<&str, Bounds> = HashMap::default();
    for a in areas {
        let inv = n as f64 + 1.0 - a.rank;
        let b = bounds.entry(a.area.as_str()).or_insert(Bounds::EMPTY);
        b.rank = (b.rank.0.min(inv), b.rank.1.max(inv));
        if let Some(s) = a.score {
            b.score = (b.score.0.min(s), b.score.1.max(s));
        }
    }
    let eps = 1e-6;
    let within = |x: f64, (lo, hi): (f64, f64)| x >= lo - eps && x <= hi + eps;
    let mut bad = Vec::new();
    for s in summaries {
        let Some(b) = bounds.get(s.area.as_str()) else {
            continue;
        };
        if !within(s.average_rank, b.rank) {
            bad.push(format!(
                "{}: average rank {} outside its LSOAs' inverted ranks {:?}",
                s.area, s.average_rank, b.rank
            ));
        }
        if !within(s.local_concentration, b.rank) {
            bad.push(format!(
                "{}: local concentration {} outside its LSOAs' inverted ranks {:?}",
                s.area, s.local_concentration, b.rank
            ));
        }
        if let Some(x) = s.average_score.filter(|x| !within(*x, b.score)) {
            bad.push(format!(
                "{}: average score {x} outside its LSOAs' scores {:?}",
                s.area, b.score
            ));
        }
        for (what, scale) in [
            ("income", s.income_scale),
            ("employment", s.employment_scale),
        ] {
            if let Some(x) = scale.filter(|x| *x > s.population + eps) {
                bad.push(format!(
                    "{}: {what} scale {x} exceeds its population {}",
                    s.area, s.population
                ));
            }
        }
    }
    let detail = if bad.is_empty() {
        "every average rank and local concentration lies within its LSOAs' inverted ranks, every average score within their scores, every scale at most its population".to_string()
    } else {
        format!("{} measures are impossible for their areas' small areas (a scale above the population: a percentage read as a rate?)", bad.len())
    };
    report.pass_if(
        "measures_possible",
        bad.is_empty(),
        detail,
        bad.into_iter().take(10).collect(),
    );
}

/// The range of one area's inverted ranks and scores.
struct Bounds {
    rank: (f64, f64),
    score: (f64, f64),
}

impl Bounds {
    const EMPTY: Bounds = Bounds {
        rank: (f64::INFINITY, f64::NEG_INFINITY),
        score: (f64::INFINITY, f64::NEG_INFINITY),
    };
}
