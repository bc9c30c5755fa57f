//! Units: what a column measures, and so which values are plausible.
//!
//! Every canonical column of `datasets.toml` and every column a stage
//! writes declares a [`Unit`]. A unit implies the range its values must lie
//! in (a rate in 0..1, a decile in 1..10, a rank in 1..N of the table's
//! areas); a score declares its own `range`. Text declares no control
//! characters and a length. Every table is checked against its rules before
//! it is published, so an impossible value (an IMD score of 1e308, a NUL in
//! a name) stops the release naming the table, column, row, value and rule.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frame::{Table, Values};
use crate::text;

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Unit {
    /// An area or other code.
    Code,
    /// A name in words.
    Name,
    /// Other text (a category, a method, a reason).
    Text,
    /// A GeoJSON geometry as text.
    Geometry,
    /// A date or period as the publisher writes it (e.g. `2021`, `202001`).
    Date,
    /// A rank among the table's areas: 1..=N, N the number of rows.
    Rank,
    /// A mean of small-area ranks (an area summary's average rank): within
    /// the declared range.
    AverageRank,
    /// A band 1..=n: decile (10), quintile (5), quartile (4), vigintile (20)
    /// or any quantile.
    Band(u32),
    /// A proportion, 0..=1.
    Rate,
    /// A percentage, 0..=100.
    Percent,
    /// A rank percentile, 0..=100 (near 0 = most deprived).
    Percentile,
    /// A count of people, households or addresses (estimates may be
    /// fractional); never negative.
    Count,
    /// A score on the scale its column declares with `range`.
    Score,
    /// A standardised score: finite.
    Z,
    /// Years of age.
    Years,
    /// People per square kilometre.
    PerKm2,
    /// Square kilometres.
    Km2,
    /// A ratio, never negative: a standardised ratio (an illness factor, a
    /// mortality ratio), whose description says 100 = the nation's average,
    /// or people per GP.
    Ratio,
    /// Minutes of travel.
    Minutes,
    /// Events per n people or properties (`per_1000`, `per_10000`); never
    /// negative.
    Per(u32),

    /// Square metres.
    M2,
    /// Metres on the British National Grid.
    Metres,
    /// Several units in one family of columns (a wide table of
    /// indicators); each value finite.
    Mixed,
    /// True or false.
    Flag,
}

impl Unit {
    /// The range its values must lie in, when the unit implies one (`None`
    /// for the end of a rank, which is the table's number of rows).
    pub fn implied_range(self) -> Option<(f64, f64)> {
        Some(match self {
            Unit::Band(n) => (1.0, n as f64),
            Unit::Rate => (0.0, 1.0),
            Unit::Percent | Unit::Percentile => (0.0, 100.0),
            Unit::Count
            | Unit::PerKm2
            | Unit::Km2
            | Unit::M2
            | Unit::Ratio
            | Unit::Minutes
            | Unit::Per(_) => (0.0, f64::INFINITY),
            Unit::Years => (0.0, 130.0),
            Unit::Metres => (-1.0e7, 1.0e7),
            _ => return None,
        })
    }

    /// True for units of text (a date may be text or a number).
    pub fn is_text(self) -> bool {
        matches!(self, Unit::Code | Unit::Name | Unit::Text | Unit::Geometry)
    }

    /// The longest text a unit allows by default.
    pub fn default_max_len(self) -> usize {
        match self {
            Unit::Code => 32,
            Unit::Name => 200,
            Unit::Date => 32,
            Unit::Geometry => 64 << 20,
            _ => 2_000,
        }
    }

    /// True if the unit needs a declared `range`.
    pub fn needs_range(self) -> bool {
        matches!(self, Unit::Score | Unit::AverageRank)
    }
}

impl TryFrom<String> for Unit {
    type Error = String;
    fn try_from(s: String) -> Result<Unit, String> {
        Ok(match s.as_str() {
            "code" => Unit::Code,
            "name" => Unit::Name,
            "text" => Unit::Text,
            "geometry" => Unit::Geometry,
            "date" => Unit::Date,
            "rank" => Unit::Rank,
            "average_rank" => Unit::AverageRank,
            "decile" => Unit::Band(10),
            "quintile" => Unit::Band(5),
            "quartile" => Unit::Band(4),
            "vigintile" => Unit::Band(20),
            "rate" => Unit::Rate,
            "percent" => Unit::Percent,
            "percentile" => Unit::Percentile,
            "count" => Unit::Count,
            "score" => Unit::Score,
            "z" => Unit::Z,
            "years" => Unit::Years,
            "per_km2" => Unit::PerKm2,
            "km2" => Unit::Km2,
            "m2" => Unit::M2,
            "metres" => Unit::Metres,
            "ratio" => Unit::Ratio,
            "minutes" => Unit::Minutes,
            "mixed" => Unit::Mixed,
            "flag" => Unit::Flag,
            other => {
                // Digits as written back: no sign, no leading zero.
                let n = |prefix: &str| {
                    other
                        .strip_prefix(prefix)
                        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
                        .and_then(|n| n.parse().ok())
                };
                match (n("band_"), n("per_")) {
                    (Some(n), _) if n >= 2 => Unit::Band(n),
                    (_, Some(n)) if n >= 2 => Unit::Per(n),
                    _ => return Err(format!(
                        "unknown unit {other:?}; one of code, name, text, geometry, date, rank, average_rank, decile, quintile, quartile, vigintile, band_<n>, rate, percent, percentile, count, score, z, years, per_km2, km2, m2, metres, ratio, minutes, per_<n>, mixed, flag"
                    )),
                }
            }
        })
    }
}

