//! Small areas to wards, with the assignment checked against boundaries.
//!
//! LSOAs do not nest in wards: ONS assigns each LSOA to the ward holding its
//! population-weighted centroid ("best fit"). A `ward_assignment` stage
//! publishes that assignment with its ward vintage and method and, where
//! boundaries are in the catalog, checks it with `geo`: is the centroid
//! inside the ward's polygon, and what share of the LSOA's area lies outside
//! it (the straddle share)? Every row says what was checked and what was
//! found; a ward missing from the boundary layer is flagged, not guessed.

mod geometry;
mod spec;

use std::collections::BTreeMap;

use crate::checks::{Status, TableReport};
use crate::contract::{
    derived, Build, Built, BuiltTable, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun,
    TableSchema, Validator,
};
use crate::error::{Error, Result};
use crate::frame::{ColType, TableBuilder, Values};
use crate::hash::HashSet;
use crate::units::{Direction, Rule, Unit};

pub use spec::{CentroidSpec, GeometrySpec, LayerSpec, WardLookup, WardStage};

impl WardLookup {
    /// The look-up's columns, which are also the first output columns.
    fn columns(&self) -> [&String; 6] {
        [
            &self.key,
            &self.name,
            &self.ward_code,
            &self.ward_name,
            &self.lad_code,
            &self.lad_name,
        ]
    }
}

impl Stage for WardStage {
    fn inputs(&self) -> Inputs {
        let mut t = vec![self.lookup.table.clone()];
        if let Some(g) = &self.geometry {
            t.extend([
                g.centroids.table.clone(),
                g.areas.table.clone(),
                g.wards.table.clone(),
            ]);
        }
        Inputs::required_sorted(t)
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        let mut s = TableSchema::new(&self.table);
        for c in self.lookup.columns() {
            s = s.col(c, ColType::String);
        }
        s.key = vec![self.lookup.key.clone()];
        vec![s
            .col("ward_vintage", ColType::String)
            .col("assignment", ColType::String)
            .col("centroid_in_ward", ColType::Bool)
            .col_rule(
                "straddle_share",
                ColType::Float,
                Rule::of(Unit::Rate).direction(Direction::Neutral),
            )
            .col("boundary_check", ColType::String)
            .into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if self.geometry.is_none() && self.geometry_not_available.is_none() {
            v.error(": declare `geometry` for the boundary checks, or say why they cannot run in `geometry_not_available`");
        }
        v.columns("lookup", &self.lookup.table, self.lookup.columns());
        if let Some(g) = &self.geometry {
            let c = &g.centroids;
            v.columns("geometry.centroids", &c.table, [&c.key, &c.x, &c.y]);
            for (field, l) in [("geometry.areas", &g.areas), ("geometry.wards", &g.wards)] {
                v.columns(field, &l.table, [&l.key, &l.geometry]);
            }
        }
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for WardStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let t = inputs.table(&self.lookup.table)?;
        let cols: Vec<Values> = self
            .lookup
            .columns()
            .iter()
            .map(|c| t.values(c))
            .collect::<Result<_>>()?;
        let n = cols[0].len();
        let findings = match &self.geometry {
            None => {
                let why = self.geometry_not_available.clone().unwrap_or_default();
                (0..n)
                    .map(|_| geometry::Finding {
                        centroid_in: None,
                        straddle: None,
                        check: format!("not checked: {why}"),
                    })
                    .collect()
            }
            Some(g) => geometry::check_all(g, &self.ward_vintage, &cols[0], &cols[2], inputs)?,
        };
        let report = self.report(&cols, &findings)?;
        let mut b = TableBuilder::new();
        for (name, v) in self.lookup.columns().iter().zip(cols) {
            b.push(name, v);
        }
        b.push("ward_vintage", vec![self.ward_vintage.clone(); n])
            .push("assignment", vec![self.assignment.clone(); n])
            .push(
                "centroid_in_ward",
                findings.iter().map(|f| f.centroid_in).collect::<Vec<_>>(),
            )
            .push(
                "straddle_share",
                findings.iter().map(|f| f.straddle).collect::<Vec<_>>(),
            )
            .push(
                "boundary_check",
                findings.into_iter().map(|f| f.check).collect::<Vec<_>>(),
            );
        let mut meta = BuiltTable::new(
            &self.table,
            format!(
                "{} Ward vintage {}; assignment: {}. `centroid_in_ward` says whether the LSOA's population-weighted centroid lies in its ward's polygon; \
                 `straddle_share` is the share of the LSOA's area outside that polygon (computed on generalised WGS84 boundaries, so approximate); \
                 `boundary_check` says what was checked and found.",
                self.description, self.ward_vintage, self.assignment
            ),
        );
        meta.verification = Some(report);
        Ok(vec![Built {
            table: b.finish(n)?,
            meta,
        }])
    }
}

impl WardStage {
    /// Counts of what the boundary checks found (centroids outside their
    /// ward listed); every small area in one ward only.
    fn report(&self, cols: &[Values], findings: &[geometry::Finding]) -> Result<TableReport> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for f in findings {
            let key = f.check.split(':').next().unwrap_or_default().to_string();
            *counts.entry(key).or_default() += 1;
        }
        let outside: Vec<String> = findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.centroid_in == Some(false))
            .map(|(i, _)| {
                format!(
                    "{} in {}",
                    cols[0].text(i).unwrap_or_default(),
                    cols[2].text(i).unwrap_or_default()
                )
            })
            .collect();
        let mut report = TableReport::new(&self.table);
        report.push(
            "boundary_checks",
            if outside.is_empty() { Status::Pass } else { Status::Warn },
            format!(
                "{counts:?}; mismatches come from generalised boundaries and from wards redrawn between the boundary layer's vintage and {}",
                self.ward_vintage
            ),
            outside,
        );
        let mut unique = HashSet::default();
        let dups: Vec<String> = (0..cols[0].len())
            .filter_map(|i| cols[0].text(i))
            .filter(|c| !unique.insert(c.clone()))
            .collect();
        if !dups.is_empty() {
            return Err(Error::check(
                &self.table,
                "one_ward_per_area",
                format!(
                    "{} small areas are assigned to more than one ward",
                    dups.len()
                ),
                dups.into_iter().take(5).collect(),
            ));
        }
        Ok(report)
    }
}
