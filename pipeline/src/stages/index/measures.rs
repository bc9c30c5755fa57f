//! Phase 2 of an index: every measure's score, rank and decile (provided,
//! computed from the rank, or declared missing), and the IMD quantiles.

use indexmap::IndexMap;

use super::assemble::Assembled;
use super::{IndexStage, QUANTILES};
use crate::error::{Error, Result};
use crate::frame::{Table, TableBuilder, Values};

/// `ceil(rank * q / n)` for each rank (ties with a .5 rank fall in the band
/// of their mean rank).
pub fn quantile_values(rank: &Values, q: u32, n: usize) -> Vec<Option<i64>> {
    (0..rank.len())
        .map(|i| rank.number(i).map(|r| quantile(r, q, n)))
        .collect()
}

pub fn quantile(rank: f64, q: u32, n: usize) -> i64 {
    ((rank * q as f64) / n as f64).ceil().max(1.0) as i64
}

/// The laid-out table, its missing and computed columns (with reasons), and
/// its number of areas.
pub type LaidOut = (
    Table,
    IndexMap<String, String>,
    IndexMap<String, String>,
    usize,
);

pub fn lay_out(spec: &IndexStage, a: Assembled) -> Result<LaidOut> {
    let Assembled {
        mut columns,
        n,
        mut missing,
    } = a;
    let computed = deciles(spec, &mut columns, &mut missing, n);
    fill_missing(&mut columns, &missing, n);
    quantiles(spec, &mut columns, n)?;
    let mut b = TableBuilder::new();
    for name in spec.output_columns() {
        let v = columns.shift_remove(&name).ok_or_else(|| {
            Error::table(format!(
                "table `{}`: column `{name}` was not produced",
                spec.table
            ))
        })?;
        b.push(&name, v);
    }
    Ok((b.finish(n)?, missing, computed, n))
}

/// Deciles not published are computed from the rank (and recorded), or
/// declared missing when the rank is missing too.
fn deciles(
    spec: &IndexStage,
    columns: &mut IndexMap<String, Values>,
    missing: &mut IndexMap<String, String>,
    n: usize,
) -> IndexMap<String, String> {
    let mut computed = IndexMap::new();
    for m in &spec.measures {
        let decile = format!("{m}_decile");
        let rank_missing = missing.get(&format!("{m}_rank")).cloned();
        if let (false, Some(reason)) = (
            columns.contains_key(&decile) || missing.contains_key(&decile),
            rank_missing,
        ) {
            missing.insert(
                decile.clone(),
                format!("not published, and cannot be computed: {reason}"),
            );
        }
        if !columns.contains_key(&decile) && !missing.contains_key(&decile) {
            if let Some(rank) = columns.get(&format!("{m}_rank")).cloned() {
                let values = quantile_values(&rank, 10, n);
                columns.insert(decile.clone(), Values::Int(values));
                computed.insert(
                    decile,
                    format!("no published decile among this stage's inputs: computed from `{m}_rank` as ceil(rank * 10 / {n}), which may differ at band edges from a publisher's own bands"),
                );
            }
        }
    }
    computed
}

/// Nulls for declared-missing columns, typed like their siblings: scores
/// and ranks are floats (ranks can be tied means such as 4563.5); bands are
/// integers.
fn fill_missing(
    columns: &mut IndexMap<String, Values>,
    missing: &IndexMap<String, String>,
    n: usize,
) {
    for col in missing.keys() {
        if !columns.contains_key(col) {
            let v = if col.ends_with("_decile") || col.contains("_quantile_") {
                Values::Int(vec![None; n])
            } else {
                Values::Float(vec![None; n])
            };
            columns.insert(col.clone(), v);
        }
    }
}

/// Quantiles of the overall index, from its rank within the nation.
fn quantiles(spec: &IndexStage, columns: &mut IndexMap<String, Values>, n: usize) -> Result<()> {
    let imd_rank = columns
        .get("imd_rank")
        .cloned()
        .ok_or_else(|| Error::table(format!("table `{}` has no `imd_rank`", spec.table)))?;
    if imd_rank.null_count() > 0 {
        return Err(Error::check(
            &spec.table,
            "imd_rank_complete",
            format!("`imd_rank` is empty for {} areas", imd_rank.null_count()),
            Vec::new(),
        ));
    }
    for q in QUANTILES {
        columns.insert(
            format!("imd_quantile_{q}"),
            Values::Int(quantile_values(&imd_rank, q, n)),
        );
    }
    Ok(())
}
