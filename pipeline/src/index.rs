//! Deprivation indices: one canonical table per nation and edition.
//!
//! A `deprivation_index` stage joins loaded tables on the area code, lays out
//! every measure as `<measure>_score`, `<measure>_rank`, `<measure>_decile`,
//! adds the IMD quantiles for every q the original platform accepts, and
//! verifies the table's geography. Nothing is filled silently: a measure
//! column that no input provides must be declared `missing` with a reason in
//! the spec (checked by `census-pipeline check`), and a decile that is not
//! published is computed from the rank and recorded as computed.
//!
//! Quantiles follow docs/domain.md: with N areas and q quantiles,
//! `quantile = ceil(rank * q / N)`, so the least deprived area is in band q,
//! not q + 1 as in the original platform.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::values::Values;
use crate::verify::{Check, Status, TableReport};

/// The quantile counts the original platform accepts.
pub const QUANTILES: [u32; 11] = [2, 3, 4, 5, 6, 7, 8, 10, 12, 18, 20];

/// Parameters of a `deprivation_index` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexStage {
    /// What the table is, in a sentence (published as the table description).
    pub description: String,
    /// The output table, e.g. `imd_england_2019`.
    pub table: String,
    /// England, Wales, Scotland or Northern Ireland.
    pub nation: String,
    /// The edition, e.g. `2019`, `2020v2`.
    pub edition: String,
    /// The small-area geography, e.g. `LSOA 2011`.
    pub area_type: String,
    /// The output key column, e.g. `lsoa11_code`.
    pub key: String,
    /// The number of areas the publisher issues.
    pub rows: usize,
    /// A regular expression every area code must match.
    pub code_pattern: String,
    /// The measures, in output order; `imd` (the overall index) comes first.
    pub measures: Vec<String>,
    /// Input tables, joined on the key in order; the first defines the areas.
    pub from: Vec<FromTable>,
    /// Output columns no input provides, with the reason (published).
    #[serde(default)]
    pub missing: IndexMap<String, String>,
    /// Published bands to check the computed quantiles against: output
    /// column -> number of bands (e.g. `imd_decile = 10`).
    #[serde(default)]
    pub published_bands: IndexMap<String, u32>,
    /// Why published bands may legitimately differ from equal-count bands.
    #[serde(default)]
    pub band_note: Option<String>,
    /// Geography checks.
    pub verify: VerifySpec,
}

/// One input of an index: which columns it gives, under which names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FromTable {
    pub table: String,
    /// The input's area-code column (default: the stage's key).
    #[serde(default)]
    pub key: Option<String>,
    /// Keep only rows whose column equals the value (e.g. `nation = "E"`).
    #[serde(default)]
    pub filter: IndexMap<String, String>,
    /// Keep only rows whose key starts with this prefix (e.g. `W01`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Output column -> input column.
    pub columns: IndexMap<String, String>,
    /// Where these columns come from, when it is not the publisher's index
    /// file (published with the table).
    #[serde(default)]
    pub note: Option<String>,
}

/// The geography checks of an index table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// Output column holding the local authority code.
    #[serde(default)]
    pub la_code: Option<String>,
    /// Output column holding the local authority name.
    #[serde(default)]
    pub la_name: Option<String>,
    /// A regular expression every local authority code must match (lower
    /// tier only: no E10 counties, E12 regions or E92 countries).
    #[serde(default)]
    pub la_code_pattern: Option<String>,
    /// The official area -> local authority look-up of the edition's vintage.
    #[serde(default)]
    pub lookup: Option<LookupCheck>,
    /// The official list of the vintage's local authorities.
    #[serde(default)]
    pub la_list: Option<ListCheck>,
    /// Checks that cannot run for this table, with the reason (reported).
    #[serde(default)]
    pub not_available: IndexMap<String, String>,
    /// Local authority names that differ between publishers but name the
    /// same authority (e.g. two official Gaelic forms), as `name = other`.
    #[serde(default)]
    pub la_name_aliases: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LookupCheck {
    pub table: String,
    /// The look-up's area-code column.
    pub key: String,
    /// Keep only look-up rows whose key starts with this prefix (the nation).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// The look-up's local authority code column, compared with `la_code`.
    #[serde(default)]
    pub la_code: Option<String>,
    /// The look-up's local authority name column, compared with `la_name`.
    #[serde(default)]
    pub la_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListCheck {
    pub table: String,
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Keep only list rows whose code starts with this prefix.
    #[serde(default)]
    pub code_prefix: Option<String>,
}

/// Parameters of a `stack_indices` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StackStage {
    pub description: String,
    /// The output table, e.g. `imd_uk_small_areas`.
    pub table: String,
    /// The index tables to stack (outputs of `deprivation_index` stages).
    pub indices: Vec<String>,
}