impl From<Unit> for String {
    fn from(u: Unit) -> String {
        match u {
            Unit::Band(10) => "decile".into(),
            Unit::Band(5) => "quintile".into(),
            Unit::Band(4) => "quartile".into(),
            Unit::Band(20) => "vigintile".into(),
            Unit::Band(n) => format!("band_{n}"),
            Unit::Code => "code".into(),
            Unit::Name => "name".into(),
            Unit::Text => "text".into(),
            Unit::Geometry => "geometry".into(),
            Unit::Date => "date".into(),
            Unit::Rank => "rank".into(),
            Unit::AverageRank => "average_rank".into(),
            Unit::Rate => "rate".into(),
            Unit::Percent => "percent".into(),
            Unit::Percentile => "percentile".into(),
            Unit::Count => "count".into(),
            Unit::Score => "score".into(),
            Unit::Z => "z".into(),
            Unit::Years => "years".into(),
            Unit::PerKm2 => "per_km2".into(),
            Unit::Km2 => "km2".into(),
            Unit::M2 => "m2".into(),
            Unit::Metres => "metres".into(),
            Unit::Ratio => "ratio".into(),
            Unit::Minutes => "minutes".into(),
            Unit::Per(n) => format!("per_{n}"),
            Unit::Mixed => "mixed".into(),
            Unit::Flag => "flag".into(),
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from(*self))
    }
}

/// Which end of a measure is more deprived (or more favourable): stated in
/// every published description, and beside every field whose direction is
/// not the usual "1 = most deprived".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// A rank or band: 1 = most deprived.
    MostDeprivedFirst,
    /// A score, rate, mean of inverted ranks or count of deprived people:
    /// higher = more deprived.
    HigherMoreDeprived,
    /// A rank percentile: near 0 = most deprived, higher = less deprived.
    HigherLessDeprived,
    /// A rank of favourability: 1 = most favourable.
    MostFavourableFirst,
    /// A standardised score signed by favourability: higher = more favourable.
    HigherMoreFavourable,
    /// Not a measure of deprivation (a count of people, a share of a census
    /// category): neither end is "more deprived".
    Neutral,
    /// A family of indicators whose direction differs between columns (a
    /// publisher's supplementary indicators): its notes say which is which.
    Varies,
}

impl Direction {
    /// The direction in words, for descriptions and notes.
    pub fn words(self) -> &'static str {
        match self {
            Direction::MostDeprivedFirst => "1 = most deprived",
            Direction::HigherMoreDeprived => "higher = more deprived",
            Direction::HigherLessDeprived => "higher = less deprived",
            Direction::MostFavourableFirst => "1 = most favourable",
            Direction::HigherMoreFavourable => "higher = more favourable",
            Direction::Neutral => "not a measure of deprivation: neither end is more deprived",
            Direction::Varies => {
                "varies by indicator: each row's or indicator's own direction says which end is more deprived"
            }
        }
    }

    /// The name a spec or a table's column spells it with.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::MostDeprivedFirst => "most_deprived_first",
            Direction::HigherMoreDeprived => "higher_more_deprived",
            Direction::HigherLessDeprived => "higher_less_deprived",
            Direction::MostFavourableFirst => "most_favourable_first",
            Direction::HigherMoreFavourable => "higher_more_favourable",
            Direction::Neutral => "neutral",
            Direction::Varies => "varies",
        }
    }

    /// The direction a column's text names, as [`Direction::as_str`] spells it.
    pub fn parse(s: &str) -> Option<Direction> {
        [
            Direction::MostDeprivedFirst,
            Direction::HigherMoreDeprived,
            Direction::HigherLessDeprived,
            Direction::MostFavourableFirst,
            Direction::HigherMoreFavourable,
            Direction::Neutral,
            Direction::Varies,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// The rule a column's values must follow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub unit: Unit,
    /// Declared bounds (inclusive), overriding the unit's.
    pub range: Option<(f64, f64)>,
    /// The longest text allowed, overriding the unit's default.
    pub max_len: Option<usize>,
    /// Which end is more deprived, when declared (ranks and bands default to
    /// 1 = most deprived).
    #[serde(default)]
    pub direction: Option<Direction>,
}

/// A value that breaks its column's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// 0-based row of the table.
    pub row: usize,
    /// The value, shortened for messages.
    pub value: String,
    /// The rule, in words.
    pub rule: String,
}

