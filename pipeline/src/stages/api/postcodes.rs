//! Phase 4 of the API: one file per postcode outcode, each postcode with
//! its status, small area, local authority and the small area's IMD.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::registers::{Area, Registry};
use super::sections::SectionData;
use super::writer::Writer;
use super::{ApiStage, PostcodeSpec, Section};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Cells, Table};
use crate::release::FileEntry;

/// `"bt1 1aa"` -> `("BT1", "BT1 1AA")`: upper case, spaces removed, then one
/// space before the inward code. `None` if it is not a UK postcode.
pub fn normalise_postcode(raw: &str) -> Option<(String, String)> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        regex::Regex::new(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
            .expect("a constant, valid pattern")
    });
    let c = re.captures(&s)?;
    let (out, inw) = (c[1].to_string(), c[2].to_string());
    Some((out.clone(), format!("{out} {inw}")))
}

/// What the postcode files were.
#[derive(Debug, Default)]
pub struct Written {
    pub files: Vec<FileEntry>,
    pub postcodes: usize,
    pub outcodes: usize,
    pub invalid: usize,
}

/// The postcode table's columns.
struct Columns {
    postcodes: Cells,
    small: Cells,
    la: Cells,
    term: Cells,
    /// Why terminations are not recorded, if the look-up lacks them.
    term_missing: Option<String>,
}

/// What a postcode is looked up in.
struct Lookup<'a> {
    spec: &'a ApiStage,
    pc: &'a PostcodeSpec,
    registry: &'a Registry,
    sections: &'a [Option<SectionData>],
    index_sections: Vec<(usize, &'a Section)>,
}

pub fn write_all(
    spec: &ApiStage,
    pc: &PostcodeSpec,
    frame: &Table,
    registry: &Registry,
    sections: &[Option<SectionData>],
    inputs: &Frames<'_>,
    writer: &Writer,
) -> Result<Written> {
    let ctx = |e: Error| e.source_id(pc.table.clone()).stage("api");
    let cols = Columns {
        postcodes: frame.cells(&pc.postcode).map_err(ctx)?,
        small: frame.cells(&pc.small_area).map_err(ctx)?,
        la: frame.cells(&pc.local_authority).map_err(ctx)?,
        term: frame.cells(&pc.terminated).map_err(ctx)?,
        term_missing: inputs
            .missing
            .get(&pc.table)
            .and_then(|m| m.get(&pc.terminated))
            .cloned(),
    };
    let lookup = Lookup {
        spec,
        pc,
        registry,
        sections,
        index_sections: pc
            .indices
            .iter()
            .filter_map(|id| {
                spec.sections
                    .iter()
                    .enumerate()
                    .find(|(_, s)| &s.id() == id)
            })
            .collect(),
    };
    let mut by_outcode: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut invalid = Vec::new();
    for i in 0..frame.height() {
        let raw = cols.postcodes.text(i).unwrap_or_default();
        let Some((outcode, postcode)) = normalise_postcode(&raw) else {
            invalid.push(json!({"postcode": raw, "row": i + 2, "reason": "not a UK postcode after removing spaces and upper-casing"}));
            continue;
        };
        let p = lookup.postcode(&postcode, &cols, i);
        let entry = by_outcode.entry(outcode).or_default();
        if let Some(prev) = entry.get(&postcode) {
            if prev != &p {
                return Err(Error::check(
                    &pc.table,
                    "one_area_per_postcode",
                    format!("postcode {postcode} appears twice with different areas (once as {raw:?}); the look-up must give one area per postcode"),
                    Vec::new(),
                )
                .column(pc.postcode.clone())
                .row(i + 2));
            }
            continue;
        }
        entry.insert(postcode, p);
    }
    write_files(spec, pc, by_outcode, invalid, writer)
}