const PARTS: [&str; 3] = ["score", "rank", "decile"];

impl IndexStage {
    /// Input tables read by this stage.
    pub fn inputs(&self) -> Vec<String> {
        let mut t: Vec<String> = self.from.iter().map(|f| f.table.clone()).collect();
        if let Some(l) = &self.verify.lookup {
            t.push(l.table.clone());
        }
        if let Some(l) = &self.verify.la_list {
            t.push(l.table.clone());
        }
        t.dedup();
        t
    }

    /// Every output column, in order.
    pub fn output_columns(&self) -> Vec<String> {
        let provided: Vec<&String> = self.from.iter().flat_map(|f| f.columns.keys()).collect();
        let measure_cols: Vec<String> = self
            .measures
            .iter()
            .flat_map(|m| PARTS.iter().map(move |p| format!("{m}_{p}")))
            .collect();
        let mut out = vec![self.key.clone()];
        for c in &provided {
            if !measure_cols.contains(c) && **c != self.key {
                out.push((*c).clone());
            }
        }
        out.extend(measure_cols);
        out.extend(QUANTILES.iter().map(|q| format!("imd_quantile_{q}")));
        out
    }

    /// Checks the spec against itself (the graph checks table names).
    pub fn validate(&self, what: &str, errors: &mut Vec<String>) {
        if self.from.is_empty() {
            errors.push(format!("{what} field `from` lists no input table"));
            return;
        }
        if regex::Regex::new(&self.code_pattern).is_err() {
            errors.push(format!(
                "{what} field `code_pattern` is not a valid regex, got {:?}",
                self.code_pattern
            ));
        }
        if let Some(p) = &self.verify.la_code_pattern {
            if regex::Regex::new(p).is_err() {
                errors.push(format!(
                    "{what} field `verify.la_code_pattern` is not a valid regex, got {p:?}"
                ));
            }
        }
        if self.measures.first().map(String::as_str) != Some("imd") {
            errors.push(format!(
                "{what} field `measures` must start with `imd` (the overall index)"
            ));
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for f in &self.from {
            for out in f.columns.keys() {
                if let Some(other) = seen.insert(out, &f.table) {
                    errors.push(format!(
                        "{what}: output column `{out}` is given by both `{other}` and `{}`",
                        f.table
                    ));
                }
            }
        }
        let provided: Vec<&String> = self.from.iter().flat_map(|f| f.columns.keys()).collect();
        for m in &self.measures {
            for p in PARTS {
                let col = format!("{m}_{p}");
                let has = provided.contains(&&col);
                let declared = self.missing.contains_key(&col);
                let computable = p == "decile" && provided.contains(&&format!("{m}_rank"));
                if has && declared {
                    errors.push(format!(
                        "{what}: column `{col}` is both provided and declared missing"
                    ));
                }
                if !has && !declared && !computable {
                    errors.push(format!(
                        "{what}: no input provides `{col}`; map it in `from` or declare it in `missing` with the reason"
                    ));
                }
            }
        }
        if !provided.contains(&&"imd_rank".to_string()) {
            errors.push(format!(
                "{what}: no input provides `imd_rank`, which the quantiles need"
            ));
        }
        let outputs = self.output_columns();
        for col in self.missing.keys() {
            if !outputs.contains(col) {
                errors.push(format!(
                    "{what} field `missing` names `{col}`, which is not an output column"
                ));
            }
        }
        for (col, q) in &self.published_bands {
            if !provided.contains(&col) {
                errors.push(format!(
                    "{what} field `published_bands` names `{col}`, which no input provides"
                ));
            }
            if !QUANTILES.contains(q) {
                errors.push(format!(
                    "{what} field `published_bands.{col}` must be one of {QUANTILES:?}, got {q}"
                ));
            }
        }
        for c in [&self.verify.la_code, &self.verify.la_name]
            .into_iter()
            .flatten()
        {
            if !outputs.contains(c) {
                errors.push(format!(
                    "{what} field `verify` names column `{c}`, which is not an output column"
                ));
            }
        }
    }
}

/// A built table with what a reader must know about it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BuiltTable {
    pub name: String,
    pub description: String,
    pub missing: IndexMap<String, String>,
    pub computed: IndexMap<String, String>,
    pub notes: Vec<String>,
    pub verification: Option<TableReport>,
}

