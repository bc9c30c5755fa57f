//! The comparison by LSOA 2021: the earlier edition carried onto each LSOA
//! 2021 through its parents, and compared by rank percentile.

use std::collections::{BTreeMap, BTreeSet};

use super::edition::{decile_of, direction, Edition, Links};
use super::{ChangeStage, CAVEAT};
use crate::checks::{Status, TableReport};
use crate::contract::{Built, BuiltTable};
use crate::error::{Error, Result};
use crate::frame::TableBuilder;

/// How one LSOA 2021 compares with the earlier edition.
struct Comparison {
    before_pct: Option<f64>,
    before_decile: Option<i64>,
    change: String,
    method: String,
    /// Why it is not comparable, if it is not.
    reason: Option<String>,
}

impl Comparison {
    fn not_compared(change: &str, method: &str, reason: String) -> Comparison {
        Comparison {
            before_pct: None,
            before_decile: None,
            change: change.into(),
            method: method.into(),
            reason: Some(reason),
        }
    }
}

/// The rows of the LSOA 2021 table, column by column.
#[derive(Default)]
pub struct Lsoa21Rows {
    pub code: Vec<Option<String>>,
    pub lsoa11: Vec<Option<String>>,
    pub change: Vec<Option<String>>,
    pub method: Vec<Option<String>>,
    pub before_pct: Vec<Option<f64>>,
    pub before_decile: Vec<Option<i64>>,
    pub after_pct: Vec<Option<f64>>,
    pub after_decile: Vec<Option<i64>>,
    pub direction: Vec<Option<String>>,
    pub comparable: Vec<bool>,
    pub reason: Vec<Option<String>>,
}

/// Compares one LSOA 2021 through its parents.
fn compare(spec: &ChangeStage, before: &Edition, ps: &[(String, String)]) -> Comparison {
    let kinds: BTreeSet<&str> = ps.iter().map(|(_, c)| c.as_str()).collect();
    if ps.is_empty() {
        return Comparison::not_compared(
            "none",
            "no LSOA 2011 in the look-up",
            "no LSOA 2011 matches this LSOA 2021 in the exact look-up".into(),
        );
    }
    if kinds.contains("X") {
        return Comparison::not_compared(
            "X",
            "not compared",
            "irregular boundary change (CHGIND X): not comparable".into(),
        );
    }
    if let Some(missing) = ps.iter().find(|(p, _)| !before.rank.contains_key(p)) {
        return Comparison::not_compared(
            kinds.iter().next().unwrap_or(&"?"),
            "not compared",
            format!(
                "parent LSOA 2011 {} has no {} value",
                missing.0, spec.before.edition
            ),
        );
    }
    if ps.len() == 1 {
        let (p, k) = &ps[0];
        let method = if k == "S" {
            "split: inherits its parent's value"
        } else {
            "unchanged: compared directly"
        };
        return Comparison {
            before_pct: before.percentile(p),
            before_decile: before.decile.get(p).copied(),
            change: k.clone(),
            method: method.into(),
            reason: None,
        };
    }
    // Merged: population-weighted mean of the parents' percentiles.
    match before.weighted_percentile(ps.iter().map(|(p, _)| p)) {
        Some(pct) => Comparison {
            before_pct: Some(pct),
            before_decile: Some(decile_of(pct)),
            change: "M".into(),
            method: format!("merged: population-weighted mean of {} parents", ps.len()),
            reason: None,
        },
        None => Comparison::not_compared(
            "M",
            "not compared",
            "a merged parent has no population to weight by".into(),
        ),
    }
}

