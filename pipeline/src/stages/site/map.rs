//! Maps of small-area deciles for the page: one GeoJSON file per local
//! authority per nation and edition, fetched only for the authority a
//! look-up lands in.
//!
//! Why per-authority GeoJSON rather than one PMTiles archive: a static
//! bucket serves both, but PMTiles needs a vector-tile renderer (about 800
//! KB of JavaScript and WebGL) to draw anything, while an authority's file
//! is 10-300 KB that the page draws as SVG with fifty lines of its own
//! code, clickable and keyboard-reachable. The page never needs the whole
//! nation at small-area detail.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::cache::sha256_bytes;
use crate::contract::RunCtx;
use crate::error::{Error, Result};
use crate::frame::Table;
use crate::hash::HashMap;
use crate::release::FileEntry;

/// One nation's and edition's map: which index table colours which
/// boundaries, grouped by the index's local authority column.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// Its name in the release, e.g. `imd_england_2025`.
    pub key: String,
    pub title: String,
    /// The index table and its columns.
    pub index: String,
    pub code: String,
    pub decile: String,
    /// The index's local authority code column (and name column).
    pub la: String,
    #[serde(default)]
    pub la_name: Option<String>,
    /// The boundaries table and its code and name columns (its geometry is
    /// `geometry`, GeoJSON in WGS84).
    pub boundaries: String,
    pub boundary_code: String,
    #[serde(default)]
    pub boundary_name: Option<String>,
}

/// A nation and edition with no map, and why.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoMap {
    pub key: String,
    pub title: String,
    pub reason: String,
}

impl MapSpec {
    pub fn tables(&self) -> [&String; 2] {
        [&self.index, &self.boundaries]
    }
}

/// Writes `map/<key>/<la>.json` and `map/<key>/index.json` under `root`
/// (relative paths under `base`).
pub fn write(m: &MapSpec, ctx: &RunCtx<'_>, root: &Path, base: &str) -> Result<Vec<FileEntry>> {
    let read = |t: &str, cols: Vec<&String>| {
        let path = ctx.staging.join(format!("tables/{t}.parquet"));
        Table::read_parquet(&path, Some(cols.into_iter().cloned().collect()))
    };
    let mut icols = vec![&m.code, &m.decile, &m.la];
    icols.extend(m.la_name.iter());
    let index = read(&m.index, icols)?;
    let geometry = "geometry".to_string();
    let mut bcols = vec![&m.boundary_code, &geometry];
    bcols.extend(m.boundary_name.iter());
    let bounds = read(&m.boundaries, bcols)?;
    let (codes, deciles, las) = (
        index.cells(&m.code)?,
        index.cells(&m.decile)?,
        index.cells(&m.la)?,
    );
    let la_names = m.la_name.as_ref().map(|c| index.cells(c)).transpose()?;
    let mut of: HashMap<&str, (Option<f64>, &str)> = HashMap::default();
    let mut la_name: HashMap<&str, &str> = HashMap::default();
    let mut without_la = 0usize;
    for i in 0..codes.len() {
        let Some(code) = codes.str(i) else { continue };
        let Some(la) = las.str(i) else {
            without_la += 1;
            continue;
        };
        // The code names a file: only letters and digits may.
        if la.is_empty() || !la.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::check(
                &m.index,
                "map_local_authorities",
                format!(
                    "column `{}` row {} holds {la:?}, which is not a local authority code",
                    m.la,
                    i + 1
                ),
                Vec::new(),
            ));
        }
        of.insert(code, (deciles.number(i), la));
        if let Some(n) = la_names.as_ref().and_then(|c| c.str(i)) {
            la_name.insert(la, n);
        }
    }
    let (bcodes, geoms) = (bounds.cells(&m.boundary_code)?, bounds.cells(&geometry)?);
    let names = m
        .boundary_name
        .as_ref()
        .map(|c| bounds.cells(c))
        .transpose()?;
    let mut groups: BTreeMap<&str, Vec<Feature>> = BTreeMap::new();
    let mut drawn = 0usize;
    for i in 0..bcodes.len() {
        let Some(code) = bcodes.str(i) else { continue };
        let Some((decile, la)) = of.get(code) else {
            continue;
        };
        let geometry = rounded_text(geoms.str(i).unwrap_or("null")).map_err(|e| {
            Error::table(format!(
                "`{}` row {}: geometry is not GeoJSON: {e}",
                m.boundaries,
                i + 1
            ))
        })?;
        groups.entry(la).or_default().push(Feature {
            kind: "Feature",
            properties: Properties {
                code,
                name: names.as_ref().and_then(|n| n.str(i)),
                decile: decile.map(|d| d as i64),
            },
            geometry,
        });
        drawn += 1;
    }
    let mut files = Vec::new();
    let mut entries = serde_json::Map::new();
    for (la, features) in groups {
        let file = format!("{la}.json");
        let n = features.len();
        files.push(put(
            root,
            &format!("{base}/{file}"),
            &Collection {
                kind: "FeatureCollection",
                features,
            },
        )?);
        entries.insert(
            la.to_string(),
            json!({"code": la, "name": la_name.get(la), "areas": n, "file": file}),
        );
    }
    let index_file = json!({
        "key": m.key,
        "title": m.title,
        "areas": of.len(),
        "drawn": drawn,
        // Areas the index ranks but the boundaries lack, or with no local
        // authority to file them under: not drawn, and said so.
        "without_boundary": of.len() - drawn,
        "without_local_authority": without_la,
        "las": entries,
    });
    files.push(put(root, &format!("{base}/index.json"), &index_file)?);
    Ok(files)
}