/// Runs a `deprivation_index` stage on its input tables.
///
/// `input_missing` holds each input table's columns that have no source
/// (all null), with the reason: a column mapped from one is missing here
/// too, with the reason carried over, never presented as data.
pub fn build_index(
    spec: &IndexStage,
    inputs: &HashMap<String, DataFrame>,
    input_missing: &HashMap<String, IndexMap<String, String>>,
) -> Result<(DataFrame, BuiltTable)> {
    let err = |msg: String| Error::new(ErrorKind::Verification(msg));
    let mut notes = Vec::new();
    let mut missing = spec.missing.clone();
    for f in &spec.from {
        if let Some(m) = input_missing.get(&f.table) {
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

    // 1. The areas: the first input, filtered.
    let base = &spec.from[0];
    let (base_keys, base_rows) = filtered_keys(base, &inputs[&base.table], &spec.key)?;
    let n = base_rows.len();
    let mut columns: IndexMap<String, Values> = IndexMap::new();
    columns.insert(
        spec.key.clone(),
        Values::Str(base_keys.iter().cloned().map(Some).collect()),
    );

    // 2. Every input's columns, joined on the key.
    for f in &spec.from {
        let frame = &inputs[&f.table];
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
            return Err(err(format!(
                "table `{}`: {} of {n} areas have no row in input `{}` (first: {:?})",
                spec.table,
                unmatched.len(),
                f.table,
                &unmatched[..unmatched.len().min(5)]
            )));
        }
        if keys.len() != n {
            let base_set: std::collections::HashSet<&str> =
                base_keys.iter().map(String::as_str).collect();
            let extra: Vec<&String> = keys
                .iter()
                .filter(|k| !base_set.contains(k.as_str()))
                .take(5)
                .collect();
            return Err(err(format!(
                "table `{}`: input `{}` has {} areas where `{}` has {n} (first extra: {extra:?})",
                spec.table,
                f.table,
                keys.len(),
                base.table
            )));
        }
        for (out, input) in &f.columns {
            if out == &spec.key {
                continue;
            }
            let values =
                Values::from_frame(frame, input).map_err(|e| e.stage(spec.table.clone()))?;
            columns.insert(out.clone(), values.gather(&idx));
        }
        if let Some(note) = &f.note {
            notes.push(note.clone());
        }
    }

    // 3. Measures: provided, computed (deciles from ranks) or declared missing.
    let mut computed = IndexMap::new();
    let rank_of =
        |cols: &IndexMap<String, Values>, m: &str| cols.get(&format!("{m}_rank")).cloned();
    for m in &spec.measures {
        let decile = format!("{m}_decile");
        let rank_missing = missing.get(&format!("{m}_rank")).cloned();
        if let (false, Some(reason)) = (
            columns.contains_key(&decile) || missing.contains_key(&decile),
            rank_missing,
        ) {
            missing.insert(
                decile.clone(),
                format!("not published, and cannot be computed: {reason}"),
            );
        }
        if !columns.contains_key(&decile) && !missing.contains_key(&decile) {
            if let Some(rank) = rank_of(&columns, m) {
                let values = quantile_values(&rank, 10, n);
                columns.insert(decile.clone(), Values::Int(values));
                computed.insert(
                    decile,
                    format!("not published: computed from `{m}_rank` as ceil(rank * 10 / {n})"),
                );
            }
        }
    }
    // Nulls for declared-missing columns, typed like their siblings.
    for col in missing.keys() {
        if !columns.contains_key(col) {
            // Scores and ranks are floats (ranks can be tied means such as
            // 4563.5); bands are integers.
            let v = if col.ends_with("_decile") || col.contains("_quantile_") {
                Values::Int(vec![None; n])
            } else {
                Values::Float(vec![None; n])
            };
            columns.insert(col.clone(), v);
        }
    }

    // 4. Quantiles of the overall index, from its rank within the nation.
    let imd_rank = columns["imd_rank"].clone();
    if imd_rank.null_count() > 0 {
        return Err(err(format!(
            "table `{}`: `imd_rank` is empty for {} areas",
            spec.table,
            imd_rank.null_count()
        )));
    }
    for q in QUANTILES {
        columns.insert(
            format!("imd_quantile_{q}"),
            Values::Int(quantile_values(&imd_rank, q, n)),
        );
    }

    // 5. In the declared order.
    let mut out_cols = Vec::new();
    for name in spec.output_columns() {
        let v = columns.shift_remove(&name).ok_or_else(|| {
            err(format!(
                "table `{}`: column `{name}` was not produced",
                spec.table
            ))
        })?;
        out_cols.push(v.into_column(&name));
    }
    let frame = DataFrame::new(n, out_cols)?;

    // 6. Verification.
    let report = crate::verify::verify_index(spec, &frame, inputs, &missing)?;
    let failures: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect();
    if let Some(first) = failures.first() {
        return Err(err(format!(
            "table `{}`, check `{}`: {}{}",
            spec.table,
            first.check,
            first.detail,
            if first.examples.is_empty() {
                String::new()
            } else {
                format!("; first offending rows: {}", first.examples.join("; "))
            }
        ))
        .stage(spec.table.clone()));
    }

    let built = BuiltTable {
        name: spec.table.clone(),
        description: format!(
            "{} Rank 1 = most deprived; decile 1 = most deprived 10% of areas in {}. Ranks, deciles and scores compare only within {} and edition {}. \
             imd_quantile_<q> = ceil(imd_rank * q / {n}).",
            spec.description, spec.nation, spec.nation, spec.edition
        ),
        missing,
        computed,
        notes,
        verification: Some(report),
    };
    Ok((frame, built))
}

/// `ceil(rank * q / n)` for each rank (ties with a .5 rank fall in the band of
/// their mean rank).
pub fn quantile_values(rank: &Values, q: u32, n: usize) -> Vec<Option<i64>> {
    (0..rank.len())
        .map(|i| rank.number(i).map(|r| quantile(r, q, n)))
        .collect()
}

pub fn quantile(rank: f64, q: u32, n: usize) -> i64 {
    ((rank * q as f64) / n as f64).ceil().max(1.0) as i64
}

/// The keys of an input after its filters, with their row positions.
fn filtered_keys(
    f: &FromTable,
    frame: &DataFrame,
    default_key: &str,
) -> Result<(Vec<String>, Vec<usize>)> {
    let key_col = f.key.as_deref().unwrap_or(default_key);
    let keys = Values::from_frame(frame, key_col).map_err(|e| e.stage(f.table.clone()))?;
    let filters: Vec<(Values, &String)> = f
        .filter
        .iter()
        .map(|(c, v)| Ok((Values::from_frame(frame, c)?, v)))
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

/// Runs a `stack_indices` stage: the current edition of every nation in one
/// table with generic column names.
pub fn stack(
    spec: &StackStage,
    inputs: &HashMap<String, DataFrame>,
    specs: &[IndexStage],
) -> Result<(DataFrame, BuiltTable)> {
    let mut nation = Vec::new();
    let mut edition = Vec::new();
    let mut area_type = Vec::new();
    let mut code = Vec::new();
    let mut rank: Vec<Option<f64>> = Vec::new();
    let mut decile: Vec<Option<i64>> = Vec::new();
    let mut quantiles: BTreeMap<u32, Vec<Option<i64>>> = BTreeMap::new();
    for name in &spec.indices {
        let s = specs
            .iter()
            .find(|s| &s.table == name)
            .ok_or_else(|| Error::schema(format!("`{name}` is not a deprivation index table")))?;
        let frame = &inputs[name];
        let keys = Values::from_frame(frame, &s.key)?;
        let r = Values::from_frame(frame, "imd_rank")?;
        let d = Values::from_frame(frame, "imd_decile")?;
        for i in 0..keys.len() {
            nation.push(Some(s.nation.clone()));
            edition.push(Some(s.edition.clone()));
            area_type.push(Some(s.area_type.clone()));
            code.push(keys.text(i));
            rank.push(r.number(i));
            decile.push(d.number(i).map(|x| x as i64));
        }
        for q in QUANTILES {
            let v = Values::from_frame(frame, &format!("imd_quantile_{q}"))?;
            quantiles
                .entry(q)
                .or_default()
                .extend((0..v.len()).map(|i| v.number(i).map(|x| x as i64)));
        }
    }
    let n = code.len();
    let mut cols = vec![
        Column::new("nation".into(), nation),
        Column::new("edition".into(), edition),
        Column::new("area_type".into(), area_type),
        Column::new("area_code".into(), code),
        Column::new("imd_rank".into(), rank),
        Column::new("imd_decile".into(), decile),
    ];
    for (q, v) in quantiles {
        cols.push(Column::new(format!("imd_quantile_{q}").into(), v));
    }
    cols.push(Column::new(
        "comparable_across_nations".into(),
        vec![false; n],
    ));
    let frame = DataFrame::new(n, cols)?;
    Ok((
        frame,
        BuiltTable {
            name: spec.table.clone(),
            description: format!(
                "{} WARNING: ranks, deciles and quantiles are within each nation and edition only; they are NOT comparable across nations \
                 (each nation's index uses different domains, indicators and years). Rank 1 = most deprived.",
                spec.description
            ),
            ..Default::default()
        },
    ))
}
