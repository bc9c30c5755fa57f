//! Private outdoor space (gardens) by local authority, from ONS's 2020
//! address data, moved onto LAD 2024.

use std::collections::{BTreeMap, BTreeSet};

use super::indicators::census_reason;
use super::parts::{parts_of, value_of, Parts};
use super::rows::Rows;
use super::spec::Predecessors;
use super::{Geography, GreenSpace, Indicator, Method};
use crate::checks::{Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;
use crate::hash::HashMap;
use crate::units::Direction;

pub fn indicator(gs: &GreenSpace) -> Indicator {
    Indicator {
        id: "private_outdoor_space_share".into(),
        title: "Share of addresses with private outdoor space (garden)".into(),
        definition: "Not a Census 2021 indicator: ONS address data of April 2020 (Ordnance Survey AddressBase and MasterMap). Addresses with a private garden, terrace or patio over all residential addresses; lower means less private outdoor space.".into(),
        unit: "proportion".into(),
        source: "ONS access to gardens and public green space (2020)".into(),
        method: Method {
            numerator: vec![gs.numerator.clone()],
            denominator: vec![gs.denominator.clone()],
            ..Default::default()
        },
        direction: Direction::Neutral,
        lsoa: None,
        ltla: None,
    }
}

/// The vintage of the rows: LAD 2024, from the source's own.
pub fn vintage(gs: &GreenSpace) -> String {
    format!("LAD 2024 (from {})", gs.vintage)
}

/// The rows of indicator `ind` (made by [`indicator`]), whose vintage is
/// [`vintage`].
pub fn add<'a>(
    gs: &GreenSpace,
    ind: &'a Indicator,
    vintage: &'a str,
    inputs: &Frames<'_>,
    geo: &Geography,
    rows: &mut Rows<'a>,
    report: &mut TableReport,
) -> Result<()> {
    let Some(frame) = inputs.get(&gs.table) else {
        rows.unavailable(
            ind,
            &[("lad24", "LAD 2024")],
            &census_reason(inputs, &gs.table),
        );
        return Ok(());
    };
    let parts = parts_of(ind, &gs.table, frame, &gs.key)?;
    let successor = match &gs.predecessors {
        Some(p) => successors(p, inputs)?,
        None => HashMap::default(),
    };
    let mut lads: BTreeMap<String, (Parts, Vec<String>)> = BTreeMap::new();
    let mut unmatched = Vec::new();
    for (code, p) in &parts {
        if !(code.starts_with("E0") || code.starts_with("W06")) {
            continue; // Scotland and non-district rows: outside LAD 2024 E+W
        }
        let lad22 = successor.get(code).unwrap_or(code);
        match geo.lad24_of_lad22.get(lad22) {
            Some(to) => {
                let e = lads.entry(to.clone()).or_default();
                e.0.add(p);
                e.1.push(code.clone());
            }
            None => unmatched.push(code.clone()),
        }
    }
    for (code, (p, from)) in &lads {
        let reason = (from.len() > 1 || from[0] != *code)
            .then(|| format!("sum of the {} districts {}", gs.vintage, from.join(", ")));
        let moved = geo.lsoas_moved_into_or_out_of(code);
        if !moved.is_empty() {
            let why = format!(
                "this is the district's {} area: its boundary changed by LAD 2024 (LSOAs {} changed district)",
                gs.vintage,
                moved.join(", ")
            );
            let reason = [reason, Some(why)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            rows.push(super::rows::Row {
                code: Some(code.clone()),
                geo: "lad24",
                ind,
                v: value_of(ind, p),
                vintage,
                status: super::rows::IndicatorStatus::Approximate,
                reason: Some(reason),
            });
            continue;
        }
        rows.ok(code, "lad24", ind, value_of(ind, p), vintage, reason);
    }
    report.push(
        "green_space_districts",
        if unmatched.is_empty() { Status::Pass } else { Status::Warn },
        format!(
            "{} {} districts have no LAD 2024 successor, in the look-up or through the small areas they shared with one; their figures are not used",
            unmatched.len(),
            gs.vintage
        ),
        unmatched,
    );
    Ok(())
}

/// Districts abolished before LAD 2022 (Buckinghamshire's in 2020, the
/// Northamptonshire ones in 2021) -> their LAD 2022 successor, where every
/// small area of the old district lies in the same new one.
fn successors(p: &Predecessors, inputs: &Frames<'_>) -> Result<HashMap<String, String>> {
    let (Some(old), Some(new)) = (inputs.get(&p.old_table), inputs.get(&p.new_table)) else {
        return Ok(HashMap::default());
    };
    let old_of = super::parts::map_of(old, &p.old_key, &p.old_code)?;
    let (nk, nc) = (new.values(&p.new_key)?, new.values(&p.new_code)?);
    let mut to: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in 0..nk.len() {
        let (Some(k), Some(c)) = (nk.text(i), nc.text(i)) else {
            continue;
        };
        if let Some(o) = old_of.get(&k) {
            to.entry(o.clone()).or_default().insert(c);
        }
    }
    Ok(to
        .into_iter()
        .filter(|(o, n)| n.len() == 1 && !n.contains(o))
        .filter_map(|(o, n)| Some((o, n.into_iter().next()?)))
        .collect())
}