fn write_files(
    spec: &ApiStage,
    pc: &PostcodeSpec,
    by_outcode: BTreeMap<String, BTreeMap<String, Value>>,
    invalid: Vec<Value>,
    writer: &Writer,
) -> Result<Written> {
    let mut out = Written::default();
    writer.dir(&format!("{}/postcodes", spec.base))?;
    let mut outcodes = Vec::new();
    for (outcode, pcs) in &by_outcode {
        outcodes.push(json!({"outcode": outcode, "postcodes": pcs.len()}));
        out.postcodes += pcs.len();
        let v = json!({
            "outcode": outcode,
            "count": pcs.len(),
            "caveats": pc.caveats,
            "postcodes": pcs.values().collect::<Vec<_>>(),
        });
        out.files
            .push(writer.write(format!("{}/postcodes/{outcode}.json", spec.base), &v)?);
    }
    out.outcodes = by_outcode.len();
    out.invalid = invalid.len();
    if !invalid.is_empty() {
        tracing::warn!(count = invalid.len(), table = %pc.table, "Postcodes that are not UK postcodes are listed in postcodes/index.json, not published.");
    }
    let v = json!({
        "source_table": pc.table,
        "postcodes": out.postcodes,
        "outcodes": outcodes,
        "invalid": invalid,
    });
    out.files
        .push(writer.write(format!("{}/postcodes/index.json", spec.base), &v)?);
    Ok(out)
}

impl Lookup<'_> {
    fn area(&self, code: Option<&str>) -> Option<&Area> {
        code.and_then(|c| self.registry.areas.get(c))
    }

    /// One postcode's entry.
    fn postcode(&self, postcode: &str, cols: &Columns, i: usize) -> Value {
        let area = cols.small.text(i);
        let area_types: Vec<String> = self
            .area(area.as_deref())
            .map(|a| {
                a.types
                    .iter()
                    .map(|&t| self.spec.area_types[t].id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let area_name = self.area(area.as_deref()).and_then(Area::name);
        let la_code = cols.la.text(i);
        let la_name = self.area(la_code.as_deref()).and_then(Area::name);
        let (status, terminated, status_reason) = match (&cols.term_missing, cols.term.text(i)) {
            (Some(reason), _) => (
                "unknown",
                None,
                Some(format!("termination is not recorded: {reason}")),
            ),
            (None, Some(t)) if !t.trim().is_empty() => ("terminated", Some(t), None),
            (None, _) => ("live", None, None),
        };
        let (imd, imd_reason) = match &area {
            Some(code) => self.imd(code, &area_types),
            None => (
                Value::Null,
                Some("the look-up gives no small area for this postcode".to_string()),
            ),
        };
        let mut p = Map::new();
        p.insert("postcode".into(), json!(postcode));
        p.insert("status".into(), json!(status));
        p.insert("terminated".into(), json!(terminated));
        if let Some(r) = status_reason {
            p.insert("status_reason".into(), json!(r));
        }
        p.insert(
            "small_area".into(),
            json!({"code": area, "name": area_name, "types": area_types}),
        );
        p.insert(
            "local_authority".into(),
            json!({"code": la_code, "name": la_name}),
        );
        p.insert("imd".into(), imd);
        if let Some(r) = imd_reason {
            p.insert("imd_unavailable_reason".into(), json!(r));
        }
        Value::Object(p)
    }

    /// The small area's IMD in the first index that covers it, or why none does.
    fn imd(&self, code: &str, area_types: &[String]) -> (Value, Option<String>) {
        for (si, s) in &self.index_sections {
            let Some(data) = &self.sections[*si] else {
                continue;
            };
            if let Some(rows) = data.rows.get(code) {
                let mut m = Map::new();
                m.insert("index".into(), json!(s.key));
                m.insert("title".into(), json!(s.title));
                for f in &self.pc.fields {
                    if let Some((_, c)) = data.columns.iter().find(|(n, _)| n == f) {
                        m.insert(f.clone(), c.json(rows[0]));
                    }
                }
                return (Value::Object(m), None);
            }
        }
        let mut reason = format!(
            "no index of this release covers small area {code}{}",
            if area_types.is_empty() {
                " (not a known area)".to_string()
            } else {
                format!(" ({})", area_types.join(", "))
            }
        );
        let type_caveats: Vec<&String> = self
            .area(Some(code))
            .map(|a| {
                a.types
                    .iter()
                    .flat_map(|&t| self.spec.area_types[t].caveats.iter())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(c) = type_caveats.first() {
            reason.push_str(": ");
            reason.push_str(c);
        }
        (Value::Null, Some(reason))
    }
}
