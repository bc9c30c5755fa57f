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
use crate::frame::{ColType, Table};
use crate::units::{Direction, Rule, Unit};

pub use rows::Status;
pub use spec::{CrossCheck, Derive, Directory, ExtraLookup, PostcodeStage, SmallArea};

impl Stage for PostcodeStage {
    fn inputs(&self) -> Inputs {
        Inputs::required_and_rest(vec![self.directory.table.clone()], self.input_tables())
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
            .range(1.0, 100_000.0)
            .direction(Direction::MostDeprivedFirst);
        let statuses = [Status::Live, Status::Terminated, Status::Unknown];
        let mut s = s
            .col_rule("directory_imd_rank", ColType::Float, rank)
            .col("looked_up_in", ColType::String)
            .col("reason", ColType::String)
            .accepts("status", statuses.map(|s| s.as_str().to_string()).to_vec());
        for (col, text) in self.column_descriptions() {
            s.descriptions.insert(col, text);
        }
        vec![s.into()]
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
        rows.add_directory(inputs, &mut report)?;
        for l in &self.lookups {
            rows.add_lookup(l, inputs)?;
        }
        rows.order()?;
        rows.derive(&derivations);
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
        let table = rows.into_table()?;
        meta.notes.push(areas_held(&table)?);
        Ok(vec![Built { table, meta }])
    }
}

/// Which postcode areas (the outcode's letters) the table holds: a catalog
/// may read part of a directory, and a postcode outside it is absent, not
/// invalid.
fn areas_held(table: &Table) -> Result<String> {
    let postcodes = table.values("postcode")?;
    let mut areas: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..postcodes.len() {
        if let Some(p) = postcodes.str(i) {
            let area: String = p.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            *areas.entry(area).or_default() += 1;
        }
    }
    Ok(format!(
        "Postcode areas held ({}): {}. A postcode of any other area is not in this table: absent, which does not make it invalid.",
        areas.len(),
        areas
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

impl PostcodeStage {
    /// What each output column holds, for the data package.
    fn column_descriptions(&self) -> Vec<(String, String)> {
        let mut d: Vec<(String, String)> = [
            ("postcode", "The postcode: upper case, one space before the inward code."),
            ("outcode", "The outward code (the part before the space): the name of its file in the API."),
            ("status", "live; terminated (see `terminated`); or unknown, for a postcode from a look-up that records no terminations."),
            ("terminated", "Year and month the postcode was terminated (YYYYMM); empty for a live postcode."),
            ("country_code", "The country (E92, W92, S92, N92; L93 Channel Islands, M83 Isle of Man)."),
            ("lad_code", "The local authority district, as the directory gives it at its date."),
            ("ward_code", "The electoral ward, as the directory gives it at its date."),
            ("directory_imd_rank", "The directory's own rank of the postcode's small area in its nation's index at the directory's date (NSPL November 2021: IMD 2019, WIMD 2019, SIMD 2020v2, NIMDM 2017); 1 = most deprived; compare only within a nation. Checked against this release."),
            ("looked_up_in", "The table the postcode comes from: the directory, or a further look-up for postcodes it lacks."),
            ("reason", "Why no UK index covers the postcode (Channel Islands, Isle of Man, no small area), if none does."),
        ]
        .into_iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect();
        for c in self.small_area_columns() {
            let t = format!("The postcode's {} (small area of a deprivation index); null where the postcode has none.", c.trim_end_matches("_code"));
            d.push((c, t));
        }
        for c in self.derived_columns() {
            d.push((format!("{c}_reason"), format!("Why `{c}` is null: the directory predates it and the look-up gives no single answer.")));
        }
        d
    }
}

/// Counts by status, for the description.
pub type Counts = BTreeMap<&'static str, usize>;
