//! The library's one error type.
//!
//! A data error is only useful if it says *where*: which source, which file,
//! which sheet, column and row. So every error carries a [`Context`] next to
//! its [`ErrorKind`], and the kinds are a closed, documented set that carry
//! their facts as data (expected and got, the headers found, the failed
//! check), so that callers (the CLI's exit codes, the tests) match on them
//! and the message is rendered from them in one place. `anyhow` is used only
//! in `main`.

use std::fmt;
use std::path::PathBuf;

/// Where an error happened. Every field is optional: each layer fills in what
/// it knows (the reader knows the row, the engine knows the source).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub source: Option<String>,
    pub file: Option<PathBuf>,
    pub sheet: Option<String>,
    pub column: Option<String>,
    /// 1-based row number in the file as a person would count it in a text
    /// editor or spreadsheet (the header is row 1 unless declared otherwise).
    pub row: Option<usize>,
    pub stage: Option<String>,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(s) = &self.stage {
            parts.push(format!("stage `{s}`"));
        }
        if let Some(s) = &self.source {
            parts.push(format!("source `{s}`"));
        }
        if let Some(p) = &self.file {
            parts.push(format!("file {}", p.display()));
        }
        if let Some(s) = &self.sheet {
            parts.push(format!("sheet `{s}`"));
        }
        if let Some(c) = &self.column {
            parts.push(format!("column `{c}`"));
        }
        if let Some(r) = self.row {
            parts.push(format!("row {r}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One problem in the catalog, the datasets file or a stage spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The entry at fault, as a reader finds it: ``Source `x` ``, ``Stage `y` (stages/y.toml)``.
    pub entry: String,
    pub problem: ConfigProblem,
}

/// What is wrong with a configuration entry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// A field names a column that the table it refers to does not have.
    UnknownColumn {
        /// The field naming it, e.g. `sections[3].columns`.
        field: String,
        table: String,
        column: String,
        /// The table's declared columns.
        known: Vec<String>,
    },
    /// A field names a value that a column of a table never holds (a
    /// column with declared accepted values, such as indicator ids).
    UnknownValue {
        field: String,
        table: String,
        column: String,
        value: String,
        known: Vec<String>,
    },
    /// A field names a table that no stage produces and no dataset declares.
    UnknownTable { field: String, table: String },
    /// Any other problem, in words (the field and the value are named).
    Message(String),
}

impl ConfigError {
    pub fn message(entry: impl Into<String>, msg: impl Into<String>) -> Self {
        ConfigError {
            entry: entry.into(),
            problem: ConfigProblem::Message(msg.into()),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            ConfigProblem::Message(m) if self.entry.is_empty() => write!(f, "{m}"),
            ConfigProblem::Message(m) if m.starts_with(':') => write!(f, "{}{m}", self.entry),
            ConfigProblem::Message(m) => write!(f, "{} {m}", self.entry),
            ConfigProblem::UnknownColumn {
                field,
                table,
                column,
                known,
            } => {
                write!(
                    f,
                    "{} field `{field}` names column `{column}`, which table `{table}` does not have",
                    self.entry
                )?;
                if let Some(near) = nearest(column, known) {
                    write!(f, " (did you mean `{near}`?)")?;
                }
                write!(f, "; its columns are: {}", known.join(", "))
            }
            ConfigProblem::UnknownValue {
                field,
                table,
                column,
                value,
                known,
            } => {
                write!(
                    f,
                    "{} field `{field}` names `{value}`, which column `{column}` of table `{table}` never holds",
                    self.entry
                )?;
                if let Some(near) = nearest(value, known) {
                    write!(f, " (did you mean `{near}`?)")?;
                }
                write!(f, "; its values are: {}", known.join(", "))
            }
            ConfigProblem::UnknownTable { field, table } => write!(
                f,
                "{} field `{field}` names table `{table}`, which no stage produces and no dataset declares",
                self.entry
            ),
        }
    }
}

/// The known name closest to `name` by edit distance, if it is close.
fn nearest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A verification check that failed, with its first offending rows.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckFailure {
    pub table: String,
    pub check: String,
    pub detail: String,
    pub examples: Vec<String>,
}

/// What went wrong. Each variant maps to one kind of remedy.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The catalog or a stage spec is invalid. Holds every problem found, so
    /// that one run of `check` reports them all.
    Config(Vec<ConfigError>),
    /// Reading or writing a local file failed.
    Io(std::io::Error),
    /// An HTTP download failed after its retries.
    Download { reason: String },
    /// Sources could not be fetched: each with its reason, and what to do.
    Fetch {
        failed: Vec<(String, String)>,
        attempted: usize,
    },
    /// A file's sha256 differs from its pin; it is never used.
    ChecksumMismatch {
        expected: String,
        actual: String,
        /// Where the file was moved, if it was (a download is quarantined;
        /// a local file is left where it is).
        quarantined: Option<PathBuf>,
    },
    /// The server sent an HTML page where data was expected.
    HtmlInsteadOfData,
    /// A local file is an HTML page (a web page saved under a data file's name).
    HtmlFile,
    /// A file goes past a reader's limit (decompressed bytes, line length,
    /// field length): a damaged file or a decompression bomb.
    TooLarge { limit: String },
    /// A source is not in the cache and the run is offline (or the mirror lacks it).
    NotCached { reason: String },
    /// The bytes are not a readable file of the declared format (empty,
    /// truncated, corrupt, wrong encoding).
    Unreadable { reason: String },
    /// A sheet or archive member the catalog names is not in the file.
    NotInFile {
        what: &'static str,
        name: String,
        available: Vec<String>,
    },
    /// No header of the file matches a canonical column.
    MissingHeader {
        column: String,
        looked_for: Vec<String>,
        headers: Vec<String>,
    },
    /// Several headers match one canonical column, or a column group
    /// matched the wrong number of headers.
    AmbiguousHeader {
        column: String,
        headers: Vec<String>,
    },
    /// A data row has a different number of fields than the header.
    RaggedRow { fields: usize, expected: usize },
    /// The file holds a different number of data rows than the catalog declares.
    RowCount { expected: usize, got: usize },
    /// A cell cannot be read as its declared type.
    BadValue { expected: String, got: String },
    /// A value breaks its column's declared unit or range (an IMD score of
    /// 1e308, a NUL in a name): the release stops.
    Implausible { value: String, rule: String },
    /// A key column is empty in a row.
    EmptyKey { column: String },
    /// A key repeats; `first_row` holds its first occurrence.
    DuplicateKey { key: String, first_row: usize },
    /// A table lacks a column that is read from it.
    MissingColumn {
        table: Option<String>,
        column: String,
        available: Vec<String>,
    },
    /// A column has a type other than the one its reader needs.
    WrongType {
        column: String,
        expected: String,
        got: String,
    },
    /// A geography or data check failed.
    CheckFailed(CheckFailure),
    /// Another build holds the lock on this output or cache.
    Locked { path: PathBuf },
    /// A request to the bucket failed.
    Bucket { reason: String },
    /// An object of a published version exists with other content.
    PublishedDiffers { object: String },
    /// Another publish changed `latest.json` meanwhile.
    LatestMoved { reason: String },
    /// A file of the release no longer matches its manifest entry.
    ReleaseModified { path: PathBuf },
    /// The release's manifest disagrees with its folder or with itself.
    ReleaseInconsistent { path: PathBuf, reason: String },
    /// A command-line argument is unusable (a `--previous` that is not a
    /// release, a bad `--to` URL).
    Usage { reason: String },
    /// `--out` is a directory this tool did not make; it is never replaced.
    OutputRefused { path: PathBuf, reason: String },
    /// `--cache` is a folder this tool did not make; it is never used.
    CacheRefused { path: PathBuf, reason: String },
    /// An error from polars or a serialiser while building or writing a table.
    Table(String),
}

