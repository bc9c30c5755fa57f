//! The static JSON API: one file per area code, an index of areas, one file
//! per postcode outcode, and `openapi.json`, all declared in `stages/api.toml`.
//!
//! The spec says which *area types* exist (LSOA 2011, ward 2024, ...), where
//! their codes, names and parents come from (*registers*: columns of release
//! tables), and which *sections* of which tables an area of each type shows.
//! Everything else follows from the tables: an area file is the union of what
//! every table says about its code. A code can denote several types (an
//! unchanged LSOA keeps its 2011 code in 2021), so a file is per code, not per
//! type, and lists its types.
//!
//! Nothing is filled in: a section that should apply to an area (its
//! `applies_to` pattern matches the code) but has no row for it, or whose
//! table is unavailable in this build, is listed under `unavailable` with the
//! reason. The output is a pure function of the input tables: keys keep the
//! spec's and the tables' column order, areas and postcodes are sorted, so
//! the same inputs give byte-identical files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use indexmap::IndexMap;
use polars::prelude::*;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::cache::sha256_bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::release::FileEntry;

/// Parameters of a `static_api` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiStage {
    pub description: String,
    /// Where the API lives in the release, e.g. `api/v1`.
    pub base: String,
    /// Caveats every area file carries.
    #[serde(default)]
    pub caveats: Vec<String>,
    pub area_types: Vec<AreaType>,
    pub sections: Vec<Section>,
    pub postcodes: Option<PostcodeSpec>,
}

/// A kind of area (one geography at one vintage).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaType {
    /// Short id used in files and as a parent key, e.g. `lsoa21`.
    pub id: String,
    pub label: String,
    /// Every code of this type must match it (it is also a file name).
    pub pattern: String,
    /// Where the codes come from; the first register naming a code's name or
    /// parent wins.
    pub registers: Vec<Register>,
    /// Caveats an area of this type carries.
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// Columns of one table that list areas of a type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub table: String,
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Parent area type -> column holding the parent's code.
    #[serde(default)]
    pub parents: IndexMap<String, String>,
    /// Parent area type -> column holding the parent's *name*, resolved to a
    /// code through that type's registers (for tables that carry no code).
    #[serde(default)]
    pub parents_by_name: IndexMap<String, String>,
}

/// Keeps the rows whose `column` equals `equals` or starts with `prefix`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub column: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
}

/// How a table's rows for one area appear in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// At most one row: its fields sit in the section object.
    #[default]
    One,
    /// Any number of rows: a list under `rows`.
    Many,
    /// Rows keyed by the value of the `by` column, under `values`.
    Keyed,
}

/// What one table contributes to the files of one area type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The group in the area file: `deprivation`, `summaries`, `change`, ...
    pub group: String,
    /// The section's key within its group (unique across the spec).
    pub key: String,
    pub title: String,
    pub area_type: String,
    pub table: String,
    /// The column holding the area code.
    pub code: String,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Codes this section should cover (default: every code of the type).
    /// A matching area without a row gets an `unavailable` entry.
    #[serde(default)]
    pub applies_to: Option<String>,
    #[serde(default)]
    pub shape: Shape,
    /// For `shape = "keyed"`: the column whose values key the rows.
    #[serde(default)]
    pub by: Option<String>,
    /// Columns to show (default: every column but the code, `by` and `exclude`).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Leave out null fields (for long tables, where `status`/`reason` say
    /// why a value is absent).
    #[serde(default)]
    pub skip_nulls: bool,
    #[serde(default)]
    pub caveat: Option<String>,
}

/// The postcode files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostcodeSpec {
    pub table: String,
    pub postcode: String,
    pub small_area: String,
    pub local_authority: String,
    /// The date a postcode was terminated; empty for a live postcode.
    pub terminated: String,
    /// Sections (`group.key`) in which a postcode's small area is looked up
    /// for its IMD, in order; the first holding the code wins.
    pub indices: Vec<String>,
    /// Fields of the index shown for each postcode.
    pub fields: Vec<String>,
    #[serde(default)]
    pub caveats: Vec<String>,
}

impl ApiStage {
    /// The columns of `table` the spec reads (`None`: all of them, for a
    /// section that shows every column but its exclusions).
    pub fn columns_of(&self, table: &str) -> Option<Vec<String>> {
        let mut cols: Vec<String> = Vec::new();
        let mut push = |c: &String| {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        };
        for r in self
            .area_types
            .iter()
            .flat_map(|a| &a.registers)
            .filter(|r| r.table == table)
        {
            push(&r.code);
            r.name.iter().for_each(&mut push);
            r.parents
                .values()
                .chain(r.parents_by_name.values())
                .for_each(&mut push);
            r.filter.iter().for_each(|f| push(&f.column));
        }
        for s in self.sections.iter().filter(|s| s.table == table) {
            match &s.columns {
                Some(c) => c.iter().for_each(&mut push),
                None => return None,
            }
            push(&s.code);
            s.by.iter().for_each(&mut push);
            s.filter.iter().for_each(|f| push(&f.column));
        }
        for p in self.postcodes.iter().filter(|p| p.table == table) {
            for c in [
                &p.postcode,
                &p.small_area,
                &p.local_authority,
                &p.terminated,
            ] {
                push(c);
            }
        }
        Some(cols)
    }

