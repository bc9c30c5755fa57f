//! `deprivation_index`: one canonical table per nation and edition.
//!
//! The stage joins loaded tables on the area code ([`assemble`]), lays out
//! every measure as `<measure>_score`, `<measure>_rank`, `<measure>_decile`
//! and adds the IMD quantiles for every q the original platform accepts
//! ([`measures`]), and verifies the table's geography ([`verify`]). Nothing
//! is filled silently: a measure column that no input provides must be
//! declared `missing` with a reason in the spec (checked by `check`), and a
//! decile that is not published is computed from the rank and recorded as
//! computed.
//!
//! Quantiles follow docs/domain.md: with N areas and q quantiles,
//! `quantile = ceil(rank * q / N)`, so the least deprived area is in band q,
//! not q + 1 as in the original platform.

mod assemble;
mod measures;
mod spec;
mod verify;

use std::collections::BTreeMap;

use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::Result;
use crate::frame::ColType;
use crate::units::{Direction, Rule, Unit};

pub use measures::{quantile, quantile_values};
pub use spec::{FromTable, IndexStage, ListCheck, LookupCheck, VerifySpec};

/// The quantile counts the original platform accepts.
pub const QUANTILES: [u32; 11] = [2, 3, 4, 5, 6, 7, 8, 10, 12, 18, 20];

impl Stage for IndexStage {
    fn inputs(&self) -> Inputs {
        // The tables it is checked against are optional: a check that cannot
        // run is reported as such.
        let optional: Vec<String> = self
            .verify
            .agree_with
            .iter()
            .map(|a| a.table.clone())
            .collect();
        Inputs {
            required: self.input_tables(),
            optional,
        }
    }

    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output> {
        vec![self.schema(ctx).into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        self.validate_spec(v);
        self.validate_columns(v);
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for IndexStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let assembled = assemble::assemble(self, inputs)?;
        let (table, missing, computed, n) = measures::lay_out(self, assembled)?;
        let report = verify::verify_index(self, &table, inputs, &missing)?;
        report.ok()?;
        let meta = BuiltTable {
            name: self.table.clone(),
            description: format!(
                "{} Rank 1 = most deprived; decile 1 = most deprived 10% of areas in {}. Ranks, deciles and scores compare only within {} and edition {}. \
                 imd_quantile_<q> = ceil(imd_rank * q / {n}).",
                self.description, self.nation, self.nation, self.edition
            ),
            missing,
            computed,
            notes: assembled_notes(self),
            verification: Some(report),
        };
        Ok(vec![Built { table, meta }])
    }
}

/// The type and rule of a measure column no input gives (computed, or
/// declared missing): bands are integers, scores and ranks floats (ranks
/// can be tied means such as 4563.5).
fn measure_column(col: &str) -> (ColType, Option<Rule>) {
    if let Some(q) = col
        .strip_prefix("imd_quantile_")
        .and_then(|q| q.parse().ok())
    {
        return (ColType::Int, Some(Rule::of(Unit::Band(q))));
    }
    if col.ends_with("_decile") {
        return (ColType::Int, Some(Rule::of(Unit::Band(10))));
    }
    if col.ends_with("_rank") {
        return (ColType::Float, Some(Rule::of(Unit::Rank)));
    }
    (
        ColType::Float,
        Some(Rule::of(Unit::Score).direction(Direction::HigherMoreDeprived)),
    )
}

/// Where columns come from when it is not the publisher's index file.
fn assembled_notes(spec: &IndexStage) -> Vec<String> {
    spec.from.iter().filter_map(|f| f.note.clone()).collect()
}

impl IndexStage {
    /// The output table's schema: the key, the inputs' other columns with
    /// their types, every measure's score, rank and decile, the quantiles.
    fn schema(&self, ctx: &PlanCtx<'_>) -> TableSchema {
        // Provided columns keep their input's type and rule.
        let mut given: BTreeMap<&String, (ColType, Option<Rule>)> = BTreeMap::new();
        let mut descriptions = BTreeMap::new();
        for f in &self.from {
            for (out, input) in &f.columns {
                let input_schema = ctx.schemas.get(&f.table);
                let ty = input_schema
                    .and_then(|s| s.type_of(input))
                    .unwrap_or(ColType::String);
                let rule = input_schema.and_then(|s| s.rule_of(input));
                given.insert(out, (ty, rule));
                // What the publisher's column means travels with it (WIMD's
                // scores are transformed scores, not rates).
                if let Some(d) = input_schema.and_then(|s| s.descriptions.get(input)) {
                    descriptions.insert(out.clone(), d.clone());
                }
            }
        }
        let mut schema = TableSchema::new(&self.table)
            .key(&[self.key.as_str()])
            .fact("nation", &self.nation)
            .fact("edition", &self.edition)
            .fact("area_type", &self.area_type)
            .fact("rows", self.rows.to_string());
        for col in self.output_columns() {
            let (ty, rule) = match given.get(&col) {
                _ if col == self.key => (ColType::String, Some(Rule::of(Unit::Code))),
                Some((ty, rule)) => (*ty, *rule),
                None => measure_column(&col),
            };
            schema = match rule {
                Some(r) => schema.col_rule(col, ty, r),
                None => schema.col(col, ty),
            };
        }
        schema.descriptions = descriptions;
        schema
    }

