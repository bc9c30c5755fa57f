//! The declared indicators, at LSOA 2021, ward 2024 (from LSOAs, ONS best
//! fit) and LAD 2024 (from the census local authority tables where there
//! are some, aggregating the districts merged in April 2023; else from
//! LSOAs). An indicator whose table is not in the build gets one
//! `unavailable` row per geography type, with the reason.

use std::collections::{BTreeMap, HashMap};

use super::parts::{parts_of, value_of, Parts};
use super::rows::Rows;
use super::{CensusStage, Geography, Indicator};
use crate::contract::Frames;
use crate::error::Result;

/// Every declared indicator's rows; returns each LSOA's population (the
/// numerator of the indicator the density is based on).
pub fn add_all(
    spec: &CensusStage,
    inputs: &Frames<'_>,
    geo: &Geography,
    rows: &mut Rows,
) -> Result<HashMap<String, f64>> {
    let mut lsoa_population = HashMap::new();
    for ind in &spec.indicators {
        let population_of = spec
            .areas
            .as_ref()
            .is_some_and(|a| a.population_indicator == ind.id);
        let lsoa_table = ind.lsoa.as_ref().and_then(|t| inputs.get(t));
        let ltla_table = ind.ltla.as_ref().and_then(|t| inputs.get(t));
        match (&ind.lsoa, lsoa_table) {
            (Some(_), Some(table)) => {
                let key = if table.has("lsoa21_code") {
                    "lsoa21_code"
                } else {
                    "geography_code"
                };
                let parts = parts_of(ind, table, key)?;
                if population_of {
                    for (code, p) in &parts {
                        lsoa_population.insert(code.clone(), p.num);
                    }
                }
                from_lsoas(ind, &parts, geo, ltla_table.is_none(), rows);
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
        from_ltla(ind, inputs, geo, lsoa_table.is_some(), rows)?;
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
/// table is available, LAD 2024 rows summed from LSOAs.
fn from_lsoas(
    ind: &Indicator,
    parts: &BTreeMap<String, Parts>,
    geo: &Geography,
    lads_too: bool,
    rows: &mut Rows,
) {
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
    if !lads_too {
        return;
    }
    let mut lads: BTreeMap<String, Parts> = BTreeMap::new();
    for (code, p) in parts {
        if let Some(l) = geo.lad_of.get(code) {
            lads.entry(l.clone()).or_default().add(p);
        }
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
}

/// LAD 2024 rows from the census local authority table (LAD 2021/22),
/// aggregating merged districts; or the reason there are none.
fn from_ltla(
    ind: &Indicator,
    inputs: &Frames<'_>,
    geo: &Geography,
    have_lsoa: bool,
    rows: &mut Rows,
) -> Result<()> {
    let table = ind.ltla.as_ref().and_then(|t| inputs.get(t));
    match (&ind.ltla, table) {
        (Some(_), Some(table)) => {
            let parts = parts_of(ind, table, "geography_code")?;
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
                rows.ok(code, "lad24", ind, value_of(ind, p), vintage, reason);
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