impl Rule {
    pub fn of(unit: Unit) -> Rule {
        Rule {
            unit,
            range: None,
            max_len: None,
            direction: None,
        }
    }

    pub fn direction(mut self, d: Direction) -> Rule {
        self.direction = Some(d);
        self
    }

    /// Which end is more deprived, in words; a rank percentile's also
    /// names its most deprived end (near 0), which a rate's need not have.
    pub fn direction_words(&self) -> Option<&'static str> {
        Some(match (self.effective_direction()?, self.unit) {
            (Direction::HigherLessDeprived, Unit::Percentile) => {
                "higher = less deprived (near 0 = most deprived)"
            }
            (d, _) => d.words(),
        })
    }

    /// The direction declared, or for a rank or band the usual one.
    pub fn effective_direction(&self) -> Option<Direction> {
        self.direction.or(match self.unit {
            Unit::Rank | Unit::Band(_) => Some(Direction::MostDeprivedFirst),
            _ => None,
        })
    }

    pub fn range(mut self, lo: f64, hi: f64) -> Rule {
        self.range = Some((lo, hi));
        self
    }

    /// The bounds numbers must lie in, for a table of `rows` rows.
    pub fn bounds(&self, rows: usize) -> Option<(f64, f64)> {
        self.range.or_else(|| match self.unit {
            Unit::Rank => Some((1.0, rows.max(1) as f64)),
            u => u.implied_range(),
        })
    }

    /// The rule in words, for messages.
    pub fn describe(&self, rows: usize) -> String {
        match (self.unit.is_text(), self.bounds(rows)) {
            (true, _) => format!(
                "{}: no control characters, at most {} characters",
                self.unit,
                self.max_len.unwrap_or(self.unit.default_max_len())
            ),
            (false, Some((lo, hi))) if hi.is_infinite() => {
                format!("{}: finite, at least {lo}", self.unit)
            }
            (false, Some((lo, hi))) => format!("{}: within {lo}..={hi}", self.unit),
            (false, None) => format!("{}: finite", self.unit),
        }
    }

    /// The first value of `values` that breaks the rule.
    pub fn first_violation(&self, values: &Values) -> Option<Violation> {
        match values {
            Values::Str(v) => self.first_text_violation(v.iter().map(Option::as_deref), v.len()),
            Values::Bool(_) => None,
            _ => self
                .first_number_violation((0..values.len()).map(|i| values.number(i)), values.len()),
        }
    }

    /// The first value of a table's column that breaks the rule. Text is
    /// read in place: the checks run on every column of every table, and
    /// copying each cell to check it was about 1% of a build's CPU samples;
    /// numbers are read in place too.
    pub fn first_violation_in(&self, table: &Table, column: &str) -> Result<Option<Violation>> {
        if let Some(texts) = table.text_cells(column)? {
            return Ok(self.first_text_violation(texts, table.height()));
        }
        if let Some(numbers) = table.number_cells(column)? {
            return Ok(self.first_number_violation(numbers, table.height()));
        }
        Ok(self.first_violation(&table.values(column)?))
    }

    fn first_text_violation<'s>(
        &self,
        texts: impl Iterator<Item = Option<&'s str>>,
        rows: usize,
    ) -> Option<Violation> {
        let max = self.max_len.unwrap_or(self.unit.default_max_len());
        texts.enumerate().find_map(|(i, s)| {
            let s = s?;
            let control = !matches!(self.unit, Unit::Geometry) && text::has_control(s);
            (control || text::longer_than(s, max))
                .then(|| self.violation(i, format!("{s:?}"), rows))
        })
    }

    fn first_number_violation(
        &self,
        numbers: impl Iterator<Item = Option<f64>>,
        rows: usize,
    ) -> Option<Violation> {
        let (lo, hi) = self
            .bounds(rows)
            .unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        numbers.enumerate().find_map(|(i, x)| {
            let x = x?;
            (!x.is_finite() || x < lo || x > hi).then(|| self.violation(i, show(x), rows))
        })
    }

    fn violation(&self, row: usize, value: String, rows: usize) -> Violation {
        Violation {
            row,
            value: shorten(&value),
            rule: self.describe(rows),
        }
    }
}

