//! Population density: LSOA populations over LSOA land areas, summed to
//! wards and local authorities.
//!
//! Areas come from the publisher's land-area measure when the build has it.
//! Otherwise they are measured here on boundary shapes; when those are
//! generalised, small areas shrink many times over (North Tyneside 012C is
//! 0.013 km² on the super-generalised shapes, 0.204 km² as ONS measures
//! it), so LSOA and ward densities are published as unavailable with the
//! reason and only local authority densities as approximate values.

use std::collections::BTreeMap;

use geo::GeodesicArea;

use super::indicators::census_reason;
use super::parts::Parts;
use super::rows::{IndicatorStatus, Row, Rows};
use super::spec::AreaReference;
use super::{AreaLayer, Geography, Indicator, Method};
use crate::checks::{Status, TableReport};
use crate::contract::Frames;
use crate::error::Result;
use crate::hash::HashMap;
use crate::units::Direction;

/// The density indicator as it appears in the table.
pub fn indicator(a: &AreaLayer) -> Indicator {
    Indicator {
        id: "population_density".into(),
        title: "Usual residents per square kilometre".into(),
        definition: "Census 2021 usual residents divided by area in km²: ONS's land area (the Standard Area Measurements, without inland water) where the build has it; otherwise the area inside generalised boundaries, which includes inland water (reservoirs, lakes), and each such row is flagged approximate. Higher is denser, not more deprived.".into(),
        unit: "persons per km2".into(),
        source: format!("{} / area of {}", a.population_indicator, a.tables().join(" or ")),
        method: Method {
            numerator: vec!["population".into()],
            denominator: vec!["area".into()],
            ..Default::default()
        },
        direction: Direction::Neutral,
        lsoa: None,
        ltla: None,
    }
}

/// LSOA areas in km² and how they were obtained.
struct Areas {
    km2: BTreeMap<String, f64>,
    table: String,
    /// Why these areas are not the publisher's, when they are not.
    generalised: Option<String>,
}

