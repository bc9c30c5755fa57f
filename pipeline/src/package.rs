//! `datapackage.json` (a Frictionless Data Package) and the release version.
//!
//! Every table is described for people and for software: each field's type,
//! description (with the direction convention: rank 1 = most deprived) and
//! constraints, the primary key, rows, `sha256:` hash, licence and sources.
//! The version is derived from the change against the previous release, as
//! mySociety's data packages do: major when a table or field is removed or a
//! type changes; minor when a table or field is added or row counts change;
//! patch when only values or metadata change; none when nothing changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::contract::{Schemas, TableSchema};
use crate::error::{Error, Result};
use crate::frame::{parquet_schema, ColType};
use crate::release::{InputKind, TableEntry};
use crate::units::Rule;

/// A field as the version comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSig {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// Frictionless type of a column type.
fn frictionless_type(ty: Option<ColType>) -> &'static str {
    match ty {
        Some(ColType::Bool) => "boolean",
        Some(ColType::Int) => "integer",
        Some(ColType::Float) => "number",
        _ => "string",
    }
}

/// What a column means, from its name, for columns without a declared
/// description. Every rank, decile and quantile states its direction.
pub fn describe_field(name: &str) -> String {
    if let Some(d) = summary_measure(name) {
        return d.into();
    }
    if let Some(q) = name.strip_prefix("imd_quantile_") {
        return format!("IMD {q}-quantile within the nation and edition: ceil(imd_rank * {q} / N); 1 = most deprived.");
    }
    // File 10's ranks are named `imd_rank_of_average_score` and the like:
    // ranks, whatever their names end with.
    if name.starts_with("rank_of_") || name.contains("_rank_of_") {
        return "Rank across the areas of this table; 1 = most deprived (the highest value of the measure; ties share the lowest rank).".into();
    }
    if name == "overall_rank" || (name.starts_with("theme_") && name.ends_with("_rank")) {
        return "Rank across the areas of this table; 1 = the highest score (most favourable)."
            .into();
    }
    if name.ends_with("_rank") {
        return "Rank within the nation and edition; 1 = most deprived. Compare only within one nation and edition.".into();
    }
    if name.ends_with("_decile") || name.contains("_decile_") {
        return "Decile within the nation and edition; 1 = most deprived 10% of areas.".into();
    }
    if name.ends_with("_score") && !name.starts_with("theme_") && name != "overall_score" {
        return "Score as published; in England a higher score = more deprived (income, employment, IDACI and IDAOPI scores are rates). Never compare scores across editions or nations.".into();
    }
    if name.contains("rank_percentile") {
        return "100 * rank / N within the nation and edition; near 0 = most deprived.".into();
    }
    if let Some(id) = name.strip_prefix("z_") {
        return format!("Indicator `{id}` of census2021_indicators (Census 2021, but for private_outdoor_space_share, ONS address data of 2020) standardised across areas; higher = more favourable unless descriptive.");
    }
    match name {
        "comparable" => "Whether the row may be compared between editions; when false, `not_comparable_reason` says why.".into(),
        "direction" => "improved (rank percentile up by the stage's threshold or more: the area moved towards the less deprived end, relative to others), declined (down by the threshold or more: it moved towards the more deprived end) or broadly stable. Relative position only: not absolute change.".into(),
        "value_direction" => "Which end of the row's `value` is more deprived: higher_more_deprived, higher_less_deprived, or neutral (not a measure of deprivation: neither end is).".into(),
        "status" => "ok, approximate (see reason) or unavailable (see reason).".into(),
        _ => format!("`{name}`: see the table description."),
    }
}