/// A map's file: its areas' features, in the order `json!` wrote them.
#[derive(Serialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<Feature<'a>>,
}

/// One small area on a map: a GeoJSON feature whose geometry is text
/// already rounded.
#[derive(Serialize)]
struct Feature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    properties: Properties<'a>,
    geometry: Box<RawValue>,
}

#[derive(Serialize)]
struct Properties<'a> {
    code: &'a str,
    name: Option<&'a str>,
    decile: Option<i64>,
}

/// A geometry's text with its coordinates rounded, as [`rounded`] would
/// print it. The boundaries' geometries are written in one compact form
/// (`{"type":"Polygon","coordinates":[[[x,y],...]]}`), so their numbers
/// are rounded in the text without building a JSON tree of each (measured:
/// parsing and printing the trees was most of the site stage's time). Any
/// other text takes the tree's path.
fn rounded_text(raw: &str) -> serde_json::Result<Box<RawValue>> {
    if let Some(text) = rounded_compact(raw) {
        return RawValue::from_string(text);
    }
    let tree: Value = serde_json::from_str(raw)?;
    RawValue::from_string(serde_json::to_string(&rounded(tree))?)
}

/// [`rounded_text`]'s fast path: `None` unless `raw` is a simple geometry
/// in compact form whose coordinates are well-formed nested arrays of
/// numbers (anything else, valid or not, is the tree's to print or reject).
fn rounded_compact(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix("{\"type\":\"")?;
    let (kind, rest) = rest.split_once('"')?;
    let coords = rest.strip_prefix(",\"coordinates\":")?.strip_suffix('}')?;
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw.as_bytes()[..raw.len() - coords.len() - 1]);
    let mut arrays = Arrays::default();
    let mut token_start = None;
    for (i, b) in coords.bytes().enumerate() {
        match b {
            b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9' => {
                token_start.get_or_insert(i);
                continue;
            }
            b'[' | b']' | b',' => {}
            _ => return None,
        }
        if let Some(s) = token_start.take() {
            arrays.value()?;
            push_rounded(&mut out, &coords[s..i])?;
        }
        arrays.punctuation(b)?;
        out.push(b);
    }
    arrays.complete(token_start.is_none())?;
    out.push(b'}');
    String::from_utf8(out).ok()
}

/// The deepest coordinate arrays serde_json reads inside a geometry object.
const MAX_DEPTH: usize = 126;

/// Where the coordinate scanner is in its nested arrays, so that only
/// well-formed JSON arrays take the fast path: no stray or trailing comma,
/// no unbalanced bracket, one array in all.
#[derive(Default)]
struct Arrays {
    depth: usize,
    /// A value or `]` may come next (just after `[`).
    opened: bool,
    /// A value must come next (just after `,`).
    comma: bool,
    /// A value has just ended.
    after_value: bool,
}

impl Arrays {
    /// A number has been read: `None` where no value may stand.
    fn value(&mut self) -> Option<()> {
        (self.depth > 0 && (self.opened || self.comma)).then(|| {
            (self.opened, self.comma, self.after_value) = (false, false, true);
        })
    }

    /// A bracket or comma: `None` where it may not stand.
    fn punctuation(&mut self, b: u8) -> Option<()> {
        match b {
            // The tree's parser stops at 128 levels, the geometry's object
            // among them: deeper arrays are the tree's to reject.
            b'[' if self.depth >= MAX_DEPTH => return None,
            b'[' if (self.depth == 0 && !self.after_value) || self.opened || self.comma => {
                self.depth += 1;
                (self.opened, self.comma, self.after_value) = (true, false, false);
            }
            b']' if self.depth > 0 && (self.opened || self.after_value) => {
                self.depth -= 1;
                (self.opened, self.comma, self.after_value) = (false, false, true);
            }
            b',' if self.depth > 0 && self.after_value => {
                (self.opened, self.comma, self.after_value) = (false, true, false);
            }
            _ => return None,
        }
        Some(())
    }

    /// `Some` once one whole array has been read and nothing is pending.
    fn complete(&self, no_token: bool) -> Option<()> {
        (no_token && self.depth == 0 && self.after_value).then_some(())
    }
}

