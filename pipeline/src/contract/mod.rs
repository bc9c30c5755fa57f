//! The stage contract: what every stage kind provides, and what it is given.
//!
//! A kind is a spec type (the TOML of `stages/<name>.toml`, deserialised)
//! that implements [`Stage`]:
//! - [`Stage::inputs`]: the tables it reads, required or optional;
//! - [`Stage::outputs`]: the tables it writes, each with its declared
//!   [`TableSchema`] (columns and types, key), so that `check` can validate
//!   every column a later stage, an API section or a Places theme names;
//! - [`Stage::validate`]: its own consistency, and every column it names,
//!   against the schemas of its inputs ([`Validator`]);
//! - [`Stage::run`]: the work, through the unit cache. Kinds that turn tables
//!   into tables implement [`Build`] and run with [`derived::run`]; `load`
//!   (source files into tables) and `static_api` (tables into files) run
//!   their own units.
//!
//! The closed enum of kinds in `crate::stages` is the only place kinds are
//! told apart; everything else (the plan, the build) sees this contract.

pub mod derived;
mod validator;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use crate::catalog::Catalog;
use crate::checks::TableReport;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::{ColType, Table};
use crate::hash::HashMap;
use crate::read::Limits;
use crate::release::{FileEntry, TableEntry};
use crate::schema::text_unit;
use crate::units::{Rule, Unit};

pub use validator::Validator;

/// The tables a stage reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Without one of these the stage cannot run: its outputs are published
    /// as unavailable, with the reason.
    pub required: Vec<String>,
    /// Read when the build has them; without one the stage publishes what
    /// depends on it as unavailable, row by row or section by section.
    pub optional: Vec<String>,
}

impl Inputs {
    /// Required inputs, in the given order (the first unavailable one is
    /// the reason given for the stage's outputs), each once.
    pub fn required(tables: impl IntoIterator<Item = String>) -> Inputs {
        let mut required: Vec<String> = Vec::new();
        for t in tables {
            if !required.contains(&t) {
                required.push(t);
            }
        }
        Inputs {
            required,
            optional: Vec::new(),
        }
    }

    /// `required`, and every other table of `all` as optional.
    pub fn required_and_rest(required: Vec<String>, all: Vec<String>) -> Inputs {
        let optional = all.into_iter().filter(|t| !required.contains(t)).collect();
        Inputs { required, optional }
    }

    /// As [`Inputs::required`], in name order.
    pub fn required_sorted(tables: impl IntoIterator<Item = String>) -> Inputs {
        let mut t: Vec<String> = tables.into_iter().collect();
        t.sort();
        Inputs::required(t)
    }

    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.required.iter().chain(&self.optional)
    }
}

/// The declared shape of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    /// Columns in output order, with their types.
    pub columns: IndexMap<String, ColType>,
    /// Columns that identify a row.
    pub key: Vec<String>,
    /// Column families known only from the file (a dataset's header
    /// patterns): any column with one of these prefixes may exist.
    pub open: Vec<(String, ColType)>,
    /// Facts about the table that other stages read (an index's nation,
    /// edition and area type).
    pub facts: BTreeMap<String, String>,
    /// Columns whose values are a declared set (dbt's `accepted_values`):
    /// the indicator ids of a long table, its geography types.
    pub accepted: BTreeMap<String, Vec<String>>,
    /// Each column's unit and range (text by its name when not declared).
    pub rules: BTreeMap<String, Rule>,
    /// What a column means, where its producer says (a dataset's declared
    /// description, carried by a stage that passes the column on).
    pub descriptions: BTreeMap<String, String>,
}

