//! Small areas to wards, with the assignment checked against boundaries.
//!
//! LSOAs do not nest in wards: ONS assigns each LSOA to the ward holding its
//! population-weighted centroid ("best fit"). A `ward_assignment` stage
//! publishes that assignment with its ward vintage and method and, where
//! boundaries are in the catalog, checks it with `geo`: is the centroid
//! inside the ward's polygon, and what share of the LSOA's area lies outside
//! it (the straddle share)? Every row says what was checked and what was
//! found; a ward missing from the boundary layer is flagged, not guessed.

use std::collections::{BTreeMap, HashMap};

use geo::{Area, BooleanOps, Contains, MultiPolygon, Point};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::index::BuiltTable;
use crate::values::Values;
use crate::verify::{Check, Status, TableReport};

/// British National Grid, with the OSGB36 -> WGS84 Helmert parameters.
const BNG: &str =
    "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy \
+towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs";
const WGS84: &str = "+proj=longlat +ellps=WGS84 +datum=WGS84 +no_defs";

/// Parameters of a `ward_assignment` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardStage {
    pub description: String,
    pub table: String,
    /// The ward vintage, e.g. `WD24`.
    pub ward_vintage: String,
    /// How the look-up assigns areas, in words (published on every row).
    pub assignment: String,
    pub lookup: WardLookup,
    /// Boundary checks; absent where the catalog has no boundaries.
    #[serde(default)]
    pub geometry: Option<GeometrySpec>,
    /// Why the boundary checks cannot run, when `geometry` is absent.
    #[serde(default)]
    pub geometry_not_available: Option<String>,
}

/// Column names in the look-up, which are also the output names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WardLookup {
    pub table: String,
    pub key: String,
    pub name: String,
    pub ward_code: String,
    pub ward_name: String,
    pub lad_code: String,
    pub lad_name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GeometrySpec {
    /// Population-weighted centroids in British National Grid metres.
    pub centroids: CentroidSpec,
    /// Small-area polygons (GeoJSON, WGS84).
    pub areas: LayerSpec,
    /// Ward polygons (GeoJSON, WGS84), and their vintage.
    pub wards: LayerSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CentroidSpec {
    pub table: String,
    pub key: String,
    pub x: String,
    pub y: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    pub table: String,
    pub key: String,
    pub geometry: String,
    /// The layer's vintage, when it may differ from the look-up's.
    #[serde(default)]
    pub vintage: Option<String>,
}

impl WardStage {
    pub fn inputs(&self) -> Vec<String> {
        let mut t = vec![self.lookup.table.clone()];
        if let Some(g) = &self.geometry {
            t.extend([
                g.centroids.table.clone(),
                g.areas.table.clone(),
                g.wards.table.clone(),
            ]);
        }
        t.sort();
        t.dedup();
        t
    }

    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        if self.geometry.is_none() && self.geometry_not_available.is_none() {
            errors.push(format!(
                "{what}: declare `geometry` for the boundary checks, or say why they cannot run in `geometry_not_available`"
            ));
        }
    }
}

/// Parses GeoJSON text into polygons (other geometry types are rejected).
fn polygons(json: &str) -> Option<MultiPolygon<f64>> {
    let g: geojson::Geometry = json.parse().ok()?;
    match geo::Geometry::<f64>::try_from(g).ok()? {
        geo::Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
        geo::Geometry::MultiPolygon(m) => Some(m),
        _ => None,
    }
}

/// A layer's polygons by code; features sharing a code (a ward issued in
/// parts) are combined.
fn layer(spec: &LayerSpec, frame: &DataFrame) -> Result<HashMap<String, MultiPolygon<f64>>> {
    let k = Values::from_frame(frame, &spec.key)?;
    let g = Values::from_frame(frame, &spec.geometry)?;
    let mut out: HashMap<String, MultiPolygon<f64>> = HashMap::new();
    for i in 0..k.len() {
        let (Some(code), Some(text)) = (k.text(i), g.text(i)) else {
            continue;
        };
        let Some(mp) = polygons(&text) else {
            return Err(Error::schema(format!(
                "`{}`: the geometry of {code} is not a polygon",
                spec.table
            )));
        };
        out.entry(code)
            .or_insert_with(|| MultiPolygon(Vec::new()))
            .0
            .extend(mp.0);
    }
    Ok(out)
}

