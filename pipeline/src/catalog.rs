//! The catalog of official releases, and its validation.
//!
//! A catalog file (`sources.toml` for production, `tests/shared.sources.toml`
//! for the files in `../shared/data`) says where each dataset's file comes
//! from, how to read it and what it must contain. It is parsed in two steps,
//! as ripgrep does with its arguments: the raw serde structs describe only the
//! file's shape; [`Catalog::load`] then checks everything that can be checked
//! without touching the data, collects *every* problem, and returns either all
//! of them or a `Catalog` the rest of the code can trust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{ConfigError, Error, Result};
use crate::hash::HashMap;
use crate::schema::{normalise_header, ColumnType, DatasetSpec};
use crate::units::Unit;

/// The `[catalog]` table.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalogHeader {
    /// A short name for logs and the release manifest.
    pub name: String,
    /// Path (relative to this file) of the logical dataset declarations.
    pub datasets: PathBuf,
    /// For catalogs of local files: their directory, relative to this file.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// An environment variable that, when set, replaces `data_dir`
    /// (`CENSUS_DATA_DIR` for the test catalog).
    #[serde(default)]
    pub data_dir_env: Option<String>,
}

/// How a file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    #[serde(rename = "csv.gz")]
    CsvGz,
    /// A member of a zip archive (`member` names it): a CSV, or a workbook
    /// (`.xlsx`, `.xls`, `.ods`) whose `sheet` is read.
    Zip,
    Xlsx,
    Xls,
    Ods,
    /// An ESRI shapefile: the `.shp` with `.dbf` and `.prj` beside it, or
    /// a zip holding them all (`member` names the `.shp` inside).
    Shapefile,
    Geojson,
    #[serde(rename = "geojson.gz")]
    GeojsonGz,
    /// An Esri JSON feature set, as an ArcGIS FeatureServer answers `f=json`.
    #[serde(rename = "esri_json")]
    EsriJson,
}

impl Format {
    pub fn is_spreadsheet(self) -> bool {
        matches!(self, Format::Xlsx | Format::Xls | Format::Ods)
    }
    pub fn is_csv(self) -> bool {
        matches!(self, Format::Csv | Format::CsvGz | Format::Zip)
    }
}

/// Text encodings accepted for CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// Windows code page 1252, as the Scottish data zone lookup really is.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