/// The MHCLG summary measures (File 10 and the summaries of this release),
/// whose names end like ranks but are not: each says which end is more
/// deprived.
fn summary_measure(name: &str) -> Option<&'static str> {
    Some(match name {
        "imd_average_rank" => "Population-weighted mean of the inverted national ranks (N + 1 - rank) of the area's small areas: higher = more deprived. Not a rank: 1 is not most deprived.",
        "imd_local_concentration" => "Population-weighted mean inverted national rank (N + 1 - rank) of the area's most deprived small areas that hold 10% of its population: higher = more deprived. Not a rank.",
        "imd_average_score" => "Population-weighted mean of the small areas' IMD scores: higher = more deprived.",
        "imd_extent" => "Share of the population living in the most deprived 30% of small areas nationally, weighted (1 for the most deprived 10%, tapering to 0 at 30%): higher = more deprived.",
        "imd_proportion_most_deprived_10pc" => "Proportion (0 to 1) of the area's small areas among the most deprived 10% nationally: higher = more deprived.",
        "income_scale" => "Number of income-deprived people (income rate x population): higher = more deprived. At most the population.",
        "employment_scale" => "Number of employment-deprived people of working age (employment rate x working-age population): higher = more deprived.",
        _ => return None,
    })
}

/// A field's description, ending with its direction where the column
/// declares one and the text does not already say it.
fn field_description(base: String, rule: Option<Rule>) -> String {
    match rule.and_then(|r| r.direction_words()) {
        Some(words) if !base.contains(words) => {
            let sep = if base.ends_with('.') { " " } else { ". " };
            format!("{base}{sep}Direction: {words}.")
        }
        _ => base,
    }
}

/// A field's unit, and for numbers the range every build checks, as
/// Table Schema constraints (so any validator checks them again).
fn declare_unit(f: &mut Value, r: Rule, rows: usize, ty: Option<ColType>) {
    f["unit"] = json!(r.unit.to_string());
    if !matches!(ty, Some(ColType::Int | ColType::Float)) {
        return;
    }
    if let Some((lo, hi)) = r.bounds(rows) {
        let c = f
            .as_object_mut()
            .map(|o| o.entry("constraints").or_insert(json!({})));
        // An integer field's bounds are integers, rounded inward.
        let int = matches!(ty, Some(ColType::Int));
        if let Some(c) = c {
            c["minimum"] = if int {
                json!(lo.ceil() as i64)
            } else {
                json!(lo)
            };
            if hi.is_finite() {
                c["maximum"] = if int {
                    json!(hi.floor() as i64)
                } else {
                    json!(hi)
                };
            }
        }
    }
}

/// Describes every table of the release.
pub fn datapackage(
    out: &Path,
    catalog: &Catalog,
    tables: &BTreeMap<String, TableEntry>,
    schemas: &Schemas,
    version: &str,
) -> Result<Value> {
    let mut resources = Vec::new();
    for (name, t) in tables {
        let r = resource(out, catalog, name, t, schemas.get(name))?;
        let csv = t.csv.as_ref().map(|f| csv_resource(&r, f));
        resources.push(r);
        resources.extend(csv);
    }
    Ok(json!({
        "profile": "data-package",
        "name": "uk-deprivation-and-census",
        "title": "UK deprivation indices and Census 2021 indicators",
        "description": "The official deprivation indices of the four UK nations (rank 1 = most deprived; decile 1 = most deprived 10% of areas; \
    comparable only within one nation and edition), their summaries for local authorities and wards, the change between editions (relative positions only), \
    and Census 2021 indicators. Each table says where every column came from; columns with no source are empty with the reason.",
        "version": version,
        "licenses": [{"name": "OGL-UK-3.0", "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/", "title": "Open Government Licence v3.0"}],
        "contributors": [{"title": "census-pipeline", "role": "author"}],
        "sources": package_sources(catalog, tables),
        "resources": resources,
    }))
}

/// The catalog sources the tables were made from, in id order.
fn used_sources<'a>(
    catalog: &'a Catalog,
    tables: &BTreeMap<String, TableEntry>,
) -> Vec<&'a crate::catalog::Source> {
    // A loaded table is named for its source.
    let ids: std::collections::BTreeSet<&String> = tables
        .iter()
        .filter(|(_, t)| t.stage == "load")
        .map(|(name, _)| name)
        .collect();
    ids.into_iter()
        .filter_map(|id| catalog.sources.get(id))
        .collect()
}

