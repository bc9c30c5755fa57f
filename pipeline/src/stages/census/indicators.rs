//! The declared indicators, at LSOA 2021, ward 2024 (from LSOAs, ONS best
//! fit) and LAD 2024 (from the census local authority tables where there
//! are some, aggregating the districts merged in April 2023; else from
//! LSOAs). An indicator whose table is not in the build gets one
//! `unavailable` row per geography type, with the reason.

use std::collections::BTreeMap;

use super::parts::{parts_of, value_of, Parts};
use super::rows::{IndicatorStatus, Row, Rows};
use super::{CensusStage, Geography, Indicator};
use crate::contract::Frames;
use crate::error::Result;

/// Every declared indicator's rows; returns each LSOA's population (the
/// numerator of the indicator the density is based on).
pub fn add_all<'a>(
    spec: &'a CensusStage,
    inputs: &Frames<'_>,
    geo: &Geography,
    rows: &mut Rows<'a>,
) -> Result<BTreeMap<String, f64>> {
    let mut lsoa_population = BTreeMap::new();
    for ind in &spec.indicators {
        let population_of = spec
            .areas
            .as_ref()
            .is_some_and(|a| a.population_indicator == ind.id);
        let lsoa_table = ind.lsoa.as_ref().and_then(|t| inputs.get(t));
        let ltla_table = ind.ltla.as_ref().and_then(|t| inputs.get(t));
        let mut lsoa_lads = None;
        match (&ind.lsoa, lsoa_table) {
            (Some(name), Some(table)) => {
                let key = if table.has("lsoa21_code") {
                    "lsoa21_code"
                } else {
                    "geography_code"
                };
                let parts = parts_of(ind, name, table, key)?;
                if population_of {
                    for (code, p) in &parts {
                        lsoa_population.insert(code.clone(), p.num);
                    }
                }
                lsoa_lads = Some(from_lsoas(ind, &parts, geo, ltla_table.is_none(), rows));
            }
            (Some(t), None) => rows.unavailable(
                ind,
                &[("lsoa21", "LSOA 2021"), ("ward24", "WD24")],
                &format!("LSOA table unavailable: {}", census_reason(inputs, t)),
            ),
            (None, _) => rows.unavailable(
                ind,
                &[("lsoa21", "LSOA 2021"), ("ward24", "WD24")],
                &format!(
                    "{} is not published at LSOA level in the catalog",
                    ind.source
                ),
            ),
        }
        let lsoa_sums = lsoa_lads.as_ref().map(|lads| LsoaSums {
            lads,
            tolerance: spec.lad_tolerance,
        });
        from_ltla(ind, inputs, geo, lsoa_sums, rows)?;
    }
    Ok(lsoa_population)
}

/// Why a table is not in the build, as the Census table words it.
pub fn census_reason(inputs: &Frames<'_>, t: &str) -> String {
    inputs
        .unavailable
        .get(t)
        .cloned()
        .unwrap_or_else(|| format!("table `{t}` is not in the catalog in use"))
}

/// LSOA rows, ward rows (summed from LSOAs) and, when no local authority
/// table is available, LAD 2024 rows summed from LSOAs. Returns the LAD
/// 2024 sums either way, to reconcile with the local authority table.
fn from_lsoas<'a>(
    ind: &'a Indicator,
    parts: &BTreeMap<String, Parts>,
    geo: &Geography,
    lads_too: bool,
    rows: &mut Rows<'a>,
) -> BTreeMap<String, Parts> {
    let mut wards: BTreeMap<String, Parts> = BTreeMap::new();
    for (code, p) in parts {
        rows.ok(code, "lsoa21", ind, value_of(ind, p), "LSOA 2021", None);
        if let Some(w) = geo.ward_of.get(code) {
            wards.entry(w.clone()).or_default().add(p);
        }
    }
    for (code, p) in &wards {
        rows.ok(
            code,
            "ward24",
            ind,
            value_of(ind, p),
            "WD24 (from LSOA 2021, best fit)",
            None,
        );
    }
    let mut lads: BTreeMap<String, Parts> = BTreeMap::new();
    for (code, p) in parts {
        if let Some(l) = geo.lad_of.get(code) {
            lads.entry(l.clone()).or_default().add(p);
        }
    }
    if !lads_too {
        return lads;
    }
    for (code, p) in &lads {
        rows.ok(
            code,
            "lad24",
            ind,
            value_of(ind, p),
            "LAD 2024 (from LSOA 2021)",
            None,
        );
    }
    lads
}

