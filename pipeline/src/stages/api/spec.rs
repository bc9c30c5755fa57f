//! The spec of a `static_api` stage (`stages/api.toml`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::pattern::Pattern;

/// Parameters of a `static_api` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiStage {
    pub description: String,
    /// Where the API lives in the release, e.g. `api/v2`.
    pub base: String,
    /// Caveats every area file carries.
    #[serde(default)]
    pub caveats: Vec<String>,
    /// Caveats of single areas (code = caveat), where one area's figures or
    /// parents need a word of their own. Each code must be an area of the
    /// release: a caveat left over from an earlier release stops the build.
    #[serde(default)]
    pub area_caveats: indexmap::IndexMap<String, String>,
    pub area_types: Vec<AreaType>,
    pub sections: Vec<Section>,
    pub postcodes: Option<PostcodeSpec>,
}

/// A kind of area (one geography at one vintage).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AreaType {
    /// Short id used in files and as a parent key, e.g. `lsoa21`.
    pub id: String,
    pub label: String,
    /// Every code of this type must match it (it is also a file name).
    pub pattern: Pattern,
    /// Where the codes come from; the first register naming a code's name or
    /// parent wins.
    pub registers: Vec<Register>,
    /// Caveats an area of this type carries.
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// Columns of one table that list areas of a type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub table: String,
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Parent area type -> column holding the parent's code.
    #[serde(default)]
    pub parents: IndexMap<String, String>,
    /// Parent area type -> column holding the parent's *name*, resolved to a
    /// code through that type's registers (for tables that carry no code).
    #[serde(default)]
    pub parents_by_name: IndexMap<String, String>,
}

/// Keeps the rows whose `column` equals `equals` or starts with `prefix`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub column: String,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
}

/// How a table's rows for one area appear in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// At most one row: its fields sit in the section object.
    #[default]
    One,
    /// Any number of rows: a list under `rows`.
    Many,
    /// Rows keyed by the value of the `by` column, under `values`.
    Keyed,
}

/// What one table contributes to the files of one area type.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The group in the area file: `deprivation`, `summaries`, `change`, ...
    pub group: String,
    /// The section's key within its group (unique across the spec).
    pub key: String,
    pub title: String,
    pub area_type: String,
    pub table: String,
    /// The column holding the area code.
    pub code: String,
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Codes this section should cover (default: every code of the type).
    /// A matching area without a row gets an `unavailable` entry.
    #[serde(default)]
    pub applies_to: Option<Pattern>,
    #[serde(default)]
    pub shape: Shape,
    /// For `shape = "keyed"`: the column whose values key the rows.
    #[serde(default)]
    pub by: Option<String>,
    /// Columns to show (default: every column but the code, `by` and `exclude`).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Leave out null fields (for long tables, where `status`/`reason` say
    /// why a value is absent).
    #[serde(default)]
    pub skip_nulls: bool,
    #[serde(default)]
    pub caveat: Option<String>,
}

/// The postcode files: one per outcode, each postcode with its status and
/// its small areas, and each small area's deprivation once per file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostcodeSpec {
    /// The postcode table (a `postcode_areas` stage's output).
    pub table: String,
    pub postcode: String,
    pub outcode: String,
    pub status: String,
    /// The date a postcode was terminated; empty for a live postcode.
    pub terminated: String,
    pub country: String,
    pub local_authority: String,
    pub ward: String,
    /// Why a postcode has no small area of any index.
    pub reason: String,
    /// The small-area columns, each shown under its name without `_code`,
    /// with the column that says why it is null (empty: none).
    pub small_areas: IndexMap<String, String>,
    /// The quantiles the original platform accepts, as ceil(rank x q / N).
    pub quantiles: Vec<u32>,
    /// The editions of each nation's index, and which small area each uses.
    pub editions: Vec<Edition>,
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// One nation's index at one edition, as the postcode files show it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    /// Its key in the files, e.g. `imd_england_2019`.
    pub key: String,
    pub nation: String,
    /// The nation's GSS code, as the postcode table's `country` column
    /// gives it (E92000001), so that a client matches a postcode's place
    /// to its nation's editions without a table of its own.
    pub country: String,
    /// The year the original platform's `year` parameter selects it by.
    pub year: u32,
    /// The postcode table's small-area column it is looked up by.
    pub small_area: String,
    /// Only small areas matching this belong to the nation.
    pub pattern: Pattern,
    /// The index table, its area code, rank and published decile columns.
    pub index: String,
    pub code: String,
    pub rank: String,
    pub decile: String,
    /// The publisher's quintile, where it publishes its own band edges
    /// (Wales); otherwise the quintile is ceil(rank x 5 / N).
    #[serde(default)]
    pub quintile: Option<String>,
}

