//! Private outdoor space (gardens) by local authority, from ONS's 2020
//! address data, moved onto LAD 2024.

use std::collections::BTreeMap;

use super::indicators::census_reason;
use super::parts::{parts_of, value_of, Parts};
use super::rows::Rows;
use super::{Geography, GreenSpace, Indicator, Method};
use crate::checks::{Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;

fn indicator(gs: &GreenSpace) -> Indicator {
    Indicator {
        id: "private_outdoor_space_share".into(),
        title: "Share of addresses with private outdoor space (garden)".into(),
        unit: "proportion".into(),
        source: "ONS access to gardens and public green space (2020)".into(),
        method: Method {
            numerator: vec![gs.numerator.clone()],
            denominator: vec![gs.denominator.clone()],
            ..Default::default()
        },
        lsoa: None,
        ltla: None,
    }
}

pub fn add(
    gs: &GreenSpace,
    inputs: &Frames<'_>,
    geo: &Geography,
    rows: &mut Rows,
    report: &mut TableReport,
) -> Result<()> {
    let ind = indicator(gs);
    let Some(frame) = inputs.get(&gs.table) else {
        rows.unavailable(
            &ind,
            &[("lad24", "LAD 2024")],
            &census_reason(inputs, &gs.table),
        );
        return Ok(());
    };
    let parts = parts_of(&ind, frame, &gs.key)?;
    let mut lads: BTreeMap<String, (Parts, Vec<String>)> = BTreeMap::new();
    let mut unmatched = Vec::new();
    for (code, p) in &parts {
        if !(code.starts_with("E0") || code.starts_with("W06")) {
            continue; // Scotland and non-district rows: outside LAD 2024 E+W
        }
        match geo.lad24_of_lad22.get(code) {
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
        rows.ok(
            code,
            "lad24",
            &ind,
            value_of(&ind, p),
            &format!("LAD 2024 (from {})", gs.vintage),
            reason,
        );
    }
    report.push(
        "green_space_districts",
        if unmatched.is_empty() { Status::Pass } else { Status::Warn },
        format!(
            "{} {} districts have no LAD 2024 successor in the look-up (abolished before 2022); their figures are not used",
            unmatched.len(),
            gs.vintage
        ),
        unmatched,
    );
    Ok(())
}
