//! Phase 1 of the API: the register of areas, from the tables its area
//! types name. A code can denote several types; each type contributes its
//! name and parents, the first register naming one winning.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use super::{ApiStage, AreaType, Filter, Register};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::Table;
use crate::hash::HashMap;

/// One area: its types and what its registers say.
#[derive(Default)]
pub struct Area {
    pub types: Vec<usize>,
    /// Per type: the name.
    pub names: IndexMap<String, Option<String>>,
    /// Parent type -> (code, name); the code is None when a parent given by
    /// name did not resolve to one code.
    pub parents: IndexMap<String, (Option<String>, Option<String>)>,
}

impl Area {
    /// The name under the area's first type that has one.
    pub fn name(&self) -> Option<String> {
        self.names.values().find_map(|n| n.clone())
    }
}

/// Every area, by code, and how many areas each type has.
#[derive(Default)]
pub struct Registry {
    pub areas: BTreeMap<String, Area>,
    pub type_counts: Vec<usize>,
}

/// A parent given by name, to resolve once every register is read.
struct ByName {
    code: String,
    parent_type: String,
    name: String,
}

/// What reading the registers collects.
struct Reading {
    registry: Registry,
    /// Per type: name -> codes, to resolve parents given by name.
    by_name: Vec<HashMap<String, Vec<String>>>,
    by_name_refs: Vec<ByName>,
}

impl Registry {
    pub fn build(spec: &ApiStage, inputs: &Frames<'_>) -> Result<Registry> {
        let n = spec.area_types.len();
        let mut r = Reading {
            registry: Registry {
                areas: BTreeMap::new(),
                type_counts: vec![0; n],
            },
            by_name: vec![HashMap::default(); n],
            by_name_refs: Vec::new(),
        };
        for (ti, at) in spec.area_types.iter().enumerate() {
            for reg in &at.registers {
                let Some(frame) = inputs.get(&reg.table) else {
                    tracing::warn!(area_type = %at.id, table = %reg.table, reason = %inputs.why_unavailable(&reg.table), "Register unavailable; its areas are not in the API.");
                    continue;
                };
                read_register(ti, at, reg, frame, &mut r)
                    .map_err(|e| e.source_id(reg.table.clone()).stage("api"))?;
            }
        }
        resolve_names(spec, r)
    }

    /// The name of `code` under type `t`.
    pub fn name_of(&self, code: &str, t: &str) -> Option<String> {
        self.areas
            .get(code)
            .and_then(|a| a.names.get(t).cloned().flatten())
    }
}

fn read_register(
    ti: usize,
    at: &AreaType,
    reg: &Register,
    frame: &Table,
    r: &mut Reading,
) -> Result<()> {
    let codes = frame.cells(&reg.code)?;
    let names = reg.name.as_ref().map(|n| frame.cells(n)).transpose()?;
    let parents = reg
        .parents
        .iter()
        .map(|(t, c)| Ok((t, frame.cells(c)?)))
        .collect::<Result<Vec<_>>>()?;
    let parent_names = reg
        .parents_by_name
        .iter()
        .map(|(t, c)| Ok((t, frame.cells(c)?)))
        .collect::<Result<Vec<_>>>()?;
    for i in filtered_rows(frame, &reg.filter)? {
        let Some(code) = codes.text(i) else { continue };
        if !at.pattern.is_match(&code) {
            return Err(Error::check(
                &reg.table,
                "area_codes",
                format!(
                    "`{code}` is not a code of area type `{}` (pattern {}); fix the register or the table",
                    at.id, at.pattern
                ),
                Vec::new(),
            )
            .column(reg.code.clone())
            .row(i + 2));
        }
        let area = r.registry.areas.entry(code.clone()).or_default();
        if !area.types.contains(&ti) {
            area.types.push(ti);
            r.registry.type_counts[ti] += 1;
        }
        let name = names.as_ref().and_then(|n| n.text(i));
        let slot = area.names.entry(at.id.clone()).or_insert(None);
        if slot.is_none() {
            if let Some(n) = &name {
                r.by_name[ti]
                    .entry(n.clone())
                    .or_default()
                    .push(code.clone());
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
                    r.by_name_refs.push(ByName {
                        code: code.clone(),
                        parent_type: (*t).clone(),
                        name: n,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Resolves parents given by name: a name that identifies exactly one code
/// of the parent type gives that code; otherwise the code stays unknown.
fn resolve_names(spec: &ApiStage, r: Reading) -> Result<Registry> {
    let Reading {
        mut registry,
        by_name,
        by_name_refs,
    } = r;
    let type_index: HashMap<&str, usize> = spec
        .area_types
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    for b in by_name_refs {
        let codes = type_index
            .get(b.parent_type.as_str())
            .and_then(|&t| by_name[t].get(&b.name));
        let resolved = match codes.map(|c| c.as_slice()) {
            Some([one]) => Some(one.clone()),
            _ => None,
        };
        if let Some(a) = registry.areas.get_mut(&b.code) {
            a.parents
                .entry(b.parent_type)
                .or_insert((resolved, Some(b.name)));
        }
    }
    Ok(registry)
}

/// The rows of `frame` that pass `filter`.
pub fn filtered_rows(frame: &Table, filter: &Option<Filter>) -> Result<Vec<usize>> {
    let n = frame.height();
    let Some(f) = filter else {
        return Ok((0..n).collect());
    };
    let col = frame.cells(&f.column)?;
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