/// Every LSOA 2021 of the later edition, compared.
pub fn rows(
    spec: &ChangeStage,
    before: &Edition,
    after: &Edition,
    links: &Links,
) -> Result<Lsoa21Rows> {
    let mut rows = Lsoa21Rows::default();
    for code in after.codes() {
        let ps = links.parents.get(&code).cloned().unwrap_or_default();
        let c = compare(spec, before, &ps);
        let after_pct = after
            .percentile(&code)
            .ok_or_else(|| Error::table(format!("{code} of {} has no rank", spec.after.table)))?;
        rows.lsoa11.push(Some(
            ps.iter().map(|p| p.0.clone()).collect::<Vec<_>>().join(";"),
        ));
        rows.after_decile.push(after.decile.get(&code).copied());
        rows.code.push(Some(code));
        rows.change.push(Some(c.change));
        rows.method.push(Some(c.method));
        rows.before_pct.push(c.before_pct);
        rows.before_decile.push(c.before_decile);
        rows.after_pct.push(Some(after_pct));
        rows.direction.push(
            c.before_pct
                .map(|b| direction(b, after_pct, spec.stable_within_points).to_string()),
        );
        rows.comparable.push(c.reason.is_none());
        rows.reason.push(c.reason);
    }
    Ok(rows)
}

/// The checks of the LSOA 2021 table: every LSOA once, counts by change
/// type, and how many are not comparable.
pub fn report(spec: &ChangeStage, rows: &Lsoa21Rows, after: &Edition) -> Result<TableReport> {
    let n21 = rows.code.len();
    let mut report = TableReport::new(&spec.lsoa21_table);
    let unique: BTreeSet<&String> = rows.code.iter().flatten().collect();
    report.pass_if(
        "every_lsoa21_once",
        unique.len() == n21 && n21 == after.n,
        format!(
            "{n21} rows for the {} LSOAs of {} {}",
            after.n, spec.nation, spec.after.edition
        ),
        Vec::new(),
    );
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in rows.change.iter().flatten() {
        *counts.entry(c.clone()).or_default() += 1;
    }
    report.pass(
        "change_types",
        format!("LSOA 2021 areas by change type: {counts:?}"),
    );
    let not_comparable = rows.comparable.iter().filter(|c| !**c).count();
    let status = if not_comparable == 0 {
        Status::Pass
    } else {
        Status::Warn
    };
    report.push(
        "not_comparable",
        status,
        format!(
            "{not_comparable} of {n21} LSOAs are not comparable, each with its reason in the table"
        ),
        Vec::new(),
    );
    report.ok()?;
    Ok(report)
}

/// The LSOA 2021 table.
pub fn table(spec: &ChangeStage, rows: &Lsoa21Rows, report: TableReport) -> Result<Built> {
    let (be, ae) = (&spec.before.edition, &spec.after.edition);
    let mut b = TableBuilder::new();
    b.push("lsoa21_code", rows.code.clone())
        .push("lsoa11_codes", rows.lsoa11.clone())
        .push("change", rows.change.clone())
        .push("method", rows.method.clone())
        .push(
            &format!("imd_rank_percentile_{be}"),
            rows.before_pct.clone(),
        )
        .push(&format!("imd_decile_{be}"), rows.before_decile.clone())
        .push(&format!("imd_rank_percentile_{ae}"), rows.after_pct.clone())
        .push(&format!("imd_decile_{ae}"), rows.after_decile.clone())
        .push("direction", rows.direction.clone())
        .push("comparable", rows.comparable.clone())
        .push("not_comparable_reason", rows.reason.clone());
    let stable = spec.stable_within_points;
    let mut meta = BuiltTable::new(
        &spec.lsoa21_table,
        format!(
            "{} {} IMD {} carried onto LSOA 2021 by the ONS exact look-up (U compared directly, S inherits the parent's value, M population-weighted mean of the parents, X not comparable) \
             and compared with {} by rank percentile (100 * rank / N within the nation; near 0 = most deprived). `direction` is improved (up by {stable} points or more), \
             declined (down by {stable} or more) or broadly stable. {CAVEAT}",
            spec.description, spec.nation, spec.before.edition, spec.after.edition
        ),
    );
    meta.notes = [
        spec.before.population.note.clone(),
        spec.after.population.note.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    meta.verification = Some(report);
    Ok(Built {
        table: b.finish(rows.code.len())?,
        meta,
    })
}