/// One `[sources.<dataset>]` entry as written.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// What this file is, in the publisher's words.
    pub title: String,
    /// Publisher (MHCLG, ONS, Welsh Government, Scottish Government, NISRA, ...).
    pub publisher: String,
    /// Licence, e.g. `OGL-UK-3.0`.
    pub licence: String,
    /// The attribution statement the licence asks users to carry, beyond
    /// the licence itself (boundaries and postcodes: "Contains OS data ...").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// Edition or release of the data, e.g. `2019`, `2020v2`, `Census 2021`.
    pub edition: String,
    /// Geography and vintage of its rows, e.g. `LSOA 2011`, `LAD 2024`.
    pub geography: String,
    /// Official download URL. Absent only with `unavailable` saying why.
    #[serde(default)]
    pub url: Option<String>,
    /// The publisher's landing page for the release.
    #[serde(default)]
    pub landing: Option<String>,
    /// Where `census-pipeline outdated` looks for a newer edition, when the
    /// landing page cannot show one: an ArcGIS search URL whose result titles
    /// name editions (a new ONSPD comes out every quarter as a new item).
    #[serde(default)]
    pub watch: Option<String>,
    /// Local catalogs: path of the file relative to `data_dir`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Expected sha256 of the file as stored (the compressed bytes for .gz).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Why there is no sha256 pin, when there is none.
    #[serde(default)]
    pub unpinned: Option<String>,
    /// Expected number of data rows (records after the header).
    #[serde(default)]
    pub rows: Option<usize>,
    /// The most bytes the file may hold after decompression (default: the
    /// build's `--max-source-bytes`, 2 GiB).
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// True if the file was re-shaped by a third party (not the publisher's).
    #[serde(default)]
    pub derived: bool,
    /// Declared but not obtainable: the reason, published with the release.
    #[serde(default)]
    pub unavailable: Option<String>,
    /// How the file is laid out.
    pub format: Format,
    /// Spreadsheets: the sheet to read, by name.
    #[serde(default)]
    pub sheet: Option<String>,
    /// Zip archives: the member to read.
    #[serde(default)]
    pub member: Option<String>,
    /// 1-based row of the header (title rows above it are skipped).
    #[serde(default = "one")]
    pub header_row: usize,
    /// 1-based row of a group header above `header_row` (merged cells such as
    /// `Property type: Houses`): headers become `group / field`.
    #[serde(default)]
    pub group_row: Option<usize>,
    /// Text encoding of a CSV file.
    #[serde(default)]
    pub encoding: Encoding,
    /// Cell values that mean "not available" (e.g. `*` for suppressed
    /// counts); they are read as nulls.
    #[serde(default)]
    pub null_values: Vec<String>,
    /// Extra header spellings for this file, by canonical column.
    #[serde(default)]
    pub aliases: IndexMap<String, OneOrMany>,
    /// Canonical columns this file does not have, with the reason. They are
    /// written as nulls and the reason is published; they are never invented.
    #[serde(default)]
    pub missing: IndexMap<String, String>,
    /// Canonical columns this file publishes in another unit than the
    /// dataset's (e.g. `income_score = "percent"` where the dataset holds a
    /// rate): converted on read, and the conversion is published.
    #[serde(default)]
    pub units: IndexMap<String, Unit>,
    /// Free-form notes for maintainers.
    #[serde(default)]
    pub notes: Option<String>,
}

fn one() -> usize {
    1
}

/// A single alias or a list of them.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The most bytes a source may hold after decompression, unless its entry
/// says `max_bytes` (or the build `--max-source-bytes`): 2 GiB.
pub const DEFAULT_MAX_SOURCE_BYTES: u64 = 2 << 30;

/// True if a source's `member` is a pattern over many members or files
/// (`*` stands for any run of characters other than `/`).
pub fn is_member_pattern(member: &str) -> bool {
    member.contains('*')
}

/// A validated source: a dataset and where its file comes from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The dataset id, which is also the source's key in the catalog.
    pub id: String,
    pub raw: RawSource,
    /// The local file, for catalogs with a `data_dir`.
    pub local_path: Option<PathBuf>,
    /// Header spellings per canonical column (dataset aliases + source aliases
    /// + the canonical name), already normalised.
    pub aliases: IndexMap<String, Vec<String>>,
}

