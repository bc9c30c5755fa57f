//! Comparing two editions of an index across the 2011 -> 2021 LSOA change.
//!
//! The indices rank relative snapshots: they are not annual series and do
//! not measure absolute change (MHCLG guidance). So positions are compared
//! (rank percentile within the nation, decile), never scores, and every
//! comparison carries that caveat. The ONS exact look-up's CHGIND says how
//! each LSOA changed: `U` unchanged (compared directly), `S` split (children
//! inherit the parent's value, flagged), `M` merged (population-weighted
//! value of the parents, flagged), `X` irregular (not comparable: flagged,
//! never guessed). An area with no match is not comparable either.

mod edition;
mod lsoa11;
mod lsoa21;
mod spec;
mod wards;

use crate::contract::{
    derived, Build, Built, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun, TableSchema,
    Validator,
};
use crate::error::Result;
use crate::frame::ColType;
use crate::units::{Direction, Rule, Unit};

pub use edition::direction;
pub use spec::{ChangeLookup, ChangeStage, EditionSpec, PopulationRef, WardSpec};

/// The caveat published with every comparison.
pub const CAVEAT: &str = "The indices rank small areas relative to each other at one point in time; they are not annual series and do not \
measure absolute change. A change in rank percentile or decile means an area moved relative to others, not that it became more or less deprived in absolute terms. \
Scores are never compared across editions.";

impl Stage for ChangeStage {
    fn inputs(&self) -> Inputs {
        let mut t = vec![
            self.before.table.clone(),
            self.after.table.clone(),
            self.lookup.table.clone(),
            self.wards.table.clone(),
        ];
        t.extend(self.before.population.table.clone());
        t.extend(self.after.population.table.clone());
        Inputs::required_sorted(t)
    }

    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output> {
        let (be, ae) = (&self.before.edition, &self.after.edition);
        // Ranks of the later edition on LSOA 2011 codes: within 1..N of its areas.
        let after_n = ctx
            .schemas
            .get(&self.after.table)
            .and_then(|s| s.facts.get("rows"))
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(f64::INFINITY);
        let after_rank = Rule::of(Unit::Rank).range(1.0, after_n);
        let percentile = Rule::of(Unit::Percentile).direction(Direction::HigherLessDeprived);
        let lsoa21 = TableSchema::new(&self.lsoa21_table)
            .col("lsoa21_code", ColType::String)
            .col("lsoa11_codes", ColType::String)
            .col("change", ColType::String)
            .col("method", ColType::String)
            .col_rule(
                format!("imd_rank_percentile_{be}"),
                ColType::Float,
                percentile,
            )
            .col_unit(format!("imd_decile_{be}"), ColType::Int, Unit::Band(10))
            .col_rule(
                format!("imd_rank_percentile_{ae}"),
                ColType::Float,
                percentile,
            )
            .col_unit(format!("imd_decile_{ae}"), ColType::Int, Unit::Band(10))
            .col("direction", ColType::String)
            .col("comparable", ColType::Bool)
            .col("not_comparable_reason", ColType::String)
            .key(&["lsoa21_code"]);
        let w = &self.wards;
        let ward = TableSchema::new(&self.ward_table)
            .col(&w.output_code, ColType::String)
            .col(&w.output_name, ColType::String)
            .col(&w.output_lad_code, ColType::String)
            .col_rule(
                "lsoa_count",
                ColType::Int,
                Rule::of(Unit::Count).direction(Direction::Neutral),
            )
            .col_rule(
                "comparable_lsoa_count",
                ColType::Int,
                Rule::of(Unit::Count).direction(Direction::Neutral),
            )
            .col_rule(
                "population",
                ColType::Float,
                Rule::of(Unit::Count).direction(Direction::Neutral),
            )
            .col_rule(
                "comparable_population_share",
                ColType::Float,
                Rule::of(Unit::Rate).direction(Direction::Neutral),
            )
            .col_rule(
                format!("imd_rank_percentile_{ae}_all_lsoas"),
                ColType::Float,
                Rule::of(Unit::Percentile).direction(Direction::HigherLessDeprived),
            )
            .col_rule(
                format!("imd_rank_percentile_{be}"),
                ColType::Float,
                percentile,
            )
            .col_rule(
                format!("imd_rank_percentile_{ae}"),
                ColType::Float,
                percentile,
            )
            .col("direction", ColType::String)
            .col("comparable", ColType::Bool)
            .col("not_comparable_reason", ColType::String)
            .key(&[w.output_code.as_str()]);
        let lsoa11 = TableSchema::new(&self.lsoa11_table)
            .col("lsoa11_code", ColType::String)
            .col("lsoa21_codes", ColType::String)
            .col("change", ColType::String)
            .col("method", ColType::String)
            .col_rule(format!("imd_rank_{ae}"), ColType::Float, after_rank)
            .col_unit(format!("imd_decile_{ae}"), ColType::Int, Unit::Band(10))
            .col_rule(
                format!("imd_rank_percentile_{ae}"),
                ColType::Float,
                percentile,
            )
            .key(&["lsoa11_code"]);
        vec![lsoa21.into(), ward.into(), lsoa11.into()]
    }

