//! A GeoJSON geometry's text, written as the `geojson` crate writes it
//! (`{"type":...,"coordinates":...}`, every coordinate an f64 in its
//! shortest form) without building its object tree twice: the boundary
//! layers hold 2-3 million coordinates, and parsing each into a
//! `serde_json::Value`, then `geojson` types, then a `Value` again to print
//! it cost most of a boundary load.
//!
//! Only the seven simple geometry types with exactly `type` and
//! `coordinates` are written here; anything else (a `GeometryCollection`,
//! a `bbox`, foreign members) returns `None` and the caller takes the
//! `geojson` crate's path, so the output is the same either way.

use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// The geometry's text in the `geojson` crate's form, or `None` when it is
/// not a simple geometry this writer handles.
pub fn canonical(raw: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let parts = Geometry.deserialize(&mut de).ok()?;
    de.end().ok()?;
    let (kind, coords) = parts?;
    let mut out = String::with_capacity(coords.len() + kind.len() + 32);
    out.push_str("{\"type\":\"");
    out.push_str(&kind);
    out.push_str("\",\"coordinates\":");
    out.push_str(&coords);
    out.push('}');
    Some(out)
}

/// Nesting depth of `coordinates` for each simple type (a position is 1).
fn depth(kind: &str) -> Option<usize> {
    Some(match kind {
        "Point" => 1,
        "MultiPoint" | "LineString" => 2,
        "MultiLineString" | "Polygon" => 3,
        "MultiPolygon" => 4,
        _ => return None,
    })
}

/// The geometry object: `(type, coordinates text)`, or `None` when it has
/// other members or a type this writer does not handle.
struct Geometry;

impl<'de> DeserializeSeed<'de> for Geometry {
    type Value = Option<(String, String)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Geometry {
    type Value = Option<(String, String)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON geometry object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind: Option<String> = None;
        // Coordinates may come before the type: keep the raw value, and
        // write it once the depth is known.
        let mut coords: Option<Box<serde_json::value::RawValue>> = None;
        let mut other = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "type" if kind.is_none() => kind = Some(map.next_value()?),
                "coordinates" if coords.is_none() => coords = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    other = true;
                }
            }
        }
        let (Some(kind), Some(coords), false) = (kind, coords, other) else {
            return Ok(None);
        };
        let Some(depth) = depth(&kind) else {
            return Ok(None);
        };
        let mut out = String::with_capacity(coords.get().len());
        let mut de = serde_json::Deserializer::from_str(coords.get());
        match (Coordinates {
            depth,
            out: &mut out,
        })
        .deserialize(&mut de)
        {
            Ok(()) if de.end().is_ok() => Ok(Some((kind, out))),
            _ => Ok(None),
        }
    }
}

/// Nested arrays of numbers `depth` deep (a position is an array of 2 or
/// more numbers), written compactly as f64s.
struct Coordinates<'o> {
    depth: usize,
    out: &'o mut String,
}

impl<'de> DeserializeSeed<'de> for Coordinates<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Coordinates<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "coordinates nested {} deep", self.depth)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push('[');
        let mut n = 0;
        if self.depth == 1 {
            while let Some(x) = seq.next_element::<f64>()? {
                if n > 0 {
                    self.out.push(',');
                }
                push_f64(self.out, x);
                n += 1;
            }
            if n < 2 {
                return Err(A::Error::custom("a position has fewer than two numbers"));
            }
        } else {
            loop {
                if n > 0 {
                    // Written before knowing whether another element
                    // follows: removed again below if none does.
                    self.out.push(',');
                }
                let inner = Coordinates {
                    depth: self.depth - 1,
                    out: &mut *self.out,
                };
                if seq.next_element_seed(inner)?.is_none() {
                    if n > 0 {
                        self.out.pop();
                    }
                    break;
                }
                n += 1;
            }
        }
        self.out.push(']');
        Ok(())
    }
}

/// An f64 as `serde_json` writes it (the shortest form that reads back,
/// with `.0` on whole numbers).
fn push_f64(out: &mut String, x: f64) {
    let mut buf = Vec::with_capacity(24);
    if serde_json::to_writer(&mut buf, &x).is_ok() {
        out.push_str(std::str::from_utf8(&buf).unwrap_or("null"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `geojson` crate's text for the same geometry: the reference.
    fn reference(raw: &str) -> String {
        raw.parse::<geojson::Geometry>().unwrap().to_string()
    }

    #[test]
    fn simple_geometries_are_written_as_the_geojson_crate_writes_them() {
        for raw in [
            r#"{"type":"Point","coordinates":[1,2]}"#,
            r#"{"coordinates": [ -0.1 , 51.5 , 12 ], "type": "Point"}"#,
            r#"{"type":"LineString","coordinates":[[0,0],[1.5,2.25]]}"#,
            r#"{"type":"MultiPoint","coordinates":[]}"#,
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.2,0.2],[0.3,0.2],[0.2,0.3],[0.2,0.2]]]}"#,
            r#"{"type":"MultiPolygon","coordinates":[[[[-0.097266,51.521585],[-0.098498,51.52054],[-0.097266,51.521585]]]]}"#,
            r#"{"type":"MultiLineString","coordinates":[[[1e-7,123456789.123],[2E3,-0.0]]]}"#,
        ] {
            assert_eq!(
                canonical(raw).as_deref(),
                Some(reference(raw).as_str()),
                "{raw}"
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_the_geojson_crate() {
        for raw in [
            r#"{"type":"GeometryCollection","geometries":[]}"#,
            r#"{"type":"Point","coordinates":[1,2],"bbox":[1,2,1,2]}"#,
            r#"{"type":"Polygon","coordinates":[[0,0],[1,1]]}"#,
            r#"{"type":"Point","coordinates":[1]}"#,
            r#"{"type":"Point","coordinates":[1,"2"]}"#,
            r#"{"type":"Pointy","coordinates":[1,2]}"#,
            r#"{"type":"Point"}"#,
            r#"[1,2]"#,
        ] {
            assert_eq!(canonical(raw), None, "{raw}");
        }
    }
}
