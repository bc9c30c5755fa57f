//! The spec of a `postcode_areas` stage.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::contract::Validator;
use crate::pattern::Pattern;

/// Parameters of a `postcode_areas` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostcodeStage {
    pub description: String,
    /// The output table: one row per postcode.
    pub table: String,
    /// The postcode directory (ONSPD, or NSPL in tests).
    pub directory: Directory,
    /// The small-area columns of the output, each filled from a directory
    /// column whose code matches its pattern (the directory's `lsoa11` holds
    /// an LSOA 2011 in England and Wales, a Data Zone 2011 in Scotland and a
    /// Super Output Area 2001 in Northern Ireland).
    pub small_areas: IndexMap<String, SmallArea>,
    /// Countries whose postcodes have no small area of any UK index, with
    /// the reason (Channel Islands, Isle of Man).
    #[serde(default)]
    pub outside_the_indices: IndexMap<String, String>,
    /// Further look-ups for postcodes the directory lacks (the NISRA
    /// postcode look-up, in tests).
    #[serde(default)]
    pub lookups: Vec<ExtraLookup>,
    /// The directory's own index rank against this release's.
    #[serde(default)]
    pub cross_checks: Vec<CrossCheck>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    pub table: String,
    pub postcode: String,
    /// Date of termination (YYYYMM), empty for live postcodes.
    pub terminated: String,
    pub country: String,
    pub lad: String,
    pub ward: String,
    /// The rank of the postcode's small area in its nation's index.
    pub imd_rank: String,
}

/// One small-area column of the output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmallArea {
    /// The directory column it is read from.
    pub from: String,
    /// Codes of this geography; other codes in the column are another's.
    pub pattern: Pattern,
    /// For a directory that predates this geography: derive it from another
    /// output column through a look-up, where that is unambiguous.
    #[serde(default)]
    pub derive: Option<Derive>,
}

/// A small area derived through a look-up (LSOA 2011 -> 2021).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Derive {
    /// The output column it is derived from (e.g. `lsoa11_code`).
    pub from: String,
    pub lookup: String,
    pub lookup_from: String,
    pub lookup_to: String,
    pub lookup_change: String,
    /// Change codes with one answer: `U` unchanged, `M` merged.
    pub unambiguous: Vec<String>,
    /// What each other change code means, for the reason.
    #[serde(default)]
    pub meaning: IndexMap<String, String>,
}

/// A look-up of postcodes the directory lacks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraLookup {
    pub table: String,
    pub postcode: String,
    /// The country of all its postcodes (a look-up of one nation).
    pub country_code: String,
    pub lad: String,
    /// Output column -> look-up column.
    pub small_areas: IndexMap<String, String>,
    /// Why its postcodes have no small area of an index (e.g. a look-up
    /// on Data Zones 2021 when the index is on Super Output Areas 2001).
    pub reason: String,
}

/// The directory's index rank against this release's, for one geography.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrossCheck {
    /// The output small-area column, and the codes of it this index ranks.
    pub small_area: String,
    pub pattern: Pattern,
    pub index: String,
    pub key: String,
    pub rank: String,
    /// How many disagreeing postcodes are tolerated before the release
    /// stops (a handful can be postcodes re-assigned between editions).
    pub max_disagreements: usize,
}

impl PostcodeStage {
    /// The output's small-area columns: the directory's, then any only a
    /// further look-up gives.
    pub fn small_area_columns(&self) -> Vec<String> {
        let mut cols: Vec<String> = self.small_areas.keys().cloned().collect();
        for l in &self.lookups {
            for c in l.small_areas.keys() {
                if !cols.contains(c) {
                    cols.push(c.clone());
                }
            }
        }
        cols
    }

    /// The derived columns, each with a reason column beside it.
    pub fn derived_columns(&self) -> Vec<&String> {
        self.small_areas
            .iter()
            .filter(|(_, s)| s.derive.is_some())
            .map(|(n, _)| n)
            .collect()
    }

    pub fn input_tables(&self) -> Vec<String> {
        let mut t = vec![self.directory.table.clone()];
        for s in self.small_areas.values() {
            t.extend(s.derive.as_ref().map(|d| d.lookup.clone()));
        }
        t.extend(self.lookups.iter().map(|l| l.table.clone()));
        t.extend(self.cross_checks.iter().map(|c| c.index.clone()));
        t.sort();
        t.dedup();
        t
    }

    pub fn validate_spec(&self, v: &mut Validator<'_>) {
        let d = &self.directory;
        v.columns(
            "directory",
            &d.table,
            [
                &d.postcode,
                &d.terminated,
                &d.country,
                &d.lad,
                &d.ward,
                &d.imd_rank,
            ],
        );
        for (name, s) in &self.small_areas {
            v.column(&format!("small_areas.{name}.from"), &d.table, &s.from);
            if let Some(dv) = &s.derive {
                let f = format!("small_areas.{name}.derive");
                if !self.small_areas.contains_key(&dv.from) {
                    v.error(format!(
                        "field `{f}.from` names `{}`, which is not a small-area column",
                        dv.from
                    ));
                }
                v.columns(
                    &f,
                    &dv.lookup,
                    [&dv.lookup_from, &dv.lookup_to, &dv.lookup_change],
                );
            }
        }
        for (i, l) in self.lookups.iter().enumerate() {
            let f = format!("lookups[{i}]");
            v.columns(&f, &l.table, [&l.postcode, &l.lad]);
            v.columns(&f, &l.table, l.small_areas.values());
        }
        for (i, c) in self.cross_checks.iter().enumerate() {
            let f = format!("cross_checks[{i}]");
            if !self.small_areas.contains_key(&c.small_area) {
                v.error(format!(
                    "field `{f}.small_area` names `{}`, which is not a small-area column",
                    c.small_area
                ));
            }
            v.columns(&f, &c.index, [&c.key, &c.rank]);
        }
    }
}