impl Source {
    /// The file name used in messages, the cache and mirrors: the URL's
    /// last path segment, unless that names a script rather than a file
    /// (ONS's `file?uri=.../name.zip`, statistics.gov.scot's
    /// `file?id=...%2Fname.csv`: the name in the query), an ArcGIS item's
    /// `data` (the item id), or a FeatureServer's `query` (the service).
    pub fn file_name(&self) -> String {
        if let Some(p) = &self.raw.path {
            return p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        let url = self.raw.url.as_deref().unwrap_or_default();
        if crate::arcgis::is_feature_query(url) {
            let ext = match self.raw.format {
                Format::EsriJson => "json",
                _ => "geojson",
            };
            let name = crate::arcgis::file_stem(url).unwrap_or_else(|| self.id.clone());
            return format!("{name}.{ext}");
        }
        url_file_name(url).unwrap_or_else(|| self.id.clone())
    }
}

/// The name of the file a URL downloads: its last path segment, unless that
/// names a script rather than a file (ONS's `file?uri=.../name.zip`,
/// statistics.gov.scot's `file?id=...%2Fname.csv`: the name in the query),
/// or an ArcGIS item's `data` (the item id). None when it names nothing
/// usable (`.`, `..`, empty).
pub fn url_file_name(url: &str) -> Option<String> {
    let url = url.split('#').next().unwrap_or_default();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut segments = path.rsplit('/');
    let last = segments.next().unwrap_or_default();
    if last == "data" && path.contains("/content/items/") {
        if let Some(id) = segments.next().filter(|s| !s.is_empty()) {
            return Some(id.to_string());
        }
    }
    let usable = |n: &str| !n.is_empty() && n != "." && n != "..";
    if !last.contains('.') {
        let named = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter(|(k, _)| matches!(*k, "uri" | "id" | "file"))
            .map(|(_, v)| percent_decode(v))
            .find_map(|v| {
                v.rsplit('/')
                    .next()
                    .filter(|n| n.contains('.') && usable(n))
                    .map(str::to_string)
            });
        if named.is_some() {
            return named;
        }
    }
    usable(last).then(|| last.to_string())
}

/// Decodes a URL query value (`%2F` and `+` as a space).
fn percent_decode(v: &str) -> String {
    let v = v.replace('+', " ");
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub name: String,
    /// The catalog file, for `sources.lock` beside it.
    pub path: PathBuf,
    pub data_dir: Option<PathBuf>,
    /// Every logical dataset, in declaration order.
    pub datasets: IndexMap<String, DatasetSpec>,
    /// Sources present in this catalog, keyed by dataset id, in order.
    pub sources: IndexMap<String, Source>,
    /// The raw bytes of the catalog and datasets files, for cache keys.
    pub fingerprint: String,
}

impl Catalog {
    /// Reads and validates a catalog, reporting every problem at once.
    pub fn load(path: &Path) -> Result<Catalog> {
        let mut errors = Vec::new();
        let catalog = Self::load_collecting(path, &mut errors);
        match catalog {
            Some(c) if errors.is_empty() => Ok(c),
            _ => Err(Error::config(errors).file(path)),
        }
    }

    /// As [`Catalog::load`], but appends problems to `errors` so that `check`
    /// can report them together with the stage specs' problems.
    pub fn load_collecting(path: &Path, errors: &mut Vec<ConfigError>) -> Option<Catalog> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(msg(format!("cannot read catalog {}: {e}", path.display())));
                return None;
            }
        };
        Self::parse_collecting(
            &text,
            path,
            &|p: &Path| std::fs::read_to_string(p).map_err(|e| e.to_string()),
            errors,
        )
    }

    /// Validates a catalog and a datasets file given as text, touching no
    /// file: every problem is returned. Used by the fuzz targets.
    pub fn validate_text(catalog: &str, datasets: &str) -> Vec<String> {
        let mut errors = Vec::new();
        let datasets = datasets.to_string();
        Self::parse_collecting(
            catalog,
            Path::new("catalog.toml"),
            &move |_| Ok(datasets.clone()),
            &mut errors,
        );
        errors.iter().map(ToString::to_string).collect()
    }

    fn parse_collecting(
        text: &str,
        path: &Path,
        read: &dyn Fn(&Path) -> std::result::Result<String, String>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Catalog> {
        let where_ = path.display().to_string();
        let mut doc: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                errors.push(msg(format!("{where_}: invalid TOML: {e}")));
                return None;
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));

        for key in doc.keys() {
            if key != "catalog" && key != "sources" {
                errors.push(msg(format!(
                    "{where_}: unknown top-level table `{key}`, expected `catalog` or `sources`"
                )));
            }
        }
        let header: Option<RawCatalogHeader> = match doc.remove("catalog") {
            Some(toml::Value::Table(t)) => de_collect(t, "[catalog]", errors),
            _ => {
                errors.push(msg(format!("{where_}: missing `[catalog]` table")));
                None
            }
        };
        let header = header?;

        let datasets_path = base.join(&header.datasets);
        let (datasets, datasets_text) = load_datasets(&datasets_path, read, errors);

        let from_env = header
            .data_dir_env
            .as_deref()
            .and_then(std::env::var_os)
            .filter(|d| !d.is_empty());
        let data_dir = match from_env {
            Some(d) if header.data_dir.is_some() => Some(PathBuf::from(d)),
            _ => header.data_dir.as_ref().map(|d| base.join(d)),
        };

        let raw_sources = match doc.remove("sources") {
            Some(toml::Value::Table(t)) => t,
            Some(_) => {
                errors.push(msg(format!("{where_}: `sources` must be a table")));
                toml::Table::new()
            }
            None => toml::Table::new(),
        };
        if raw_sources.is_empty() {
            errors.push(msg(format!("{where_}: declares no sources")));
        }
        let mut sources = IndexMap::new();
        for (id, value) in raw_sources {
            let what = format!("Source `{id}`");
            let toml::Value::Table(t) = value else {
                errors.push(msg(format!("{what} must be a table")));
                continue;
            };
            let Some(raw) = de_collect::<RawSource>(t, &what, errors) else {
                continue;
            };
            if let Some(src) = validate_source(&id, raw, &datasets, data_dir.as_deref(), errors) {
                sources.insert(id, src);
            }
        }
        check_file_names(&sources, errors);
        Some(Catalog {
            name: header.name,
            path: path.to_path_buf(),
            data_dir,
            datasets,
            sources,
            fingerprint: format!("{text}\n{datasets_text}"),
        })
    }

    /// Where `sources.lock` lives: beside the catalog.
    pub fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }
}

