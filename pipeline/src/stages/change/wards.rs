//! The comparison by ward: population-weighted mean rank percentiles of a
//! ward's comparable LSOAs in each edition, compared only when enough of
//! its population lives in comparable LSOAs.

use std::collections::BTreeMap;

use super::edition::{direction, Edition};
use super::lsoa21::Lsoa21Rows;
use super::{ChangeStage, CAVEAT};
use crate::contract::{Built, BuiltTable, Frames};
use crate::error::{Error, Result};
use crate::frame::TableBuilder;
use crate::hash::HashMap;

/// One ward's sums over its LSOAs.
#[derive(Default)]
struct Acc {
    name: String,
    lad: String,
    n: usize,
    n_comp: usize,
    pop: f64,
    pop_comp: f64,
    before: f64,
    after_comp: f64,
    after_all: f64,
}

#[derive(Default)]
struct WardRows {
    code: Vec<String>,
    name: Vec<String>,
    lad: Vec<String>,
    n: Vec<i64>,
    n_comp: Vec<i64>,
    pop: Vec<f64>,
    share: Vec<f64>,
    after_all: Vec<Option<f64>>,
    before: Vec<Option<f64>>,
    after_comp: Vec<Option<f64>>,
    direction: Vec<Option<String>>,
    comparable: Vec<bool>,
    reason: Vec<Option<String>>,
}

/// Sums every LSOA of the comparison into its ward. Every LSOA must have a
/// ward.
fn accumulate(
    spec: &ChangeStage,
    rows: &Lsoa21Rows,
    after: &Edition,
    inputs: &Frames<'_>,
) -> Result<BTreeMap<String, Acc>> {
    // Ordered by code: the ward sums add in this order, and a float sum in
    // hash order differs between runs in its last digit.
    let lsoa21_lookup: BTreeMap<String, usize> = rows
        .code
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((c.clone()?, i)))
        .collect();
    let wt = inputs.table(&spec.wards.table)?;
    let (wk, wc, wn, wl) = (
        wt.values(&spec.wards.key)?,
        wt.values(&spec.wards.code)?,
        wt.values(&spec.wards.name)?,
        wt.values(&spec.wards.lad_code)?,
    );
    let mut wards: BTreeMap<String, Acc> = BTreeMap::new();
    let mut ward_of: HashMap<String, String> = HashMap::default();
    for i in 0..wk.len() {
        if let (Some(k), Some(c)) = (wk.text(i), wc.text(i)) {
            if lsoa21_lookup.contains_key(&k) {
                ward_of.insert(k.clone(), c.clone());
                wards.entry(c).or_insert_with(|| Acc {
                    name: wn.text(i).unwrap_or_default(),
                    lad: wl.text(i).unwrap_or_default(),
                    ..Default::default()
                });
            }
        }
    }
    let mut unassigned = Vec::new();
    for (code, &i) in &lsoa21_lookup {
        let Some(a) = ward_of.get(code).and_then(|w| wards.get_mut(w)) else {
            unassigned.push(code.clone());
            continue;
        };
        let pop = after.population.get(code).copied().unwrap_or(0.0);
        a.n += 1;
        a.pop += pop;
        a.after_all += pop * rows.after_pct[i].unwrap_or(0.0);
        if rows.comparable[i] {
            a.n_comp += 1;
            a.pop_comp += pop;
            a.before += pop * rows.before_pct[i].unwrap_or(0.0);
            a.after_comp += pop * rows.after_pct[i].unwrap_or(0.0);
        }
    }
    if !unassigned.is_empty() {
        return Err(Error::check(
            &spec.ward_table,
            "every_lsoa_in_a_ward",
            format!(
                "{} LSOAs have no ward in `{}`",
                unassigned.len(),
                spec.wards.table
            ),
            unassigned.into_iter().take(5).collect(),
        ));
    }
    Ok(wards)
}

fn ward_rows(spec: &ChangeStage, wards: &BTreeMap<String, Acc>) -> WardRows {
    let mut w = WardRows::default();
    for (code, a) in wards {
        let share = if a.pop > 0.0 { a.pop_comp / a.pop } else { 0.0 };
        let (b, af) = if a.pop_comp > 0.0 {
            (Some(a.before / a.pop_comp), Some(a.after_comp / a.pop_comp))
        } else {
            (None, None)
        };
        let comparable = share >= spec.min_comparable_share && b.is_some();
        w.code.push(code.clone());
        w.name.push(a.name.clone());
        w.lad.push(a.lad.clone());
        w.n.push(a.n as i64);
        w.n_comp.push(a.n_comp as i64);
        w.pop.push(a.pop);
        w.share.push(share);
        w.after_all.push((a.pop > 0.0).then(|| a.after_all / a.pop));
        w.before.push(b);
        w.after_comp.push(af);
        w.direction.push(match (comparable, b, af) {
            (true, Some(b), Some(af)) => {
                Some(direction(b, af, spec.stable_within_points).to_string())
            }
            _ => None,
        });
        w.comparable.push(comparable);
        w.reason.push((!comparable).then(|| {
            format!(
                "only {:.0}% of the ward's population lives in comparable LSOAs (at least {:.0}% needed)",
                share * 100.0,
                spec.min_comparable_share * 100.0
            )
        }));
    }
    w
}

/// The ward table.
pub fn table(
    spec: &ChangeStage,
    rows: &Lsoa21Rows,
    after: &Edition,
    inputs: &Frames<'_>,
) -> Result<Built> {
    let w = ward_rows(spec, &accumulate(spec, rows, after, inputs)?);
    let nw = w.code.len();
    let (be, ae) = (&spec.before.edition, &spec.after.edition);
    let mut b = TableBuilder::new();
    b.push(&spec.wards.output_code, w.code)
        .push(&spec.wards.output_name, w.name)
        .push(&spec.wards.output_lad_code, w.lad)
        .push("lsoa_count", w.n)
        .push("comparable_lsoa_count", w.n_comp)
        .push("population", w.pop)
        .push("comparable_population_share", w.share)
        .push(&format!("imd_rank_percentile_{ae}_all_lsoas"), w.after_all)
        .push(&format!("imd_rank_percentile_{be}"), w.before)
        .push(&format!("imd_rank_percentile_{ae}"), w.after_comp)
        .push("direction", w.direction)
        .push("comparable", w.comparable)
        .push("not_comparable_reason", w.reason);
    let mut meta = BuiltTable::new(
        &spec.ward_table,
        format!(
            "{} {} IMD {be} and {ae} summarised on {} boundaries: population-weighted mean rank percentile of the ward's comparable LSOAs in each edition \
             (`imd_rank_percentile_{ae}_all_lsoas` uses every LSOA), the share of the population in comparable LSOAs, and the direction \
             (threshold {} points). A ward is compared only if at least {:.0}% of its population is in comparable LSOAs. {CAVEAT}",
            spec.description,
            spec.nation,
            spec.wards.output_code,
            spec.stable_within_points,
            spec.min_comparable_share * 100.0
        ),
    );
    meta.notes = spec.after.population.note.iter().cloned().collect();
    Ok(Built {
        table: b.finish(nw)?,
        meta,
    })
}