impl TableSchema {
    pub fn new(name: impl Into<String>) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: IndexMap::new(),
            key: Vec::new(),
            open: Vec::new(),
            facts: BTreeMap::new(),
            accepted: BTreeMap::new(),
            rules: BTreeMap::new(),
            descriptions: BTreeMap::new(),
        }
    }

    /// Adds a column with its unit (builder style).
    pub fn col_unit(self, name: impl Into<String>, ty: ColType, unit: Unit) -> Self {
        self.col_rule(name, ty, Rule::of(unit))
    }

    /// Adds a column with its rule (builder style).
    pub fn col_rule(mut self, name: impl Into<String>, ty: ColType, rule: Rule) -> Self {
        let name = name.into();
        self.rules.insert(name.clone(), rule);
        self.columns.insert(name, ty);
        self
    }

    /// The rule of a column: declared, or for text and flags by its name
    /// and type (`None` for a number without a unit).
    pub fn rule_of(&self, column: &str) -> Option<Rule> {
        if let Some(r) = self.rules.get(column) {
            return Some(*r);
        }
        match self.type_of(column)? {
            ColType::String => Some(Rule::of(text_unit(column))),
            ColType::Bool => Some(Rule::of(Unit::Flag)),
            _ => self
                .open
                .iter()
                .find(|(p, _)| column.starts_with(p.as_str()))
                .and_then(|(p, _)| self.rules.get(&format!("{p}*")).copied()),
        }
    }

    /// Checks every value of a built table against its column's rule: an
    /// impossible value stops the release, naming the table, column, row
    /// (and its key), value and rule.
    pub fn check_values(&self, table: &Table) -> Result<()> {
        for name in table.names() {
            let Some(rule) = self.rule_of(&name) else {
                continue;
            };
            if let Some(v) = rule.first_violation_in(table, &name)? {
                let key_values = self.key.first().and_then(|k| table.values(k).ok());
                let key = key_values
                    .as_ref()
                    .and_then(|k| k.text(v.row))
                    .map(|k| format!(" ({} {k})", self.key[0]))
                    .unwrap_or_default();
                return Err(Error::new(ErrorKind::Implausible {
                    value: format!("{}{key}", v.value),
                    rule: v.rule,
                })
                .source_id(format!("table {}", self.name))
                .column(name)
                .row(v.row + 2));
            }
        }
        Ok(())
    }

    /// Adds a column (builder style).
    pub fn col(mut self, name: impl Into<String>, ty: ColType) -> Self {
        self.columns.insert(name.into(), ty);
        self
    }

    pub fn key(mut self, key: &[&str]) -> Self {
        self.key = key.iter().map(|k| k.to_string()).collect();
        self
    }

    pub fn fact(mut self, name: &str, value: impl Into<String>) -> Self {
        self.facts.insert(name.to_string(), value.into());
        self
    }

    /// Declares the values a column may hold.
    pub fn accepts(mut self, column: &str, values: Vec<String>) -> Self {
        self.accepted.insert(column.to_string(), values);
        self
    }

    /// True if the column is declared, or may exist through a column family.
    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column) || self.open.iter().any(|(p, _)| column.starts_with(p))
    }

    /// The type of a column, where known.
    pub fn type_of(&self, column: &str) -> Option<ColType> {
        self.columns.get(column).copied().or_else(|| {
            self.open
                .iter()
                .find(|(p, _)| column.starts_with(p))
                .map(|(_, t)| *t)
        })
    }

    /// The declared columns, and `prefix*` for each family, for messages.
    pub fn known(&self) -> Vec<String> {
        self.columns
            .keys()
            .cloned()
            .chain(self.open.iter().map(|(p, _)| format!("{p}*")))
            .collect()
    }

    /// Checks a built table against this schema: the declared columns in
    /// order with their types, then only family members. A difference is a
    /// bug in the stage kind, caught before anything is published.
    pub fn conforms(&self, table: &Table) -> Result<()> {
        let built = table.schema();
        let declared: Vec<(&String, &ColType)> = self.columns.iter().collect();
        let mismatch = |why: String| {
            Error::new(ErrorKind::Table(format!(
                "table `{}` does not match its declared schema: {why}",
                self.name
            )))
        };
        for (i, (name, ty)) in built.iter().enumerate() {
            match declared.get(i) {
                Some((d, dt)) if *d == name => {
                    if ty.is_some_and(|t| t != **dt) {
                        return Err(mismatch(format!(
                            "column `{name}` is {:?}, declared {}",
                            ty,
                            dt.as_str()
                        )));
                    }
                }
                Some((d, _)) => {
                    return Err(mismatch(format!(
                        "column {} is `{name}`, declared `{d}`",
                        i + 1
                    )))
                }
                None if self.open.iter().any(|(p, _)| name.starts_with(p)) => {}
                None => return Err(mismatch(format!("undeclared column `{name}`"))),
            }
        }
        if built.len() < declared.len() {
            return Err(mismatch(format!(
                "declared column `{}` was not built",
                declared[built.len()].0
            )));
        }
        Ok(())
    }
}

/// Every table's schema, by name.
pub type Schemas = BTreeMap<String, TableSchema>;

/// A table a stage declares it writes, and why it cannot, if it cannot.
#[derive(Debug, Clone)]
pub struct Output {
    pub schema: TableSchema,
    /// Set when the catalog in use cannot provide it (a load stage's
    /// dataset without a source); the plan propagates it to every stage
    /// that needs the table.
    pub unavailable: Option<String>,
}

impl From<TableSchema> for Output {
    fn from(schema: TableSchema) -> Self {
        Output {
            schema,
            unavailable: None,
        }
    }
}

/// What a stage is planned against: the catalog, and every schema known so
/// far (datasets, and the outputs of the stages it may read).
pub struct PlanCtx<'a> {
    pub catalog: &'a Catalog,
    pub schemas: &'a Schemas,
}

