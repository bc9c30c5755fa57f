//! The spec of a `deprivation_index` stage.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::pattern::Pattern;

use super::QUANTILES;

/// Parameters of a `deprivation_index` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IndexStage {
    /// What the table is, in a sentence (published as the table description).
    pub description: String,
    /// The output table, e.g. `imd_england_2019`.
    pub table: String,
    /// England, Wales, Scotland or Northern Ireland.
    pub nation: String,
    /// The edition, e.g. `2019`, `2020v2`.
    pub edition: String,
    /// The small-area geography, e.g. `LSOA 2011`.
    pub area_type: String,
    /// The output key column, e.g. `lsoa11_code`.
    pub key: String,
    /// The number of areas the publisher issues.
    pub rows: usize,
    /// A regular expression every area code must match.
    pub code_pattern: Pattern,
    /// The measures, in output order; `imd` (the overall index) comes first.
    pub measures: Vec<String>,
    /// Input tables, joined on the key in order; the first defines the areas.
    pub from: Vec<FromTable>,
    /// Output columns no input provides, with the reason (published).
    #[serde(default)]
    pub missing: IndexMap<String, String>,
    /// Published bands to check the computed quantiles against: output
    /// column -> number of bands (e.g. `imd_decile = 10`).
    #[serde(default)]
    pub published_bands: IndexMap<String, u32>,
    /// Why published bands may legitimately differ from equal-count bands.
    #[serde(default)]
    pub band_note: Option<String>,
    /// Geography checks.
    pub verify: VerifySpec,
}

/// One input of an index: which columns it gives, under which names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FromTable {
    pub table: String,
    /// The input's area-code column (default: the stage's key).
    #[serde(default)]
    pub key: Option<String>,
    /// Keep only rows whose column equals the value (e.g. `nation = "E"`).
    #[serde(default)]
    pub filter: IndexMap<String, String>,
    /// Keep only rows whose key starts with this prefix (e.g. `W01`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Output column -> input column.
    pub columns: IndexMap<String, String>,
    /// Where these columns come from, when it is not the publisher's index
    /// file (published with the table).
    #[serde(default)]
    pub note: Option<String>,
}

/// The geography checks of an index table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// Output column holding the local authority code.
    #[serde(default)]
    pub la_code: Option<String>,
    /// Output column holding the local authority name.
    #[serde(default)]
    pub la_name: Option<String>,
    /// A regular expression every local authority code must match (lower
    /// tier only: no E10 counties, E12 regions or E92 countries).
    #[serde(default)]
    pub la_code_pattern: Option<Pattern>,
    /// The official area -> local authority look-up of the edition's vintage.
    #[serde(default)]
    pub lookup: Option<LookupCheck>,
    /// The official list of the vintage's local authorities.
    #[serde(default)]
    pub la_list: Option<ListCheck>,
    /// Checks that cannot run for this table, with the reason (reported).
    #[serde(default)]
    pub not_available: IndexMap<String, String>,
    /// Local authority names that differ between publishers but name the
    /// same authority (e.g. two official Gaelic forms), as `name = other`.
    #[serde(default)]
    pub la_name_aliases: IndexMap<String, String>,
    /// Other files that publish the same values (a re-publisher's copy, or
    /// another of the publisher's files): every row must agree.
    #[serde(default)]
    pub agree_with: Vec<AgreeWith>,
}

/// Another table whose values must equal ours, row by row.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgreeWith {
    pub table: String,
    /// Its area-code column.
    pub key: String,
    /// Our output column -> its column.
    pub columns: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LookupCheck {
    pub table: String,
    /// The look-up's area-code column.
    pub key: String,
    /// Keep only look-up rows whose key starts with this prefix (the nation).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// The look-up's local authority code column, compared with `la_code`.
    #[serde(default)]
    pub la_code: Option<String>,
    /// The look-up's local authority name column, compared with `la_name`.
    #[serde(default)]
    pub la_name: Option<String>,
    /// Areas whose local authority is known to differ from the look-up's
    /// (area code = the authority the table gives it, and why). Each is
    /// reported as a warning with its reason; any other difference fails,
    /// and so does a declaration that no longer holds: the area agrees with
    /// the look-up, or the table now puts it in another authority than the
    /// one declared (the reason was written for that one).
    #[serde(default)]
    pub differences: IndexMap<String, Difference>,
}

/// One area's declared difference from the look-up.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// The local authority code the table gives the area. Required when
    /// codes are compared.
    #[serde(default)]
    pub la_code: Option<String>,
    /// The local authority name the table gives the area. Required when
    /// only names are compared.
    #[serde(default)]
    pub la_name: Option<String>,
    /// Why the table and the look-up differ (published with the warning).
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListCheck {
    pub table: String,
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Keep only list rows whose code starts with this prefix.
    #[serde(default)]
    pub code_prefix: Option<String>,
}

pub(super) const PARTS: [&str; 3] = ["score", "rank", "decile"];

impl IndexStage {
    /// Input tables read by this stage.
    pub fn input_tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self.from.iter().map(|f| f.table.clone()).collect();
        if let Some(l) = &self.verify.lookup {
            t.push(l.table.clone());
        }
        if let Some(l) = &self.verify.la_list {
            t.push(l.table.clone());
        }
        t
    }

    /// Every output column, in order.
    pub fn output_columns(&self) -> Vec<String> {
        let provided: Vec<&String> = self.from.iter().flat_map(|f| f.columns.keys()).collect();
        let measure_cols: Vec<String> = self
            .measures
            .iter()
            .flat_map(|m| PARTS.iter().map(move |p| format!("{m}_{p}")))
            .collect();
        let mut out = vec![self.key.clone()];
        for c in &provided {
            if !measure_cols.contains(c) && **c != self.key {
                out.push((*c).clone());
            }
        }
        out.extend(measure_cols);
        out.extend(QUANTILES.iter().map(|q| format!("imd_quantile_{q}")));
        out
    }

    /// The columns the inputs provide, in `from` order.
    pub fn provided(&self) -> Vec<&String> {
        self.from.iter().flat_map(|f| f.columns.keys()).collect()
    }
}