    fn validate(&self, v: &mut Validator<'_>) {
        if !(0.0..=100.0).contains(&self.stable_within_points) {
            v.error(format!(
                "field `stable_within_points` must be between 0 and 100, got {}",
                self.stable_within_points
            ));
        }
        if !(0.0..=1.0).contains(&self.min_comparable_share) {
            v.error(format!(
                "field `min_comparable_share` must be between 0 and 1, got {}",
                self.min_comparable_share
            ));
        }
        self.before.validate("before", v);
        self.after.validate("after", v);
        self.lookup.validate("lookup", v);
        self.wards.validate("wards", v);
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for ChangeStage {
    /// The LSOA 2021 comparison, the ward comparison and the later edition
    /// expressed on LSOA 2011 codes.
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let before = edition::Edition::load(&self.before, inputs)?;
        let after = edition::Edition::load(&self.after, inputs)?;
        let links = edition::Links::load(self, inputs)?;
        let rows = lsoa21::rows(self, &before, &after, &links)?;
        let report = lsoa21::report(self, &rows, &after)?;
        let wards = wards::table(self, &rows, &after, inputs)?;
        let lsoa21 = lsoa21::table(self, &rows, report)?;
        let lsoa11 = lsoa11::table(self, &before, &after, &links)?;
        let mut built = vec![lsoa21, wards, lsoa11];
        for b in &mut built {
            before.note_computed_decile(&self.before.edition, b);
            after.note_computed_decile(&self.after.edition, b);
        }
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::testing::{floats, frames, ints, strs, table};
    use crate::contract::Frames;

    /// Four 2011 areas and four 2021 areas: A unchanged, B split into B1 and
    /// B2, C and D merged into CD, E irregular, and F (2021) with no parent.
    fn fixture() -> (ChangeStage, Frames<'static>) {
        let inputs = frames(vec![
            (
                "before",
                table(vec![
                    ("code", strs(&["E1A", "E1B", "E1C", "E1D", "E1E"])),
                    ("imd_rank", ints(&[1, 2, 3, 4, 5])),
                    ("imd_decile", ints(&[2, 4, 6, 8, 10])),
                    ("pop", floats(&[100.0, 100.0, 300.0, 100.0, 100.0])),
                ]),
            ),
            (
                "after",
                table(vec![
                    ("code", strs(&["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"])),
                    ("imd_rank", ints(&[6, 1, 2, 3, 4, 5])),
                    ("imd_decile", ints(&[10, 2, 4, 5, 7, 9])),
                    ("pop", floats(&[100.0, 50.0, 150.0, 400.0, 100.0, 10.0])),
                ]),
            ),
            (
                "lookup",
                table(vec![
                    ("l11", strs(&["E1A", "E1B", "E1B", "E1C", "E1D", "E1E"])),
                    ("l21", strs(&["E1A", "E1B1", "E1B2", "E1CD", "E1CD", "E1E"])),
                    ("chg", strs(&["U", "S", "S", "M", "M", "X"])),
                ]),
            ),
            (
                "wards",
                table(vec![
                    ("l21", strs(&["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"])),
                    ("w", strs(&["W1", "W1", "W1", "W2", "W2", "W2"])),
                    ("wn", strs(&["One", "One", "One", "Two", "Two", "Two"])),
                    ("lad", strs(&["L", "L", "L", "L", "L", "L"])),
                ]),
            ),
        ]);
        let ed = |t: &str| EditionSpec {
            edition: t.into(),
            table: t.into(),
            key: "code".into(),
            population: PopulationRef {
                table: None,
                key: None,
                column: "pop".into(),
                note: None,
            },
        };
        let spec = ChangeStage {
            description: "test".into(),
            nation: "England".into(),
            before: ed("before"),
            after: ed("after"),
            lookup: ChangeLookup {
                table: "lookup".into(),
                lsoa11: "l11".into(),
                lsoa21: "l21".into(),
                change: "chg".into(),
            },
            code_prefix: "E1".into(),
            stable_within_points: 10.0,
            min_comparable_share: 0.8,
            lsoa21_table: "c21".into(),
            ward_table: "cw".into(),
            lsoa11_table: "c11".into(),
            wards: WardSpec {
                table: "wards".into(),
                key: "l21".into(),
                code: "w".into(),
                name: "wn".into(),
                lad_code: "lad".into(),
                output_code: "ward_code".into(),
                output_name: "ward_name".into(),
                output_lad_code: "lad_code".into(),
            },
        };
        (spec, inputs)
    }

    fn col(out: &[Built], t: usize, c: &str) -> crate::frame::Values {
        out[t].table.values(c).unwrap()
    }

    #[test]
    fn splits_inherit_merges_weight_and_irregular_or_unmatched_areas_are_not_compared() {
        let (spec, inputs) = fixture();
        let out = spec.build(&inputs).unwrap();
        let codes: Vec<String> = col(&out, 0, "lsoa21_code")
            .texts()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(codes, ["E1A", "E1B1", "E1B2", "E1CD", "E1E", "E1F"]);
        let before = col(&out, 0, "imd_rank_percentile_before").numbers();
        // A: 1/5; B1 and B2 inherit B's 2/5; CD: (300*60 + 100*80)/400 = 65; E, F: none.
        assert_eq!(
            before,
            [Some(20.0), Some(40.0), Some(40.0), Some(65.0), None, None]
        );
        let comparable = col(&out, 0, "comparable").texts();
        let yes = Some("true".to_string());
        let no = Some("false".to_string());
        assert_eq!(
            comparable,
            [yes.clone(), yes.clone(), yes.clone(), yes, no.clone(), no]
        );
        let reasons = col(&out, 0, "not_comparable_reason").texts();
        assert!(reasons[4].as_deref().unwrap().contains("irregular"));
        assert!(reasons[5].as_deref().unwrap().contains("no LSOA 2011"));
        // A moved from 20 to 100: improved; B1 from 40 to 16.7: declined.
        let dir = col(&out, 0, "direction").texts();
        assert_eq!(dir[0].as_deref(), Some("improved"));
        assert_eq!(dir[1].as_deref(), Some("declined"));
    }

    #[test]
    fn wards_are_compared_only_when_enough_of_their_population_is_comparable() {
        let (spec, inputs) = fixture();
        let out = spec.build(&inputs).unwrap();
        // W1: all comparable. W2: CD (400) comparable, E (100) and F (10) not: 78% < 80%.
        let comparable = col(&out, 1, "comparable").texts();
        assert_eq!(
            comparable,
            [Some("true".to_string()), Some("false".to_string())]
        );
        let share = col(&out, 1, "comparable_population_share").numbers();
        assert!((share[1].unwrap() - 400.0 / 510.0).abs() < 1e-12);
    }

    #[test]
    fn the_later_edition_on_2011_codes_says_how_each_value_was_obtained() {
        let (spec, inputs) = fixture();
        let out = spec.build(&inputs).unwrap();
        let change: Vec<String> = col(&out, 2, "change")
            .texts()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(change, ["U", "S", "M", "M", "X"]);
        let pct = col(&out, 2, "imd_rank_percentile_after").numbers();
        // B split into B1 (50, pct 100/6) and B2 (150, pct 200/6).
        assert!(
            (pct[1].unwrap() - (50.0 * 100.0 / 6.0 + 150.0 * 200.0 / 6.0) / 200.0).abs() < 1e-9
        );
        assert_eq!(pct[2], pct[3], "C and D both take CD's value");
        assert_eq!(pct[4], None, "irregular: not estimated");
        let rank = col(&out, 2, "imd_rank_after").numbers();
        assert_eq!(rank[1], None, "a split area has no rank of its own");
    }
}