/// The summary of a fetch that failed for several sources, with what to do next.
fn write_fetch(
    f: &mut fmt::Formatter<'_>,
    failed: &[(String, String)],
    attempted: usize,
) -> fmt::Result {
    writeln!(
        f,
        "{} of {attempted} sources could not be fetched:",
        failed.len()
    )?;
    for (id, why) in failed.iter().take(8) {
        writeln!(f, "  - {id}: {why}")?;
    }
    if failed.len() > 8 {
        writeln!(f, "  - and {} more", failed.len() - 8)?;
    }
    write!(
        f,
        "What to do: with no network, build from files you have: `--mirror DIR` takes each source's file from DIR by its name; \
         `--offline` uses only what an earlier `census-pipeline fetch` cached; and the publisher files in ../shared/data build with \
         `CENSUS_DATA_DIR=../shared/data census-pipeline build --sources tests/shared.sources.toml`. With a network, rerun: \
         what was fetched is cached and not fetched again."
    )
}

/// A pin that does not match, saying what happened to the file.
fn write_checksum(
    f: &mut fmt::Formatter<'_>,
    expected: &str,
    actual: &str,
    quarantined: Option<&std::path::Path>,
) -> fmt::Result {
    write!(f, "sha256 mismatch: expected {expected}, got {actual}; ")?;
    match quarantined {
        Some(p) => write!(
            f,
            "the file was quarantined at {} and will not be used",
            p.display()
        )?,
        None => write!(f, "the file was not used (it was left where it is)")?,
    }
    write!(f, ". If the publisher has released a new version, review it and update the pin in the catalog")
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Config(errs) => {
                write!(f, "{} configuration error(s):", errs.len())?;
                for e in errs {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
            ErrorKind::Io(e) => write!(f, "{e}"),
            ErrorKind::Download { reason } => write!(f, "download failed: {reason}"),
            ErrorKind::Fetch { failed, attempted } => write_fetch(f, failed, *attempted),
            ErrorKind::ChecksumMismatch {
                expected,
                actual,
                quarantined,
            } => write_checksum(f, expected, actual, quarantined.as_deref()),
            ErrorKind::HtmlInsteadOfData => write!(
                f,
                "the server returned an HTML page instead of data (an error or landing page); check the source URL"
            ),
            ErrorKind::HtmlFile => write!(
                f,
                "the file is an HTML page, not data (a web page saved under the data file's name?); download the file itself from the publisher"
            ),
            ErrorKind::TooLarge { limit } => write!(
                f,
                "the file holds {limit}, past the reader's limit (a damaged file or a decompression bomb?); \
                 if the file is genuine, raise the limit (`max_bytes` in the catalog entry, or --max-source-bytes)"
            ),
            ErrorKind::NotCached { reason } => write!(f, "{reason}"),
            ErrorKind::Unreadable { reason } => write!(f, "{reason}"),
            ErrorKind::NotInFile { what, name, available } => {
                write!(f, "{what} {name:?} not found; the file holds {available:?}")
            }
            ErrorKind::MissingHeader { column, looked_for, headers } => write!(
                f,
                "no header matches canonical column `{column}` (looked for {looked_for:?}); the file's headers are {headers:?}. \
                 If the publisher renamed it, add the new header to `aliases`; if the file lacks it, declare it in `missing` with the reason"
            ),
            ErrorKind::AmbiguousHeader { column, headers } => {
                write!(f, "{} headers match canonical column `{column}`: {headers:?}", headers.len())
            }
            ErrorKind::RaggedRow { fields, expected } => write!(
                f,
                "row has {fields} fields but the header has {expected} (truncated or malformed file?)"
            ),
            ErrorKind::RowCount { expected, got } => write!(
                f,
                "expected {expected} data rows (field `rows` in the catalog), found {got} (truncated, or a new edition?)"
            ),
            ErrorKind::BadValue { expected, got } => write!(f, "cannot read {got} as {expected}"),
            ErrorKind::Implausible { value, rule } => {
                write!(f, "implausible value {value}: the column's rule is {rule}")
            }
            ErrorKind::EmptyKey { column } => write!(f, "key column `{column}` is empty"),
            ErrorKind::DuplicateKey { key, first_row } => {
                write!(f, "duplicate key {key:?} (first at row {first_row})")
            }
            ErrorKind::MissingColumn { table, column, available } => {
                match table {
                    Some(t) => write!(f, "table `{t}` has no column `{column}`")?,
                    None => write!(f, "the table has no column `{column}`")?,
                }
                write!(f, "; it has: {}", available.join(", "))
            }
            ErrorKind::WrongType { column, expected, got } => {
                write!(f, "column `{column}` has type {got}, expected {expected}")
            }
            ErrorKind::CheckFailed(c) => {
                write!(f, "verification failed: table `{}`, check `{}`: {}", c.table, c.check, c.detail)?;
                // The first few say where; verification.json lists them all.
                if !c.examples.is_empty() {
                    let shown: Vec<&str> = c.examples.iter().take(10).map(String::as_str).collect();
                    write!(f, "; first offending rows: {}", shown.join("; "))?;
                    if c.examples.len() > shown.len() {
                        write!(f, "; and {} more", c.examples.len() - shown.len())?;
                    }
                }
                Ok(())
            }
            ErrorKind::Locked { path } => write!(
                f,
                "another build holds the lock {}; wait for it to finish",
                path.display()
            ),
            ErrorKind::Bucket { reason } => write!(f, "bucket request failed: {reason}"),
            ErrorKind::PublishedDiffers { object } => write!(
                f,
                "{object} already exists with different content: a published version never changes; bump the version \
                 (or, if the bucket was damaged and this release is the version latest.json records, publish with --verify to restore it)"
            ),
            ErrorKind::LatestMoved { reason } => write!(f, "{reason}"),
            ErrorKind::ReleaseModified { path } => write!(
                f,
                "{} does not match the sha256 its release records (manifest.json, datapackage.json): the release directory was modified or damaged; build it again into a new folder (another --out): a build into the same folder with nothing changed does nothing. If the new folder's file is damaged too, the stage cache holds the edit (its files are hard-linked into releases): delete the cache's stages/ folder and build again",
                path.display()
            ),
            ErrorKind::ReleaseInconsistent { path, reason } => write!(
                f,
                "{} {reason}: the release was edited or damaged, and is not published. Build it again into a new folder (another --out)",
                path.display()
            ),
            ErrorKind::Usage { reason } => write!(f, "{reason}"),
            ErrorKind::OutputRefused { path, reason } => write!(
                f,
                "{} {reason}; refusing to replace it. Choose another --out",
                path.display()
            ),
            ErrorKind::CacheRefused { path, reason } => write!(
                f,
                "{} {reason}; a build empties its cache's tmp/ folder, so the cache must be the tool's own. \
                 Choose another --cache (a new or empty folder, or one an earlier build made), or leave it out for the default",
                path.display()
            ),
            ErrorKind::Table(m) => write!(f, "table error: {m}"),
        }
    }
}

