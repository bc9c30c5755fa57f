//! `boundary_change`: the ONS exact LSOA 2011 -> 2021 look-up with each
//! change type spelled out, and the count of each type in the report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::TableReport;
use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::{Error, Result};
use crate::frame::{ColType, TableBuilder};
use crate::stages::change::ChangeLookup;

/// Parameters of a `boundary_change` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoundaryChangeStage {
    pub description: String,
    pub table: String,
    pub lookup: ChangeLookup,
    /// The look-up's local authority column, carried over.
    pub lad_code: String,
}

/// What each change code means.
fn meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "U" => "unchanged",
        "S" => "split: one LSOA 2011 became several LSOA 2021",
        "M" => "merged: several LSOA 2011 became one LSOA 2021",
        "X" => "irregular: redrawn, not comparable",
        _ => return None,
    })
}

impl Stage for BoundaryChangeStage {
    fn inputs(&self) -> Inputs {
        Inputs::required([self.lookup.table.clone()])
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        vec![TableSchema::new(&self.table)
            .col("lsoa11_code", ColType::String)
            .col("lsoa21_code", ColType::String)
            .col("change", ColType::String)
            .col("change_meaning", ColType::String)
            .col("lad22_code", ColType::String)
            .key(&["lsoa11_code", "lsoa21_code"])
            .into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        self.lookup.validate("lookup", v);
        v.column("lad_code", &self.lookup.table, &self.lad_code);
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for BoundaryChangeStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let t = inputs.table(&self.lookup.table)?;
        let (a, b, c, l) = (
            t.values(&self.lookup.lsoa11)?,
            t.values(&self.lookup.lsoa21)?,
            t.values(&self.lookup.change)?,
            t.values(&self.lad_code)?,
        );
        let n = a.len();
        let mut meanings = Vec::with_capacity(n);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut unknown = Vec::new();
        for i in 0..n {
            let code = c.text(i).unwrap_or_default();
            *counts.entry(code.clone()).or_default() += 1;
            let m = meaning(&code);
            if m.is_none() {
                unknown.push(format!("{:?} -> {:?}: {code:?}", a.text(i), b.text(i)));
            }
            meanings.push(m.map(str::to_string));
        }
        if !unknown.is_empty() {
            return Err(Error::check(
                &self.table,
                "change_codes",
                format!(
                    "{} rows have a change code other than U, S, M or X",
                    unknown.len()
                ),
                unknown.into_iter().take(5).collect(),
            ));
        }
        let mut tb = TableBuilder::new();
        tb.push("lsoa11_code", a)
            .push("lsoa21_code", b)
            .push("change", c)
            .push("change_meaning", meanings)
            .push("lad22_code", l);
        let mut report = TableReport::new(&self.table);
        report.pass("change_types", format!("rows by change type: {counts:?}"));
        let mut meta = BuiltTable::new(
            &self.table,
            format!(
                "{} One row per LSOA 2011 - LSOA 2021 pair of the ONS exact look-up (many-to-many). change: U unchanged, S split, M merged, X irregular.",
                self.description
            ),
        );
        meta.verification = Some(report);
        Ok(vec![Built {
            table: tb.finish(n)?,
            meta,
        }])
    }
}