impl ApiStage {
    /// The columns of `table` the spec reads (`None`: all of them, for a
    /// section that shows every column but its exclusions).
    pub fn columns_of(&self, table: &str) -> Option<Vec<String>> {
        let mut cols: Vec<String> = Vec::new();
        let mut push = |c: &String| {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        };
        for r in self
            .area_types
            .iter()
            .flat_map(|a| &a.registers)
            .filter(|r| r.table == table)
        {
            push(&r.code);
            r.name.iter().for_each(&mut push);
            r.parents
                .values()
                .chain(r.parents_by_name.values())
                .for_each(&mut push);
            r.filter.iter().for_each(|f| push(&f.column));
        }
        for s in self.sections.iter().filter(|s| s.table == table) {
            match &s.columns {
                Some(c) => c.iter().for_each(&mut push),
                None => return None,
            }
            push(&s.code);
            s.by.iter().for_each(&mut push);
            s.filter.iter().for_each(|f| push(&f.column));
        }
        for p in self.postcodes.iter().filter(|p| p.table == table) {
            p.columns().into_iter().for_each(&mut push);
        }
        for e in self
            .postcodes
            .iter()
            .flat_map(|p| &p.editions)
            .filter(|e| e.index == table)
        {
            [&e.code, &e.rank, &e.decile]
                .into_iter()
                .for_each(&mut push);
        }
        Some(cols)
    }

    /// Every table the spec reads. All are optional: a missing table makes
    /// its sections unavailable in every file they apply to, with the
    /// reason (once, in the dictionary).
    pub fn input_tables(&self) -> Vec<String> {
        sorted(
            self.register_tables()
                .chain(self.sections.iter().map(|s| s.table.clone()))
                .chain(self.postcode_only_tables()),
        )
    }

    /// The tables the area files read: registers' and sections'. The
    /// postcode files read the registers' too (for the registry) and the
    /// postcode and index tables besides.
    pub fn area_tables(&self) -> Vec<String> {
        sorted(
            self.register_tables()
                .chain(self.sections.iter().map(|s| s.table.clone())),
        )
    }

    /// The tables the outcode files read: the registers' (links to area
    /// files), the postcode table and the editions' index tables.
    pub fn postcode_tables(&self) -> Vec<String> {
        sorted(self.register_tables().chain(self.postcode_only_tables()))
    }

    fn register_tables(&self) -> impl Iterator<Item = String> + '_ {
        self.area_types
            .iter()
            .flat_map(|a| a.registers.iter().map(|r| r.table.clone()))
    }

    /// The postcode table, if only the outcode files read it: then it is
    /// read a batch of outcodes at a time rather than whole.
    pub fn postcode_table_read_alone(&self) -> Option<&str> {
        let pc = self.postcodes.as_ref()?;
        let t = pc.table.as_str();
        let elsewhere = self.register_tables().any(|r| r == t)
            || self.sections.iter().any(|s| s.table == t)
            || pc.editions.iter().any(|e| e.index == t);
        (!elsewhere).then_some(t)
    }

    /// The postcode table and the editions' index tables.
    fn postcode_only_tables(&self) -> impl Iterator<Item = String> + '_ {
        self.postcodes.iter().flat_map(|p| {
            std::iter::once(p.table.clone()).chain(p.editions.iter().map(|e| e.index.clone()))
        })
    }

    /// The section `group.key`'s id.
    pub fn section_ids(&self) -> Vec<String> {
        self.sections.iter().map(Section::id).collect()
    }
}

impl Section {
    /// `group.key`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.group, self.key)
    }
}

impl PostcodeSpec {
    /// The postcode table's columns the files read.
    pub fn columns(&self) -> Vec<&String> {
        let mut c = vec![
            &self.postcode,
            &self.outcode,
            &self.status,
            &self.terminated,
            &self.country,
            &self.local_authority,
            &self.ward,
            &self.reason,
        ];
        for (col, why) in &self.small_areas {
            c.push(col);
            if !why.is_empty() {
                c.push(why);
            }
        }
        c
    }
}

/// Table names, sorted, each once.
fn sorted(tables: impl Iterator<Item = String>) -> Vec<String> {
    let mut t: Vec<String> = tables.collect();
    t.sort();
    t.dedup();
    t
}