fn load_datasets(
    path: &Path,
    read: &dyn Fn(&Path) -> std::result::Result<String, String>,
    errors: &mut Vec<ConfigError>,
) -> (IndexMap<String, DatasetSpec>, String) {
    let mut out = IndexMap::new();
    let text = match read(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(msg(format!(
                "cannot read datasets file {}: {e}",
                path.display()
            )));
            return (out, String::new());
        }
    };
    let mut doc: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            errors.push(msg(format!("{}: invalid TOML: {e}", path.display())));
            return (out, text);
        }
    };
    let Some(toml::Value::Table(sets)) = doc.remove("datasets") else {
        errors.push(msg(format!(
            "{}: missing `[datasets]` table",
            path.display()
        )));
        return (out, text);
    };
    for (id, value) in sets {
        let what = format!("Dataset `{id}`");
        let toml::Value::Table(t) = value else {
            errors.push(msg(format!("{what} must be a table")));
            continue;
        };
        let Some(spec) = de_collect::<DatasetSpec>(t, &what, errors) else {
            continue;
        };
        if !is_identifier(&id) {
            errors.push(msg(format!(
                "{what}: name must be snake_case letters, digits and `_`"
            )));
        }
        if spec.columns.is_empty() && spec.groups.is_empty() {
            errors.push(msg(format!("{what} declares no columns")));
        }
        for k in &spec.key {
            if !spec.columns.contains_key(k) {
                errors.push(msg(format!(
                    "{what} field `key` names `{k}`, which is not one of its columns"
                )));
            }
        }
        for name in spec.columns.keys() {
            if !is_identifier(name) {
                errors.push(msg(format!(
                    "{what} column `{name}`: names must be snake_case letters, digits and `_`"
                )));
            }
        }
        check_units(&what, &spec, errors);
        for (i, g) in spec.groups.iter().enumerate() {
            match regex::Regex::new(&g.header) {
                Ok(re) if re.captures_len() < 2 => errors.push(msg(format!(
                    "{what} group {} field `header` needs a capture group, got {:?}",
                    i + 1,
                    g.header
                ))),
                Ok(_) => {}
                Err(e) => errors.push(msg(format!(
                    "{what} group {} field `header` is not a valid regex, got {:?}: {e}",
                    i + 1,
                    g.header
                ))),
            }
            if let Some(total) = g.total.as_ref().filter(|t| !t.starts_with(&g.prefix)) {
                errors.push(msg(format!(
                    "{what} group {} field `total` is `{total}`, which is not one of the group's columns (they start with `{}`)",
                    i + 1,
                    g.prefix
                )));
            }
        }
        out.insert(id, spec);
    }
    (out, text)
}

