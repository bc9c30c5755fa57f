//! Logical datasets: the canonical shape every catalog maps its files onto.
//!
//! A dataset (e.g. `iod2019_imd`, `lookup_lsoa11_lsoa21_exact`) is declared
//! once, in `datasets.toml`, with its canonical columns, their types and the
//! header spellings the publisher is known to use. The production catalog and
//! the test catalog both point at that file, so the two cannot drift apart:
//! they differ only in *where* a file comes from and in the extra aliases a
//! third party's re-shaped copy needs.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::units::{Direction, Rule, Unit};

/// The type of a canonical column in the Parquet table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text. Codes are always strings, never numbers.
    String,
    /// 64-bit integer. `1296.00` is accepted as 1296; `1296.5` is an error.
    Int,
    /// 64-bit float, parsed from the published text at full precision.
    Float,
    /// A GeoJSON geometry, kept as its JSON text (boundary layers only).
    Geometry,
}

impl ColumnType {
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Geometry => "geometry",
        }
    }
}

/// One canonical column of a dataset.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Header spellings used by the publisher, matched after normalising
    /// white space and case. The canonical name itself always matches.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What the column holds, with its direction (rank 1 = most deprived).
    #[serde(default)]
    pub description: Option<String>,
    /// What it measures (`rank`, `decile`, `rate`, `count`, `score`, ...),
    /// and so which values are plausible. Required for numbers; text is a
    /// code, name or text by its name unless declared.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// Bounds of its values (inclusive), required for a `score`.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// The longest text allowed (default by unit: codes 32, names 200).
    #[serde(default)]
    pub max_len: Option<usize>,
    /// Which end is more deprived (ranks and bands: 1 = most deprived).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Values of this column that mean "none applies" (NSPL writes rank 0
    /// for a postcode no index covers): read as nulls, so that no
    /// impossible value (a rank of 0) is published as if it were one.
    #[serde(default)]
    pub null_values: Vec<String>,
}

impl ColumnSpec {
    /// The rule the column's values must follow (by name for text without
    /// a declared unit; `None` for an undeclared number, which `check`
    /// reports).
    pub fn rule(&self, name: &str) -> Option<Rule> {
        let unit = match (self.unit, self.ty) {
            (Some(u), _) => u,
            (None, ColumnType::Geometry) => Unit::Geometry,
            (None, ColumnType::String) => text_unit(name),
            (None, _) => return None,
        };
        Some(Rule {
            unit,
            range: self.range.map(|[lo, hi]| (lo, hi)),
            max_len: self.max_len,
            direction: self.direction,
        })
    }
}

/// The unit of a text column by its name: `*_code` a code, `*_name` a
/// name, anything else text.
pub fn text_unit(name: &str) -> Unit {
    if name == "code" || name.ends_with("_code") {
        Unit::Code
    } else if name == "name" || name.ends_with("_name") {
        Unit::Name
    } else {
        Unit::Text
    }
}

/// A family of columns matched by a header pattern, for wide tables such as
/// Census single-year-of-age (one column per category).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnGroup {
    /// A regular expression over the normalised header. Its first capture
    /// group, turned into snake_case, follows `prefix` in the canonical name.
    pub header: String,
    /// Prefix of the canonical names, e.g. `age_`.
    #[serde(default)]
    pub prefix: String,
    /// The type of every column in the group.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// How many columns the group must match, when known.
    #[serde(default)]
    pub count: Option<usize>,
    /// What every column of the family measures.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// Bounds of its values, required for a `score`.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// Which end is more deprived, or `neutral`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The group's column holding a total that its other columns partition
    /// (`age_total` over the age bands): in every row they must add up to
    /// it exactly, as a Census table's categories do, so that no share
    /// built from them can describe more people than there are.
    #[serde(default)]
    pub total: Option<String>,
}

/// A logical dataset as declared in `datasets.toml`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// A one-line title.
    pub title: String,
    /// What the dataset is and where it comes from in the publisher's release.
    #[serde(default)]
    pub description: Option<String>,
    /// Columns that together identify a row; must be unique and not null.
    #[serde(default)]
    pub key: Vec<String>,
    /// Canonical columns, in output order.
    #[serde(default)]
    pub columns: IndexMap<String, ColumnSpec>,
    /// Pattern-matched column families, appended after `columns`.
    #[serde(default)]
    pub groups: Vec<ColumnGroup>,
}

/// Normalises a header as published for matching: drops a byte-order mark,
/// folds every run of white space (including the newlines some publishers put
/// inside header cells) into one space, trims, and lower-cases.
pub fn normalise_header(h: &str) -> String {
    let h = h.trim_start_matches('\u{feff}');
    let mut out = String::with_capacity(h.len());
    for word in h.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.to_lowercase()
}

/// Turns free text (a census category) into a snake_case identifier.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_sep = false;
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(ch.to_ascii_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_normalised_for_matching() {
        assert_eq!(
            normalise_header(
                "\u{feff}Multiple Deprivation Measure Rank \n(where 1 is most deprived)"
            ),
            "multiple deprivation measure rank (where 1 is most deprived)"
        );
        assert_eq!(normalise_header("WIMD 2019 "), "wimd 2019");
    }

    #[test]
    fn categories_become_snake_case() {
        assert_eq!(
            snake_case("Aged 4 years and under"),
            "aged_4_years_and_under"
        );
        assert_eq!(snake_case("L1, L2 and L3 Higher"), "l1_l2_and_l3_higher");
    }
}
