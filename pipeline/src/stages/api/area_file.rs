//! Phase 3 of the API: one file per area code, and the index of areas.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde_json::{json, Map, Value};

use super::registers::{Area, Registry};
use super::sections::SectionData;
use super::{ApiStage, Section, Shape};
use crate::contract::Frames;

/// What every area file is made from.
pub struct AreaFiles<'a> {
    pub spec: &'a ApiStage,
    pub registry: &'a Registry,
    pub sections: &'a [Option<SectionData>],
    pub sections_of_type: &'a [Vec<usize>],
    pub inputs: &'a Frames<'a>,
}

impl AreaFiles<'_> {
    /// The file of one code.
    pub fn file(&self, code: &str, area: &Area) -> Value {
        let spec = self.spec;
        let mut o = Map::new();
        o.insert("code".into(), json!(code));
        o.insert("name".into(), json!(area.name()));
        o.insert(
            "types".into(),
            json!(area
                .types
                .iter()
                .map(|&t| &spec.area_types[t].id)
                .collect::<Vec<_>>()),
        );
        o.insert("names".into(), json!(area.names));
        o.insert("parents".into(), self.parents(area));
        let mut groups: IndexMap<String, Map<String, Value>> = IndexMap::new();
        let mut caveats: Vec<String> = spec.caveats.clone();
        let mut gaps = Vec::new();
        for &t in &area.types {
            caveats.extend(spec.area_types[t].caveats.iter().cloned());
            for &si in &self.sections_of_type[t] {
                let s = &spec.sections[si];
                match self.section(si, code) {
                    Ok(sec) => {
                        if let Some(c) = &s.caveat {
                            caveats.push(c.clone());
                        }
                        groups
                            .entry(s.group.clone())
                            .or_default()
                            .insert(s.key.clone(), Value::Object(sec));
                    }
                    Err(Some(gap)) => gaps.push(gap),
                    Err(None) => {}
                }
            }
        }
        for (g, m) in groups {
            o.insert(g, Value::Object(m));
        }
        let mut seen = HashSet::new();
        caveats.retain(|c| seen.insert(c.clone()));
        o.insert("caveats".into(), json!(caveats));
        o.insert("unavailable".into(), Value::Array(gaps));
        Value::Object(o)
    }

    fn parents(&self, area: &Area) -> Value {
        let mut parents = Map::new();
        for (t, (code, name)) in &area.parents {
            let name = name
                .clone()
                .or_else(|| code.as_deref().and_then(|c| self.registry.name_of(c, t)));
            let mut p = Map::new();
            p.insert("code".into(), json!(code));
            p.insert("name".into(), json!(name));
            if code.is_none() {
                p.insert(
                    "note".into(),
                    json!("the source gives this parent by name only, and the name does not identify one code"),
                );
            }
            parents.insert(t.clone(), Value::Object(p));
        }
        Value::Object(parents)
    }

    /// Section `si` for `code`; or, if it has no data, the gap to list (when
    /// the section applies to the code) or nothing.
    fn section(&self, si: usize, code: &str) -> Result<Map<String, Value>, Option<Value>> {
        let s = &self.spec.sections[si];
        let id = s.id();
        let applies = s.applies_to.as_ref().is_none_or(|r| r.is_match(code));
        let Some(data) = &self.sections[si] else {
            return Err(applies.then(|| {
                json!({"section": id, "reason": format!("table `{}` is unavailable: {}", s.table, self.inputs.why_unavailable(&s.table))})
            }));
        };
        let Some(rows) = data.rows.get(code) else {
            return Err(applies.then(|| {
                json!({"section": id, "reason": format!("table `{}` has no row for {code}", s.table)})
            }));
        };
        let mut sec = Map::new();
        sec.insert("title".into(), json!(s.title));
        sec.insert("table".into(), json!(s.table));
        match s.shape {
            Shape::One => sec.extend(record(s, data, rows[0])),
            Shape::Many => {
                sec.insert(
                    "rows".into(),
                    Value::Array(
                        rows.iter()
                            .map(|&i| Value::Object(record(s, data, i)))
                            .collect(),
                    ),
                );
            }
            Shape::Keyed => {
                let mut values = Map::new();
                for &i in rows {
                    let k = data.by.as_ref().and_then(|b| b.text(i)).unwrap_or_default();
                    values.insert(k, Value::Object(record(s, data, i)));
                }
                sec.insert("values".into(), Value::Object(values));
            }
        }
        if !data.missing.is_empty() {
            sec.insert("missing".into(), Value::Object(data.missing.clone()));
        }
        if !data.directions.is_empty() {
            sec.insert("directions".into(), Value::Object(data.directions.clone()));
        }
        Ok(sec)
    }

    /// The index of areas: every code with its name and types.
    pub fn index(&self) -> Value {
        let spec = self.spec;
        let reg = self.registry;
        json!({
            "count": reg.areas.len(),
            "types": spec.area_types.iter().zip(&reg.type_counts).map(|(a, n)| json!({"type": a.id, "label": a.label, "count": n, "pattern": a.pattern})).collect::<Vec<_>>(),
            "areas": reg.areas.iter().map(|(code, a)| json!({
                "code": code,
                "name": a.name(),
                "types": a.types.iter().map(|&t| spec.area_types[t].id.clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// One row of a section's table as a JSON object.
pub fn record(s: &Section, data: &SectionData, i: usize) -> Map<String, Value> {
    let mut m = Map::new();
    for (n, c) in &data.columns {
        let v = c.json(i);
        if !(s.skip_nulls && v.is_null()) {
            m.insert(n.clone(), v);
        }
    }
    m
}
