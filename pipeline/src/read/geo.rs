//! Boundary layers: ESRI shapefiles (with a British National Grid check) and
//! GeoJSON. Attributes become ordinary cells; each geometry is kept as its
//! GeoJSON text in a `geometry` column, so the table stays lossless and later
//! stages can rebuild `geo` shapes from it.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Result};

use super::{Cell, Limits, RawTable};

/// Reads a shapefile (`.shp`, with `.dbf` and `.prj` beside it).
pub fn read_shapefile(path: &Path) -> Result<RawTable> {
    let prj = path.with_extension("prj");
    let text = std::fs::read_to_string(&prj).map_err(|e| {
        Error::unreadable(format!(
            "cannot read the projection file {} ({e}); a shapefile without one cannot be checked for British National Grid",
            prj.display()
        ))
    })?;
    check_british_national_grid(&text, &prj.display().to_string())?;
    let reader = shapefile::Reader::from_path(path)
        .map_err(|e| Error::unreadable(format!("cannot open shapefile: {e}")))?;
    records(reader)
}

/// Reads a zipped shapefile, as publishers ship them: the `.shp` member
/// that `member` names, and the `.dbf`, `.prj` (and `.shx`, if there) of the
/// same name beside it in the archive, each read into memory within the
/// reader's limit.
pub fn read_zipped_shapefile(bytes: &[u8], member: &str, limits: &Limits) -> Result<RawTable> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::unreadable(format!("not a valid zip archive: {e}")))?;
    let stem = member
        .strip_suffix(".shp")
        .ok_or_else(|| Error::unreadable(format!("the member {member:?} is not a `.shp` file")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|s| s.into_owned()))
        .collect();
    let mut part = |ext: &str| -> Result<Option<Vec<u8>>> {
        match zip.by_name(&format!("{stem}.{ext}")) {
            Ok(file) => super::read_member_whole(file, limits).map(Some),
            Err(_) => Ok(None),
        }
    };
    let missing = |ext: &str| {
        Error::new(ErrorKind::NotInFile {
            what: "zip member",
            name: format!("{stem}.{ext}"),
            available: names.clone(),
        })
    };
    let shp = part("shp")?.ok_or_else(|| missing("shp"))?;
    let dbf = part("dbf")?.ok_or_else(|| missing("dbf"))?;
    let prj = part("prj")?.ok_or_else(|| missing("prj"))?;
    let shx = part("shx")?;
    check_british_national_grid(
        &String::from_utf8_lossy(&prj),
        &format!("zip member {stem}.prj"),
    )?;
    let open = |e: shapefile::Error| Error::unreadable(format!("cannot open shapefile: {e}"));
    let shapes = match shx {
        Some(shx) => shapefile::ShapeReader::with_shx(Cursor::new(shp), Cursor::new(shx)),
        None => shapefile::ShapeReader::new(Cursor::new(shp)),
    }
    .map_err(open)?;
    let table = shapefile::dbase::Reader::new(Cursor::new(dbf))
        .map_err(|e| Error::unreadable(format!("cannot open the .dbf: {e}")))?;
    records(shapefile::Reader::new(shapes, table))
}

/// Every shape and record, each shape kept as GeoJSON text.
fn records<T: Read + Seek, D: Read + Seek>(
    mut reader: shapefile::Reader<T, D>,
) -> Result<RawTable> {
    let mut rows: Vec<BTreeMap<String, Cell>> = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let row_no = i + 1;
        let (shape, record) = item.map_err(|e| {
            Error::unreadable(format!("cannot read shape or record: {e}")).row(row_no)
        })?;
        let mut row = BTreeMap::new();
        for (name, value) in record {
            row.insert(name, field_cell(value));
        }
        let geometry = geo::Geometry::<f64>::try_from(shape)
            .map_err(|e| Error::unreadable(format!("unsupported shape: {e}")).row(row_no))?;
        let json = geojson::Geometry::new(geojson::Value::from(&geometry)).to_string();
        row.insert("geometry".to_string(), Cell::Text(json));
        rows.push(row);
    }
    Ok(from_maps(rows))
}