/// The factor that turns a value published in `from` into `to`, for the
/// conversions a publisher's file may need (percent to rate and back).
pub fn conversion(from: Unit, to: Unit) -> Option<f64> {
    match (from, to) {
        (a, b) if a == b => Some(1.0),
        (Unit::Percent, Unit::Rate) => Some(0.01),
        (Unit::Rate, Unit::Percent) => Some(100.0),

        _ => None,
    }
}

/// A number as a person writes it: `1e308`, not 309 digits.
fn show(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A value as shown in a message: at most 120 characters, and how long it
/// really was.
pub fn shorten(s: &str) -> String {
    let n = s.chars().count();
    if n <= 120 {
        s.to_string()
    } else {
        let head: String = s.chars().take(120).collect();
        format!("{head}… ({n} characters)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[f64]) -> Values {
        Values::Float(v.iter().map(|x| Some(*x)).collect())
    }

    #[test]
    fn impossible_numbers_break_their_unit() {
        let score = Rule::of(Unit::Score).range(0.0, 100.0);
        assert_eq!(
            score.first_violation(&floats(&[1.0, 1e308])).unwrap().row,
            1
        );
        assert_eq!(score.first_violation(&floats(&[-5.0])).unwrap().value, "-5");
        assert!(score.first_violation(&floats(&[0.0, 99.9])).is_none());
        let rate = Rule::of(Unit::Rate);
        assert!(rate.first_violation(&floats(&[60.9])).is_some());
        let rank = Rule::of(Unit::Rank);
        assert!(rank.first_violation(&floats(&[1.0, 2.0, 3.0])).is_none());
        assert!(rank.first_violation(&floats(&[1.0, 4.0, 3.0])).is_some());
        assert!(Rule::of(Unit::Z)
            .first_violation(&floats(&[f64::INFINITY]))
            .is_some());
    }

    #[test]
    fn names_have_no_control_characters_and_a_length() {
        let name = Rule::of(Unit::Name);
        let nul = Values::Str(vec![Some("Ok".into()), Some("Bad\u{0}name".into())]);
        let v = name.first_violation(&nul).unwrap();
        assert_eq!((v.row, v.value.as_str()), (1, "\"Bad\\0name\""));
        let long = Values::Str(vec![Some("x".repeat(10_000_000))]);
        let v = name.first_violation(&long).unwrap();
        assert!(
            v.value.len() < 200 && v.value.contains("10000002 characters"),
            "{}",
            v.value
        );
    }

    #[test]
    fn units_read_and_write_as_their_names() {
        for name in [
            "decile",
            "band_12",
            "rate",
            "average_rank",
            "per_km2",
            "per_1000",
            "ratio",
            "minutes",
        ] {
            let u = Unit::try_from(name.to_string()).unwrap();
            assert_eq!(String::from(u), name);
        }
        assert_eq!(
            Unit::try_from("per_10000".to_string()),
            Ok(Unit::Per(10_000))
        );
        for bad in [
            "furlongs",
            "per_",
            "per_1",
            "per_m2",
            "band_1",
            "per_+1000",
            "per_01000",
            "band_+5",
        ] {
            assert!(Unit::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    /// A table of one row per value, with every kind of number column.
    fn numbers_table() -> Table {
        use polars::prelude::{Column, DataFrame};
        let big = (1i64 << 53) + 1;
        let df = DataFrame::new(
            5,
            vec![
                Column::new(
                    "int".into(),
                    [Some(3i64), None, Some(big), Some(-1), Some(2)],
                ),
                Column::new(
                    "float".into(),
                    [
                        Some(0.5f64),
                        None,
                        Some(f64::NAN),
                        Some(f64::INFINITY),
                        Some(-0.0),
                    ],
                ),
                Column::new("float32".into(), [1.0f32, 2.0, 3.0, 4.0, 5.0]),
                Column::new(
                    "ranks".into(),
                    [Some(1i64), Some(5), Some(3), Some(2), None],
                ),
            ],
        )
        .unwrap();
        Table::from_frame(df)
    }

    #[test]
    fn number_columns_read_in_place_break_the_rules_their_copies_break() {
        let t = numbers_table();
        let rules = [
            Rule::of(Unit::Score).range(0.0, 100.0),
            Rule::of(Unit::Z),
            Rule::of(Unit::Rank),
            Rule::of(Unit::Count),
        ];
        for rule in &rules {
            for col in ["int", "float", "ranks"] {
                let copied = rule.first_violation(&t.values(col).unwrap());
                assert_eq!(rule.first_violation_in(&t, col).unwrap(), copied, "{col}");
            }
            // A type the copies refuse is refused in the same words.
            let refused = t.values("float32").unwrap_err().to_string();
            let e = rule.first_violation_in(&t, "float32").unwrap_err();
            assert_eq!(e.to_string(), refused);
        }
    }
}
