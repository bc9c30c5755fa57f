//! Verification: the vocabulary of checks, and the checks several stage
//! kinds share.
//!
//! Each check yields a [`Check`] in `verification.json`: `pass`, `fail`
//! (which stops the release, naming the table, the check and the first
//! offending rows), `warn` (a documented, explained difference such as a
//! publisher's hand-set band edges or tied ranks, every instance listed), or
//! `not_available` (the check cannot run for this table, with the reason).

pub mod geography;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    NotAvailable,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    /// Offending rows (all of them for `warn`, the first ones for `fail`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// Every check of one table.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct TableReport {
    pub table: String,
    pub checks: Vec<Check>,
}

impl TableReport {
    pub fn new(table: impl Into<String>) -> Self {
        TableReport {
            table: table.into(),
            checks: Vec::new(),
        }
    }

    pub fn push(
        &mut self,
        check: &str,
        status: Status,
        detail: impl Into<String>,
        examples: Vec<String>,
    ) {
        self.checks.push(Check {
            check: check.to_string(),
            status,
            detail: detail.into(),
            examples,
        });
    }

    pub fn pass(&mut self, check: &str, detail: impl Into<String>) {
        self.push(check, Status::Pass, detail, Vec::new());
    }

    /// A failed check; only its first ten offending rows are kept.
    pub fn fail(&mut self, check: &str, detail: impl Into<String>, mut examples: Vec<String>) {
        examples.truncate(10);
        self.push(check, Status::Fail, detail, examples);
    }

    pub fn warn(&mut self, check: &str, detail: impl Into<String>, examples: Vec<String>) {
        self.push(check, Status::Warn, detail, examples);
    }

    /// Pass when `ok`, else fail, with the same detail.
    pub fn pass_if(
        &mut self,
        check: &str,
        ok: bool,
        detail: impl Into<String>,
        examples: Vec<String>,
    ) {
        let status = if ok { Status::Pass } else { Status::Fail };
        self.push(check, status, detail, examples);
    }

    /// The first failed check as an error that stops the release.
    pub fn first_failure(&self) -> Option<Error> {
        self.checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map(|c| Error::check(&self.table, &c.check, &c.detail, c.examples.clone()))
    }

    /// `Err` with the first failed check, if any.
    pub fn ok(&self) -> Result<()> {
        match self.first_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Names compare equal ignoring case, white space and `&`/`and`.
pub fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.to_lowercase()
            .replace('&', " and ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    norm(a) == norm(b)
}

/// Names compare equal by [`same_name`], or are declared aliases of each
/// other (`name = other` pairs, in either order).
pub fn same_name_or_alias(a: &str, b: &str, aliases: &indexmap::IndexMap<String, String>) -> bool {
    same_name(a, b)
        || aliases.iter().any(|(x, y)| {
            (same_name(a, x) && same_name(b, y)) || (same_name(a, y) && same_name(b, x))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_loosely() {
        assert!(same_name("Rhondda Cynon Taf", "Rhondda  cynon taf"));
        assert!(same_name("Brighton & Hove", "Brighton and Hove"));
        assert!(!same_name("Cardiff", "Newport"));
    }

    #[test]
    fn a_failed_check_becomes_an_error_naming_table_and_check() {
        let mut r = TableReport::new("t");
        r.pass("a", "fine");
        r.fail("b", "2 rows are bad", vec!["x".into(), "y".into()]);
        let e = r.ok().unwrap_err();
        let c = e.check_failure().unwrap();
        assert_eq!((c.table.as_str(), c.check.as_str()), ("t", "b"));
        assert_eq!(c.examples, ["x", "y"]);
    }
}