/// Every number declares its unit and its direction (which end is more
/// deprived, or `neutral`; ranks and bands default to 1 = most deprived); a
/// score (and an average rank) its range.
fn check_units(what: &str, spec: &DatasetSpec, errors: &mut Vec<ConfigError>) {
    let numeric = |t: ColumnType| matches!(t, ColumnType::Int | ColumnType::Float);
    let columns = spec
        .columns
        .iter()
        .map(|(n, c)| (format!("column `{n}`"), c.ty, c.unit, c.range, c.direction));
    let groups = spec.groups.iter().enumerate().map(|(i, g)| {
        (
            format!("group {}", i + 1),
            g.ty,
            g.unit,
            g.range,
            g.direction,
        )
    });
    for (col, ty, unit, range, direction) in columns.chain(groups) {
        let implied = unit.is_some_and(|u| matches!(u, Unit::Rank | Unit::Band(_)));
        if numeric(ty) && direction.is_none() && !implied {
            errors.push(msg(format!(
                "{what} {col} is a number without a `direction` (higher_more_deprived, higher_less_deprived, most_deprived_first, neutral, ...)"
            )));
        }
        match unit {
            None if numeric(ty) => errors.push(msg(format!(
                "{what} {col} is a number without a `unit` (rank, decile, rate, percent, count, score, ...)"
            ))),
            Some(u) if u.needs_range() && range.is_none() => errors.push(msg(format!(
                "{what} {col} is a {u} and needs its `range` = [low, high]"
            ))),
            Some(u) if u.is_text() && numeric(ty) => errors.push(msg(format!(
                "{what} {col} is a number but its unit `{u}` is text"
            ))),
            _ => {}
        }
        // A unit conversion would read such text as numbers, and text that
        // is not one would become a null unseen. (Dates and flags are
        // written as text.)
        if let Some(u) =
            unit.filter(|u| !u.is_text() && !matches!(u, Unit::Date | Unit::Flag) && !numeric(ty))
        {
            errors.push(msg(format!(
                "{what} {col} is text but its unit `{u}` is a number (declare its `type` as int or float)"
            )));
        }
        if let Some([lo, hi]) = range {
            if !(lo.is_finite() && lo <= hi) {
                errors.push(msg(format!(
                    "{what} {col} field `range` must be [low, high] with low <= high, got [{lo}, {hi}]"
                )));
            }
        }
    }
}

fn validate_source(
    id: &str,
    raw: RawSource,
    datasets: &IndexMap<String, DatasetSpec>,
    data_dir: Option<&Path>,
    errors: &mut Vec<ConfigError>,
) -> Option<Source> {
    let what = format!("Source `{id}`");
    let before = errors.len();
    let Some(dataset) = datasets.get(id) else {
        errors.push(msg(format!(
            "{what} refers to unknown dataset `{id}` (declare it in the datasets file)"
        )));
        return None;
    };
    check_origin(&what, &raw, data_dir, errors);
    check_layout(&what, &raw, errors);
    check_conversions(&what, &raw, dataset, errors);
    let aliases = header_aliases(&what, id, &raw, dataset, errors);
    if errors.len() > before {
        return None;
    }
    let local_path = match (&raw.path, data_dir) {
        (Some(p), Some(d)) => Some(d.join(p)),
        _ => None,
    };
    Some(Source {
        id: id.to_string(),
        raw,
        local_path,
        aliases,
    })
}

