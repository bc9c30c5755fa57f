//! Collects a stage spec's problems, and checks the columns it names.

use crate::catalog::Catalog;
use crate::error::{ConfigError, ConfigProblem};

use super::{Schemas, TableSchema};

/// A stage spec's problems, collected while it is validated, so that one run
/// of `check` reports every problem of every spec.
pub struct Validator<'a> {
    entry: String,
    pub catalog: &'a Catalog,
    pub schemas: &'a Schemas,
    errors: Vec<ConfigError>,
}

impl<'a> Validator<'a> {
    /// `entry` names the spec in messages, e.g. ``Stage `api` (stages/api.toml)``.
    pub fn new(entry: impl Into<String>, catalog: &'a Catalog, schemas: &'a Schemas) -> Self {
        Validator {
            entry: entry.into(),
            catalog,
            schemas,
            errors: Vec::new(),
        }
    }

    /// A problem in words; the message follows the entry's name, so it
    /// starts with `field ...` or `: ...`.
    pub fn error(&mut self, msg: impl Into<String>) {
        self.errors
            .push(ConfigError::message(self.entry.clone(), msg.into()));
    }

    /// The schema of a table, if any stage or dataset declares it.
    pub fn schema(&self, table: &str) -> Option<&'a TableSchema> {
        self.schemas.get(table)
    }

    /// Checks that `table` has `column`. A table nobody declares is reported
    /// by the plan (with the stage's inputs), not here.
    pub fn column(&mut self, field: &str, table: &str, column: &str) {
        let Some(schema) = self.schemas.get(table) else {
            return;
        };
        if !schema.has(column) {
            self.errors.push(ConfigError {
                entry: self.entry.clone(),
                problem: ConfigProblem::UnknownColumn {
                    field: field.to_string(),
                    table: table.to_string(),
                    column: column.to_string(),
                    known: schema.known(),
                },
            });
        }
    }

    /// Checks every column of `columns` as [`Validator::column`] does.
    pub fn columns<'c>(
        &mut self,
        field: &str,
        table: &str,
        columns: impl IntoIterator<Item = &'c String>,
    ) {
        for c in columns {
            self.column(field, table, c);
        }
    }

    /// Checks that `value` is one of the declared values of `column` (when
    /// the table declares them).
    pub fn value(&mut self, field: &str, table: &str, column: &str, value: &str) {
        let Some(known) = self.schemas.get(table).and_then(|s| s.accepted.get(column)) else {
            return;
        };
        if !known.iter().any(|k| k == value) {
            self.errors.push(ConfigError {
                entry: self.entry.clone(),
                problem: ConfigProblem::UnknownValue {
                    field: field.to_string(),
                    table: table.to_string(),
                    column: column.to_string(),
                    value: value.to_string(),
                    known: known.clone(),
                },
            });
        }
    }

    /// Checks that a table is declared by some stage or dataset.
    pub fn table(&mut self, field: &str, table: &str) {
        if !self.schemas.contains_key(table) {
            self.errors.push(ConfigError {
                entry: self.entry.clone(),
                problem: ConfigProblem::UnknownTable {
                    field: field.to_string(),
                    table: table.to_string(),
                },
            });
        }
    }

    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }
}
