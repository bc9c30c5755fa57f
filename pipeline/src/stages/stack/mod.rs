//! `stack_indices`: the current edition of every nation in one table, with
//! generic column names and the warning that ranks compare only within a
//! nation and edition.

use serde::{Deserialize, Serialize};

use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::{Error, Result};
use crate::frame::{ColType, TableBuilder};
use crate::stages::index::QUANTILES;
use crate::units::Unit;

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

/// The facts an index table's schema declares, which a stacked row carries.
const FACTS: [&str; 3] = ["nation", "edition", "area_type"];

impl Stage for StackStage {
    fn inputs(&self) -> Inputs {
        Inputs::required(self.indices.clone())
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        // Keyed by area code: codes are unique across the nations (E01, W01,
        // S01, 95), which the build checks (two editions of one nation
        // stacked would repeat them), and the table is sorted by them, as
        // every table is by its key's first column.
        let mut s = TableSchema::new(&self.table)
            .key(&["area_code"])
            .col("nation", ColType::String)
            .col("edition", ColType::String)
            .col("area_type", ColType::String)
            .col("area_code", ColType::String)
            .col_unit("imd_rank", ColType::Float, Unit::Rank)
            .col_unit("imd_decile", ColType::Int, Unit::Band(10));
        for q in QUANTILES {
            s = s.col_unit(format!("imd_quantile_{q}"), ColType::Int, Unit::Band(q));
        }
        vec![s.col("comparable_across_nations", ColType::Bool).into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.indices.is_empty() {
            v.error("field `indices` lists no table");
        }
        for (i, t) in self.indices.iter().enumerate() {
            let Some(schema) = v.schema(t) else { continue };
            if FACTS.iter().any(|f| !schema.facts.contains_key(*f)) || schema.key.len() != 1 {
                v.error(format!(
                    "field `indices[{i}]` names `{t}`, which is not a deprivation index table"
                ));
            }
            v.column(&format!("indices[{i}]"), t, "imd_rank");
            v.column(&format!("indices[{i}]"), t, "imd_decile");
        }
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

/// The stacked columns.
#[derive(Default)]
struct Stacked {
    nation: Vec<Option<String>>,
    edition: Vec<Option<String>>,
    area_type: Vec<Option<String>>,
    code: Vec<Option<String>>,
    rank: Vec<Option<f64>>,
    decile: Vec<Option<i64>>,
    quantiles: Vec<Vec<Option<i64>>>,
}

impl Build for StackStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let mut st = Stacked {
            quantiles: vec![Vec::new(); QUANTILES.len()],
            ..Default::default()
        };
        let mut computed_deciles = Vec::new();
        for name in &self.indices {
            stack_one(name, inputs, &mut st)?;
            if let Some(how) = inputs.computed_of(name, "imd_decile") {
                computed_deciles.push(format!("`{name}`: {how}"));
            }
        }
        let n = st.code.len();
        let mut b = TableBuilder::new();
        b.push("nation", st.nation)
            .push("edition", st.edition)
            .push("area_type", st.area_type)
            .push("area_code", st.code)
            .push("imd_rank", st.rank)
            .push("imd_decile", st.decile);
        for (q, v) in QUANTILES.iter().zip(st.quantiles) {
            b.push(&format!("imd_quantile_{q}"), v);
        }
        b.push("comparable_across_nations", vec![false; n]);
        let mut meta = BuiltTable::new(
            &self.table,
            format!(
                "{} WARNING: ranks, deciles and quantiles are within each nation and edition only; they are NOT comparable across nations \
                 (each nation's index uses different domains, indicators and years). Rank 1 = most deprived.",
                self.description
            ),
        );
        // A decile an index computed is no more published here: say whose.
        if !computed_deciles.is_empty() {
            meta.computed.insert(
                "imd_decile".into(),
                format!(
                    "computed, not published, in the rows of {}",
                    computed_deciles.join("; and of ")
                ),
            );
        }
        Ok(vec![Built {
            table: b.finish(n)?,
            meta,
        }])
    }
}

fn stack_one(name: &str, inputs: &Frames<'_>, st: &mut Stacked) -> Result<()> {
    let schema = inputs.schema(name)?;
    let fact = |f: &str| {
        schema.facts.get(f).cloned().ok_or_else(|| {
            Error::table(format!(
                "`{name}` is not a deprivation index table (no {f})"
            ))
        })
    };
    let (nation, edition, area_type) = (fact("nation")?, fact("edition")?, fact("area_type")?);
    let frame = inputs.table(name)?;
    let keys = frame.values(&schema.key[0])?;
    let r = frame.values("imd_rank")?;
    let d = frame.values("imd_decile")?;
    for i in 0..keys.len() {
        st.nation.push(Some(nation.clone()));
        st.edition.push(Some(edition.clone()));
        st.area_type.push(Some(area_type.clone()));
        st.code.push(keys.text(i));
        st.rank.push(r.number(i));
        st.decile.push(d.number(i).map(|x| x as i64));
    }
    for (qi, q) in QUANTILES.iter().enumerate() {
        let v = frame.values(&format!("imd_quantile_{q}"))?;
        st.quantiles[qi].extend((0..v.len()).map(|i| v.number(i).map(|x| x as i64)));
    }
    Ok(())
}