/// Where the file comes from: its pin, URL or local path.
fn check_origin(
    what: &str,
    raw: &RawSource,
    data_dir: Option<&Path>,
    errors: &mut Vec<ConfigError>,
) {
    if let Some(sha) = &raw.sha256 {
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            errors.push(msg(format!(
                "{what} field `sha256` must be 64 lower-case hex digits, got {sha:?}"
            )));
        }
    } else if raw.unpinned.is_none() && raw.unavailable.is_none() {
        errors.push(msg(format!(
            "{what} has no `sha256`: pin it, or say why not in `unpinned`"
        )));
    }
    match (&raw.url, &raw.unavailable, &raw.path) {
        (None, None, None) => errors.push(msg(format!(
            "{what} has no `url`: give the official URL, or say why it is `unavailable`"
        ))),
        (Some(u), _, _) if !is_secure_url(u) => errors.push(msg(format!(
            "{what} field `url` must be an https URL (plain http only for a server on this machine), got {u:?}"
        ))),
        _ => {}
    }
    // `outdated` reads these pages: the same rule.
    for (field, u) in [("landing", &raw.landing), ("watch", &raw.watch)] {
        if let Some(u) = u.as_deref().filter(|u| !is_secure_url(u)) {
            errors.push(msg(format!(
                "{what} field `{field}` must be an https URL (plain http only for a server on this machine), got {u:?}"
            )));
        }
    }
    if let Some(p) = &raw.path {
        if !is_plain_relative(p) {
            errors.push(msg(format!(
                "{what} field `path` must be a relative path inside `data_dir` (no `..`, not absolute), got {:?}",
                p.display()
            )));
        }
    }
    if raw.path.is_some() && data_dir.is_none() {
        errors.push(msg(format!(
            "{what} field `path` needs `data_dir` in the `[catalog]` table"
        )));
    }
    if data_dir.is_some() && raw.path.is_none() && raw.unavailable.is_none() {
        errors.push(msg(format!(
            "{what} has no `path` but the catalog reads local files from `data_dir`"
        )));
    }
}

/// A column published in another unit must convert to the dataset's.
fn check_conversions(
    what: &str,
    raw: &RawSource,
    dataset: &DatasetSpec,
    errors: &mut Vec<ConfigError>,
) {
    for (col, published) in &raw.units {
        let Some(canonical) = dataset.columns.get(col).and_then(|c| c.unit) else {
            errors.push(msg(format!(
                "{what} field `units` names column `{col}`, which the dataset does not have or gives no unit"
            )));
            continue;
        };
        if crate::units::conversion(*published, canonical).is_none() {
            errors.push(msg(format!(
                "{what} field `units.{col}`: a {published} cannot be converted to the dataset's {canonical}"
            )));
        }
    }
}