    /// The spec against itself.
    fn validate_spec(&self, v: &mut Validator<'_>) {
        if self.from.is_empty() {
            v.error("field `from` lists no input table");
            return;
        }
        if self.measures.first().map(String::as_str) != Some("imd") {
            v.error("field `measures` must start with `imd` (the overall index)");
        }
        self.validate_sources_of_columns(v);
        let provided = self.provided();
        let outputs = self.output_columns();
        for col in self.missing.keys() {
            if !outputs.contains(col) {
                v.error(format!(
                    "field `missing` names `{col}`, which is not an output column"
                ));
            }
        }
        for (col, q) in &self.published_bands {
            if !provided.contains(&col) {
                v.error(format!(
                    "field `published_bands` names `{col}`, which no input provides"
                ));
            }
            if !QUANTILES.contains(q) {
                v.error(format!(
                    "field `published_bands.{col}` must be one of {QUANTILES:?}, got {q}"
                ));
            }
        }
        for c in [&self.verify.la_code, &self.verify.la_name]
            .into_iter()
            .flatten()
        {
            if !outputs.contains(c) {
                v.error(format!(
                    "field `verify` names column `{c}`, which is not an output column"
                ));
            }
        }
        self.validate_differences(v);
    }

    /// A declared difference from the look-up names an area the stage can
    /// hold, pins what the compared columns say, and gives a reason; and
    /// something is compared, or the declaration would never be checked.
    fn validate_differences(&self, v: &mut Validator<'_>) {
        let Some(l) = &self.verify.lookup else { return };
        let codes = self.verify.la_code.is_some() && l.la_code.is_some();
        let names = self.verify.la_name.is_some() && l.la_name.is_some();
        if !l.differences.is_empty() && !codes && !names {
            v.error("field `verify.lookup.differences` is given, but no local authority code or name is compared (set `la_code` or `la_name` in both `verify` and `verify.lookup`)");
        }
        for (area, d) in &l.differences {
            self.validate_difference(l, area, d, (codes, names), v);
        }
    }

