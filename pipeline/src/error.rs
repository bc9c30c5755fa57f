//! The library's one error type.
//!
//! A data error is only useful if it says *where*: which source, which file,
//! which sheet, column and row. So every error carries a [`Context`] next to
//! its [`ErrorKind`], and the kinds are a closed, documented set that callers
//! (the CLI's exit codes, the tests) can match on. `anyhow` is used only in
//! `main`.

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

/// What went wrong. Each variant maps to one kind of remedy.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The catalog or a stage spec is invalid. Holds every problem found, so
    /// that one run of `check` reports them all.
    Config(Vec<String>),
    /// Reading or writing a local file failed.
    Io(std::io::Error),
    /// An HTTP download failed after its retries.
    Download(String),
    /// A file's sha256 differs from its pin. The file was quarantined.
    ChecksumMismatch {
        expected: String,
        actual: String,
        quarantined: PathBuf,
    },
    /// The server sent an HTML page where data was expected.
    HtmlInsteadOfData,
    /// A source is not in the cache and the run is offline (or the mirror lacks it).
    NotCached(String),
    /// The file's shape is not what the catalog declares: missing or renamed
    /// header, missing sheet, wrong row count, unparseable value, bad encoding.
    Schema(String),
    /// A value could not be converted to its declared type.
    Value(String),
    /// A geography or data check failed.
    Verification(String),
    /// Another build holds the lock on this output or cache.
    Locked(String),
    /// An error from polars while building or writing a table.
    Table(String),
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
            ErrorKind::Download(m) => write!(f, "download failed: {m}"),
            ErrorKind::ChecksumMismatch {
                expected,
                actual,
                quarantined,
            } => write!(
                f,
                "sha256 mismatch: expected {expected}, got {actual}; the file was quarantined at {} and will not be used. \
                 If the publisher has released a new version, review it and update the pin in the catalog",
                quarantined.display()
            ),
            ErrorKind::HtmlInsteadOfData => write!(
                f,
                "the server returned an HTML page instead of data (an error or landing page); check the source URL"
            ),
            ErrorKind::NotCached(m) => write!(f, "{m}"),
            ErrorKind::Schema(m) => write!(f, "{m}"),
            ErrorKind::Value(m) => write!(f, "{m}"),
            ErrorKind::Verification(m) => write!(f, "verification failed: {m}"),
            ErrorKind::Locked(m) => write!(f, "{m}"),
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

    pub fn config(errors: Vec<String>) -> Self {
        Error::new(ErrorKind::Config(errors))
    }

    pub fn schema(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Schema(msg.into()))
    }

    pub fn value(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Value(msg.into()))
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

    /// True for configuration errors (exit code 2 in the CLI).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, ErrorKind::Config(_))
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        Error::table(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
