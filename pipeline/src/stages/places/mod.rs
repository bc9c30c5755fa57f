//! Places Scores: themes of standardised indicators, from a declarative
//! taxonomy (`stages/places.toml`).
//!
//! For each geography (LAD 2024, ward 2024) every indicator is standardised
//! across areas (z-score), signed so that higher = more favourable by its
//! declared direction, and combined into theme scores (weighted means of the
//! available indicators) and an overall score (weighted mean of the themes).
//! Coverage is the share of the declared weight that was available; an area
//! missing an indicator is never given a filled-in value. Each indicator
//! records its Census 2011 equivalent and comparability, but no 2011 value is
//! ever used or presented as current.

mod scores;
mod spec;

use crate::contract::{
    derived, Build, Built, Frames, Inputs, Output, PlanCtx, RunCtx, Stage, StageRun, TableSchema,
    Validator,
};
use crate::error::Result;
use crate::frame::ColType;
use crate::units::{self, Rule, Unit};

pub use spec::{Census2011, Comparability, Direction, PlacesStage, Theme, ThemeIndicator};

fn favourable(u: Unit) -> Rule {
    Rule::of(u).direction(units::Direction::HigherMoreFavourable)
}

fn favourable_rank() -> Rule {
    Rule::of(Unit::Rank).direction(units::Direction::MostFavourableFirst)
}

impl Stage for PlacesStage {
    fn inputs(&self) -> Inputs {
        Inputs {
            required: vec![self.indicators_table.clone()],
            optional: self.unavailable_table.iter().cloned().collect(),
        }
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        self.outputs
            .iter()
            .map(|(geo_type, table)| {
                let code = format!("{geo_type}_code");
                let mut s = TableSchema::new(table).col(&code, ColType::String);
                s.key = vec![code];
                for theme in &self.themes {
                    for ti in &theme.indicators {
                        let d = if ti.direction == Direction::Descriptive {
                            units::Direction::Neutral
                        } else {
                            units::Direction::HigherMoreFavourable
                        };
                        s = s.col_rule(
                            format!("z_{}", ti.id),
                            ColType::Float,
                            Rule::of(Unit::Z).direction(d),
                        );
                    }
                    s = s
                        .col_rule(
                            format!("theme_{}_score", theme.id),
                            ColType::Float,
                            favourable(Unit::Z),
                        )
                        .col_rule(
                            format!("theme_{}_rank", theme.id),
                            ColType::Int,
                            favourable_rank(),
                        );
                }
                s.col_rule("overall_score", ColType::Float, favourable(Unit::Z))
                    .col_rule("overall_rank", ColType::Int, favourable_rank())
                    .col_rule(
                        "coverage",
                        ColType::Float,
                        Rule::of(Unit::Rate).direction(units::Direction::Neutral),
                    )
                    .col("flags", ColType::String)
                    .into()
            })
            .collect()
    }

    /// Every taxonomy indicator and geography type must be one the
    /// indicators table declares.
    fn validate(&self, v: &mut Validator<'_>) {
        let t = &self.indicators_table;
        let cols = [
            "geography_code",
            "geography_type",
            "indicator_id",
            "value",
            "status",
            "reason",
        ];
        for c in cols {
            v.column("indicators_table", t, c);
            if let Some(u) = &self.unavailable_table {
                v.column("unavailable_table", u, c);
            }
        }
        for (i, theme) in self.themes.iter().enumerate() {
            for (j, ti) in theme.indicators.iter().enumerate() {
                let field = format!("themes[{i}].indicators[{j}].id");
                v.value(&field, t, "indicator_id", &ti.id);
            }
        }
        for g in self.outputs.keys() {
            v.value("outputs", t, "geography_type", g);
        }
    }

    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        derived::run(self, ctx)
    }
}

impl Build for PlacesStage {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>> {
        let mut longs = vec![scores::Long::read(inputs.table(&self.indicators_table)?)?];
        if let Some(t) = self.unavailable_table.as_ref().and_then(|t| inputs.get(t)) {
            longs.push(scores::Long::read(t)?);
        }
        self.outputs
            .iter()
            .map(|(geo_type, table)| scores::build(self, &longs, geo_type, table))
            .collect()
    }
}
