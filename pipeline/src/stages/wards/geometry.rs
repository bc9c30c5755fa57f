//! The boundary checks of an assignment: is each small area's
//! population-weighted centroid inside its ward's polygon, and what share of
//! its area lies outside it?

use geo::{Area, BooleanOps, Contains, MultiPolygon, Point};

use super::{GeometrySpec, LayerSpec};
use crate::contract::Frames;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::{Table, Values};
use crate::hash::HashMap;

/// British National Grid, with the OSGB36 -> WGS84 Helmert parameters.
const BNG: &str =
    "+proj=tmerc +lat_0=49 +lon_0=-2 +k=0.9996012717 +x_0=400000 +y_0=-100000 +ellps=airy \
+towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489 +units=m +no_defs";
const WGS84: &str = "+proj=longlat +ellps=WGS84 +datum=WGS84 +no_defs";

/// What the boundaries say about one small area.
pub struct Finding {
    pub centroid_in: Option<bool>,
    pub straddle: Option<f64>,
    pub check: String,
}

/// Checks every small area (`codes`) against its ward (`wards_of`).
pub fn check_all(
    g: &GeometrySpec,
    ward_vintage: &str,
    codes: &Values,
    wards_of: &Values,
    inputs: &Frames<'_>,
) -> Result<Vec<Finding>> {
    let centroids = centroids(g, inputs.table(&g.centroids.table)?)?;
    let areas = layer(&g.areas, inputs.table(&g.areas.table)?)?;
    let wards = layer(&g.wards, inputs.table(&g.wards.table)?)?;
    let wv = g.wards.vintage.as_deref().unwrap_or(ward_vintage);
    use rayon::prelude::*;
    Ok((0..codes.len())
        .into_par_iter()
        .map(|i| {
            let code = codes.text(i).unwrap_or_default();
            let ward = wards_of.text(i).unwrap_or_default();
            check_one(&code, &ward, wv, &centroids, &areas, &wards)
        })
        .collect())
}

fn check_one(
    code: &str,
    ward: &str,
    wv: &str,
    centroids: &HashMap<String, Point<f64>>,
    areas: &HashMap<String, MultiPolygon<f64>>,
    wards: &HashMap<String, MultiPolygon<f64>>,
) -> Finding {
    let Some(wpoly) = wards.get(ward) else {
        return Finding {
            centroid_in: None,
            straddle: None,
            check: format!(
                "not checked: ward {ward} is not in the {wv} boundary layer (new or redrawn since)"
            ),
        };
    };
    let inside = centroids.get(code).map(|p| wpoly.contains(p));
    let share = areas.get(code).and_then(|a| {
        let total = a.unsigned_area();
        (total > 0.0).then(|| (1.0 - a.intersection(wpoly).unsigned_area() / total).clamp(0.0, 1.0))
    });
    let check = match (inside, share) {
        (None, _) => "not checked: no centroid for this LSOA".to_string(),
        (Some(false), _) => "centroid outside its ward".to_string(),
        (Some(true), Some(s)) if s > 0.5 => {
            "centroid inside; most of its area outside its ward".to_string()
        }
        (Some(true), _) => "ok".to_string(),
    };
    Finding {
        centroid_in: inside,
        straddle: share,
        check,
    }
}

/// Population-weighted centroids, from British National Grid to WGS84.
fn centroids(g: &GeometrySpec, ct: &Table) -> Result<HashMap<String, Point<f64>>> {
    let (ck, cx, cy) = (
        ct.values(&g.centroids.key)?,
        ct.values(&g.centroids.x)?,
        ct.values(&g.centroids.y)?,
    );
    let projection = |e: proj4rs::errors::Error| Error::table(format!("projection: {e}"));
    let from = proj4rs::Proj::from_proj_string(BNG).map_err(projection)?;
    let to = proj4rs::Proj::from_proj_string(WGS84).map_err(projection)?;
    let mut out = HashMap::default();
    for i in 0..ck.len() {
        let (Some(k), Some(x), Some(y)) = (ck.text(i), cx.number(i), cy.number(i)) else {
            continue;
        };
        let mut p = (x, y, 0.0);
        proj4rs::transform::transform(&from, &to, &mut p).map_err(|e| {
            Error::new(ErrorKind::BadValue {
                expected: "a British National Grid point that converts to WGS84".into(),
                got: format!("({x}, {y}) for {k}: {e}"),
            })
            .source_id(&g.centroids.table)
        })?;
        out.insert(k, Point::new(p.0.to_degrees(), p.1.to_degrees()));
    }
    Ok(out)
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
fn layer(spec: &LayerSpec, frame: &Table) -> Result<HashMap<String, MultiPolygon<f64>>> {
    let k = frame.values(&spec.key)?;
    let g = frame.values(&spec.geometry)?;
    let mut out: HashMap<String, MultiPolygon<f64>> = HashMap::default();
    for i in 0..k.len() {
        let (Some(code), Some(text)) = (k.text(i), g.text(i)) else {
            continue;
        };
        let Some(mp) = polygons(&text) else {
            return Err(Error::new(ErrorKind::BadValue {
                expected: "a polygon".into(),
                got: format!("the geometry of {code}"),
            })
            .source_id(&spec.table)
            .column(&spec.geometry));
        };
        out.entry(code)
            .or_insert_with(|| MultiPolygon(Vec::new()))
            .0
            .extend(mp.0);
    }
    Ok(out)
}
