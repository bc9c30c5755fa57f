//! Verification of an index table's geography and internal consistency.
//!
//! Each check yields a [`Check`] in `verification.json`: `pass`, `fail`
//! (which stops the release, naming the table, the check and the first
//! offending rows), `warn` (a documented, explained difference such as a
//! publisher's hand-set band edges or tied ranks, every instance listed), or
//! `not_available` (the check cannot run for this table, with the reason).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::index::{quantile, IndexStage};
use crate::values::Values;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    NotAvailable,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// Offending rows (all of them for `warn`, the first ones for `fail`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TableReport {
    pub table: String,
    pub checks: Vec<Check>,
}

impl TableReport {
    fn push(
        &mut self,
        check: &str,
        status: Status,
        detail: impl Into<String>,
        examples: Vec<String>,
    ) {
        self.checks.push(Check {
            check: check.to_string(),
            status,
            detail: detail.into(),
            examples,
        });
    }
    fn pass(&mut self, check: &str, detail: impl Into<String>) {
        self.push(check, Status::Pass, detail, Vec::new());
    }
    fn fail(&mut self, check: &str, detail: impl Into<String>, mut examples: Vec<String>) {
        examples.truncate(10);
        self.push(check, Status::Fail, detail, examples);
    }
}

/// Runs every check of `spec.verify` (and the internal ones) on `frame`.
/// `missing` holds the output columns that have no source (skipped by the
/// rank and decile checks).
pub fn verify_index(
    spec: &IndexStage,
    frame: &DataFrame,
    inputs: &HashMap<String, DataFrame>,
    missing: &indexmap::IndexMap<String, String>,
) -> Result<TableReport> {
    let mut r = TableReport {
        table: spec.table.clone(),
        checks: Vec::new(),
    };
    let n = frame.height();
    let keys = Values::from_frame(frame, &spec.key)?;
    let codes: Vec<String> = (0..n).map(|i| keys.text(i).unwrap_or_default()).collect();

    // Row count.
    if n == spec.rows {
        r.pass("row_count", format!("{n} areas, as published"));
    } else {
        r.fail(
            "row_count",
            format!("{n} areas, expected {}", spec.rows),
            Vec::new(),
        );
    }

    // Codes: unique and of the nation's pattern.
    let mut seen = HashMap::new();
    let dups: Vec<String> = codes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| seen.insert(c.as_str(), i).map(|_| c.clone()))
        .collect();
    if dups.is_empty() {
        r.pass("codes_unique", format!("{n} distinct codes"));
    } else {
        r.fail(
            "codes_unique",
            format!("{} duplicated codes", dups.len()),
            dups,
        );
    }
    let re = regex::Regex::new(&spec.code_pattern).expect("validated by check");
    let bad: Vec<String> = codes.iter().filter(|c| !re.is_match(c)).cloned().collect();
    if bad.is_empty() {
        r.pass(
            "code_pattern",
            format!("every code matches {}", spec.code_pattern),
        );
    } else {
        r.fail(
            "code_pattern",
            format!("{} codes do not match {}", bad.len(), spec.code_pattern),
            bad,
        );
    }

    let v = &spec.verify;
    let la_codes = v
        .la_code
        .as_ref()
        .map(|c| Values::from_frame(frame, c))
        .transpose()?;
    let la_names = v
        .la_name
        .as_ref()
        .map(|c| Values::from_frame(frame, c))
        .transpose()?;
    let same_name = |a: &str, b: &str| {
        same_name(a, b)
            || v.la_name_aliases.iter().any(|(x, y)| {
                (same_name(a, x) && same_name(b, y)) || (same_name(a, y) && same_name(b, x))
            })
    };

    // Local authorities: lower tier only.
    if let (Some(pattern), Some(la)) = (&v.la_code_pattern, &la_codes) {
        let re = regex::Regex::new(pattern).expect("validated by check");
        let bad: Vec<String> = (0..n)
            .filter(|&i| !la.text(i).is_some_and(|c| re.is_match(&c)))
            .map(|i| format!("{} in {:?}", codes[i], la.text(i)))
            .collect();
        if bad.is_empty() {
            r.pass("la_tier", format!("every local authority code matches {pattern} (no counties, regions or countries)"));
        } else {
            r.fail(
                "la_tier",
                format!("{} areas have a local authority code outside {pattern} (a county, region or foreign code?)", bad.len()),
                bad,
            );
        }
    }

    // The official look-up of the vintage.
    if let Some(l) = &v.lookup {
        let table = &inputs[&l.table];
        let lk = Values::from_frame(table, &l.key)?;
        let lla = l
            .la_code
            .as_ref()
            .map(|c| Values::from_frame(table, c))
            .transpose()?;
        let lln = l
            .la_name
            .as_ref()
            .map(|c| Values::from_frame(table, c))
            .transpose()?;
        let mut lookup: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
        for i in 0..lk.len() {
            let Some(k) = lk.text(i) else { continue };
            if l.key_prefix.as_deref().is_some_and(|p| !k.starts_with(p)) {
                continue;
            }
            lookup.insert(
                k,
                (
                    lla.as_ref().and_then(|v| v.text(i)),
                    lln.as_ref().and_then(|v| v.text(i)),
                ),
            );
        }
        let ours: BTreeSet<&str> = codes.iter().map(String::as_str).collect();
        let not_in_lookup: Vec<String> = codes
            .iter()
            .filter(|c| !lookup.contains_key(*c))
            .cloned()
            .collect();
        let not_in_table: Vec<String> = lookup
            .keys()
            .filter(|k| !ours.contains(k.as_str()))
            .cloned()
            .collect();
        if not_in_lookup.is_empty() && not_in_table.is_empty() {
            r.pass(
                "lookup_coverage",
                format!("the table and `{}` hold the same {n} areas", l.table),
            );
        } else {
            let mut ex: Vec<String> = not_in_lookup
                .iter()
                .map(|c| format!("{c} not in `{}`", l.table))
                .collect();
            ex.extend(
                not_in_table
                    .iter()
                    .map(|c| format!("{c} in `{}` but not in the table", l.table)),
            );
            r.fail(
                "lookup_coverage",
                format!(
                    "{} areas are not in `{}` and {} of its areas are not in the table",
                    not_in_lookup.len(),
                    l.table,
                    not_in_table.len()
                ),
                ex,
            );
        }
        if let (Some(la), true) = (&la_codes, lla.is_some()) {
            let bad: Vec<String> = (0..n)
                .filter_map(|i| {
                    let want = lookup.get(&codes[i]).and_then(|(c, _)| c.clone())?;
                    let got = la.text(i);
                    (got.as_deref() != Some(want.as_str()))
                        .then(|| format!("{} in {:?}, `{}` says {want}", codes[i], got, l.table))
                })
                .collect();
            if bad.is_empty() {
                r.pass(
                    "lookup_la_code",
                    format!("every area's local authority agrees with `{}`", l.table),
                );
            } else {
                r.fail(
                    "lookup_la_code",
                    format!(
                        "{} areas are in a different local authority than `{}` says",
                        bad.len(),
                        l.table
                    ),
                    bad,
                );
            }
        }
        if let (Some(names), true) = (&la_names, lln.is_some()) {
            let bad: Vec<String> = (0..n)
                .filter_map(|i| {
                    let want = lookup.get(&codes[i]).and_then(|(_, nm)| nm.clone())?;
                    let got = names.text(i).unwrap_or_default();
                    (!same_name(&got, &want))
                        .then(|| format!("{}: {got:?}, `{}` says {want:?}", codes[i], l.table))
                })
                .collect();
            if bad.is_empty() {
                r.pass(
                    "lookup_la_name",
                    format!(
                        "every area's local authority name agrees with `{}`",
                        l.table
                    ),
                );
            } else {
                r.fail(
                    "lookup_la_name",
                    format!(
                        "{} areas name a different local authority than `{}`",
                        bad.len(),
                        l.table
                    ),
                    bad,
                );
            }
        }
    }

    // The vintage's list of local authorities.
    if let (Some(l), Some(la)) = (&v.la_list, &la_codes) {
        let table = &inputs[&l.table];
        let lc = Values::from_frame(table, &l.code)?;
        let ln = l
            .name
            .as_ref()
            .map(|c| Values::from_frame(table, c))
            .transpose()?;
        let mut list: BTreeMap<String, Option<String>> = BTreeMap::new();
        for i in 0..lc.len() {
            let Some(c) = lc.text(i) else { continue };
            if l.code_prefix.as_deref().is_some_and(|p| !c.starts_with(p)) {
                continue;
            }
            list.insert(c, ln.as_ref().and_then(|v| v.text(i)));
        }
        let ours: BTreeSet<String> = (0..n).filter_map(|i| la.text(i)).collect();
        let missing: Vec<String> = list
            .keys()
            .filter(|c| !ours.contains(*c))
            .map(|c| format!("{c} has no area in the table"))
            .collect();
        let extra: Vec<String> = ours
            .iter()
            .filter(|c| !list.contains_key(*c))
            .map(|c| format!("{c} is not in `{}`", l.table))
            .collect();
        if missing.is_empty() && extra.is_empty() {
            r.pass(
                "la_set",
                format!(
                    "the {} local authorities are exactly those of `{}`",
                    ours.len(),
                    l.table
                ),
            );
        } else {
            r.fail(
                "la_set",
                format!(
                    "{} local authorities of `{}` are missing and {} are not in it",
                    missing.len(),
                    l.table,
                    extra.len()
                ),
                extra.into_iter().chain(missing).collect(),
            );
        }
        if let (Some(names), true) = (&la_names, ln.is_some()) {
            let mut bad = BTreeSet::new();
            for i in 0..n {
                let (Some(c), Some(got)) = (la.text(i), names.text(i)) else {
                    continue;
                };
                if let Some(Some(want)) = list.get(&c) {
                    if !same_name(&got, want) {
                        bad.insert(format!("{c}: {got:?}, `{}` says {want:?}", l.table));
                    }
                }
            }
            if bad.is_empty() {
                r.pass("la_names", "local authority names match their codes");
            } else {
                r.fail(
                    "la_names",
                    format!(
                        "{} local authority names do not match their codes",
                        bad.len()
                    ),
                    bad.into_iter().collect(),
                );
            }
        }
    }

    // Ranks: a permutation of 1..N, or the ties listed.
    for m in &spec.measures {
        let col = format!("{m}_rank");
        if missing.contains_key(&col) {
            continue;
        }
        let ranks = Values::from_frame(frame, &col)?;
        let out_of_range: Vec<String> = (0..n)
            .filter(|&i| !ranks.number(i).is_some_and(|x| x >= 1.0 && x <= n as f64))
            .map(|i| format!("{}: {:?}", codes[i], ranks.number(i)))
            .collect();
        if !out_of_range.is_empty() {
            r.fail(
                &format!("ranks_{m}"),
                format!("{} ranks are empty or outside 1..{n}", out_of_range.len()),
                out_of_range,
            );
            continue;
        }
        let mut by_rank: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (i, code) in codes.iter().enumerate() {
            by_rank
                .entry(ranks.text(i).unwrap_or_default())
                .or_default()
                .push(code);
        }
        let ties: Vec<String> = by_rank
            .iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(rank, c)| format!("rank {rank}: {}", c.join(", ")))
            .collect();
        if ties.is_empty() {
            r.pass(&format!("ranks_{m}"), format!("a permutation of 1..{n}"));
        } else {
            r.push(
                &format!("ranks_{m}"),
                Status::Warn,
                format!(
                    "{} tied ranks, as published (tied areas share a rank)",
                    ties.len()
                ),
                ties,
            );
        }
    }

    // Published deciles agree with ranks: bands never decrease as rank grows.
    for m in &spec.measures {
        let (dcol, rcol) = (format!("{m}_decile"), format!("{m}_rank"));
        if missing.contains_key(&dcol) || missing.contains_key(&rcol) {
            continue;
        }
        let (d, rk) = (
            Values::from_frame(frame, &dcol)?,
            Values::from_frame(frame, &rcol)?,
        );
        if let Some(bad) = non_monotone(&rk, &d, &codes) {
            r.fail(
                &format!("deciles_{m}"),
                format!("`{dcol}` does not follow `{rcol}`"),
                bad,
            );
        } else {
            r.pass(
                &format!("deciles_{m}"),
                format!("`{dcol}` rises with `{rcol}`"),
            );
        }
        // The published decile against ceil(rank * 10 / N): every
        // disagreement listed (the IMD's is under `bands_imd_decile`).
        if m == "imd" && spec.published_bands.contains_key("imd_decile") {
            continue;
        }
        let diffs: Vec<String> = (0..n)
            .filter_map(|i| {
                let (rank, dec) = (rk.number(i)?, d.number(i)? as i64);
                let ours = quantile(rank, 10, n);
                (ours != dec).then(|| {
                    format!(
                        "{} (rank {rank}): published {dec}, ceil(rank*10/{n}) = {ours}",
                        codes[i]
                    )
                })
            })
            .collect();
        if !diffs.is_empty() {
            let reason = spec.band_note.clone().unwrap_or_else(|| {
                "the publisher's band edges differ from equal-count bands; the published decile is kept".into()
            });
            r.push(
                &format!("decile_bands_{m}"),
                Status::Warn,
                format!(
                    "{} areas' published `{dcol}` differs from ceil(rank*10/{n}): {reason}",
                    diffs.len()
                ),
                diffs,
            );
        }
    }

    // Computed quantiles against every published band of the overall index.
    let imd_rank = Values::from_frame(frame, "imd_rank")?;
    for (col, q) in &spec.published_bands {
        let published = Values::from_frame(frame, col)?;
        let mut diffs = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            let (Some(rank), Some(p)) = (imd_rank.number(i), published.number(i)) else {
                continue;
            };
            let ours = quantile(rank, *q, n);
            if ours != p as i64 {
                diffs.push(format!(
                    "{code} (rank {rank}): published {p}, ceil(rank*{q}/{n}) = {ours}"
                ));
            }
        }
        let check = format!("bands_{col}");
        if diffs.is_empty() {
            r.pass(
                &check,
                format!("`imd_quantile_{q}` equals the published `{col}` for every area"),
            );
        } else {
            let reason = spec.band_note.clone().unwrap_or_else(|| {
                "the publisher sets its band edges by hand; the published band is kept in the table".into()
            });
            r.push(
                &check,
                Status::Warn,
                format!("{} areas differ between `imd_quantile_{q}` and the published `{col}`: {reason}", diffs.len()),
                diffs,
            );
        }
    }

    for (check, reason) in &v.not_available {
        r.push(check, Status::NotAvailable, reason.clone(), Vec::new());
    }
    Ok(r)
}

/// Names compare equal ignoring case, white space and `&`/`and`.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.to_lowercase()
            .replace('&', " and ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    norm(a) == norm(b)
}

/// Rows where the band falls although the rank rises (sorted by rank).
fn non_monotone(rank: &Values, band: &Values, codes: &[String]) -> Option<Vec<String>> {
    let mut rows: Vec<(f64, i64, &str)> = (0..rank.len())
        .filter_map(|i| Some((rank.number(i)?, band.number(i)? as i64, codes[i].as_str())))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let bad: Vec<String> = rows
        .windows(2)
        .filter(|w| w[1].1 < w[0].1 && w[1].0 > w[0].0)
        .map(|w| {
            format!(
                "{} (rank {}, band {}) after {} (rank {}, band {})",
                w[1].2, w[1].0, w[1].1, w[0].2, w[0].0, w[0].1
            )
        })
        .take(10)
        .collect();
    (!bad.is_empty()).then_some(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_loosely() {
        assert!(same_name("Rhondda Cynon Taf", "Rhondda  cynon taf"));
        assert!(same_name("Brighton & Hove", "Brighton and Hove"));
        assert!(!same_name("Cardiff", "Newport"));
    }
}