/// An error with its context.
#[derive(Debug)]
pub struct Error {
    /// Boxed to keep `Result<T, Error>` small on the happy path.
    pub context: Box<Context>,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            context: Box::default(),
            kind,
        }
    }

    pub fn config(errors: Vec<ConfigError>) -> Self {
        Error::new(ErrorKind::Config(errors))
    }

    /// The bytes are not a readable file of the declared format.
    pub fn unreadable(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unreadable {
            reason: reason.into(),
        })
    }

    /// A failed verification check.
    pub fn check(
        table: impl Into<String>,
        check: impl Into<String>,
        detail: impl Into<String>,
        examples: Vec<String>,
    ) -> Self {
        Error::new(ErrorKind::CheckFailed(CheckFailure {
            table: table.into(),
            check: check.into(),
            detail: detail.into(),
            examples,
        }))
    }

    pub fn table(msg: impl fmt::Display) -> Self {
        Error::new(ErrorKind::Table(msg.to_string()))
    }

    pub fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io(e)).file(path)
    }

    /// Fills a context field only if a deeper layer has not already set it.
    pub fn source_id(mut self, s: impl Into<String>) -> Self {
        self.context.source.get_or_insert_with(|| s.into());
        self
    }
    pub fn file(mut self, p: impl Into<PathBuf>) -> Self {
        self.context.file.get_or_insert_with(|| p.into());
        self
    }
    pub fn sheet(mut self, s: impl Into<String>) -> Self {
        self.context.sheet.get_or_insert_with(|| s.into());
        self
    }
    pub fn column(mut self, c: impl Into<String>) -> Self {
        self.context.column.get_or_insert_with(|| c.into());
        self
    }
    pub fn row(mut self, r: usize) -> Self {
        self.context.row.get_or_insert(r);
        self
    }
    pub fn stage(mut self, s: impl Into<String>) -> Self {
        self.context.stage.get_or_insert_with(|| s.into());
        self
    }

    /// True for configuration errors.
    pub fn is_config(&self) -> bool {
        matches!(self.kind, ErrorKind::Config(_))
    }

    /// The CLI's exit code: 2 for a configuration or usage error (nothing
    /// was attempted), 1 for anything that went wrong while working.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Config(_)
            | ErrorKind::Usage { .. }
            | ErrorKind::OutputRefused { .. }
            | ErrorKind::CacheRefused { .. } => 2,
            _ => 1,
        }
    }

    /// The failed check, if this is a verification failure.
    pub fn check_failure(&self) -> Option<&CheckFailure> {
        match &self.kind {
            ErrorKind::CheckFailed(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ctx = self.context.to_string();
        if ctx.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{ctx}: {}", self.kind)
        }
    }
}

/// No source: the message already ends with the I/O error's own, and
/// `main` prints the chain of sources too, which would say it twice.
impl std::error::Error for Error {}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::table(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_column_suggests_the_nearest_known_one() {
        let e = ConfigError {
            entry: "Stage `api` (stages/api.toml)".into(),
            problem: ConfigProblem::UnknownColumn {
                field: "sections[0].columns".into(),
                table: "imd".into(),
                column: "imd_rnak".into(),
                known: vec!["lsoa21_code".into(), "imd_rank".into()],
            },
        };
        let msg = e.to_string();
        assert!(msg.contains("did you mean `imd_rank`?"), "{msg}");
        assert!(
            msg.contains("its columns are: lsoa21_code, imd_rank"),
            "{msg}"
        );
    }
}