    /// Every table the spec reads. All are optional: a missing table makes
    /// its sections unavailable, with the reason, in every file.
    pub fn inputs(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .area_types
            .iter()
            .flat_map(|a| a.registers.iter().map(|r| r.table.clone()))
            .chain(self.sections.iter().map(|s| s.table.clone()))
            .chain(self.postcodes.iter().map(|p| p.table.clone()))
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// Checks the spec's internal references, collecting every problem.
    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        let types: Vec<&str> = self.area_types.iter().map(|a| a.id.as_str()).collect();
        if !self.base.split('/').all(crate::catalog::is_identifier) {
            errors.push(format!(
                "{what} field `base` must be a relative path of identifiers such as `api/v1`, got {:?}",
                self.base
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.area_types {
            if !seen.insert(a.id.as_str()) {
                errors.push(format!("{what}: area type `{}` is declared twice", a.id));
            }
            if let Err(e) = Regex::new(&a.pattern) {
                errors.push(format!(
                    "{what}: area type `{}` has an invalid `pattern`: {e}",
                    a.id
                ));
            }
            if a.registers.is_empty() {
                errors.push(format!("{what}: area type `{}` has no register", a.id));
            }
            for r in &a.registers {
                for p in r.parents.keys().chain(r.parents_by_name.keys()) {
                    if !types.contains(&p.as_str()) {
                        errors.push(format!(
                            "{what}: area type `{}` register `{}` names parent type `{p}`, which is not an area type",
                            a.id, r.table
                        ));
                    }
                }
                check_filter(what, &r.filter, errors);
            }
        }
        let mut keys = std::collections::HashSet::new();
        for s in &self.sections {
            let id = format!("{}.{}", s.group, s.key);
            if !keys.insert(id.clone()) {
                errors.push(format!("{what}: section `{id}` is declared twice"));
            }
            if !types.contains(&s.area_type.as_str()) {
                errors.push(format!(
                    "{what}: section `{id}` is for area type `{}`, which is not declared",
                    s.area_type
                ));
            }
            if let Some(p) = &s.applies_to {
                if let Err(e) = Regex::new(p) {
                    errors.push(format!(
                        "{what}: section `{id}` has an invalid `applies_to`: {e}"
                    ));
                }
            }
            if (s.shape == Shape::Keyed) != s.by.is_some() {
                errors.push(format!(
                    "{what}: section `{id}`: `by` is required with shape = \"keyed\" and only then"
                ));
            }
            check_filter(what, &s.filter, errors);
        }
        if let Some(p) = &self.postcodes {
            for ix in &p.indices {
                if !keys.contains(ix) {
                    errors.push(format!(
                        "{what}: postcodes field `indices` names section `{ix}`, which is not declared"
                    ));
                }
            }
        }
    }
}

fn check_filter(what: &str, f: &Option<Filter>, errors: &mut Vec<String>) {
    if let Some(f) = f {
        if f.equals.is_some() == f.prefix.is_some() {
            errors.push(format!(
                "{what}: a filter on `{}` needs exactly one of `equals` and `prefix`",
                f.column
            ));
        }
    }
}

/// What the API stage wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiOutput {
    /// Every file written, relative to the release root.
    pub files: Vec<FileEntry>,
    pub areas: usize,
    pub postcodes: usize,
    pub outcodes: usize,
    /// Postcodes that could not be normalised, with their row.
    pub invalid_postcodes: usize,
}

/// One column of a table, typed, for building JSON. Holds polars' arrays
/// (one chunk each), not copies: the long Census table has ~740k rows.
enum Col {
    Str(StringChunked),
    Int(Int64Chunked),
    Float(Float64Chunked),
    Bool(BooleanChunked),
}

impl Col {
    fn read(frame: &DataFrame, table: &str, name: &str) -> Result<Col> {
        let col = frame.column(name).map_err(|_| {
            Error::schema(format!(
                "table `{table}` has no column `{name}` (named in stages/api.toml); it has: {}",
                frame
                    .get_column_names()
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .column(name)
        })?;
        let col = col.as_materialized_series().rechunk();
        Ok(match col.dtype() {
            DataType::String => Col::Str(col.str()?.clone()),
            DataType::Boolean => Col::Bool(col.bool()?.clone()),
            DataType::Float32 | DataType::Float64 => {
                Col::Float(col.cast(&DataType::Float64)?.f64()?.clone())
            }
            dt if dt.is_integer() => Col::Int(col.cast(&DataType::Int64)?.i64()?.clone()),
            other => {
                return Err(Error::schema(format!(
                    "table `{table}` column `{name}` has type {other}, which the API does not publish; exclude it"
                ))
                .column(name))
            }
        })
    }

    fn json(&self, i: usize) -> Value {
        match self {
            Col::Str(v) => v
                .get(i)
                .map_or(Value::Null, |s| Value::String(s.to_string())),
            Col::Int(v) => v.get(i).map_or(Value::Null, Value::from),
            Col::Float(v) => v
                .get(i)
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
            Col::Bool(v) => v.get(i).map_or(Value::Null, Value::Bool),
        }
    }

    fn text(&self, i: usize) -> Option<String> {
        match self {
            Col::Str(v) => v.get(i).map(str::to_string),
            Col::Int(v) => v.get(i).map(|x| x.to_string()),
            Col::Float(v) => v.get(i).map(|x| x.to_string()),
            Col::Bool(v) => v.get(i).map(|x| x.to_string()),
        }
    }
}

/// The rows of `frame` that pass `filter`.
fn filtered_rows(frame: &DataFrame, table: &str, filter: &Option<Filter>) -> Result<Vec<usize>> {
    let n = frame.height();
    let Some(f) = filter else {
        return Ok((0..n).collect());
    };
    let col = Col::read(frame, table, &f.column)?;
    Ok((0..n)
        .filter(|&i| {
            let v = col.text(i);
            match (&f.equals, &f.prefix) {
                (Some(e), _) => v.as_deref() == Some(e.as_str()),
                (_, Some(p)) => v.is_some_and(|v| v.starts_with(p.as_str())),
                _ => true,
            }
        })
        .collect())
}

/// One area: its types and what its registers say.
#[derive(Default)]
struct Area {
    types: Vec<usize>,
    /// Per type: the name.
    names: IndexMap<String, Option<String>>,
    /// Parent type -> code (None when a name did not resolve).
    parents: IndexMap<String, (Option<String>, Option<String>)>,
}

impl Area {
    /// The name under the area's first type that has one.
    fn name(&self) -> Option<String> {
        self.names.values().find_map(|n| n.clone())
    }
}

/// A section's table, indexed by area code.
struct SectionData {
    columns: Vec<(String, Col)>,
    by: Option<Col>,
    rows: HashMap<String, Vec<usize>>,
    /// Shown columns the table declares missing, with the reason.
    missing: Map<String, Value>,
}

/// Builds the API into `release` (the release's staging directory). Returns
/// every file written with its bytes and sha256.
pub fn generate(
    spec: &ApiStage,
    frames: &HashMap<String, DataFrame>,
    missing_columns: &HashMap<String, IndexMap<String, String>>,
    unavailable: &HashMap<String, String>,
    release: &Path,
) -> Result<ApiOutput> {
    let why_missing = |table: &str| -> String {
        unavailable
            .get(table)
            .cloned()
            .unwrap_or_else(|| format!("table `{table}` is not part of this release"))
    };

    // 1. The register of areas.
    let mut areas: BTreeMap<String, Area> = BTreeMap::new();
    // Per type: name -> codes, to resolve parents given by name.
    let mut by_name: Vec<HashMap<String, Vec<String>>> =
        vec![HashMap::new(); spec.area_types.len()];
    let mut type_counts = vec![0usize; spec.area_types.len()];
    let mut by_name_refs: Vec<(String, String, String)> = Vec::new(); // (code, parent type, name)
    for (ti, at) in spec.area_types.iter().enumerate() {
        let pattern = Regex::new(&at.pattern).map_err(|e| Error::schema(e.to_string()))?;
        for reg in &at.registers {
            let Some(frame) = frames.get(&reg.table) else {
                tracing::warn!(area_type = %at.id, table = %reg.table, reason = %why_missing(&reg.table), "Register unavailable; its areas are not in the API.");
                continue;
            };
            let ctx = |e: Error| e.source_id(reg.table.clone()).stage("api");
            let codes = Col::read(frame, &reg.table, &reg.code).map_err(ctx)?;
            let names = match &reg.name {
                Some(n) => Some(Col::read(frame, &reg.table, n).map_err(ctx)?),
                None => None,
            };
            let parents: Vec<(&String, Col)> = reg
                .parents
                .iter()
                .map(|(t, c)| Ok((t, Col::read(frame, &reg.table, c)?)))
                .collect::<Result<_>>()
                .map_err(ctx)?;
            let parent_names: Vec<(&String, Col)> = reg
                .parents_by_name
                .iter()
                .map(|(t, c)| Ok((t, Col::read(frame, &reg.table, c)?)))
                .collect::<Result<_>>()
                .map_err(ctx)?;
            for i in filtered_rows(frame, &reg.table, &reg.filter).map_err(ctx)? {
                let Some(code) = codes.text(i) else { continue };
                if !pattern.is_match(&code) {
                    return Err(Error::new(ErrorKind::Verification(format!(
                        "`{code}` is not a code of area type `{}` (pattern {}); fix the register or the table",
                        at.id, at.pattern
                    )))
                    .source_id(reg.table.clone())
                    .column(reg.code.clone())
                    .row(i + 2)
                    .stage("api"));
                }
                let area = areas.entry(code.clone()).or_default();
                if !area.types.contains(&ti) {
                    area.types.push(ti);
                    type_counts[ti] += 1;
                }
                let name = names.as_ref().and_then(|n| n.text(i));
                let slot = area.names.entry(at.id.clone()).or_insert(None);
                if slot.is_none() {
                    if let Some(n) = &name {
                        by_name[ti].entry(n.clone()).or_default().push(code.clone());
                    }
                    *slot = name;
                }
                for (t, c) in &parents {
                    if let Some(p) = c.text(i) {
                        area.parents.entry((*t).clone()).or_insert((Some(p), None));
                    }
                }
                for (t, c) in &parent_names {
                    if let Some(n) = c.text(i) {
                        if !area.parents.contains_key(*t) {
                            by_name_refs.push((code.clone(), (*t).clone(), n));
                        }
                    }
                }
            }
        }
    }
    let type_index: HashMap<&str, usize> = spec
        .area_types
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    for (code, t, name) in by_name_refs {
        let codes = by_name[type_index[t.as_str()]].get(&name);
        let resolved = match codes.map(|c| c.as_slice()) {
            Some([one]) => Some(one.clone()),
            _ => None,
        };
        if let Some(a) = areas.get_mut(&code) {
            a.parents.entry(t).or_insert((resolved, Some(name)));
        }
    }
    let name_of = |code: &str, t: &str| -> Option<String> {
        areas
            .get(code)
            .and_then(|a| a.names.get(t).cloned().flatten())
    };

    // 2. Sections, indexed by code.
    let applies_to: Vec<Option<Regex>> = spec
        .sections
        .iter()
        .map(|s| s.applies_to.as_deref().map(Regex::new).transpose())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::schema(e.to_string()))?;
    let mut sections: Vec<Option<SectionData>> = Vec::new();
    for s in &spec.sections {
        let Some(frame) = frames.get(&s.table) else {
            sections.push(None);
            continue;
        };
        let ctx = |e: Error| e.source_id(s.table.clone()).stage("api");
        let names: Vec<String> = match &s.columns {
            Some(c) => c.clone(),
            None => frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .filter(|c| c != &s.code && Some(c) != s.by.as_ref() && !s.exclude.contains(c))
                .collect(),
        };
        let columns = names
            .iter()
            .map(|n| Ok((n.clone(), Col::read(frame, &s.table, n)?)))
            .collect::<Result<Vec<_>>>()
            .map_err(ctx)?;
        let by = match &s.by {
            Some(b) => Some(Col::read(frame, &s.table, b).map_err(ctx)?),
            None => None,
        };
        let codes = Col::read(frame, &s.table, &s.code).map_err(ctx)?;
        let mut rows: HashMap<String, Vec<usize>> = HashMap::new();
        for i in filtered_rows(frame, &s.table, &s.filter).map_err(ctx)? {
            if let Some(c) = codes.text(i) {
                let r = rows.entry(c).or_default();
                if s.shape == Shape::One && !r.is_empty() {
                    return Err(Error::new(ErrorKind::Verification(format!(
                        "section `{}.{}` expects one row per area, but rows {} and {} both hold this code",
                        s.group,
                        s.key,
                        r[0] + 2,
                        i + 2
                    )))
                    .source_id(s.table.clone())
                    .column(s.code.clone())
                    .row(i + 2)
                    .stage("api"));
                }
                r.push(i);
            }
        }
        let declared = missing_columns.get(&s.table);
        let missing: Map<String, Value> = columns
            .iter()
            .filter_map(|(n, _)| {
                declared
                    .and_then(|m| m.get(n))
                    .map(|r| (n.clone(), json!(r)))
            })
            .collect();
        sections.push(Some(SectionData {
            columns,
            by,
            rows,
            missing,
        }));
    }
    let sections_of_type: Vec<Vec<usize>> = spec
        .area_types
        .iter()
        .map(|a| {
            spec.sections
                .iter()
                .enumerate()
                .filter(|(_, s)| s.area_type == a.id)
                .map(|(i, _)| i)
                .collect()
        })
        .collect();

    let base = release.join(&spec.base);
    let areas_dir = base.join("areas");
    std::fs::create_dir_all(&areas_dir).map_err(|e| Error::io(&areas_dir, e))?;
    let write = |rel: String, value: &Value| -> Result<FileEntry> {
        let bytes = serde_json::to_vec(value).map_err(Error::table)?;
        let path = release.join(&rel);
        std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
        Ok(FileEntry {
            path: rel,
            bytes: bytes.len() as u64,
            sha256: sha256_bytes(&bytes),
        })
    };

    // 3. One file per code.
    let codes: Vec<(&String, &Area)> = areas.iter().collect();
    let chunks: Vec<&[(&String, &Area)]> = codes.chunks(512).collect();
    let area_file = |code: &str, area: &Area| -> Value {
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
        let mut parents = Map::new();
        for (t, (code, name)) in &area.parents {
            let name = name
                .clone()
                .or_else(|| code.as_deref().and_then(|c| name_of(c, t)));
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
        o.insert("parents".into(), Value::Object(parents));
        let mut groups: IndexMap<String, Map<String, Value>> = IndexMap::new();
        let mut caveats: Vec<String> = spec.caveats.clone();
        let mut gaps = Vec::new();
        for &t in &area.types {
            caveats.extend(spec.area_types[t].caveats.iter().cloned());
            for &si in &sections_of_type[t] {
                let s = &spec.sections[si];
                let id = format!("{}.{}", s.group, s.key);
                let applies = applies_to[si].as_ref().is_none_or(|r| r.is_match(code));
                let Some(data) = &sections[si] else {
                    if applies {
                        gaps.push(json!({"section": id, "reason": format!("table `{}` is unavailable: {}", s.table, why_missing(&s.table))}));
                    }
                    continue;
                };
                let Some(rows) = data.rows.get(code) else {
                    if applies {
                        gaps.push(json!({"section": id, "reason": format!("table `{}` has no row for {code}", s.table)}));
                    }
                    continue;
                };
                let record = |i: usize| -> Map<String, Value> {
                    let mut m = Map::new();
                    for (n, c) in &data.columns {
                        let v = c.json(i);
                        if !(s.skip_nulls && v.is_null()) {
                            m.insert(n.clone(), v);
                        }
                    }
                    m
                };
                let mut sec = Map::new();
                sec.insert("title".into(), json!(s.title));
                sec.insert("table".into(), json!(s.table));
                match s.shape {
                    Shape::One => sec.extend(record(rows[0])),
                    Shape::Many => {
                        sec.insert(
                            "rows".into(),
                            Value::Array(rows.iter().map(|&i| Value::Object(record(i))).collect()),
                        );
                    }
                    Shape::Keyed => {
                        let by = data.by.as_ref().expect("validated: keyed has `by`");
                        let mut values = Map::new();
                        for &i in rows {
                            let k = by.text(i).unwrap_or_default();
                            values.insert(k, Value::Object(record(i)));
                        }
                        sec.insert("values".into(), Value::Object(values));
                    }
                }
                if !data.missing.is_empty() {
                    sec.insert("missing".into(), Value::Object(data.missing.clone()));
                }
                if let Some(c) = &s.caveat {
                    caveats.push(c.clone());
                }
                groups
                    .entry(s.group.clone())
                    .or_default()
                    .insert(s.key.clone(), Value::Object(sec));
            }
        }
        for (g, m) in groups {
            o.insert(g, Value::Object(m));
        }
        let mut seen = std::collections::HashSet::new();
        caveats.retain(|c| seen.insert(c.clone()));
        o.insert("caveats".into(), json!(caveats));
        o.insert("unavailable".into(), Value::Array(gaps));
        Value::Object(o)
    };
    let written: Vec<Result<Vec<FileEntry>>> = crate::build::parallel_map(&chunks, |chunk| {
        chunk
            .iter()
            .map(|(code, area)| {
                write(
                    format!("{}/areas/{code}.json", spec.base),
                    &area_file(code, area),
                )
            })
            .collect()
    });
    let mut files = Vec::new();
    for w in written {
        files.extend(w?);
    }

    // 4. The index of areas.
    let index = json!({
        "count": areas.len(),
        "types": spec.area_types.iter().zip(&type_counts).map(|(a, n)| json!({"type": a.id, "label": a.label, "count": n, "pattern": a.pattern})).collect::<Vec<_>>(),
        "areas": areas.iter().map(|(code, a)| json!({
            "code": code,
            "name": a.name(),
            "types": a.types.iter().map(|&t| spec.area_types[t].id.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    files.push(write(format!("{}/areas/index.json", spec.base), &index)?);

    // 5. Postcodes.
    let mut out = ApiOutput {
        areas: areas.len(),
        ..Default::default()
    };
    if let Some(pc) = &spec.postcodes {
        match frames.get(&pc.table) {
            None => {
                tracing::warn!(table = %pc.table, reason = %why_missing(&pc.table), "No postcode table; the API has no postcode files.")
            }
            Some(frame) => {
                let ctx = |e: Error| e.source_id(pc.table.clone()).stage("api");
                let postcodes = Col::read(frame, &pc.table, &pc.postcode).map_err(ctx)?;
                let small = Col::read(frame, &pc.table, &pc.small_area).map_err(ctx)?;
                let la = Col::read(frame, &pc.table, &pc.local_authority).map_err(ctx)?;
                let term = Col::read(frame, &pc.table, &pc.terminated).map_err(ctx)?;
                let term_missing = missing_columns
                    .get(&pc.table)
                    .and_then(|m| m.get(&pc.terminated))
                    .cloned();
                let index_sections: Vec<(usize, &Section)> = pc
                    .indices
                    .iter()
                    .filter_map(|id| {
                        spec.sections
                            .iter()
                            .enumerate()
                            .find(|(_, s)| &format!("{}.{}", s.group, s.key) == id)
                    })
                    .collect();
                let mut by_outcode: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
                let mut invalid = Vec::new();
                for i in 0..frame.height() {
                    let raw = postcodes.text(i).unwrap_or_default();
                    let Some((outcode, postcode)) = normalise_postcode(&raw) else {
                        invalid.push(json!({"postcode": raw, "row": i + 2, "reason": "not a UK postcode after removing spaces and upper-casing"}));
                        continue;
                    };
                    let area = small.text(i);
                    let area_types: Vec<String> = area
                        .as_deref()
                        .and_then(|c| areas.get(c))
                        .map(|a| {
                            a.types
                                .iter()
                                .map(|&t| spec.area_types[t].id.clone())
                                .collect()
                        })
                        .unwrap_or_default();
                    let area_name = area
                        .as_deref()
                        .and_then(|c| areas.get(c).and_then(Area::name));
                    let la_code = la.text(i);
                    let la_name = la_code
                        .as_deref()
                        .and_then(|c| areas.get(c).and_then(Area::name));
                    let (status, terminated, status_reason) = match (&term_missing, term.text(i)) {
                        (Some(reason), _) => (
                            "unknown",
                            None,
                            Some(format!("termination is not recorded: {reason}")),
                        ),
                        (None, Some(t)) if !t.trim().is_empty() => ("terminated", Some(t), None),
                        (None, _) => ("live", None, None),
                    };
                    let mut imd = Value::Null;
                    let mut imd_reason = None;
                    if let Some(code) = &area {
                        for (si, s) in &index_sections {
                            let Some(data) = &sections[*si] else { continue };
                            if let Some(rows) = data.rows.get(code) {
                                let mut m = Map::new();
                                m.insert("index".into(), json!(s.key));
                                m.insert("title".into(), json!(s.title));
                                for f in &pc.fields {
                                    if let Some((_, c)) = data.columns.iter().find(|(n, _)| n == f)
                                    {
                                        m.insert(f.clone(), c.json(rows[0]));
                                    }
                                }
                                imd = Value::Object(m);
                                break;
                            }
                        }
                        if imd.is_null() {
                            let mut reason = format!(
                                "no index of this release covers small area {code}{}",
                                if area_types.is_empty() {
                                    " (not a known area)".to_string()
                                } else {
                                    format!(" ({})", area_types.join(", "))
                                }
                            );
                            let type_caveats: Vec<&String> = area
                                .as_deref()
                                .and_then(|c| areas.get(c))
                                .map(|a| {
                                    a.types
                                        .iter()
                                        .flat_map(|&t| spec.area_types[t].caveats.iter())
                                        .collect()
                                })
                                .unwrap_or_default();
                            if let Some(c) = type_caveats.first() {
                                reason.push_str(": ");
                                reason.push_str(c);
                            }
                            imd_reason = Some(reason);
                        }
                    } else {
                        imd_reason =
                            Some("the look-up gives no small area for this postcode".to_string());
                    }
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
                    let entry = by_outcode.entry(outcode).or_default();
                    if let Some(prev) = entry.get(&postcode) {
                        if prev != &Value::Object(p.clone()) {
                            return Err(Error::new(ErrorKind::Verification(format!(
                                "postcode {postcode} appears twice with different areas (once as {raw:?}); the look-up must give one area per postcode"
                            )))
                            .source_id(pc.table.clone())
                            .column(pc.postcode.clone())
                            .row(i + 2)
                            .stage("api"));
                        }
                        continue;
                    }
                    entry.insert(postcode, Value::Object(p));
                }
                let dir = base.join("postcodes");
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
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
                    files.push(write(
                        format!("{}/postcodes/{outcode}.json", spec.base),
                        &v,
                    )?);
                }
                out.outcodes = by_outcode.len();
                out.invalid_postcodes = invalid.len();
                if !invalid.is_empty() {
                    tracing::warn!(count = invalid.len(), table = %pc.table, "Postcodes that are not UK postcodes are listed in postcodes/index.json, not published.");
                }
                let v = json!({
                    "source_table": pc.table,
                    "postcodes": out.postcodes,
                    "outcodes": outcodes,
                    "invalid": invalid,
                });
                files.push(write(format!("{}/postcodes/index.json", spec.base), &v)?);
            }
        }
    }

    // 6. The API's description.
    files.push(write("openapi.json".into(), &openapi(spec))?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    out.files = files;
    Ok(out)
}

/// `"bt1 1aa"` -> `("BT1", "BT1 1AA")`: upper case, spaces removed, then one
/// space before the inward code. `None` if it is not a UK postcode.
pub fn normalise_postcode(raw: &str) -> Option<(String, String)> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    static PATTERN: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        Regex::new(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$").expect("valid regex")
    });
    let c = re.captures(&s)?;
    let (out, inw) = (c[1].to_string(), c[2].to_string());
    Some((out.clone(), format!("{out} {inw}")))
}

/// The OpenAPI 3.1 description of the static API.
pub fn openapi(spec: &ApiStage) -> Value {
    let base = format!("/{}", spec.base);
    let groups: Vec<String> = {
        let mut g: Vec<String> = spec.sections.iter().map(|s| s.group.clone()).collect();
        let mut seen = std::collections::HashSet::new();
        g.retain(|x| seen.insert(x.clone()));
        g
    };
    let mut group_props = Map::new();
    for g in &groups {
        let keys: Map<String, Value> = spec
            .sections
            .iter()
            .filter(|s| &s.group == g)
            .map(|s| {
                (
                    s.key.clone(),
                    json!({
                        "description": format!("{} (table `{}`, for {} areas{}). {}",
                            s.title, s.table, s.area_type,
                            s.applies_to.as_deref().map(|p| format!(" with codes matching {p}")).unwrap_or_default(),
                            match s.shape {
                                Shape::One => "The row's fields sit beside `title` and `table`; field meanings are in datapackage.json.",
                                Shape::Many => "The rows are listed under `rows`.",
                                Shape::Keyed => "The rows are under `values`, keyed by the `by` column; null fields are left out where `status`/`reason` explain them.",
                            }),
                        "$ref": "#/components/schemas/Section",
                    }),
                )
            })
            .collect();
        group_props.insert(
            g.clone(),
            json!({"type": "object", "description": format!("Sections of group `{g}`."), "properties": keys}),
        );
    }
    let type_list: Vec<Value> = spec.area_types.iter().map(|a| json!(a.id)).collect();
    let mut area_props = Map::new();
    area_props.insert(
        "code".into(),
        json!({"type": "string", "description": "The GSS (or NI SOA) code; also the file name."}),
    );
    area_props.insert(
        "name".into(),
        json!({"type": ["string", "null"], "description": "The area's name under its first type."}),
    );
    area_props.insert("types".into(), json!({"type": "array", "description": "Every area type (geography and vintage) this code denotes; labels are in areas/index.json.", "items": {"type": "string", "enum": type_list}}));
    area_props.insert("names".into(), json!({"type": "object", "description": "The area's name under each of its types (null where the register gives none).", "additionalProperties": {"type": ["string", "null"]}}));
    area_props.insert("parents".into(), json!({"type": "object", "description": "Parent geographies by area type id.", "additionalProperties": {"$ref": "#/components/schemas/Parent"}}));
    for (g, v) in group_props {
        area_props.insert(g, v);
    }
    area_props.insert("caveats".into(), json!({"type": "array", "items": {"type": "string"}, "description": "What a reader must know before using these figures."}));
    area_props.insert("unavailable".into(), json!({"type": "array", "description": "Sections that apply to this area but have no data, with the reason.", "items": {"$ref": "#/components/schemas/Unavailable"}}));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "UK deprivation and Census 2021: static API",
            "version": spec.base.rsplit('/').next().unwrap_or("v1"),
            "description": format!("{} Static JSON files: fetch them with GET; no query parameters. Rank 1 = most deprived; decile 1 = most deprived 10%; ranks, deciles and scores compare only within one nation and edition.", spec.description),
            "license": {"name": "OGL-UK-3.0", "url": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"},
        },
        "paths": {
            format!("{base}/areas/{{code}}.json"): {
                "get": {
                    "summary": "Everything published about one area code",
                    "operationId": "getArea",
                    "parameters": [{"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9]+$"}, "description": "An area code, as listed in areas/index.json."}],
                    "responses": {
                        "200": {"description": "The area.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Area"}}}},
                        "404": {"description": "No area has this code in this release."},
                    },
                },
            },
            format!("{base}/areas/index.json"): {
                "get": {
                    "summary": "Every area code with its name and types",
                    "operationId": "listAreas",
                    "responses": {"200": {"description": "The index.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AreaIndex"}}}}},
                },
            },
            format!("{base}/postcodes/{{outcode}}.json"): {
                "get": {
                    "summary": "Every postcode of an outcode, with its small area and IMD",
                    "operationId": "getOutcode",
                    "parameters": [{"name": "outcode", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Z]{1,2}[0-9][A-Z0-9]?$"}, "description": "The outward code in upper case, e.g. BT1. Normalise a postcode by upper-casing it and removing spaces; the outcode is all but its last three characters."}],
                    "responses": {
                        "200": {"description": "The outcode's postcodes.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcode"}}}},
                        "404": {"description": "No postcode of this outcode is in the look-up of this release."},
                    },
                },
            },
            format!("{base}/postcodes/index.json"): {
                "get": {
                    "summary": "Every outcode, and the look-up's rows that are not UK postcodes",
                    "operationId": "listOutcodes",
                    "responses": {"200": {"description": "The index.", "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "schemas": {
                "Area": {"type": "object", "required": ["code", "name", "types", "names", "parents", "caveats", "unavailable"], "properties": area_props},
                "Parent": {"type": "object", "required": ["code", "name"], "properties": {
                    "code": {"type": ["string", "null"]},
                    "name": {"type": ["string", "null"]},
                    "note": {"type": "string"},
                }},
                "Section": {"type": "object", "required": ["title", "table"], "properties": {
                    "title": {"type": "string"},
                    "table": {"type": "string", "description": "The release table the values come from (tables/<table>.parquet)."},
                    "rows": {"type": "array", "items": {"type": "object"}},
                    "values": {"type": "object", "additionalProperties": {"type": "object"}},
                    "missing": {"type": "object", "description": "Fields the source does not provide (null here), with the reason.", "additionalProperties": {"type": "string"}},
                }, "additionalProperties": true},
                "Unavailable": {"type": "object", "required": ["section", "reason"], "properties": {
                    "section": {"type": "string", "description": "`group.key`."},
                    "reason": {"type": "string"},
                }},
                "AreaIndex": {"type": "object", "required": ["count", "types", "areas"], "properties": {
                    "count": {"type": "integer"},
                    "types": {"type": "array", "items": {"type": "object"}},
                    "areas": {"type": "array", "items": {"type": "object", "required": ["code", "types"], "properties": {
                        "code": {"type": "string"}, "name": {"type": ["string", "null"]}, "types": {"type": "array", "items": {"type": "string"}},
                    }}},
                }},
                "Outcode": {"type": "object", "required": ["outcode", "count", "postcodes"], "properties": {
                    "outcode": {"type": "string"},
                    "count": {"type": "integer"},
                    "caveats": {"type": "array", "items": {"type": "string"}},
                    "postcodes": {"type": "array", "items": {"$ref": "#/components/schemas/Postcode"}},
                }},
                "Postcode": {"type": "object", "required": ["postcode", "status", "small_area", "local_authority", "imd"], "properties": {
                    "postcode": {"type": "string", "description": "Normalised: upper case, one space before the inward code."},
                    "status": {"type": "string", "enum": ["live", "terminated", "unknown"], "description": "unknown when the look-up does not record terminations (see status_reason)."},
                    "terminated": {"type": ["string", "null"]},
                    "status_reason": {"type": "string"},
                    "small_area": {"type": "object"},
                    "local_authority": {"type": "object"},
                    "imd": {"type": ["object", "null"], "description": "The small area's IMD in the first index that covers it; null with imd_unavailable_reason otherwise."},
                    "imd_unavailable_reason": {"type": "string"},
                }},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
description = "test"
base = "api/v1"
caveats = ["rank 1 = most deprived"]
[[area_types]]
id = "lsoa"
label = "LSOA"
pattern = '^[EW]01\d{6}$'
registers = [{ table = "lookup", code = "code", name = "name", parents = { lad = "lad" } }]
[[area_types]]
id = "lad"
label = "LAD"
pattern = '^[EW]06\d{6}$'
registers = [{ table = "lookup", code = "lad", name = "lad_name" }]
[[area_types]]
id = "soa"
label = "SOA"
pattern = '^95[A-Z]{2}\d{2}$'
registers = [{ table = "ni", code = "soa", parents_by_name = { lad = "lad_name" } }]
[[sections]]
group = "deprivation"
key = "england"
title = "England"
area_type = "lsoa"
table = "imd_e"
code = "code"
applies_to = '^E01'
caveat = "within England"
[[sections]]
group = "deprivation"
key = "wales"
title = "Wales"
area_type = "lsoa"
table = "imd_w"
code = "code"
applies_to = '^W01'
[postcodes]
table = "pc"
postcode = "pc"
small_area = "area"
local_authority = "lad"
terminated = "term"
indices = ["deprivation.england"]
fields = ["imd_rank"]
"#;

    fn spec() -> ApiStage {
        toml::from_str(SPEC).unwrap()
    }

    fn frames() -> HashMap<String, DataFrame> {
        let mut f = HashMap::new();
        f.insert(
            "lookup".into(),
            df!(
                "code" => ["E01000001", "E01000002", "W01000001"],
                "name" => ["A 001A", "A 001B", "C 001A"],
                "lad" => ["E06000001", "E06000001", "W06000001"],
                "lad_name" => ["A", "A", "C"],
            )
            .unwrap(),
        );
        f.insert(
            "imd_e".into(),
            df!("code" => ["E01000001"], "imd_rank" => [7i64], "imd_score" => [None::<f64>])
                .unwrap(),
        );
        f.insert(
            "ni".into(),
            df!("soa" => ["95AA01", "95AA02"], "lad_name" => ["C", "Nowhere"]).unwrap(),
        );
        f.insert(
            "pc".into(),
            df!(
                "pc" => ["e11aa", "E1 1AB", "W1 1AA", "nonsense", "E11AA"],
                "area" => [Some("E01000001"), Some("E01000002"), Some("W01000001"), None, Some("E01000001")],
                "lad" => ["E06000001", "E06000001", "W06000001", "E06000001", "E06000001"],
                "term" => [None, Some("202001"), None, None, None],
            )
            .unwrap(),
        );
        f
    }

    fn run(frames: &HashMap<String, DataFrame>) -> (tempfile::TempDir, Result<ApiOutput>) {
        let dir = tempfile::tempdir().unwrap();
        let missing: HashMap<String, IndexMap<String, String>> = [(
            "imd_e".to_string(),
            [(
                "imd_score".to_string(),
                "File 5 is not an input".to_string(),
            )]
            .into(),
        )]
        .into();
        let unavailable: HashMap<String, String> = [(
            "imd_w".to_string(),
            "WIMD is not in this catalog".to_string(),
        )]
        .into();
        let out = generate(&spec(), frames, &missing, &unavailable, dir.path());
        (dir, out)
    }

    fn read(dir: &Path, rel: &str) -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(rel)).unwrap()).unwrap()
    }

    #[test]
    fn an_area_shows_its_sections_and_lists_every_gap_with_the_reason() {
        let (dir, out) = run(&frames());
        let out = out.unwrap();
        assert_eq!(out.areas, 7, "3 LSOAs, 2 LADs and 2 SOAs");
        let a = read(dir.path(), "api/v1/areas/E01000001.json");
        assert_eq!(a["deprivation"]["england"]["imd_rank"], 7);
        assert_eq!(
            a["deprivation"]["england"]["missing"]["imd_score"],
            "File 5 is not an input"
        );
        assert_eq!(
            a["parents"]["lad"],
            json!({"code": "E06000001", "name": "A"})
        );
        assert_eq!(
            a["caveats"],
            json!(["rank 1 = most deprived", "within England"])
        );
        assert_eq!(a["unavailable"], json!([]));
        // An English LSOA without a row: a gap, not a silence.
        let b = read(dir.path(), "api/v1/areas/E01000002.json");
        assert_eq!(b["unavailable"][0]["section"], "deprivation.england");
        assert!(b["unavailable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no row for E01000002"));
        // A Welsh LSOA whose index table is unavailable: the build's reason.
        let w = read(dir.path(), "api/v1/areas/W01000001.json");
        assert_eq!(w["unavailable"][0]["section"], "deprivation.wales");
        assert!(w["unavailable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("WIMD is not in this catalog"));
        assert!(w.get("deprivation").is_none());
    }

    #[test]
    fn parents_given_by_name_are_resolved_or_flagged() {
        let (dir, out) = run(&frames());
        out.unwrap();
        let a = read(dir.path(), "api/v1/areas/95AA01.json");
        assert_eq!(a["parents"]["lad"]["code"], "W06000001");
        let b = read(dir.path(), "api/v1/areas/95AA02.json");
        assert!(b["parents"]["lad"]["code"].is_null());
        assert_eq!(b["parents"]["lad"]["name"], "Nowhere");
        assert!(b["parents"]["lad"]["note"].is_string());
    }

    #[test]
    fn postcodes_are_grouped_marked_and_deduplicated() {
        let (dir, out) = run(&frames());
        let out = out.unwrap();
        assert_eq!(
            (out.postcodes, out.outcodes, out.invalid_postcodes),
            (3, 2, 1)
        );
        let e1 = read(dir.path(), "api/v1/postcodes/E1.json");
        let pcs = e1["postcodes"].as_array().unwrap();
        assert_eq!(pcs.len(), 2, "`e11aa` and `E11AA` are one postcode");
        assert_eq!(pcs[0]["postcode"], "E1 1AA");
        assert_eq!(pcs[0]["status"], "live");
        assert_eq!(pcs[0]["imd"]["imd_rank"], 7);
        assert_eq!(pcs[1]["status"], "terminated");
        assert_eq!(pcs[1]["terminated"], "202001");
        assert!(pcs[1]["imd"].is_null());
        assert!(pcs[1]["imd_unavailable_reason"]
            .as_str()
            .unwrap()
            .contains("E01000002"));
        let index = read(dir.path(), "api/v1/postcodes/index.json");
        assert_eq!(index["invalid"][0]["postcode"], "nonsense");
        assert_eq!(index["invalid"][0]["row"], 5);
    }

    #[test]
    fn a_postcode_given_two_areas_stops_the_build() {
        let mut f = frames();
        f.insert(
            "pc".into(),
            df!("pc" => ["E11AA", "e1 1aa"], "area" => ["E01000001", "E01000002"], "lad" => ["E06000001", "E06000001"], "term" => [None::<&str>, None]).unwrap(),
        );
        let err = run(&f).1.unwrap_err().to_string();
        assert!(err.contains("E1 1AA appears twice"), "{err}");
        assert!(
            err.contains("column `pc`") && err.contains("row 3"),
            "{err}"
        );
    }

    #[test]
    fn a_code_that_is_not_of_its_type_stops_the_build_naming_where() {
        let mut f = frames();
        f.insert(
            "ni".into(),
            df!("soa" => ["95AA01", "../etc"], "lad_name" => ["C", "C"]).unwrap(),
        );
        let err = run(&f).1.unwrap_err().to_string();
        assert!(
            err.contains("source `ni`") && err.contains("column `soa`") && err.contains("row 3"),
            "{err}"
        );
    }

    #[test]
    fn two_rows_for_a_one_row_section_stop_the_build() {
        let mut f = frames();
        f.insert(
            "imd_e".into(),
            df!("code" => ["E01000001", "E01000001"], "imd_rank" => [7i64, 8], "imd_score" => [None::<f64>, None]).unwrap(),
        );
        let err = run(&f).1.unwrap_err().to_string();
        assert!(err.contains("rows 2 and 3"), "{err}");
    }

    #[test]
    fn the_same_inputs_give_byte_identical_files() {
        let f = frames();
        let (a, oa) = run(&f);
        let (b, ob) = run(&f);
        let (oa, ob) = (oa.unwrap(), ob.unwrap());
        assert_eq!(oa.files, ob.files);
        for file in &oa.files {
            assert_eq!(
                std::fs::read(a.path().join(&file.path)).unwrap(),
                std::fs::read(b.path().join(&file.path)).unwrap()
            );
        }
    }

    #[test]
    fn the_spec_is_checked_as_a_whole() {
        let mut s = spec();
        s.sections[0].area_type = "nope".into();
        s.sections[1].key = "england".into();
        s.area_types[0].registers[0]
            .parents
            .insert("county".into(), "lad".into());
        let mut errors = Vec::new();
        s.validate("Stage `api`", &mut errors);
        assert_eq!(errors.len(), 3, "{errors:#?}");
    }

    #[test]
    fn postcodes_are_normalised_for_case_and_spaces() {
        let want = Some(("BT1".to_string(), "BT1 1AA".to_string()));
        assert_eq!(normalise_postcode("BT11AA"), want);
        assert_eq!(normalise_postcode(" bt1  1aa "), want);
        assert_eq!(normalise_postcode("bt1\t1Aa"), want);
        assert_eq!(
            normalise_postcode("sw1a 1aa"),
            Some(("SW1A".into(), "SW1A 1AA".into()))
        );
        assert_eq!(
            normalise_postcode("M1 1AE"),
            Some(("M1".into(), "M1 1AE".into()))
        );
        assert_eq!(normalise_postcode("not a postcode"), None);
        assert_eq!(normalise_postcode(""), None);
        assert_eq!(normalise_postcode("BT1 1A"), None);
    }
}
