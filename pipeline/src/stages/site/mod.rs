//! `static_site`: one static page for people, served from the same bucket
//! as the API and reading it relative to itself: a postcode, area code or
//! area name in, the area's deprivation, change, summaries and Census
//! indicators out. The look-up happens in the browser, so a patient's
//! postcode never reaches a server (a shared link carries it after `#`,
//! which browsers do not send).
//!
//! The page's files live in the repository's `site/` folder and are built
//! into the binary, so a release's page always matches the engine that
//! wrote its API. No build step, no CDN, no analytics. Beside them, maps of
//! small-area deciles (see [`map`]).

mod map;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cache::{link_or_copy, sha256_bytes, unit_key};
use crate::contract::derived::table_refs;
use crate::contract::{Inputs, Output, PlanCtx, RunCtx, Stage, StageRun, UnitTime, Validator};
use crate::error::{Error, Result};
use crate::release::FileEntry;

/// Parameters of a `static_site` stage.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteStage {
    pub description: String,
    /// Where the page goes in the release, e.g. `site`.
    pub path: String,
    /// Where the API is in the release, e.g. `api/v2` (the page reads it
    /// relative to itself).
    pub api: String,
    /// Maps of small-area deciles, one per nation and edition with
    /// boundaries in the catalog.
    #[serde(default)]
    pub maps: Vec<map::MapSpec>,
    /// Nations and editions with no map, and why: published on the page.
    #[serde(default)]
    pub no_maps: Vec<map::NoMap>,
}

/// The page's files, as in the repository's `site/` folder.
const ASSETS: [(&str, &str); 3] = [
    ("index.html", include_str!("../../../../site/index.html")),
    ("app.js", include_str!("../../../../site/app.js")),
    ("style.css", include_str!("../../../../site/style.css")),
];

impl Stage for SiteStage {
    /// The maps' tables, all optional: a map whose table is missing is
    /// listed as unavailable with the reason.
    fn inputs(&self) -> Inputs {
        let mut optional: Vec<String> = Vec::new();
        for t in self.maps.iter().flat_map(|m| m.tables()) {
            if !optional.contains(t) {
                optional.push(t.clone());
            }
        }
        Inputs {
            required: Vec::new(),
            optional,
        }
    }

    fn outputs(&self, _: &PlanCtx<'_>) -> Vec<Output> {
        Vec::new()
    }

    fn validate(&self, v: &mut Validator<'_>) {
        for (field, value) in [("path", &self.path), ("api", &self.api)] {
            let safe = !value.is_empty()
                && value
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
            if !safe {
                v.error(format!(
                    "field `{field}` must be a relative path inside the release, got {value:?}"
                ));
            }
        }
        for (i, m) in self.maps.iter().enumerate() {
            let f = format!("maps[{i}]");
            for c in [&m.code, &m.decile, &m.la]
                .into_iter()
                .chain(m.la_name.iter())
            {
                v.column(&f, &m.index, c);
            }
            for c in [&m.boundary_code, &"geometry".to_string()]
                .into_iter()
                .chain(m.boundary_name.iter())
            {
                v.column(&f, &m.boundaries, c);
            }
            if m.key.is_empty() || !m.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                v.error(format!(
                    "field `{f}.key` must be letters, digits and `_`, got {:?}",
                    m.key
                ));
            }
        }
    }

    /// Writes the page through the unit cache (keyed by the spec and the
    /// files' text), so a rebuild with nothing changed does no work.
    fn run(&self, ctx: &RunCtx<'_>) -> Result<StageRun> {
        let t0 = std::time::Instant::now();
        let texts: Vec<(String, String)> = self.texts();
        let reads: Vec<&String> = self.maps.iter().flat_map(|m| m.tables()).collect();
        let inputs: BTreeMap<String, _> = ctx
            .inputs
            .iter()
            .filter(|(n, _)| reads.contains(n))
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        let key = unit_key(&serde_json::json!({
            "stage": ctx.stage,
            "spec": self,
            "files": texts,
            "inputs": table_refs(&inputs),
            "unavailable": ctx.unavailable.iter().filter(|(n, _)| reads.contains(n)).collect::<BTreeMap<_, _>>(),
        }));
        let unit = ctx.cache.get_or_build(&key, |work| {
            let mut files = write_files(work, &texts)?;
            files.extend(self.write_maps(ctx, work)?);
            Ok(files)
        })?;
        for f in &unit.meta {
            let to = ctx.staging.join(&f.path);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            link_or_copy(&unit.dir.join(&f.path), &to)?;
        }
        (ctx.progress)();
        Ok(StageRun {
            files: unit.meta,
            units: vec![UnitTime {
                unit: "site".into(),
                took: t0.elapsed(),
                computed: unit.computed,
            }],
            ..Default::default()
        })
    }
}

impl SiteStage {
    /// Every map whose tables are in the build, and `map/index.json`
    /// listing them and, with the reason, every nation and edition without.
    fn write_maps(&self, ctx: &RunCtx<'_>, root: &Path) -> Result<Vec<FileEntry>> {
        let mut files = Vec::new();
        let mut made = Vec::new();
        let mut none: Vec<serde_json::Value> = self
            .no_maps
            .iter()
            .map(|n| serde_json::json!({"key": n.key, "title": n.title, "reason": n.reason}))
            .collect();
        for m in &self.maps {
            match m.tables().into_iter().find(|t| !ctx.inputs.contains_key(*t)) {
                Some(t) => none.push(serde_json::json!({
                    "key": m.key,
                    "title": m.title,
                    "reason": format!("table `{t}` is not in this release: {}", ctx.unavailable.get(t).map_or("not built", |r| r.as_str())),
                })),
                None => {
                    let base = format!("{}/map/{}", self.path, m.key);
                    files.extend(map::write(m, ctx, root, &base).map_err(|e| e.stage(ctx.stage))?);
                    made.push(serde_json::json!({"key": m.key, "title": m.title}));
                }
            }
        }
        let index = serde_json::json!({"maps": made, "unavailable": none});
        files.push(map::put(
            root,
            &format!("{}/map/index.json", self.path),
            &index,
        )?);
        Ok(files)
    }

    /// Each file's path in the release and text, the API's place filled in
    /// (relative to the page).
    fn texts(&self) -> Vec<(String, String)> {
        let up = "../".repeat(self.path.split('/').count());
        let api = format!("{up}{}", self.api);
        ASSETS
            .iter()
            .map(|(name, text)| {
                (
                    format!("{}/{name}", self.path),
                    text.replace("__API_BASE__", &api),
                )
            })
            .collect()
    }
}

/// Writes the files under `root`, with their sizes and digests.
fn write_files(root: &Path, texts: &[(String, String)]) -> Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    for (rel, text) in texts {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        files.push(FileEntry {
            path: rel.clone(),
            bytes: text.len() as u64,
            sha256: sha256_bytes(text.as_bytes()),
        });
    }
    Ok(files)
}