/// The `.prj` must declare British National Grid (EPSG:27700): every ONS
/// boundary in BNG is in metres, and mixing it with WGS84 degrees would put
/// every point-in-polygon test silently wrong.
fn check_british_national_grid(text: &str, prj: &str) -> Result<()> {
    let t = text.to_ascii_lowercase();
    if t.contains("british_national_grid")
        || t.contains("osgb_1936_british_national_grid")
        || t.contains("27700")
    {
        Ok(())
    } else {
        Err(Error::unreadable(format!(
            "the projection in {prj} is not British National Grid (EPSG:27700): {}",
            text.chars().take(120).collect::<String>()
        )))
    }
}

fn field_cell(v: shapefile::dbase::FieldValue) -> Cell {
    use shapefile::dbase::FieldValue as F;
    match v {
        F::Character(Some(s)) | F::Memo(s) => Cell::Text(s.trim().to_string()),
        F::Numeric(Some(f)) | F::Double(f) | F::Currency(f) => Cell::Number(f),
        F::Float(Some(f)) => Cell::Number(f as f64),
        F::Integer(i) => Cell::Int(i as i64),
        F::Logical(Some(b)) => Cell::Text(b.to_string()),
        F::Date(Some(d)) => Cell::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())),
        _ => Cell::Empty,
    }
}

/// Reads a GeoJSON FeatureCollection. Each geometry is kept as the text
/// the `geojson` crate writes for it; the common types are written straight
/// from the source text (see `geojson_text`), the rest through the crate.
pub fn read_geojson(bytes: &[u8]) -> Result<RawTable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::unreadable("the file is empty"));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::unreadable(format!("GeoJSON is not UTF-8: {e}")))?;
    let fc: Collection<'_> = serde_json::from_str(text)
        .map_err(|e| Error::unreadable(format!("invalid GeoJSON: {e}")))?;
    if fc.kind != "FeatureCollection" {
        return Err(Error::unreadable(format!(
            "not a GeoJSON FeatureCollection: its type is {:?}",
            fc.kind
        )));
    }
    let features = fc.features.ok_or_else(|| {
        Error::unreadable("not a GeoJSON FeatureCollection: it has no `features`")
    })?;
    let mut rows = Vec::with_capacity(features.len());
    for (i, f) in features.into_iter().enumerate() {
        if f.kind != "Feature" {
            return Err(Error::unreadable(format!(
                "not a GeoJSON FeatureCollection: feature {} has type {:?}",
                i + 1,
                f.kind
            ))
            .row(i + 1));
        }
        check_feature(&f).map_err(|e| e.row(i + 1))?;
        let mut row = BTreeMap::new();
        for (k, v) in f.properties.unwrap_or_default() {
            row.insert(k, json_cell(v));
        }
        let geometry = match f.geometry.filter(|g| g.get() != "null") {
            Some(g) => Cell::Text(geometry_text(g.get()).map_err(|e| e.row(i + 1))?),
            None => Cell::Empty,
        };
        row.insert("geometry".to_string(), geometry);
        rows.push(row);
    }
    Ok(from_maps(rows))
}

/// A geometry's text: written directly for the simple types, else parsed
/// and written by the `geojson` crate (which also rejects what is not a
/// geometry).
fn geometry_text(raw: &str) -> Result<String> {
    if let Some(text) = super::geojson_text::canonical(raw) {
        return Ok(text);
    }
    raw.parse::<geojson::Geometry>()
        .map(|g| g.to_string())
        .map_err(|e| Error::unreadable(format!("invalid GeoJSON geometry: {e}")))
}

#[derive(serde::Deserialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    features: Option<Vec<Feature<'a>>>,
}

