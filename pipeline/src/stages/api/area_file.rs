//! Phase 3 of the API: one file per area code, and the index of areas.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Map, Value};

use super::dictionary::Caveats;
use super::registers::{Area, Registry};
use super::sections::SectionData;
use super::{ApiStage, Section, Shape};
use crate::frame::JsonCell;
use crate::hash::{HashSet, IndexMap};

/// What every area file is made from.
pub struct AreaFiles<'a> {
    pub spec: &'a ApiStage,
    pub registry: &'a Registry,
    pub sections: &'a [Option<SectionData>],
    pub sections_of_type: &'a [Vec<usize>],
    pub caveats: &'a Caveats<'a>,
}

impl<'a> AreaFiles<'a> {
    /// The file of one code, as JSON bytes. It is serialised straight from
    /// the section tables: no JSON tree is built per file (measured:
    /// building one per file was most of the API's CPU time). The text its
    /// sections and caveats share with other files is in the dictionary.
    pub fn file(&self, code: &str, area: &'a Area) -> crate::error::Result<Vec<u8>> {
        let spec = self.spec;
        let mut groups: IndexMap<&'a str, IndexMap<&'a str, SectionView<'a>>> = IndexMap::default();
        let mut caveats: Vec<&'a str> = spec.caveats.iter().map(String::as_str).collect();
        let mut gaps = Vec::new();
        for &t in &area.types {
            caveats.extend(spec.area_types[t].caveats.iter().map(String::as_str));
            for &si in &self.sections_of_type[t] {
                let s = &spec.sections[si];
                match self.section(si, code) {
                    Ok(view) => {
                        if let Some(c) = &s.caveat {
                            caveats.push(c);
                        }
                        groups
                            .entry(s.group.as_str())
                            .or_default()
                            .insert(s.key.as_str(), view);
                    }
                    Err(Some(gap)) => gaps.push(gap),
                    Err(None) => {}
                }
            }
        }
        caveats.extend(spec.area_caveats.get(code).map(String::as_str));
        let mut seen = HashSet::default();
        caveats.retain(|c| seen.insert(*c));
        let caveats = caveats
            .into_iter()
            .map(|c| self.caveats.id(c))
            .collect::<crate::error::Result<_>>()?;
        let file = FileView {
            code,
            area,
            types: area
                .types
                .iter()
                .map(|&t| spec.area_types[t].id.as_str())
                .collect(),
            parents: self.parents(area),
            groups,
            caveats,
            gaps,
        };
        serde_json::to_vec(&file).map_err(crate::error::Error::table)
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
    fn section(&self, si: usize, code: &str) -> Result<SectionView<'a>, Option<Value>> {
        let s = &self.spec.sections[si];
        let id = s.id();
        let applies = s.applies_to.as_ref().is_none_or(|r| r.is_match(code));
        // A table missing from the build: the same reason for every area,
        // which the dictionary gives once.
        let Some(data) = &self.sections[si] else {
            return Err(applies.then(|| json!({"section": id})));
        };
        let Some(rows) = data.rows.get(code) else {
            return Err(applies.then(|| {
                json!({"section": id, "reason": format!("table `{}` has no row for {code}", s.table)})
            }));
        };
        Ok(SectionView { s, data, rows })
    }

    /// The index of areas: every code with its name and types, serialised
    /// as it is written, without a JSON tree of its 61,000 entries.
    pub fn index(&self) -> impl Serialize + '_ {
        IndexView(self)
    }
}

struct IndexView<'a>(&'a AreaFiles<'a>);

impl Serialize for IndexView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (spec, reg) = (self.0.spec, self.0.registry);
        let types: Vec<Value> = spec
            .area_types
            .iter()
            .zip(&reg.type_counts)
            .map(|(a, n)| json!({"type": a.id, "label": a.label, "count": n, "pattern": a.pattern}))
            .collect();
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("count", &reg.areas.len())?;
        m.serialize_entry("types", &types)?;
        m.serialize_entry("areas", &IndexAreas(self.0))?;
        m.end()
    }
}

