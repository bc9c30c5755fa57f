//! The geography checks of a census local authority table: lower tier
//! only, exactly the vintage's districts, names that match their codes,
//! and LSOA totals that roll up to each district's total.

use std::collections::{BTreeMap, BTreeSet};

use super::parts::map_of;
use super::LaCheck;
use crate::checks::{geography, same_name_or_alias, Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;
use crate::frame::Table;
use crate::hash::HashMap;

/// Runs every check of one local authority table.
pub fn check(
    c: &LaCheck,
    frame: &Table,
    inputs: &Frames<'_>,
    lad22_of: &HashMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let keys = frame.values(&c.key)?;
    let codes: Vec<String> = (0..keys.len()).filter_map(|i| keys.text(i)).collect();
    let official: BTreeMap<String, String> =
        map_of(inputs.table(&c.list)?, &c.list_code, &c.list_name)?
            .into_iter()
            .filter(|(k, _)| c.list_code_pattern.is_match(k))
            .collect();
    tier(c, &codes, report);
    vintage(c, &codes, &official, report);
    names(c, frame, &official, report)?;
    if let Some(r) = &c.rollup {
        rollup(c, r, frame, inputs, lad22_of, report)?;
    }
    Ok(())
}

fn name(c: &LaCheck, s: &str) -> String {
    format!("la_{}_{s}", c.table)
}

fn tier(c: &LaCheck, codes: &[String], report: &mut TableReport) {
    let all: Vec<Option<String>> = codes.iter().cloned().map(Some).collect();
    let bad: Vec<String> = geography::not_matching(&all, &c.code_pattern)
        .into_iter()
        .map(|i| codes[i].clone())
        .collect();
    let detail = if bad.is_empty() {
        format!(
            "every code matches {} (no counties, regions or countries)",
            c.code_pattern
        )
    } else {
        format!(
            "{} rows are not lower-tier districts (county, region or country codes)",
            bad.len()
        )
    };
    report.pass_if(&name(c, "tier"), bad.is_empty(), detail, bad);
}

fn vintage(
    c: &LaCheck,
    codes: &[String],
    official: &BTreeMap<String, String>,
    report: &mut TableReport,
) {
    let ours: BTreeSet<String> = codes.iter().cloned().collect();
    let diff = geography::compare_sets(&ours, official);
    // Extras in the table's order, as they appear.
    let extra: Vec<String> = codes
        .iter()
        .filter(|k| !official.contains_key(*k))
        .map(|k| format!("{k} not in `{}`", c.list))
        .collect();
    let missing: Vec<String> = diff
        .missing
        .iter()
        .map(|k| format!("{k} missing"))
        .collect();
    let ok = missing.is_empty() && extra.is_empty() && ours.len() == codes.len();
    report.pass_if(
        &name(c, "vintage"),
        ok,
        format!(
            "{} rows, {} distinct codes; the vintage's list has {}",
            codes.len(),
            ours.len(),
            official.len()
        ),
        extra.into_iter().chain(missing).take(10).collect(),
    );
}

fn names(
    c: &LaCheck,
    frame: &Table,
    official: &BTreeMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let keys = frame.values(&c.key)?;
    let names = frame.values(&c.name)?;
    let wrong: Vec<String> = (0..keys.len())
        .filter_map(|i| {
            let (k, n) = (keys.text(i)?, names.text(i)?);
            let want = official.get(&k)?;
            (!same_name_or_alias(&n, want, &c.name_aliases))
                .then(|| format!("{k}: {n:?}, the list says {want:?}"))
        })
        .collect();
    report.pass_if(
        &name(c, "names"),
        wrong.is_empty(),
        format!("{} names differ from their codes' names", wrong.len()),
        wrong,
    );
    Ok(())
}

fn rollup(
    c: &LaCheck,
    r: &super::Rollup,
    frame: &Table,
    inputs: &Frames<'_>,
    lad22_of: &HashMap<String, String>,
    report: &mut TableReport,
) -> Result<()> {
    let Some(lsoa) = inputs.get(&r.lsoa_table) else {
        report.push(
            &name(c, "rollup"),
            Status::NotAvailable,
            format!("`{}` is not in the catalog in use", r.lsoa_table),
            Vec::new(),
        );
        return Ok(());
    };
    let (lk, lt) = (lsoa.values(&r.lsoa_key)?, lsoa.values(&r.lsoa_total)?);
    let mut sums: HashMap<String, f64> = HashMap::default();
    for i in 0..lk.len() {
        if let (Some(k), Some(v)) = (lk.text(i), lt.number(i)) {
            if let Some(l) = lad22_of.get(&k) {
                *sums.entry(l.clone()).or_default() += v;
            }
        }
    }
    let keys = frame.values(&c.key)?;
    let totals = frame.values(&r.total)?;
    let bad: Vec<String> = (0..keys.len())
        .filter_map(|i| {
            let (k, t) = (keys.text(i)?, totals.number(i)?);
            let s = sums.get(&k).copied().unwrap_or(0.0);
            ((s - t).abs() > r.tolerance * t.max(1.0))
                .then(|| format!("{k}: table {t}, its LSOAs sum to {s}"))
        })
        .collect();
    report.pass_if(
        &name(c, "rollup"),
        bad.is_empty(),
        format!(
            "LSOA totals of `{}` roll up to each district's `{}` within {}% (disclosure control); {} districts outside",
            r.lsoa_table,
            r.total,
            r.tolerance * 100.0,
            bad.len()
        ),
        bad,
    );
    Ok(())
}