#[derive(serde::Deserialize)]
struct Feature<'a> {
    #[serde(rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// `None` when the member is absent; a `null` geometry is `Some("null")`.
    #[serde(borrow, default, deserialize_with = "present")]
    geometry: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    bbox: Option<&'a RawValue>,
}

/// A member that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<&'de RawValue>, D::Error> {
    <&RawValue as serde::Deserialize>::deserialize(d).map(Some)
}

/// What RFC 7946 asks of a feature beyond its geometry, as the `geojson`
/// crate checks it: a `geometry` member (`null` for a feature with no
/// location, never left out), an `id` that is a string or a number, a
/// `bbox` of numbers.
fn check_feature(f: &Feature<'_>) -> Result<()> {
    if f.geometry.is_none() {
        return Err(Error::unreadable(
            "invalid GeoJSON feature: it has no `geometry` member (a feature without a location has `\"geometry\": null`)",
        ));
    }
    if let Some(id) = f.id {
        let ok = matches!(
            serde_json::from_str::<serde_json::Value>(id.get()),
            Ok(serde_json::Value::String(_) | serde_json::Value::Number(_))
        );
        if !ok {
            return Err(Error::unreadable(format!(
                "invalid GeoJSON feature: its `id` is {}, not a string or a number",
                crate::units::shorten(id.get())
            )));
        }
    }
    if let Some(bbox) = f.bbox {
        if serde_json::from_str::<Vec<f64>>(bbox.get()).is_err() {
            return Err(Error::unreadable(format!(
                "invalid GeoJSON feature: its `bbox` is {}, not an array of numbers",
                crate::units::shorten(bbox.get())
            )));
        }
    }
    Ok(())
}

/// A JSON property as a cell.
pub(super) fn json_cell(v: serde_json::Value) -> Cell {
    match v {
        serde_json::Value::Null => Cell::Empty,
        serde_json::Value::String(s) => Cell::Text(s),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        other => Cell::Text(other.to_string()),
    }
}

/// Features may differ in their properties: the header is their union.
pub(super) fn from_maps(rows: Vec<BTreeMap<String, Cell>>) -> RawTable {
    let mut headers: Vec<String> = Vec::new();
    for r in &rows {
        for k in r.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let data = rows
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let cells = headers
                .iter()
                .map(|h| r.remove(h).unwrap_or(Cell::Empty))
                .collect();
            (i + 1, cells)
        })
        .collect();
    RawTable::from_rows(headers, data)
}

#[cfg(test)]
mod tests {
    use super::read_geojson;

    fn collection(feature: &str) -> String {
        format!(r#"{{"type":"FeatureCollection","features":[{feature}]}}"#)
    }

    #[test]
    fn a_feature_without_a_geometry_member_is_refused_naming_its_row() {
        let text = collection(r#"{"type":"Feature","properties":{"code":"B1"}}"#);
        let err = read_geojson(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("no `geometry` member"), "{err}");
        assert!(err.contains("row 1"), "{err}");
    }

    #[test]
    fn a_null_geometry_is_an_empty_cell() {
        let text = collection(r#"{"type":"Feature","properties":{"code":"B1"},"geometry":null}"#);
        let t = read_geojson(text.as_bytes()).unwrap();
        assert_eq!(t.height(), 1);
    }

    #[test]
    fn an_id_that_is_not_a_string_or_number_and_a_bbox_that_is_not_numbers_are_refused() {
        for (member, says) in [(r#""id":[1]"#, "`id`"), (r#""bbox":"x""#, "`bbox`")] {
            let text = collection(&format!(
                r#"{{"type":"Feature",{member},"properties":{{}},"geometry":null}}"#
            ));
            let err = read_geojson(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(says), "{member}: {err}");
        }
        let ok = collection(
            r#"{"type":"Feature","id":7,"bbox":[0,0,1,1],"properties":{},"geometry":null}"#,
        );
        assert!(read_geojson(ok.as_bytes()).is_ok());
    }
}
