//! Esri JSON feature sets, as an ArcGIS FeatureServer answers `f=json`:
//! `features[].attributes` become cells, and a geometry becomes GeoJSON text
//! in a `geometry` column, as for the other boundary formats. A point's
//! coordinates are also given as `x` and `y`, the columns the geoportal's
//! CSV downloads carry, in the query's spatial reference (ask for
//! `outSR=27700` to get British National Grid metres).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::{Error, Result};

use super::geo::{from_maps, json_cell};
use super::{Cell, RawTable};

pub fn read_esri_json(bytes: &[u8]) -> Result<RawTable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::unreadable("the file is empty"));
    }
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::unreadable(format!("invalid Esri JSON: {e}")))?;
    let Some(features) = doc.get("features").and_then(Value::as_array) else {
        return Err(Error::unreadable(
            "not an Esri JSON feature set: no `features` array",
        ));
    };
    let mut rows = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let mut row = BTreeMap::new();
        if let Some(attrs) = f.get("attributes").and_then(Value::as_object) {
            for (k, v) in attrs {
                row.insert(k.clone(), json_cell(v.clone()));
            }
        }
        if let Some(g) = f.get("geometry").filter(|g| !g.is_null()) {
            let geometry = to_geojson(g).ok_or_else(|| {
                Error::unreadable(format!("unsupported Esri geometry: {}", short(g))).row(i + 1)
            })?;
            if let (Some(x), Some(y)) = (g.get("x"), g.get("y")) {
                row.insert("x".into(), json_cell(x.clone()));
                row.insert("y".into(), json_cell(y.clone()));
            }
            row.insert("geometry".into(), Cell::Text(geometry.to_string()));
        }
        rows.push(row);
    }
    Ok(from_maps(rows))
}

/// Converts an Esri geometry (point, multipoint, polyline, polygon) to
/// GeoJSON. Esri polygons list rings: clockwise ones are outer rings,
/// anticlockwise ones are holes of the outer ring before them.
fn to_geojson(g: &Value) -> Option<Value> {
    if let (Some(x), Some(y)) = (g.get("x"), g.get("y")) {
        return Some(json!({"type": "Point", "coordinates": [x, y]}));
    }
    if let Some(points) = g.get("points") {
        return Some(json!({"type": "MultiPoint", "coordinates": points}));
    }
    if let Some(paths) = g.get("paths") {
        return Some(json!({"type": "MultiLineString", "coordinates": paths}));
    }
    let rings = g.get("rings")?.as_array()?;
    let mut polygons: Vec<Vec<&Value>> = Vec::new();
    for ring in rings {
        let clockwise = signed_area(ring)? < 0.0;
        match polygons.last_mut() {
            Some(p) if !clockwise => p.push(ring),
            _ => polygons.push(vec![ring]),
        }
    }
    Some(match polygons.len() {
        1 => json!({"type": "Polygon", "coordinates": polygons[0]}),
        _ => json!({"type": "MultiPolygon", "coordinates": polygons}),
    })
}

/// Twice the ring's signed area: positive when anticlockwise.
fn signed_area(ring: &Value) -> Option<f64> {
    let pts: Vec<(f64, f64)> = ring
        .as_array()?
        .iter()
        .map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
        .collect::<Option<_>>()?;
    Some(
        pts.windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum(),
    )
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_become_polygons_with_holes_and_points_give_x_and_y() {
        let doc = br#"{"features":[
          {"attributes":{"CODE":"A","N":1},"geometry":{"rings":[[[0,0],[0,10],[10,10],[10,0],[0,0]],[[2,2],[4,2],[4,4],[2,4],[2,2]],[[20,0],[20,5],[25,5],[20,0]]]}},
          {"attributes":{"CODE":"B","N":null},"geometry":{"x":412345.5,"y":287654.25}}
        ]}"#;
        let t = read_esri_json(doc).unwrap();
        let col = |h: &str| &t.columns[t.headers.iter().position(|x| x == h).unwrap()];
        let Cell::Text(g) = &col("geometry")[0] else {
            panic!()
        };
        let g: Value = serde_json::from_str(g).unwrap();
        assert_eq!(g["type"], "MultiPolygon");
        assert_eq!(
            g["coordinates"][0].as_array().unwrap().len(),
            2,
            "outer ring and its hole"
        );
        assert_eq!(col("x")[1], Cell::Number(412345.5));
        assert_eq!(col("N")[1], Cell::Empty);
    }
}