/// A stage kind.
pub trait Stage: Sync {
    /// The tables this stage reads.
    fn inputs(&self) -> Inputs;
    /// The tables it writes, with their schemas.
    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output>;
    /// Checks the spec, and every column it names against its inputs'
    /// schemas, reporting every problem.
    fn validate(&self, v: &mut Validator<'_>);
    /// Runs the stage into the release's staging directory.
    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun>;
    /// True if each output table is separate work that reads no table (the
    /// load stage: one dataset each). The build then runs the stage once
    /// per table, so a stage reading a loaded table starts as soon as that
    /// table is written rather than when the last dataset is.
    fn splits_by_output(&self) -> bool {
        false
    }
}

/// Kinds with large specs are boxed in the enum of kinds.
impl<S: Stage> Stage for Box<S> {
    fn inputs(&self) -> Inputs {
        (**self).inputs()
    }
    fn outputs(&self, ctx: &PlanCtx<'_>) -> Vec<Output> {
        (**self).outputs(ctx)
    }
    fn validate(&self, v: &mut Validator<'_>) {
        (**self).validate(v)
    }
    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        (**self).run(ctx)
    }
    fn splits_by_output(&self) -> bool {
        (**self).splits_by_output()
    }
}

/// A kind that turns tables into tables: what [`derived::run`] needs.
pub trait Build: Serialize {
    fn build(&self, inputs: &Frames<'_>) -> Result<Vec<Built>>;
}

/// A table a stage built, with what a reader must know about it.
pub struct Built {
    pub table: Table,
    pub meta: BuiltTable,
}

/// What a built table's manifest entry says besides its data.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct BuiltTable {
    pub name: String,
    pub description: String,
    /// Columns with no source (all null), with the reason.
    pub missing: IndexMap<String, String>,
    /// Columns computed rather than published, with how.
    pub computed: IndexMap<String, String>,
    pub notes: Vec<String>,
    pub verification: Option<TableReport>,
}

impl BuiltTable {
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> BuiltTable {
        BuiltTable {
            name: name.into(),
            description: description.into(),
            ..Default::default()
        }
    }
}

/// A derived stage's input tables, read from the staging directory.
pub struct Frames<'a> {
    pub tables: HashMap<String, Table>,
    /// Each input's columns that have no source, with the reason.
    pub missing: HashMap<String, IndexMap<String, String>>,
    /// Each input's columns computed rather than published, with how: a
    /// stage that carries such a column on says so in turn.
    pub computed: HashMap<String, IndexMap<String, String>>,
    pub schemas: &'a Schemas,
    /// Why each table that is not built is missing (computed once by the plan).
    pub unavailable: &'a BTreeMap<String, String>,
}

impl<'a> Frames<'a> {
    /// `tables`, read for a stage, with what the plan says of its inputs:
    /// their missing and computed columns, schemas, and why others are
    /// unavailable.
    pub fn of(tables: HashMap<String, Table>, ctx: &RunCtx<'a>) -> Frames<'a> {
        let of_inputs = |f: fn(&TableEntry) -> &IndexMap<String, String>| {
            ctx.inputs
                .iter()
                .map(|(n, e)| (n.clone(), f(e).clone()))
                .collect()
        };
        Frames {
            tables,
            missing: of_inputs(|e| &e.missing_columns),
            computed: of_inputs(|e| &e.computed_columns),
            schemas: ctx.schemas,
            unavailable: ctx.unavailable,
        }
    }

    /// An input the stage requires (the plan guarantees it is there).
    pub fn table(&self, name: &str) -> Result<&Table> {
        self.tables.get(name).ok_or_else(|| {
            Error::new(ErrorKind::Table(format!(
                "input table `{name}` is not in the build ({})",
                self.why_unavailable(name)
            )))
        })
    }

    /// An optional input, if the build has it.
    pub fn get(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// The declared-missing columns of an input.
    pub fn missing_of(&self, name: &str) -> IndexMap<String, String> {
        self.missing.get(name).cloned().unwrap_or_default()
    }

    /// How an input's column was computed, if its stage computed it
    /// rather than took it from a publisher.
    pub fn computed_of(&self, table: &str, column: &str) -> Option<&str> {
        self.computed.get(table)?.get(column).map(String::as_str)
    }

    /// Why a table is not in this build.
    pub fn why_unavailable(&self, name: &str) -> String {
        why_unavailable(self.unavailable, name)
    }

    /// The declared schema of an input.
    pub fn schema(&self, name: &str) -> Result<&TableSchema> {
        self.schemas.get(name).ok_or_else(|| {
            Error::new(ErrorKind::Table(format!(
                "input table `{name}` has no declared schema"
            )))
        })
    }
}

/// Why a table is not in this build: the plan's reason, or (for a table no
/// stage was asked to build) that.
pub fn why_unavailable(unavailable: &BTreeMap<String, String>, name: &str) -> String {
    unavailable
        .get(name)
        .cloned()
        .unwrap_or_else(|| format!("table `{name}` is not part of this release"))
}

/// What a stage runs with.
pub struct RunCtx<'a> {
    /// The stage's name (its spec's file stem).
    pub stage: &'a str,
    pub catalog: &'a Catalog,
    pub cache: &'a Cache,
    /// The release being written.
    pub staging: &'a Path,
    /// Each available source's file (the local file or the cache blob).
    pub sources: &'a BTreeMap<String, PathBuf>,
    /// The tables built so far that this stage reads.
    pub inputs: BTreeMap<String, TableEntry>,
    pub schemas: &'a Schemas,
    pub unavailable: &'a BTreeMap<String, String>,
    /// The tables this stage is planned to write.
    pub outputs: &'a [String],
    /// Called once per unit of work done, for progress.
    pub progress: &'a (dyn Fn() + Sync),
    /// What a reader takes at most from one source.
    pub limits: Limits,
}

/// What a stage did.
#[derive(Debug, Default)]
pub struct StageRun {
    /// Tables written, by name.
    pub tables: Vec<(String, TableEntry)>,
    pub verification: Vec<TableReport>,
    /// Other files written (the static API), with their digests.
    pub files: Vec<FileEntry>,
    /// Per unit of work: its name, time, and whether it was computed.
    pub units: Vec<UnitTime>,
}

/// One unit of a stage's work, for the benchmark.
#[derive(Debug, Clone)]
pub struct UnitTime {
    pub unit: String,
    pub took: std::time::Duration,
    pub computed: bool,
}

/// Helpers for the kinds' unit tests: tables and inputs from literals.
#[cfg(test)]
pub mod testing {
    use std::collections::BTreeMap;
    use std::sync::LazyLock;