/// How the file is laid out: format, sheet, member, rows, encoding.
fn check_layout(what: &str, raw: &RawSource, errors: &mut Vec<ConfigError>) {
    if raw.format.is_spreadsheet() && raw.sheet.is_none() {
        errors.push(msg(format!(
            "{what} is a {:?} workbook but names no `sheet`",
            raw.format
        )));
    }
    let workbook_member =
        raw.format == Format::Zip && raw.member.as_deref().is_some_and(is_workbook_name);
    if workbook_member && raw.sheet.is_none() {
        errors.push(msg(format!(
            "{what} reads a workbook from a zip but names no `sheet`"
        )));
    }
    if !raw.format.is_spreadsheet() && !workbook_member && raw.sheet.is_some() {
        errors.push(msg(format!(
            "{what} field `sheet` applies only to workbooks (files, or zip members ending .xlsx, .xls or .ods)"
        )));
    }
    check_feature_query(what, raw, errors);
    let pattern = raw.member.as_deref().is_some_and(is_member_pattern);
    match (raw.format, &raw.member) {
        (Format::Zip, Some(_)) => {}
        (Format::Shapefile, Some(m)) if !pattern && m.ends_with(".shp") => {}
        (Format::Shapefile, None) if raw.path.is_none() => errors.push(msg(format!(
            "{what} is a shapefile fetched from a URL: a zip, whose `.shp` its `member` must name"
        ))),
        (Format::Csv | Format::CsvGz, Some(_)) if pattern => {}
        (Format::Zip, None) => errors.push(msg(format!(
            "{what} field `member` is required for format \"zip\" (a member, or a pattern with `*` for many)"
        ))),
        (_, Some(m)) => errors.push(msg(format!(
            "{what} field `member` applies to zips (a CSV or workbook member, or a pattern with `*`), to a zipped shapefile (its `.shp`), and as a pattern to a folder of CSV files; got {m:?} for format {:?}",
            raw.format
        ))),
        _ => {}
    }
    if raw.header_row == 0 {
        errors.push(msg(format!("{what} field `header_row` is 1-based, got 0")));
    }
    if let Some(g) = raw.group_row {
        if g == 0 || g >= raw.header_row {
            errors.push(msg(format!(
                "{what} field `group_row` must be above `header_row` ({}), got {g}",
                raw.header_row
            )));
        }
    }
    if raw.encoding != crate::catalog::Encoding::Utf8 && !raw.format.is_csv() {
        errors.push(msg(format!(
            "{what} field `encoding` applies only to CSV files"
        )));
    }
    match raw.rows {
        Some(0) => errors.push(msg(format!("{what} field `rows` must be positive, got 0"))),
        Some(n) if n > MAX_ROWS => errors.push(msg(format!(
            "{what} field `rows` must be at most {MAX_ROWS}, got {n}"
        ))),
        _ => {}
    }
    if raw.max_bytes == Some(0) {
        errors.push(msg(format!(
            "{what} field `max_bytes` must be positive, got 0"
        )));
    }
    if let Some(m) = &raw.member {
        if !is_plain_relative(Path::new(m)) {
            errors.push(msg(format!(
                "{what} field `member` must name a file inside the archive (no `..`, not absolute), got {m:?}"
            )));
        }
    }
}

/// Two downloads must not share a file name: a `--mirror` folder holds
/// each under it (sources reading members of one zip share its URL).
fn check_file_names(sources: &IndexMap<String, Source>, errors: &mut Vec<ConfigError>) {
    let mut seen: HashMap<String, (&str, &str)> = HashMap::default();
    for (id, s) in sources.iter().filter(|(_, s)| s.raw.path.is_none()) {
        let Some(url) = s.raw.url.as_deref() else {
            continue;
        };
        match seen.insert(s.file_name(), (id, url)) {
            Some((other, other_url)) if other_url != url => errors.push(msg(format!(
                "Source `{id}` and source `{other}` would both be the file {:?} in a mirror; their URLs differ",
                s.file_name()
            ))),
            _ => {}
        }
    }
}

/// True if a zip member is a workbook (read by sheet, not as CSV).
pub fn is_workbook_name(member: &str) -> bool {
    let m = member.to_ascii_lowercase();
    m.ends_with(".xlsx") || m.ends_with(".xls") || m.ends_with(".ods")
}

/// A FeatureServer query is fetched in pages and assembled: its `f` must
/// agree with the declared format, and only those formats are assembled.
fn check_feature_query(what: &str, raw: &RawSource, errors: &mut Vec<ConfigError>) {
    use crate::arcgis;
    if raw.path.is_some() {
        // A local file: the URL only records where it came from.
        return;
    }
    let Some(url) = raw.url.as_deref().filter(|u| arcgis::is_feature_query(u)) else {
        if raw.format == Format::EsriJson {
            errors.push(msg(format!(
                "{what} has format \"esri_json\" but its URL is not a FeatureServer query"
            )));
        }
        return;
    };
    let expected = match raw.format {
        Format::EsriJson => "json",
        Format::Geojson => "geojson",
        other => {
            errors.push(msg(format!(
                "{what} URL is a FeatureServer query, which is fetched in pages as \"esri_json\" (f=json) or \"geojson\" (f=geojson); got format {other:?}"
            )));
            return;
        }
    };
    if arcgis::output_format(url) != Some(expected) {
        errors.push(msg(format!(
            "{what} URL must ask for `f={expected}` to match its format, got {:?}",
            arcgis::output_format(url)
        )));
    }
}