struct IndexAreas<'a>(&'a AreaFiles<'a>);

impl Serialize for IndexAreas<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let spec = self.0.spec;
        ser.collect_seq(self.0.registry.areas.iter().map(|(code, a)| {
            IndexEntry {
                code,
                name: a.name(),
                types: a
                    .types
                    .iter()
                    .map(|&t| spec.area_types[t].id.as_str())
                    .collect(),
            }
        }))
    }
}

/// An area in the index: its code, name and types, in that order.
#[derive(serde::Serialize)]
struct IndexEntry<'a> {
    code: &'a str,
    name: Option<String>,
    types: Vec<&'a str>,
}

/// An area file, serialised in the order readers know: code, name, types,
/// names, parents, the section groups, the dictionary's address, caveats
/// (positions in the dictionary's), unavailable sections.
struct FileView<'a> {
    code: &'a str,
    area: &'a Area,
    types: Vec<&'a str>,
    parents: Value,
    groups: IndexMap<&'a str, IndexMap<&'a str, SectionView<'a>>>,
    caveats: Vec<usize>,
    gaps: Vec<Value>,
}

/// Where an area file's dictionary is, relative to the file.
pub const DICTIONARY_HREF: &str = "../dictionary.json";

impl Serialize for FileView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("code", self.code)?;
        m.serialize_entry("name", &self.area.name())?;
        m.serialize_entry("types", &self.types)?;
        m.serialize_entry("names", &self.area.names)?;
        m.serialize_entry("parents", &self.parents)?;
        for (g, sections) in &self.groups {
            m.serialize_entry(g, sections)?;
        }
        m.serialize_entry("dictionary", DICTIONARY_HREF)?;
        m.serialize_entry("caveats", &self.caveats)?;
        m.serialize_entry("unavailable", &self.gaps)?;
        m.end()
    }
}

/// One section of one area: its table and its row (or rows, or rows keyed
/// by `by`). Its title, the reasons for missing values and the directions
/// of its measures are the same in every area: they are in the dictionary.
struct SectionView<'a> {
    s: &'a Section,
    data: &'a SectionData,
    rows: &'a [usize],
}

impl Serialize for SectionView<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (s, data) = (self.s, self.data);
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("table", &s.table)?;
        match s.shape {
            Shape::One => {
                for (n, v) in Row::new(s, data, self.rows[0]).cells() {
                    m.serialize_entry(n, &v)?;
                }
            }
            Shape::Many => {
                let rows: Vec<Row> = self.rows.iter().map(|&i| Row::new(s, data, i)).collect();
                m.serialize_entry("rows", &rows)?;
            }
            Shape::Keyed => {
                // One entry per key; a repeated key keeps its first place
                // and its last row, as a JSON object built key by key does.
                let mut keyed: IndexMap<String, usize> = IndexMap::default();
                for &i in self.rows {
                    let k = data.by.as_ref().and_then(|b| b.text(i)).unwrap_or_default();
                    keyed.insert(k, i);
                }
                let values: IndexMap<String, Row> = keyed
                    .into_iter()
                    .map(|(k, i)| (k, Row::new(s, data, i)))
                    .collect();
                m.serialize_entry("values", &values)?;
            }
        }
        m.end()
    }
}

/// One row of a section's table, serialised as a JSON object.
struct Row<'a> {
    s: &'a Section,
    data: &'a SectionData,
    i: usize,
}

impl<'a> Row<'a> {
    fn new(s: &'a Section, data: &'a SectionData, i: usize) -> Row<'a> {
        Row { s, data, i }
    }

    /// The row's cells, without nulls where the section skips them.
    fn cells(&self) -> impl Iterator<Item = (&'a str, JsonCell<'a>)> + '_ {
        self.data.columns.iter().filter_map(move |(n, c)| {
            let skip = self.s.skip_nulls && c.is_null_in_json(self.i);
            (!skip).then(|| (n.as_str(), c.json(self.i)))
        })
    }
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        for (n, v) in self.cells() {
            m.serialize_entry(n, &v)?;
        }
        m.end()
    }
}