/// One number token, parsed as the JSON tree parses it and printed as the
/// tree prints [`rounded`]'s value; `None` if it is not a JSON number.
fn push_rounded(out: &mut Vec<u8>, token: &str) -> Option<()> {
    let x: f64 = serde_json::from_str(token).ok()?;
    let n = serde_json::Number::from_f64((x * 1e4).round() / 1e4);
    serde_json::to_writer(out, &n).ok()
}

/// Coordinates to 4 decimal places (about 10 m), enough for a map of
/// small areas and a third smaller than the 6 the boundaries carry.
fn rounded(v: Value) -> Value {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(|x| serde_json::Number::from_f64((x * 1e4).round() / 1e4))
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        other => other,
    }
}

/// Writes compact JSON at `root/rel`.
pub fn put(root: &Path, rel: &str, v: &impl Serialize) -> Result<FileEntry> {
    let bytes = serde_json::to_vec(v).map_err(Error::table)?;
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
    Ok(FileEntry {
        path: rel.to_string(),
        bytes: bytes.len() as u64,
        sha256: sha256_bytes(&bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the JSON tree's path prints for a geometry.
    fn by_tree(raw: &str) -> String {
        serde_json::to_string(&rounded(serde_json::from_str(raw).unwrap())).unwrap()
    }

    #[test]
    fn rounding_in_the_text_prints_what_the_tree_prints() {
        for raw in [
            r#"{"type":"Polygon","coordinates":[[[-1.23456789,52.5],[0,1e-5],[12,-0.00004],[1.00005,2E3],[-2.5e-1,1.99995]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[0.1,0.2],[0.30000000000000004,-180]]],[[[179.99999,89.99995]]]]}"#,
            r#"{"type":"Point","coordinates":[-0.00001,123456789.123456789]}"#,
            r#"{"type":"LineString","coordinates":[]}"#,
        ] {
            assert!(rounded_compact(raw).is_some(), "{raw} takes the fast path");
            assert_eq!(rounded_text(raw).unwrap().get(), by_tree(raw), "{raw}");
        }
    }

    #[test]
    fn any_other_text_takes_the_trees_path() {
        for raw in [
            r#"{ "type": "Point", "coordinates": [1.234567, 2] }"#,
            r#"{"coordinates":[1.234567,2],"type":"Point"}"#,
            r#"{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1.234567,2]}]}"#,
            r#"{"type":"Point","coordinates":[1.234567,2],"bbox":[0,0,3,3]}"#,
            r#"{"type":"Point","coordinates":[1.234567,2,"z"]}"#,
            r#"{"type":"Point","coordinates":1.5}"#,
            "null",
        ] {
            assert!(rounded_compact(raw).is_none(), "{raw} is not compact");
            assert_eq!(rounded_text(raw).unwrap().get(), by_tree(raw), "{raw}");
        }
    }

    #[test]
    fn arrays_nested_as_deep_as_the_tree_reads_are_rounded_and_deeper_ones_refused() {
        let nested = |n: usize| {
            format!(
                r#"{{"type":"Polygon","coordinates":{}0.123456{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let deepest = nested(MAX_DEPTH);
        assert!(rounded_compact(&deepest).is_some());
        assert_eq!(rounded_text(&deepest).unwrap().get(), by_tree(&deepest));
        let deeper = nested(MAX_DEPTH + 1);
        assert!(rounded_compact(&deeper).is_none());
        assert!(serde_json::from_str::<Value>(&deeper).is_err());
        assert!(rounded_text(&deeper).is_err());
    }

    #[test]
    fn malformed_coordinates_are_an_error_as_on_the_trees_path() {
        for raw in [
            r#"{"type":"Point","coordinates":[1.2.3,4]}"#,
            r#"{"type":"Point","coordinates":[1,-]}"#,
            r#"{"type":"Point","coordinates":[1,2]"#,
            r#"{"type":"Point","coordinates":[1,2,]}"#,
            r#"{"type":"Point","coordinates":[,1]}"#,
            r#"{"type":"Point","coordinates":[1,,2]}"#,
            r#"{"type":"Point","coordinates":[1 2]}"#,
            r#"{"type":"Point","coordinates":[12]]}"#,
            r#"{"type":"Point","coordinates":[[1,2]}"#,
            r#"{"type":"Point","coordinates":[1][2]}"#,
            r#"{"type":"Point","coordinates":[1]2}"#,
            r#"{"type":"Point","coordinates":[1[2]]}"#,
            r#"{"type":"Point","coordinates":[]]}"#,
            r#"{"type":"Point","coordinates":}"#,
            r#"{"type":"Point","coordinates":[01,+1,1.,.5,-,1e]}"#,
        ] {
            assert!(
                rounded_compact(raw).is_none(),
                "{raw} is not taken as compact"
            );
            assert!(rounded_text(raw).is_err(), "{raw}");
        }
    }
}