/// Every publisher's source: title, publisher, edition, URL, licence and
/// the attribution its licence asks for.
fn package_sources(catalog: &Catalog, tables: &BTreeMap<String, TableEntry>) -> Vec<Value> {
    used_sources(catalog, tables)
        .into_iter()
        .map(|s| {
            let mut v = json!({
                "title": s.raw.title,
                "publisher": s.raw.publisher,
                "edition": s.raw.edition,
                "licence": s.raw.licence,
            });
            if let Some(url) = &s.raw.url {
                v["path"] = json!(url);
            }
            if let Some(a) = &s.raw.attribution {
                v["attribution"] = json!(a);
            }
            v
        })
        .collect()
}

/// How to cite a release: what it is, its version, every publisher whose
/// data it carries under which licence, and the attributions those
/// licences require (boundaries and postcodes: Ordnance Survey, Royal Mail).
pub fn citation(catalog: &Catalog, tables: &BTreeMap<String, TableEntry>, version: &str) -> String {
    let sources = used_sources(catalog, tables);
    let mut by_licence: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for s in &sources {
        by_licence
            .entry(s.raw.licence.as_str())
            .or_default()
            .insert(s.raw.publisher.as_str());
    }
    let mut text = format!(
        "UK deprivation indices and Census 2021 indicators, release {version} (census-pipeline), from official statistics."
    );
    for (licence, publishers) in by_licence {
        let what = match licence {
            "OGL-UK-3.0" => {
                "public sector information licensed under the Open Government Licence v3.0"
                    .to_string()
            }
            other => format!("data licensed under {other}"),
        };
        text.push_str(&format!(
            " Contains {what} from: {}.",
            publishers.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let attributions: std::collections::BTreeSet<&str> = sources
        .iter()
        .filter_map(|s| s.raw.attribution.as_deref())
        .flat_map(|a| a.split_inclusive(". "))
        .map(str::trim)
        .collect();
    for a in attributions {
        text.push(' ');
        text.push_str(a);
    }
    text
}

fn resource(
    out: &Path,
    catalog: &Catalog,
    name: &str,
    t: &TableEntry,
    table_schema: Option<&TableSchema>,
) -> Result<Value> {
    let path = out.join(&t.path);
    let schema = parquet_schema(&path)?;
    let spec = catalog.datasets.get(name);
    // The dataset's declared key, or the stage's for a table it computes.
    let key: Vec<String> = spec
        .map(|d| d.key.clone())
        .or_else(|| table_schema.map(|s| s.key.clone()))
        .unwrap_or_default();
    let mut fields = Vec::new();
    for (fname, ty) in schema {
        let declared = spec
            .and_then(|d| d.columns.get(&fname))
            .and_then(|c| c.description.clone())
            .or_else(|| table_schema.and_then(|s| s.descriptions.get(&fname).cloned()));
        let rule = table_schema.and_then(|s| s.rule_of(&fname));
        let mut description =
            field_description(declared.unwrap_or_else(|| describe_field(&fname)), rule);
        if let Some(reason) = t.missing_columns.get(&fname) {
            description.push_str(&format!(" EMPTY in this release: {reason}."));
        }
        if let Some(how) = t.computed_columns.get(&fname) {
            description.push_str(&format!(" Computed: {how}."));
        }
        let mut f =
            json!({"name": fname, "type": frictionless_type(ty), "description": description});
        if key.contains(&fname) {
            f["constraints"] = json!({"required": true, "unique": key.len() == 1});
        }
        if let Some(r) = rule {
            declare_unit(&mut f, r, t.rows, ty);
        }
        fields.push(f);
    }
    // Each source is what its digest is of: a source file at its official
    // address, or a table of this release (a loaded dataset keeps its
    // source's title, and its own resource names the file it came from).
    // A file that is not a source itself is a member of the table's own
    // source (an archive or folder), named with it.
    let own = catalog.sources.get(name);
    let sources: Vec<Value> = t
        .inputs
        .iter()
        .map(|i| {
            let src = catalog.sources.get(&i.name);
            let (title, path) = match (i.kind, src) {
                (InputKind::File, Some(s)) => (Some(s.raw.title.clone()), s.raw.url.clone()),
                (InputKind::File, None) => (
                    Some(match own {
                        Some(o) => format!("file {} of: {}", i.name, o.raw.title),
                        None => format!("file {}", i.name),
                    }),
                    own.and_then(|o| o.raw.url.clone())
                        .or_else(|| Some(i.name.clone())),
                ),
                (InputKind::Table, _) => (
                    src.map(|s| format!("table {}, loaded from: {}", i.name, s.raw.title)),
                    None,
                ),
            };
            json!({
                "title": title.unwrap_or_else(|| format!("table {}", i.name)),
                "path": path.unwrap_or_else(|| format!("tables/{}.parquet", i.name)),
                "sha256": i.sha256,
            })
        })
        .collect();
    let licence = catalog
        .sources
        .get(name)
        .map(|s| s.raw.licence.clone())
        .unwrap_or_else(|| "OGL-UK-3.0".into());
    let mut r = json!({
        "name": name,
        "path": t.path,
        "profile": "data-resource",
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "encoding": "utf-8",
        "description": t.description,
        // No `bytes`: frictionless reads Parquet through pandas and cannot
        // count them, so it would flag every resource; manifest.json has them.
        "hash": format!("sha256:{}", t.file.as_ref().map(|f| f.sha256.clone()).unwrap_or_default()),
        "rows": t.rows,
        "licenses": [{"name": licence}],
        "sources": sources,
        // Parquet nulls are missing values; readers that go through pandas
        // see a null in an integer column as NaN, so that is one too.
        "schema": {"fields": fields, "missingValues": ["", "NaN", "nan"]},
    });
    if !key.is_empty() {
        r["schema"]["primaryKey"] = json!(key);
    }
    Ok(r)
}

/// The CSV copy of a Parquet resource: the same schema and rows, named
/// `<table>_csv` (R's frictionless package and spreadsheets read it).
fn csv_resource(parquet: &Value, f: &crate::release::FileEntry) -> Value {
    let mut r = parquet.clone();
    let name = parquet["name"].as_str().unwrap_or_default();
    r["name"] = json!(format!("{name}_csv"));
    r["path"] = json!(f.path);
    r["format"] = json!("csv");
    r["mediatype"] = json!("text/csv");
    r["compression"] = json!("gz");
    r["bytes"] = json!(f.bytes);
    r["hash"] = json!(format!("sha256:{}", f.sha256));
    r["description"] = json!(format!(
        "The rows of `{name}` (tables/{name}.parquet) as gzip-compressed CSV with a header row; an empty cell is a null. {}",
        parquet["description"].as_str().unwrap_or_default()
    ));
    r
}

/// Whether a resource is a table's Parquet file (releases are compared
/// through those; a CSV copy changes with its Parquet file).
fn is_parquet(r: &Value) -> bool {
    r["format"].as_str().is_none_or(|f| f == "parquet")
}

/// The kind of change between two releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    None,
    Patch,
    Minor,
    Major,
}

/// A data package's resources by table name.
pub fn resources(pkg: &Value) -> BTreeMap<String, Value> {
    pkg["resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter(|r| is_parquet(r))
                .map(|r| {
                    (
                        r["name"].as_str().unwrap_or_default().to_string(),
                        r.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares two data packages and says which bump the change needs, with
/// the reasons.
pub fn classify(old: &Value, new: &Value) -> (Bump, Vec<String>) {
    let (old_t, new_t) = (resources(old), resources(new));
    let mut bump = Bump::None;
    let mut why = Vec::new();
    let mut raise = |b: Bump, w: String, bump: &mut Bump| {
        *bump = (*bump).max(b);
        why.push(w);
    };
    for name in old_t.keys().filter(|n| !new_t.contains_key(*n)) {
        raise(Bump::Major, format!("table `{name}` removed"), &mut bump);
    }
    for name in new_t.keys().filter(|n| !old_t.contains_key(*n)) {
        raise(Bump::Minor, format!("table `{name}` added"), &mut bump);
    }
    for (name, n) in &new_t {
        let Some(o) = old_t.get(name) else { continue };
        let fields = |r: &Value| -> Vec<FieldSig> {
            serde_json::from_value(r["schema"]["fields"].clone()).unwrap_or_default()
        };
        let (of, nf) = (fields(o), fields(n));
        for f in &of {
            match nf.iter().find(|x| x.name == f.name) {
                None => raise(
                    Bump::Major,
                    format!("`{name}.{}` removed", f.name),
                    &mut bump,
                ),
                Some(x) if x.ty != f.ty => raise(
                    Bump::Major,
                    format!("`{name}.{}` changed type {} -> {}", f.name, f.ty, x.ty),
                    &mut bump,
                ),
                _ => {}
            }
        }
        for f in nf.iter().filter(|x| !of.iter().any(|y| y.name == x.name)) {
            raise(Bump::Minor, format!("`{name}.{}` added", f.name), &mut bump);
        }
        if o["rows"] != n["rows"] {
            raise(
                Bump::Minor,
                format!("`{name}` rows {} -> {}", o["rows"], n["rows"]),
                &mut bump,
            );
        } else if o["hash"] != n["hash"] {
            raise(Bump::Patch, format!("`{name}` values changed"), &mut bump);
        } else if o != n {
            raise(Bump::Patch, format!("`{name}` metadata changed"), &mut bump);
        }
        if o["licenses"] != n["licenses"] {
            raise(Bump::Major, format!("`{name}` licence changed"), &mut bump);
        }
    }
    (bump, why)
}

/// Writes `datapackage.json` into `out` with the version derived from the
/// previous release's data package, if any. Returns the version and why.
pub fn write_datapackage(
    out: &Path,
    catalog: &Catalog,
    tables: &BTreeMap<String, TableEntry>,
    schemas: &Schemas,
    previous: Option<&Path>,
) -> Result<(String, Vec<String>)> {
    let mut pkg = datapackage(out, catalog, tables, schemas, "")?;
    let (version, why) = match previous
        .map(|p| p.join("datapackage.json"))
        .filter(|p| p.is_file())
    {
        Some(p) => {
            let old: Value =
                serde_json::from_slice(&std::fs::read(&p).map_err(|e| Error::io(&p, e))?)
                    .map_err(|e| Error::unreadable(format!("not valid JSON: {e}")).file(&p))?;
            let (mut bump, mut why) = classify(&old, &pkg);
            if let Some(prev) = previous {
                let (api_bump, api_why) = api_change(prev, out);
                bump = bump.max(api_bump);
                why.extend(api_why);
            }
            (
                next_version(old["version"].as_str().unwrap_or("1.0.0"), bump),
                why,
            )
        }
        None => (
            "1.0.0".to_string(),
            vec!["first release (no --previous)".to_string()],
        ),
    };
    pkg["version"] = json!(version);
    pkg["citation"] = json!(citation(catalog, tables, &version));
    let path = out.join("datapackage.json");
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(&pkg).map_err(Error::table)?,
    )
    .map_err(|e| Error::io(&path, e))?;
    Ok((version, why))
}

/// The API versions a release serves (`v1`, `v2`, ...): those its
/// manifest lists files under, or (a release being built, or one without a
/// readable manifest) the folders under its `api/`.
fn api_versions(release: &Path) -> BTreeSet<String> {
    let listed = std::fs::read(release.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| {
            let files = m["files"].as_array()?;
            Some(
                files
                    .iter()
                    .filter_map(|f| f["path"].as_str()?.strip_prefix("api/")?.split('/').next())
                    .filter(|v| is_api_version(v))
                    .map(str::to_string)
                    .collect(),
            )
        });
    listed.unwrap_or_else(|| {
        std::fs::read_dir(release.join("api"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|v| is_api_version(v))
            .collect()
    })
}

/// The number of an API version's folder name: `v` and a number without
/// leading zeros (`v1`, `v12`); `None` for any other name.
pub fn api_version(v: &str) -> Option<u32> {
    let n = v.strip_prefix('v')?;
    let plain = !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| n.parse().ok()).flatten()
}

fn is_api_version(v: &str) -> bool {
    api_version(v).is_some()
}

/// How the API changed between releases: a version the previous release
/// served and this one does not is a breaking change (its clients'
/// requests now fail), a new version an addition, and a version served by
/// both whose files changed shape (by `openapi.json`) is breaking too.
pub fn api_change(previous: &Path, out: &Path) -> (Bump, Vec<String>) {
    let (old, new) = (api_versions(previous), api_versions(out));
    let mut bump = Bump::None;
    let mut why = Vec::new();
    for v in old.difference(&new) {
        bump = Bump::Major;
        why.push(format!("API `api/{v}` removed"));
    }
    for v in new.difference(&old) {
        bump = bump.max(Bump::Minor);
        why.push(format!("API `api/{v}` added"));
    }
    let read = |dir: &Path| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(dir.join("openapi.json")).ok()?).ok()
    };
    if let (Some(o), Some(n)) = (read(previous), read(out)) {
        let version = n["info"]["version"].as_str().unwrap_or_default();
        if o["info"]["version"] == n["info"]["version"] {
            for change in shape_changes(&o, &n) {
                bump = Bump::Major;
                why.push(format!("API `{version}`: {change}"));
            }
        }
    }
    (bump, why)
}

/// What a client of the old description can no longer rely on: a schema
/// gone, a required field no longer required, a field of another type.
fn shape_changes(old: &Value, new: &Value) -> Vec<String> {
    let (os, ns) = (&old["components"]["schemas"], &new["components"]["schemas"]);
    let mut changes = Vec::new();
    for (name, o) in os.as_object().into_iter().flatten() {
        let Some(n) = ns.get(name) else {
            changes.push(format!("schema `{name}` removed"));
            continue;
        };
        let required = |s: &Value| -> BTreeSet<String> {
            s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| Some(r.as_str()?.to_string()))
                .collect()
        };
        for r in required(o).difference(&required(n)) {
            changes.push(format!("`{name}.{r}` no longer required"));
        }
        for (field, of) in o["properties"].as_object().into_iter().flatten() {
            let nf = &n["properties"][field];
            let ty = |f: &Value| (f["type"].clone(), f["items"]["type"].clone());
            if !nf.is_null() && ty(of) != ty(nf) {
                changes.push(format!("`{name}.{field}` changed type"));
            }
        }
    }
    changes
}

/// The next version after `previous` for a change of kind `bump`.
pub fn next_version(previous: &str, bump: Bump) -> String {
    let parts: Vec<u64> = previous
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let (ma, mi, pa) = (
        parts.first().copied().unwrap_or(1),
        parts.get(1).copied().unwrap_or(0),
        parts.get(2).copied().unwrap_or(0),
    );
    match bump {
        Bump::None => format!("{ma}.{mi}.{pa}"),
        Bump::Patch => format!("{ma}.{mi}.{}", pa + 1),
        Bump::Minor => format!("{ma}.{}.0", mi + 1),
        Bump::Major => format!("{}.0.0", ma + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(fields: &[(&str, &str)], rows: u64, hash: &str) -> Value {
        let f: Vec<Value> = fields
            .iter()
            .map(|(n, t)| json!({"name": n, "type": t}))
            .collect();
        json!({"resources": [{"name": "t", "rows": rows, "hash": hash, "licenses": [{"name": "OGL"}], "schema": {"fields": f}}]})
    }

    #[test]
    fn bumps_follow_the_data_package_rules() {
        let base = pkg(&[("a", "string"), ("b", "integer")], 10, "sha256:1");
        assert_eq!(classify(&base, &base).0, Bump::None);
        assert_eq!(
            classify(
                &base,
                &pkg(&[("a", "string"), ("b", "integer")], 10, "sha256:2")
            )
            .0,
            Bump::Patch
        );
        assert_eq!(
            classify(
                &base,
                &pkg(&[("a", "string"), ("b", "integer")], 11, "sha256:2")
            )
            .0,
            Bump::Minor
        );
        assert_eq!(
            classify(
                &base,
                &pkg(
                    &[("a", "string"), ("b", "integer"), ("c", "number")],
                    10,
                    "sha256:2"
                )
            )
            .0,
            Bump::Minor
        );
        assert_eq!(
            classify(&base, &pkg(&[("a", "string")], 10, "sha256:2")).0,
            Bump::Major
        );
        assert_eq!(
            classify(
                &base,
                &pkg(&[("a", "string"), ("b", "number")], 10, "sha256:1")
            )
            .0,
            Bump::Major
        );
        assert_eq!(next_version("1.4.2", Bump::Patch), "1.4.3");
        assert_eq!(next_version("1.4.2", Bump::Minor), "1.5.0");
        assert_eq!(next_version("1.4.2", Bump::Major), "2.0.0");
        assert_eq!(next_version("1.4.2", Bump::None), "1.4.2");
    }

    #[test]
    fn every_rank_and_decile_states_its_direction() {
        assert!(describe_field("imd_rank").contains("1 = most deprived"));
        assert!(describe_field("income_decile").contains("1 = most deprived 10%"));
        assert!(describe_field("imd_quantile_20").contains("ceil(imd_rank * 20 / N)"));
    }

    #[test]
    fn a_file_10_rank_is_a_rank_whatever_its_name_ends_with() {
        for name in ["imd_rank_of_average_score", "imd_rank_of_extent"] {
            let d = describe_field(name);
            assert!(d.starts_with("Rank across the areas"), "{name}: {d}");
            assert!(!d.contains("Score as published"), "{name}: {d}");
        }
    }

    #[test]
    fn an_api_version_dropped_is_a_major_change_and_one_added_minor() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir_all(old.path().join("api/v1")).unwrap();
        std::fs::create_dir_all(new.path().join("api/v2")).unwrap();
        let (bump, why) = api_change(old.path(), new.path());
        assert_eq!(bump, Bump::Major);
        assert_eq!(why, ["API `api/v1` removed", "API `api/v2` added"]);
        assert_eq!(api_change(new.path(), new.path()).0, Bump::None);
        std::fs::create_dir_all(new.path().join("api/v1")).unwrap();
        assert_eq!(api_change(old.path(), new.path()).0, Bump::Minor);
        // A manifest's list is what the release served: v1 only.
        std::fs::write(
            new.path().join("manifest.json"),
            r#"{"files": [{"path": "api/v1/areas/E01000001.json"}, {"path": "api/v01/x"}]}"#,
        )
        .unwrap();
        assert_eq!(api_versions(new.path()), BTreeSet::from(["v1".to_string()]));
    }

    #[test]
    fn an_api_version_whose_files_change_shape_is_a_major_change() {
        let (old, new) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let area = |caveat: &str, required: &[&str]| {
            json!({"info": {"version": "v1"}, "components": {"schemas": {"Area": {
                "required": required,
                "properties": {"caveats": {"type": "array", "items": {"type": caveat}}},
            }}}})
        };
        for (dir, api) in [
            (&old, area("string", &["code", "caveats"])),
            (&new, area("integer", &["code"])),
        ] {
            std::fs::create_dir_all(dir.path().join("api/v1")).unwrap();
            std::fs::write(dir.path().join("openapi.json"), api.to_string()).unwrap();
        }
        let (bump, why) = api_change(old.path(), new.path());
        assert_eq!(bump, Bump::Major);
        assert_eq!(
            why,
            [
                "API `v1`: `Area.caveats` no longer required",
                "API `v1`: `Area.caveats` changed type"
            ]
        );
        // The same description: no change.
        assert_eq!(api_change(old.path(), old.path()).0, Bump::None);
    }
}