/// Header spellings per canonical column (the canonical name, the
/// dataset's aliases, the source's), normalised; and the source's declared
/// missing columns, checked against the dataset.
fn header_aliases(
    what: &str,
    id: &str,
    raw: &RawSource,
    dataset: &DatasetSpec,
    errors: &mut Vec<ConfigError>,
) -> IndexMap<String, Vec<String>> {
    let mut aliases: IndexMap<String, Vec<String>> = IndexMap::new();
    for (col, spec) in &dataset.columns {
        let mut names = vec![normalise_header(col)];
        names.extend(spec.aliases.iter().map(|a| normalise_header(a)));
        aliases.insert(col.clone(), names);
    }
    for (col, extra) in &raw.aliases {
        match aliases.get_mut(col) {
            Some(names) => names.extend(extra.to_vec().iter().map(|a| normalise_header(a))),
            None => errors.push(msg(format!(
                "{what} field `aliases` names column `{col}`, which dataset `{id}` does not have"
            ))),
        }
    }
    for (col, reason) in &raw.missing {
        if !dataset.columns.contains_key(col) {
            errors.push(msg(format!(
                "{what} field `missing` names column `{col}`, which dataset `{id}` does not have"
            )));
        } else if dataset.key.contains(col) {
            errors.push(msg(format!(
                "{what} field `missing` names key column `{col}`: a table without its key cannot be loaded"
            )));
        }
        if reason.trim().is_empty() {
            errors.push(msg(format!(
                "{what} field `missing` needs a reason for `{col}`"
            )));
        }
        if raw.aliases.contains_key(col) {
            errors.push(msg(format!(
                "{what} declares column `{col}` both missing and aliased"
            )));
        }
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for (col, names) in &aliases {
        if raw.missing.contains_key(col) {
            continue;
        }
        for n in names {
            if let Some(other) = seen.insert(n.clone(), col) {
                if other != col {
                    errors.push(msg(format!(
                        "{what}: header {n:?} is an alias of both `{other}` and `{col}`"
                    )));
                }
            }
        }
    }
    aliases
}

/// Deserialises a table, reporting unknown fields one by one (and carrying
/// on without them, so later problems in the same entry are found too).
pub(crate) fn de_collect<T: DeserializeOwned>(
    mut table: toml::Table,
    what: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    loop {
        match toml::Value::Table(table.clone()).try_into::<T>() {
            Ok(v) => return Some(v),
            Err(e) => {
                let text = e.to_string();
                let text = text.trim();
                if let Some(field) = unknown_field(text) {
                    if table.remove(&field).is_some() {
                        errors.push(ConfigError::message(
                            what,
                            format!("has unknown field `{field}`"),
                        ));
                        continue;
                    }
                }
                errors.push(ConfigError::message(
                    what,
                    format!(": {}", text.replace('\n', " ")),
                ));
                return None;
            }
        }
    }
}

fn unknown_field(msg: &str) -> Option<String> {
    let rest = &msg[msg.find("unknown field `")? + "unknown field `".len()..];
    Some(rest[..rest.find('`')?].to_string())
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

/// The most rows a source may declare: more than any UK small-area file
/// (the postcode directory has about 2.7 million).
const MAX_ROWS: usize = 100_000_000;

/// An https URL, or http to this machine (test servers).
fn is_secure_url(u: &str) -> bool {
    match url::Url::parse(u) {
        Ok(url) if url.scheme() == "https" => url.host().is_some(),
        Ok(url) if url.scheme() == "http" => matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        ),
        _ => false,
    }
}

/// A path with only normal parts: not absolute, no `..`.
fn is_plain_relative(p: &Path) -> bool {
    !p.as_os_str().is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
}

/// A configuration problem in words (the message names its entry).
fn msg(m: String) -> ConfigError {
    ConfigError::message("", m)
}