impl Areas {
    /// The publisher's measured areas if the build has them, else shapes
    /// measured here; `None` when neither table is in the build.
    fn load(a: &AreaLayer, inputs: &Frames<'_>) -> Result<Option<Areas>> {
        if let Some(m) = &a.measured {
            if let Some(f) = inputs.get(&m.table) {
                let (k, v) = (f.values(&m.key)?, f.values(&m.area_km2)?);
                let km2 = (0..k.len())
                    .filter_map(|i| Some((k.text(i)?, v.number(i).filter(|x| *x > 0.0)?)))
                    .collect();
                return Ok(Some(Areas {
                    km2,
                    table: m.table.clone(),
                    generalised: None,
                }));
            }
        }
        let Some(s) = &a.shapes else { return Ok(None) };
        let Some(f) = inputs.get(&s.table) else {
            return Ok(None);
        };
        let (k, g) = (f.values(&s.key)?, f.values(&s.geometry)?);
        let km2 = (0..k.len())
            .filter_map(|i| Some((k.text(i)?, area_km2(&g.text(i)?)?)))
            .collect();
        Ok(Some(Areas {
            km2,
            table: s.table.clone(),
            generalised: s.generalised.clone(),
        }))
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

/// The density rows of indicator `density` (made by [`indicator`]).
pub fn add<'a>(
    a: &AreaLayer,
    density: &'a Indicator,
    inputs: &Frames<'_>,
    geo: &Geography,
    lsoa_population: &BTreeMap<String, f64>,
    rows: &mut Rows<'a>,
    report: &mut TableReport,
) -> Result<()> {
    let all = [("lsoa21", ""), ("ward24", ""), ("lad24", "")];
    let areas = match Areas::load(a, inputs)? {
        Some(areas) if !lsoa_population.is_empty() => areas,
        Some(_) => {
            rows.unavailable(density, &all, "no LSOA populations in the build");
            return Ok(());
        }
        None => {
            let why: Vec<String> = a
                .tables()
                .iter()
                .map(|t| census_reason(inputs, t))
                .collect();
            rows.unavailable(density, &all, &format!("no LSOA areas: {}", why.join("; ")));
            return Ok(());
        }
    };
    let by_lad = match &a.reference {
        Some(r) => compare_with_reference(r, &areas, inputs, geo, report)?,
        None => BTreeMap::new(),
    };
    let (lsoas, wards, lads, gaps) = sum_up(&areas, lsoa_population, geo, report);
    let layers = [
        ("lsoa21", "LSOA 2021", lsoas),
        ("ward24", "WD24 (from LSOA 2021, best fit)", wards),
        ("lad24", "LAD 2024 (from LSOA 2021)", lads),
    ];
    for (geo_type, vintage, m) in layers {
        match (&areas.generalised, geo_type) {
            (Some(how), "lsoa21" | "ward24") => rows.unavailable(
                density,
                &[(geo_type, vintage)],
                &format!(
                    "only generalised LSOA boundaries are in the build ({how}); they shrink small areas many times over, so small-area densities are not published. Declare the publisher's land areas (`areas.measured`) to publish them"
                ),
            ),
            (generalised, _) => {
                if gaps > 0 {
                    rows.unavailable(
                        density,
                        &[(geo_type, vintage)],
                        &format!(
                            "{gaps} LSOAs lack an area in `{}` or a population: they, their wards and their districts have no density (listed in the verification report)",
                            areas.table
                        ),
                    );
                }
                for (code, p) in m {
                    let (status, reason) = match generalised {
                        Some(how) => (
                            IndicatorStatus::Approximate,
                            Some(approximate_because(how, by_lad.get(&code))),
                        ),
                        None => (IndicatorStatus::Ok, None),
                    };
                    rows.push(Row {
                        code: Some(code),
                        geo: geo_type,
                        ind: density,
                        v: (Some(p.num / p.den), Some(p.num), Some(p.den)),
                        vintage,
                        status,
                        reason,
                    });
                }
            }
        }
    }
    Ok(())
}

/// LSOA, ward and district parts (population, area). An LSOA with a
/// population but no area has no density, nor have its ward and district
/// (a partial sum would understate their area); they are listed in the
/// verification report.
type Layer = BTreeMap<String, Parts>;
fn sum_up(
    areas: &Areas,
    lsoa_population: &BTreeMap<String, f64>,
    geo: &Geography,
    report: &mut TableReport,
) -> (Layer, Layer, Layer, usize) {
    let (mut lsoas, mut wards, mut lads) = (Layer::new(), Layer::new(), Layer::new());
    let mut missing: Vec<&String> = Vec::new();
    // An area without a population: its ward and district sums would
    // cover part of their area.
    missing.extend(
        areas
            .km2
            .keys()
            .filter(|c| !lsoa_population.contains_key(*c)),
    );
    // In code order (a BTreeMap): float sums must not depend on hash order.
    for (code, pop) in lsoa_population {
        let Some(area) = areas.km2.get(code) else {
            missing.push(code);
            continue;
        };
        let p = Parts {
            num: *pop,
            den: *area,
            ages: Vec::new(),
        };
        if let Some(w) = geo.ward_of.get(code) {
            wards.entry(w.clone()).or_default().add(&p);
        }
        if let Some(l) = geo.lad_of.get(code) {
            lads.entry(l.clone()).or_default().add(&p);
        }
        lsoas.insert(code.clone(), p);
    }
    missing.sort();
    for code in &missing {
        geo.ward_of.get(*code).map(|w| wards.remove(w));
        geo.lad_of.get(*code).map(|l| lads.remove(l));
    }
    let detail = format!(
        "{} LSOAs have an area in `{}` but no population, or a population but no area; they, their wards and their districts have no density",
        missing.len(),
        areas.table
    );
    let examples = missing.iter().take(10).map(|c| c.to_string()).collect();
    match missing.is_empty() {
        true => report.pass("density_areas_complete", detail),
        false => report.warn("density_areas_complete", detail, examples),
    }
    (lsoas, wards, lads, missing.len())
}

/// Why a district's density is approximate, with how far its generalised
/// areas are from the publisher's where that was measured.
fn approximate_because(how: &str, diff: Option<&(f64, usize)>) -> String {
    let measured = diff.map(|(d, n)| {
        format!(
            "; over the {n} of its LSOAs unchanged since 2011 (the only ones ONS's 2011 areas can be compared with) they are {:+.1}% against ONS's areas; LSOAs split or merged in 2021 are not measured",
            d * 100.0
        )
    });
    format!(
        "area summed from generalised LSOA boundaries ({how}), which include inland water, not the publisher's land area{}",
        measured.unwrap_or_default()
    )
}

/// Our LSOA areas against the publisher's, for the LSOAs whose boundaries
/// did not change in 2021. Measured areas must agree within the tolerance
/// (else the build stops); generalised ones are reported, with the
/// district-level difference that bounds the approximate LAD densities.
/// Returns that difference (relative) by LAD 2024.
fn compare_with_reference(
    r: &AreaReference,
    areas: &Areas,
    inputs: &Frames<'_>,
    geo: &Geography,
    report: &mut TableReport,
) -> Result<BTreeMap<String, (f64, usize)>> {
    let (Some(refs), Some(lookup)) = (inputs.get(&r.table), inputs.get(&r.lookup)) else {
        report.push(
            "density_area_reference",
            Status::NotAvailable,
            format!("no reference areas: {}", census_reason(inputs, &r.table)),
            Vec::new(),
        );
        return Ok(BTreeMap::new());
    };
    let (rk, ra) = (refs.values(&r.key)?, refs.values(&r.area_km2)?);
    let reference: HashMap<String, f64> = (0..rk.len())
        .filter_map(|i| {
            Some((
                rk.text(i)?,
                ra.number(i).filter(|a| a.is_finite() && *a > 0.0)?,
            ))
        })
        .collect();
    let (l11, l21, chg) = (
        lookup.values(&r.lookup_lsoa11)?,
        lookup.values(&r.lookup_lsoa21)?,
        lookup.values(&r.lookup_change)?,
    );
    let mut off: Vec<(f64, String)> = Vec::new();
    let mut compared = 0usize;
    let mut by_lad: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    for i in 0..l11.len() {
        if chg.text(i).as_deref() != Some(r.unchanged.as_str()) {
            continue;
        }
        let (Some(c11), Some(c21)) = (l11.text(i), l21.text(i)) else {
            continue;
        };
        let (Some(ours), Some(theirs)) = (areas.km2.get(&c21), reference.get(&c11)) else {
            continue;
        };
        compared += 1;
        let rel = ours / theirs - 1.0;
        if rel.abs() > r.tolerance {
            off.push((
                rel.abs(),
                format!(
                    "{c21}: {ours:.4} km² in `{}` against {theirs:.4} km² in `{}` column `{}` ({:+.0}%)",
                    areas.table,
                    r.table,
                    r.area_km2,
                    rel * 100.0
                ),
            ));
        }
        if let Some(l) = geo.lad_of.get(&c21) {
            let e = by_lad.entry(l.clone()).or_default();
            e.0 += ours;
            e.1 += theirs;
            e.2 += 1;
        }
    }
    off.sort_by(|a, b| b.0.total_cmp(&a.0));
    let worst_lad = by_lad
        .iter()
        .map(|(l, (o, t, _))| (o / t - 1.0, l))
        .max_by(|a, b| a.0.abs().total_cmp(&b.0.abs()));
    let lad_note = worst_lad
        .map(|(d, l)| {
            format!(
                "; summed by district, they differ by at most {:+.1}% ({l})",
                d * 100.0
            )
        })
        .unwrap_or_default();
    let detail = format!(
        "{} of {compared} unchanged LSOAs have an area more than {:.0}% from the publisher's{lad_note}",
        off.len(),
        r.tolerance * 100.0
    );
    let examples = off.into_iter().map(|(_, e)| e).take(10).collect::<Vec<_>>();
    if compared == 0 {
        // Nothing compared is no evidence: a wrong change code or key.
        let detail = format!(
            "no LSOA of `{}` could be compared with `{}` through `{}` (change code `{}`)",
            areas.table, r.table, r.lookup, r.unchanged
        );
        match &areas.generalised {
            Some(_) => report.warn("density_area_reference", detail, Vec::new()),
            None => report.fail("density_area_reference", detail, Vec::new()),
        }
        return Ok(BTreeMap::new());
    }
    match (&areas.generalised, examples.is_empty()) {
        (_, true) => report.pass("density_area_reference", detail),
        (Some(_), false) => report.warn("density_area_reference", detail, examples),
        (None, false) => report.fail("density_area_reference", detail, examples),
    }
    Ok(by_lad
        .into_iter()
        .map(|(l, (o, t, n))| (l, (o / t - 1.0, n)))
        .collect())
}
