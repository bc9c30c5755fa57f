//! SVG choropleth maps of areas, drawn from the release's own boundary
//! tables (GeoJSON geometry in WGS84) with `geo`.
//!
//! The projection is equirectangular with the longitude scaled by the cosine
//! of the mean latitude: at the scale of Great Britain on a report page it
//! is indistinguishable from the National Grid and needs no datum shift.
//! Shapes are simplified (Ramer-Douglas-Peucker) to keep the page small.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use geo::{BoundingRect, MultiPolygon, Simplify};

/// One area to draw: its code, name and shape.
pub struct Shape {
    pub code: String,
    pub name: String,
    pub shape: MultiPolygon<f64>,
}

/// A class of the legend: values in `(lower, upper]` get `colour`.
pub struct Class {
    pub upper: f64,
    pub label: String,
    pub colour: &'static str,
}

/// Parses a GeoJSON geometry (Polygon or MultiPolygon) into a MultiPolygon.
pub fn parse_geometry(json: &str) -> Option<MultiPolygon<f64>> {
    let g: geojson::Geometry = json.parse().ok()?;
    match geo::Geometry::<f64>::try_from(g).ok()? {
        geo::Geometry::Polygon(p) => Some(MultiPolygon(vec![p])),
        geo::Geometry::MultiPolygon(m) => Some(m),
        _ => None,
    }
}

/// Draws `shapes` coloured by `values` (code -> (value, tooltip)). Areas with
/// no value are drawn grey and say so: absent data is shown, not hidden.
pub fn choropleth(
    title: &str,
    shapes: &[Shape],
    values: &BTreeMap<String, (f64, String)>,
    classes: &[Class],
) -> String {
    let (width, height) = (560.0, 760.0);
    let rects: Vec<_> = shapes
        .iter()
        .filter_map(|s| s.shape.bounding_rect())
        .collect();
    let (min_x, min_y, max_x, max_y) = rects.iter().fold(
        (f64::MAX, f64::MAX, f64::MIN, f64::MIN),
        |(a, b, c, d), r| {
            (
                a.min(r.min().x),
                b.min(r.min().y),
                c.max(r.max().x),
                d.max(r.max().y),
            )
        },
    );
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"{}\">",
        height + 40.0,
        escape(title)
    );
    let _ = write!(
        s,
        "<text x=\"4\" y=\"16\" font-size=\"13\">{}</text>",
        escape(title)
    );
    if rects.is_empty() {
        s.push_str("<text x=\"4\" y=\"40\" font-size=\"12\">No boundaries to draw.</text></svg>");
        return s;
    }
    let k = ((min_y + max_y) / 2.0).to_radians().cos();
    let scale = ((width - 20.0) / ((max_x - min_x) * k)).min((height - 30.0) / (max_y - min_y));
    let project = |x: f64, y: f64| -> (f64, f64) {
        (10.0 + (x - min_x) * k * scale, 26.0 + (max_y - y) * scale)
    };
    // A tolerance of about a third of a pixel.
    let epsilon = 0.3 / scale;
    for shape in shapes {
        let simple = shape.shape.simplify(epsilon);
        let mut d = String::new();
        for poly in &simple.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for (i, c) in ring.0.iter().enumerate() {
                    let (x, y) = project(c.x, c.y);
                    let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                }
                d.push('Z');
            }
        }
        let (fill, tip) = match values.get(&shape.code) {
            Some((v, tip)) => (
                classes
                    .iter()
                    .find(|c| *v <= c.upper)
                    .or(classes.last())
                    .map_or("#999", |c| c.colour),
                tip.clone(),
            ),
            None => ("#d9d9d9", "no data".to_string()),
        };
        let _ = write!(
            s,
            "<path d=\"{d}\" fill=\"{fill}\" stroke=\"#888\" stroke-width=\"0.3\" fill-rule=\"evenodd\"><title>{} ({}): {}</title></path>",
            escape(&shape.name),
            escape(&shape.code),
            escape(&tip)
        );
    }
    let mut y = height - 20.0 * (classes.len() as f64 + 1.0);
    for c in classes
        .iter()
        .map(|c| (c.colour, c.label.as_str()))
        .chain([("#d9d9d9", "no data")])
    {
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{y}\" width=\"14\" height=\"14\" fill=\"{}\" stroke=\"#666\" stroke-width=\"0.5\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            width - 170.0,
            c.0,
            width - 150.0,
            y + 11.0,
            escape(c.1)
        );
        y += 20.0;
    }
    s.push_str("</svg>");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_are_coloured_by_class_and_missing_ones_say_so() {
        let square = |x: f64| {
            parse_geometry(&format!(
                "{{\"type\":\"Polygon\",\"coordinates\":[[[{x},50],[{},50],[{},51],[{x},51],[{x},50]]]}}",
                x + 1.0,
                x + 1.0
            ))
            .unwrap()
        };
        let shapes = vec![
            Shape {
                code: "A".into(),
                name: "Ay & Bee".into(),
                shape: square(0.0),
            },
            Shape {
                code: "B".into(),
                name: "Bee".into(),
                shape: square(2.0),
            },
        ];
        let values = BTreeMap::from([("A".to_string(), (0.5, "half".to_string()))]);
        let classes = vec![
            Class {
                upper: 0.0,
                label: "none".into(),
                colour: "#ffffff",
            },
            Class {
                upper: 1.0,
                label: "some".into(),
                colour: "#ff0000",
            },
        ];
        let svg = choropleth("Test", &shapes, &values, &classes);
        assert!(svg.contains("fill=\"#ff0000\" stroke=\"#888\" stroke-width=\"0.3\" fill-rule=\"evenodd\"><title>Ay &amp; Bee (A): half</title>"), "{svg}");
        assert!(svg.contains("fill=\"#d9d9d9\" stroke=\"#888\" stroke-width=\"0.3\" fill-rule=\"evenodd\"><title>Bee (B): no data</title>"), "{svg}");
        assert_eq!(svg.matches("<path").count(), 2);
    }
}
