//! `postcode_areas`: every postcode of the directory with its status, its
//! country, local authority and ward, and the small area of each geography
//! an index needs (LSOA 2011 and 2021, Data Zone 2011, SOA 2001).
//!
//! A geography the directory predates (NSPL November 2021 has no LSOA
//! 2021) is derived through the ONS look-up only where that has one answer
//! (unchanged or merged LSOAs); otherwise it is null with the reason. The
//! directory's own index rank is checked against this release's: a
//! systematic disagreement means a wrong geography or edition, and stops
//! the release.

mod derive;
mod rows;
mod spec;

use std::collections::BTreeMap;

use crate::checks::TableReport;
use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::Result;
use crate::frame::ColType;
use crate::units::{Direction, Rule, Unit};

pub use rows::Status;
pub use spec::{CrossCheck, Derive, Directory, ExtraLookup, PostcodeStage, SmallArea};

impl Stage for PostcodeStage {
    fn inputs(&self) -> Inputs {
        let required = vec![self.directory.table.clone()];
        let optional = self
            .input_tables()
            .into_iter()
            .filter(|t| !required.contains(t))
            .collect();
        Inputs { required, optional }
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        let mut s = TableSchema::new(&self.table)
            .key(&["postcode"])
            .col("postcode", ColType::String)
            .col("outcode", ColType::String)
            .col("status", ColType::String)
            .col_unit("terminated", ColType::String, Unit::Date)
            .col("country_code", ColType::String)
            .col("lad_code", ColType::String)
            .col("ward_code", ColType::String);
        for c in self.small_area_columns() {
            s = s.col(c, ColType::String);
        }
        for c in self.derived_columns() {
            s = s.col(format!("{c}_reason"), ColType::String);
        }
        let rank = Rule::of(Unit::Rank)
            .range(0.0, 100_000.0)
            .direction(Direction::MostDeprivedFirst);
        let statuses = [Status::Live, Status::Terminated, Status::Unknown];
        vec![s
            .col_rule("directory_imd_rank", ColType::Float, rank)
            .col("looked_up_in", ColType::String)
            .col("reason", ColType::String)
            .accepts("status", statuses.map(|s| s.as_str().to_string()).to_vec())
            .into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        self.validate_spec(v);
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for PostcodeStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let mut report = TableReport::new(&self.table);
        let derivations = derive::Derivations::load(self, inputs)?;
        let mut rows = rows::Rows::new(self);
        rows.add_directory(self, inputs, &derivations, &mut report)?;
        for l in &self.lookups {
            rows.add_lookup(l, inputs)?;
        }
        for c in &self.cross_checks {
            rows.cross_check(c, inputs, &mut report)?;
        }
        report.ok()?;
        let counts = rows.counts();
        let mut meta = BuiltTable::new(
            &self.table,
            format!(
                "{} One row per postcode (normalised `OUT IN`), live or terminated: status, country, local authority, ward, \
                 and the small area of each geography an index needs. A small area the directory predates is derived through the ONS look-up \
                 only where that has one answer; otherwise it is null and `<column>_reason` says why. `reason` says why a postcode has no small area \
                 of any UK index (Channel Islands, Isle of Man, none assigned). `directory_imd_rank` is the directory's own rank of the small area, \
                 checked against this release. Counts: {}.",
                self.description,
                counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        meta.verification = Some(report);
        Ok(vec![Built {
            table: rows.into_table()?,
            meta,
        }])
    }
}

/// Counts by status, for the description.
pub type Counts = BTreeMap<&'static str, usize>;
