//! Population density from LSOA areas, approximate where the boundaries
//! are generalised, summed to wards and local authorities.

use std::collections::{BTreeMap, HashMap};

use geo::GeodesicArea;

use super::indicators::census_reason;
use super::parts::Parts;
use super::rows::{IndicatorStatus, Row, Rows};
use super::{AreaLayer, Geography, Indicator, Method};
use crate::contract::Frames;
use crate::error::Result;

/// The density indicator as it appears in the table.
fn indicator(a: &AreaLayer) -> Indicator {
    Indicator {
        id: "population_density".into(),
        title: "Usual residents per square kilometre".into(),
        unit: "persons per km2".into(),
        source: format!("{} / area of {}", a.population_indicator, a.table),
        method: Method {
            numerator: vec!["population".into()],
            denominator: vec!["area".into()],
            ..Default::default()
        },
        lsoa: None,
        ltla: None,
    }
}

/// The area of a GeoJSON geometry in km², if it has one.
fn area_km2(text: &str) -> Option<f64> {
    text.parse::<geojson::Geometry>()
        .ok()
        .and_then(|g| geo::Geometry::<f64>::try_from(g).ok())
        .map(|g| g.geodesic_area_unsigned() / 1e6)
        .filter(|a| *a > 0.0)
}

pub fn add(
    a: &AreaLayer,
    inputs: &Frames<'_>,
    geo: &Geography,
    lsoa_population: &HashMap<String, f64>,
    rows: &mut Rows,
) -> Result<()> {
    let density = indicator(a);
    let frame = match inputs.get(&a.table) {
        Some(f) if !lsoa_population.is_empty() => f,
        _ => {
            rows.unavailable(
                &density,
                &[("lsoa21", ""), ("ward24", ""), ("lad24", "")],
                &format!(
                    "no LSOA areas or population: {}",
                    census_reason(inputs, &a.table)
                ),
            );
            return Ok(());
        }
    };
    let (k, g) = (frame.values(&a.key)?, frame.values(&a.geometry)?);
    let why = "area from the generalised (BSC) LSOA boundaries, so approximate";
    let approximate = |code: String, geo_type, vintage, p: &Parts| Row {
        code: Some(code),
        geo: geo_type,
        ind: &density,
        v: (Some(p.num / p.den), Some(p.num), Some(p.den)),
        vintage,
        status: IndicatorStatus::Approximate,
        reason: Some(why.into()),
    };
    let mut wards: BTreeMap<String, Parts> = BTreeMap::new();
    let mut lads: BTreeMap<String, Parts> = BTreeMap::new();
    for i in 0..k.len() {
        let (Some(code), Some(text)) = (k.text(i), g.text(i)) else {
            continue;
        };
        let Some(pop) = lsoa_population.get(&code) else {
            continue;
        };
        let Some(area) = area_km2(&text) else {
            continue;
        };
        let p = Parts {
            num: *pop,
            den: area,
            ages: Vec::new(),
        };
        if let Some(w) = geo.ward_of.get(&code) {
            wards.entry(w.clone()).or_default().add(&p);
        }
        if let Some(l) = geo.lad_of.get(&code) {
            lads.entry(l.clone()).or_default().add(&p);
        }
        rows.push(approximate(code, "lsoa21", "LSOA 2021", &p));
    }
    for (geo_type, vintage, m) in [
        ("ward24", "WD24 (from LSOA 2021)", wards),
        ("lad24", "LAD 2024 (from LSOA 2021)", lads),
    ] {
        for (code, p) in m {
            rows.push(approximate(code, geo_type, vintage, &p));
        }
    }
    Ok(())
}