/// An indicator's LSOA figures summed by LAD 2024, and how far the local
/// authority table may differ from them before a row says why.
#[derive(Clone, Copy)]
struct LsoaSums<'a> {
    lads: &'a BTreeMap<String, Parts>,
    tolerance: f64,
}

/// LAD 2024 rows from the census local authority table (LAD 2021/22),
/// aggregating merged districts; or the reason there are none. Where the
/// LSOA table is in the build too, a district whose figure differs from
/// the sum of its LSOAs by more than the tolerance is `approximate`, with
/// the difference and its cause.
fn from_ltla<'a>(
    ind: &'a Indicator,
    inputs: &Frames<'_>,
    geo: &Geography,
    lsoa_sums: Option<LsoaSums<'_>>,
    rows: &mut Rows<'a>,
) -> Result<()> {
    let have_lsoa = lsoa_sums.is_some();
    let table = ind.ltla.as_ref().and_then(|t| inputs.get(t));
    match (&ind.ltla, table) {
        (Some(name), Some(table)) => {
            let parts = parts_of(ind, name, table, "geography_code")?;
            let lads = geo.to_lad24(&parts);
            for (code, (p, from)) in &lads {
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
                let off = match lsoa_sums {
                    Some(s) => disagreement(code, p, s, geo),
                    // Nothing to reconcile with: say so where the
                    // district's boundary moved.
                    None => boundary_moved(code, geo),
                };
                let status = match off {
                    Some(_) => IndicatorStatus::Approximate,
                    None => IndicatorStatus::Ok,
                };
                let reason = [reason, off].into_iter().flatten().collect::<Vec<_>>();
                rows.push(Row {
                    code: Some(code.clone()),
                    geo: "lad24",
                    ind,
                    v: value_of(ind, p),
                    vintage,
                    status,
                    reason: (!reason.is_empty()).then(|| reason.join("; ")),
                });
            }
        }
        (Some(t), None) if !have_lsoa => rows.unavailable(
            ind,
            &[("lad24", "LAD 2024")],
            &format!(
                "local authority table unavailable: {}",
                census_reason(inputs, t)
            ),
        ),
        (None, _) if !have_lsoa => rows.unavailable(
            ind,
            &[("lad24", "LAD 2024")],
            &format!("{} is not in the catalog at any geography", ind.source),
        ),
        _ => {}
    }
    Ok(())
}

/// Why a district's local authority figure differs from the sum of its
/// LSOAs by more than the tolerance, if it does.
fn disagreement(code: &str, p: &Parts, sums: LsoaSums<'_>, geo: &Geography) -> Option<String> {
    let s = sums.lads.get(code)?;
    // The base (denominator) of a share, or the count itself: a share's
    // small numerator is perturbed by disclosure control by more than the
    // tolerance without anything being wrong.
    let (what, ours, theirs) = if p.den > 0.0 {
        ("denominator", p.den, s.den)
    } else {
        ("count", p.num, s.num)
    };
    let d = if theirs > 0.0 {
        (ours / theirs - 1.0).abs()
    } else {
        0.0
    };
    if d <= sums.tolerance {
        return None;
    }
    let moved = geo.lsoas_moved_into_or_out_of(code);
    let cause = if moved.is_empty() {
        "beyond the difference disclosure control explains".to_string()
    } else {
        format!(
            "the district's boundary changed between LAD 2022 and LAD 2024 (LSOAs {} changed district)",
            moved.join(", ")
        )
    };
    Some(format!(
        "the local authority table (LAD 2022 areas) differs from the sum of the district's LSOAs (LAD 2024 areas) by {:.1}% in the {what}: {cause}",
        d * 100.0
    ))
}

/// For a figure of the LAD 2022 area that no LSOA table can check: why it
/// is approximate, if the district's boundary changed by LAD 2024.
fn boundary_moved(code: &str, geo: &Geography) -> Option<String> {
    let moved = geo.lsoas_moved_into_or_out_of(code);
    (!moved.is_empty()).then(|| {
        format!(
            "this is the district's LAD 2022 area: its boundary changed by LAD 2024 (LSOAs {} changed district)",
            moved.join(", ")
        )
    })
}