/// Runs a `ward_assignment` stage.
pub fn build_wards(
    spec: &WardStage,
    inputs: &HashMap<String, DataFrame>,
) -> Result<(DataFrame, BuiltTable)> {
    let l = &spec.lookup;
    let t = &inputs[&l.table];
    let cols: Vec<Values> = [
        &l.key,
        &l.name,
        &l.ward_code,
        &l.ward_name,
        &l.lad_code,
        &l.lad_name,
    ]
    .iter()
    .map(|c| Values::from_frame(t, c))
    .collect::<Result<_>>()?;
    let n = cols[0].len();

    let mut centroid_in = vec![None; n];
    let mut straddle = vec![None; n];
    let mut check: Vec<String> = vec![String::new(); n];
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    match &spec.geometry {
        None => {
            let why = spec.geometry_not_available.clone().unwrap_or_default();
            for c in check.iter_mut() {
                *c = format!("not checked: {why}");
            }
        }
        Some(g) => {
            let ct = &inputs[&g.centroids.table];
            let (ck, cx, cy) = (
                Values::from_frame(ct, &g.centroids.key)?,
                Values::from_frame(ct, &g.centroids.x)?,
                Values::from_frame(ct, &g.centroids.y)?,
            );
            let from = proj4rs::Proj::from_proj_string(BNG)
                .map_err(|e| Error::schema(format!("projection: {e}")))?;
            let to = proj4rs::Proj::from_proj_string(WGS84)
                .map_err(|e| Error::schema(format!("projection: {e}")))?;
            let mut centroids: HashMap<String, Point<f64>> = HashMap::new();
            for i in 0..ck.len() {
                let (Some(k), Some(x), Some(y)) = (ck.text(i), cx.number(i), cy.number(i)) else {
                    continue;
                };
                let mut p = (x, y, 0.0);
                proj4rs::transform::transform(&from, &to, &mut p).map_err(|e| {
                    Error::schema(format!("{k}: cannot convert ({x}, {y}) to WGS84: {e}"))
                })?;
                centroids.insert(k, Point::new(p.0.to_degrees(), p.1.to_degrees()));
            }
            let areas = layer(&g.areas, &inputs[&g.areas.table])?;
            let wards = layer(&g.wards, &inputs[&g.wards.table])?;
            let wv = g
                .wards
                .vintage
                .clone()
                .unwrap_or_else(|| spec.ward_vintage.clone());
            let results: Vec<(Option<bool>, Option<f64>, String)> = {
                use rayon::prelude::*;
                (0..n)
                    .into_par_iter()
                    .map(|i| {
                        let code = cols[0].text(i).unwrap_or_default();
                        let ward = cols[2].text(i).unwrap_or_default();
                        let Some(wpoly) = wards.get(&ward) else {
                            return (None, None, format!("not checked: ward {ward} is not in the {wv} boundary layer (new or redrawn since)"));
                        };
                        let inside = centroids.get(&code).map(|p| wpoly.contains(p));
                        let share = areas.get(&code).and_then(|a| {
                            let total = a.unsigned_area();
                            (total > 0.0).then(|| (1.0 - a.intersection(wpoly).unsigned_area() / total).clamp(0.0, 1.0))
                        });
                        let status = match (inside, share) {
                            (None, _) => "not checked: no centroid for this LSOA".to_string(),
                            (Some(false), _) => "centroid outside its ward".to_string(),
                            (Some(true), Some(s)) if s > 0.5 => "centroid inside; most of its area outside its ward".to_string(),
                            (Some(true), _) => "ok".to_string(),
                        };
                        (inside, share, status)
                    })
                    .collect()
            };
            for (i, (a, b, c)) in results.into_iter().enumerate() {
                centroid_in[i] = a;
                straddle[i] = b;
                check[i] = c;
            }
        }
    }
    for c in &check {
        let key = c.split(':').next().unwrap_or_default().to_string();
        *counts.entry(key).or_default() += 1;
    }
    let mut report = TableReport {
        table: spec.table.clone(),
        checks: Vec::new(),
    };
    let outside: Vec<String> = (0..n)
        .filter(|&i| centroid_in[i] == Some(false))
        .map(|i| {
            format!(
                "{} in {}",
                cols[0].text(i).unwrap_or_default(),
                cols[2].text(i).unwrap_or_default()
            )
        })
        .collect();
    report.checks.push(Check {
        check: "boundary_checks".into(),
        status: if outside.is_empty() { Status::Pass } else { Status::Warn },
        detail: format!(
            "{counts:?}; mismatches come from generalised boundaries and from wards redrawn between the boundary layer's vintage and {}",
            spec.ward_vintage
        ),
        examples: outside,
    });
    let mut unique = std::collections::HashSet::new();
    let dups: Vec<String> = (0..n)
        .filter_map(|i| cols[0].text(i))
        .filter(|c| !unique.insert(c.clone()))
        .collect();
    if !dups.is_empty() {
        return Err(Error::new(ErrorKind::Verification(format!(
            "table `{}`: {} small areas are assigned to more than one ward (first: {:?})",
            spec.table,
            dups.len(),
            &dups[..dups.len().min(5)]
        ))));
    }

    let mut columns: Vec<Column> = [
        &l.key,
        &l.name,
        &l.ward_code,
        &l.ward_name,
        &l.lad_code,
        &l.lad_name,
    ]
    .iter()
    .zip(cols)
    .map(|(name, v)| v.into_column(name))
    .collect();
    columns.push(Column::new(
        "ward_vintage".into(),
        vec![spec.ward_vintage.clone(); n],
    ));
    columns.push(Column::new(
        "assignment".into(),
        vec![spec.assignment.clone(); n],
    ));
    columns.push(Column::new("centroid_in_ward".into(), centroid_in));
    columns.push(Column::new("straddle_share".into(), straddle));
    columns.push(Column::new("boundary_check".into(), check));
    let frame = DataFrame::new(n, columns)?;
    Ok((
        frame,
        BuiltTable {
            name: spec.table.clone(),
            description: format!(
                "{} Ward vintage {}; assignment: {}. `centroid_in_ward` says whether the LSOA's population-weighted centroid lies in its ward's polygon; \
                 `straddle_share` is the share of the LSOA's area outside that polygon (computed on generalised WGS84 boundaries, so approximate); \
                 `boundary_check` says what was checked and found.",
                spec.description, spec.ward_vintage, spec.assignment
            ),
            verification: Some(report),
            ..Default::default()
        },
    ))
}
