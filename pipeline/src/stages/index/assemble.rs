//! Phase 1 of an index: the areas of the first input, and every input's
//! columns joined onto them by area code.

use crate::hash::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{FromTable, IndexStage};
use crate::contract::Frames;
use crate::error::{Error, Result};
use crate::frame::{Table, Values};

/// The joined columns, before measures are laid out.
pub struct Assembled {
    /// Output column -> values, the key first.
    pub columns: IndexMap<String, Values>,
    /// Number of areas.
    pub n: usize,
    /// Output columns with no source, with the reason: declared in the spec,
    /// or mapped from an input column that has none (the reason carried over,
    /// never presented as data).
    pub missing: IndexMap<String, String>,
}

pub fn assemble(spec: &IndexStage, inputs: &Frames<'_>) -> Result<Assembled> {
    let missing = carried_missing(spec, inputs);
    let base = &spec.from[0];
    let (base_keys, _) = filtered_keys(base, inputs.table(&base.table)?, &spec.key)?;
    let n = base_keys.len();
    let mut columns: IndexMap<String, Values> = IndexMap::new();
    columns.insert(
        spec.key.clone(),
        Values::Str(base_keys.iter().cloned().map(Some).collect()),
    );
    for f in &spec.from {
        join(spec, f, inputs.table(&f.table)?, &base_keys, &mut columns)?;
    }
    Ok(Assembled {
        columns,
        n,
        missing,
    })
}

fn carried_missing(spec: &IndexStage, inputs: &Frames<'_>) -> IndexMap<String, String> {
    let mut missing = spec.missing.clone();
    for f in &spec.from {
        if let Some(m) = inputs.missing.get(&f.table) {
            for (out, input) in &f.columns {
                if let Some(reason) = m.get(input) {
                    missing.insert(
                        out.clone(),
                        format!("input `{}` lacks `{input}`: {reason}", f.table),
                    );
                }
            }
        }
    }
    missing
}

/// Joins one input's columns onto the base areas; every base area must have
/// exactly one row, and the input no other areas.
fn join(
    spec: &IndexStage,
    f: &FromTable,
    frame: &Table,
    base_keys: &[String],
    columns: &mut IndexMap<String, Values>,
) -> Result<()> {
    let n = base_keys.len();
    let (keys, rows) = filtered_keys(f, frame, &spec.key)?;
    let pos: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), rows[i]))
        .collect();
    let idx: Vec<Option<usize>> = base_keys
        .iter()
        .map(|k| pos.get(k.as_str()).copied())
        .collect();
    let unmatched: Vec<&String> = base_keys
        .iter()
        .zip(&idx)
        .filter(|(_, i)| i.is_none())
        .map(|(k, _)| k)
        .collect();
    if !unmatched.is_empty() {
        return Err(Error::check(
            &spec.table,
            "inputs_cover_areas",
            format!(
                "{} of {n} areas have no row in input `{}`",
                unmatched.len(),
                f.table
            ),
            unmatched.iter().take(5).map(|k| k.to_string()).collect(),
        ));
    }
    if keys.len() != n {
        let base_set: HashSet<&str> = base_keys.iter().map(String::as_str).collect();
        let extra: Vec<String> = keys
            .iter()
            .filter(|k| !base_set.contains(k.as_str()))
            .take(5)
            .cloned()
            .collect();
        return Err(Error::check(
            &spec.table,
            "inputs_cover_areas",
            format!(
                "input `{}` has {} areas where `{}` has {n}",
                f.table,
                keys.len(),
                spec.from[0].table
            ),
            extra,
        ));
    }
    for (out, input) in &f.columns {
        if out == &spec.key {
            continue;
        }
        let values = frame
            .values(input)
            .map_err(|e| e.stage(spec.table.clone()))?;
        columns.insert(out.clone(), values.gather(&idx));
    }
    Ok(())
}

/// The keys of an input after its filters, with their row positions.
fn filtered_keys(
    f: &FromTable,
    frame: &Table,
    default_key: &str,
) -> Result<(Vec<String>, Vec<usize>)> {
    let key_col = f.key.as_deref().unwrap_or(default_key);
    let keys = frame
        .values(key_col)
        .map_err(|e| e.stage(f.table.clone()))?;
    let filters: Vec<(Values, &String)> = f
        .filter
        .iter()
        .map(|(c, v)| Ok((frame.values(c)?, v)))
        .collect::<Result<_>>()?;
    let mut out_keys = Vec::new();
    let mut rows = Vec::new();
    for i in 0..keys.len() {
        let Some(k) = keys.text(i) else { continue };
        if f.key_prefix.as_deref().is_some_and(|p| !k.starts_with(p)) {
            continue;
        }
        if filters
            .iter()
            .any(|(vals, want)| vals.text(i).as_deref() != Some(want.as_str()))
        {
            continue;
        }
        out_keys.push(k);
        rows.push(i);
    }
    Ok((out_keys, rows))
}