    fn validate_difference(
        &self,
        l: &LookupCheck,
        area: &str,
        d: &spec::Difference,
        (codes, names): (bool, bool),
        v: &mut Validator<'_>,
    ) {
        let f = format!("field `verify.lookup.differences.{area}`");
        if !self.code_pattern.is_match(area) {
            v.error(format!(
                "{f}: `{area}` does not match the stage's code pattern {}",
                self.code_pattern
            ));
        }
        if let Some(p) = l.key_prefix.as_deref().filter(|p| !area.starts_with(p)) {
            v.error(format!(
                "{f}: `{area}` is outside the look-up's `key_prefix` {p}, so it is never compared"
            ));
        }
        if d.reason.trim().is_empty() {
            v.error(format!("{f}: `reason` is empty"));
        }
        // What is compared is pinned; a pin checks the table's own column,
        // so it needs that column (and a code, the table's code pattern).
        let pins = [
            ("la_code", &d.la_code, codes, self.verify.la_code.is_some()),
            ("la_name", &d.la_name, names, self.verify.la_name.is_some()),
        ];
        for (what, pin, compared, held) in pins {
            match pin {
                None if compared => v.error(format!(
                    "{f}: give `{what}`, the local authority the table gives the area"
                )),
                Some(_) if !held => v.error(format!(
                    "{f}: `{what}` is given, but `verify.{what}` names no column of the table"
                )),
                Some(p) if p.trim().is_empty() => v.error(format!("{f}: `{what}` is empty")),
                _ => {}
            }
        }
        let pattern = self.verify.la_code_pattern.as_ref();
        if let (Some(c), Some(p)) = (&d.la_code, pattern) {
            if !c.trim().is_empty() && !p.is_match(c) {
                v.error(format!(
                    "{f}: `la_code` {c} does not match `verify.la_code_pattern` {p}"
                ));
            }
        }
    }

    /// Every measure column is provided, computable or declared missing,
    /// and no output column comes from two inputs.
    fn validate_sources_of_columns(&self, v: &mut Validator<'_>) {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for f in &self.from {
            for out in f.columns.keys() {
                if let Some(other) = seen.insert(out, &f.table) {
                    v.error(format!(
                        ": output column `{out}` is given by both `{other}` and `{}`",
                        f.table
                    ));
                }
            }
        }
        let provided = self.provided();
        for m in &self.measures {
            for p in spec::PARTS {
                let col = format!("{m}_{p}");
                let has = provided.contains(&&col);
                let declared = self.missing.contains_key(&col);
                let computable = p == "decile" && provided.contains(&&format!("{m}_rank"));
                if has && declared {
                    v.error(format!(
                        ": column `{col}` is both provided and declared missing"
                    ));
                }
                if !has && !declared && !computable {
                    v.error(format!(
                        ": no input provides `{col}`; map it in `from` or declare it in `missing` with the reason"
                    ));
                }
            }
        }
        if !provided.contains(&&"imd_rank".to_string()) {
            v.error(": no input provides `imd_rank`, which the quantiles need");
        }
    }

    /// Every column the spec names exists in its table.
    fn validate_columns(&self, v: &mut Validator<'_>) {
        for (i, f) in self.from.iter().enumerate() {
            let key = f.key.as_deref().unwrap_or(&self.key).to_string();
            v.column(&format!("from[{i}].key"), &f.table, &key);
            v.columns(&format!("from[{i}].columns"), &f.table, f.columns.values());
            v.columns(&format!("from[{i}].filter"), &f.table, f.filter.keys());
        }
        if let Some(l) = &self.verify.lookup {
            let cols = [Some(&l.key), l.la_code.as_ref(), l.la_name.as_ref()];
            v.columns("verify.lookup", &l.table, cols.into_iter().flatten());
        }
        if let Some(l) = &self.verify.la_list {
            let cols = [Some(&l.code), l.name.as_ref()];
            v.columns("verify.la_list", &l.table, cols.into_iter().flatten());
        }
        let outputs = self.output_columns();
        for (i, a) in self.verify.agree_with.iter().enumerate() {
            let f = format!("verify.agree_with[{i}]");
            v.column(&f, &a.table, &a.key);
            v.columns(&f, &a.table, a.columns.values());
            for ours in a.columns.keys().filter(|c| !outputs.contains(c)) {
                v.error(format!(
                    "field `{f}.columns` names `{ours}`, which is not an output column"
                ));
            }
        }
    }
}