    use super::{Frames, Schemas};
    use crate::frame::{Table, TableBuilder, Values};
    use crate::hash::HashMap;

    static NO_SCHEMAS: LazyLock<Schemas> = LazyLock::new(BTreeMap::new);
    static NOTHING_UNAVAILABLE: LazyLock<BTreeMap<String, String>> = LazyLock::new(BTreeMap::new);

    pub fn strs(v: &[&str]) -> Values {
        Values::Str(v.iter().map(|s| Some(s.to_string())).collect())
    }
    pub fn ints(v: &[i64]) -> Values {
        Values::Int(v.iter().map(|x| Some(*x)).collect())
    }
    pub fn floats(v: &[f64]) -> Values {
        Values::Float(v.iter().map(|x| Some(*x)).collect())
    }
    pub fn opt_strs(v: &[Option<&str>]) -> Values {
        Values::Str(v.iter().map(|s| s.map(str::to_string)).collect())
    }
    pub fn opt_floats(v: &[Option<f64>]) -> Values {
        Values::Float(v.to_vec())
    }

    /// An empty catalog, for validating a spec on its own.
    pub fn empty_catalog() -> crate::catalog::Catalog {
        crate::catalog::Catalog {
            name: "test".into(),
            path: "test.toml".into(),
            data_dir: None,
            datasets: Default::default(),
            sources: Default::default(),
            fingerprint: String::new(),
        }
    }

    /// Inputs with declared-missing columns and unavailable tables.
    pub fn frames_with(
        tables: Vec<(&str, Table)>,
        missing: Vec<(&str, &str, &str)>,
        unavailable: Vec<(&str, &str)>,
    ) -> Frames<'static> {
        let mut f = frames(tables);
        for (t, c, why) in missing {
            f.missing
                .entry(t.to_string())
                .or_default()
                .insert(c.to_string(), why.to_string());
        }
        let u: BTreeMap<String, String> = unavailable
            .into_iter()
            .map(|(t, w)| (t.to_string(), w.to_string()))
            .collect();
        f.unavailable = Box::leak(Box::new(u));
        f
    }

    /// A table of the given columns.
    pub fn table(cols: Vec<(&str, Values)>) -> Table {
        let n = cols.first().map_or(0, |c| c.1.len());
        let mut b = TableBuilder::new();
        for (name, v) in cols {
            b.push(name, v);
        }
        b.finish(n).unwrap()
    }

    /// A stage's inputs: these tables, no declared schemas or missing columns.
    pub fn frames(tables: Vec<(&str, Table)>) -> Frames<'static> {
        Frames {
            tables: tables
                .into_iter()
                .map(|(n, t)| (n.to_string(), t))
                .collect::<HashMap<_, _>>(),
            missing: HashMap::default(),
            computed: HashMap::default(),
            schemas: &NO_SCHEMAS,
            unavailable: &NOTHING_UNAVAILABLE,
        }
    }
}
