//! `census-pipeline outdated`: has a publisher released something newer
//! than the catalog records?
//!
//! A refresh revalidates the URLs the catalog knows, but a new edition
//! arrives at a new URL: ONSPD every quarter under a new ArcGIS item, SIMD on
//! 2022 Data Zones, the further WIMD 2025 outputs. So each source is looked
//! at from the publisher's side, in the first way that applies:
//!
//! - `watch`, an ArcGIS search URL: a result whose title names a later
//!   edition than the source's `edition` (ONSPD "February 2024" after
//!   "November 2023");
//! - an ArcGIS item download (`/content/items/<id>/data`): the item's
//!   `modified` time, later than the source was last fetched;
//! - `landing`, a publisher's page: an asset link of the same family as the
//!   recorded file (the same name but for its edition, the same extension)
//!   naming a later edition; the geoportal's pages are built by JavaScript
//!   and list no files, so its sources are reported as not watched;
//! - otherwise the file's own `Last-Modified`, later than when it was last
//!   fetched (the nomis bulk zips).
//!
//! An edition is a year (1990 to 2100, or two digits after a month, as in
//! `FEB24`) and a month, read from names such as `File_7_IoD2025_...csv` or
//! `ONSPD_NOV_2023_UK.zip`; other numbers (`ts007`, `File_7`) name the
//! table, not the edition. A source that cannot be checked says why: the
//! command never reports "current" for what it could not see.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::{Catalog, Source};
use crate::fetch::Lockfile;

/// What was found for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Nothing newer than the catalog records.
    Current { found: String },
    /// A newer edition or file.
    Newer { found: String, at: String },
    /// Nothing to look at, and why (no landing page, watch or URL; a page
    /// built by JavaScript).
    NotWatched { reason: String },
    /// The publisher could not be asked.
    Failed { reason: String },
}

/// One row of the table `outdated` prints.
#[derive(Debug, Clone)]
pub struct Row {
    pub source: String,
    pub recorded: String,
    pub finding: Finding,
    /// Where it looked.
    pub looked: String,
}

/// Looks at every obtainable source of the catalog, a few at a time.
pub async fn check_all(
    catalog: &Catalog,
    lock: &Lockfile,
    timeout: std::time::Duration,
) -> Vec<Row> {
    use futures_util::StreamExt;
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("census-pipeline/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return vec![failed_row("(all)", e.to_string())],
    };
    let sources: Vec<&Source> = catalog
        .sources
        .values()
        .filter(|s| s.raw.unavailable.is_none() && s.local_path.is_none())
        .collect();
    futures_util::stream::iter(sources)
        .map(|src| {
            let fetched = lock.sources.get(&src.id).map(|e| e.fetched_at.clone());
            let client = &client;
            async move { check_one(client, src, fetched).await }
        })
        .buffered(4)
        .collect()
        .await
}

fn failed_row(source: &str, reason: String) -> Row {
    Row {
        source: source.into(),
        recorded: String::new(),
        finding: Finding::Failed { reason },
        looked: String::new(),
    }
}

async fn check_one(client: &reqwest::Client, src: &Source, fetched: Option<String>) -> Row {
    let url = src.raw.url.clone().unwrap_or_default();
    let (recorded, looked, finding) = if let Some(watch) = &src.raw.watch {
        let found = by_search(client, watch, &src.raw.edition).await;
        (src.raw.edition.clone(), watch.clone(), found)
    } else if let Some(meta) = arcgis_item_metadata(&url) {
        let found = by_item(client, &meta, fetched.as_deref()).await;
        (fetched_or_never(&fetched), meta, found)
    } else if let Some(landing) = src
        .raw
        .landing
        .as_ref()
        .filter(|l| l.contains("geoportal.statistics.gov.uk"))
    {
        let reason = "the geoportal's pages are built by JavaScript and list no files; give the source a `watch` search".to_string();
        (
            src.file_name(),
            landing.clone(),
            Finding::NotWatched { reason },
        )
    } else if let Some(landing) = &src.raw.landing {
        let found = by_landing(client, landing, &src.file_name()).await;
        (src.file_name(), landing.clone(), found)
    } else if !url.is_empty() {
        let found = by_last_modified(client, &url, fetched.as_deref()).await;
        (fetched_or_never(&fetched), url.clone(), found)
    } else {
        let reason = "no landing page, `watch` or URL".to_string();
        (String::new(), String::new(), Finding::NotWatched { reason })
    };
    Row {
        source: src.id.clone(),
        recorded,
        finding,
        looked,
    }
}

fn fetched_or_never(fetched: &Option<String>) -> String {
    match fetched {
        Some(t) => format!("fetched {t}"),
        None => "never fetched".into(),
    }
}

/// The most a publisher's page may hold: landing pages and searches are small.
const MAX_PAGE: usize = 10 << 20;

/// A page's text, read within `MAX_PAGE` bytes.
async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, String> {
    use futures_util::StreamExt;
    let why = |e: reqwest::Error| format!("{url}: {}", crate::fetch::describe(&e));
    let resp = client.get(url).send().await.map_err(why)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {status} from {url}"));
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(why)?);
        if body.len() > MAX_PAGE {
            return Err(format!(
                "{url} sent more than {MAX_PAGE} bytes; not a landing page"
            ));
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// An ArcGIS search: the result titles that name a later edition.
async fn by_search(client: &reqwest::Client, watch: &str, edition: &str) -> Finding {
    let text = match get_text(client, watch).await {
        Ok(t) => t,
        Err(reason) => return Finding::Failed { reason },
    };
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return Finding::Failed {
            reason: format!("{watch} did not answer with JSON"),
        };
    };
    let titles = json["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["title"].as_str())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mine = edition_key(edition);
    // The recorded edition's own title gives the family (a user guide or a
    // re-upload with other words is not an edition).
    let families: Vec<String> = titles
        .iter()
        .filter(|t| edition_key(t) == mine)
        .map(|t| skeleton(t))
        .collect();
    let titles: Vec<&str> = titles
        .into_iter()
        .filter(|t| families.is_empty() || families.contains(&skeleton(t)))
        .collect();
    match titles.iter().max_by_key(|t| edition_key(t)) {
        Some(t) if edition_key(t) > mine => Finding::Newer {
            found: t.to_string(),
            at: watch.to_string(),
        },
        Some(t) => Finding::Current {
            found: t.to_string(),
        },
        None => Finding::Failed {
            reason: format!("{watch} found no titles; check the search"),
        },
    }
}

/// The metadata URL of an ArcGIS item download, if `url` is one.
fn arcgis_item_metadata(url: &str) -> Option<String> {
    let (base, rest) = url.split_once("/sharing/rest/content/items/")?;
    let id = rest.split(['/', '?']).next().filter(|id| !id.is_empty())?;
    Some(format!("{base}/sharing/rest/content/items/{id}?f=json"))
}

/// An ArcGIS item's `modified` time against when it was last fetched.
async fn by_item(client: &reqwest::Client, meta: &str, fetched: Option<&str>) -> Finding {
    let json = match get_text(client, meta)
        .await
        .map(|t| serde_json::from_str::<Value>(&t))
    {
        Ok(Ok(j)) => j,
        Ok(Err(e)) => {
            return Finding::Failed {
                reason: format!("{meta}: not JSON: {e}"),
            }
        }
        Err(reason) => return Finding::Failed { reason },
    };
    let Some(modified) = json["modified"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
    else {
        return Finding::Failed {
            reason: format!("{meta} has no `modified` time"),
        };
    };
    let found = format!(
        "modified {}",
        modified.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let since = fetched.and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok());
    match since {
        Some(t) if modified > t => Finding::Newer {
            found,
            at: meta.to_string(),
        },
        _ => Finding::Current { found },
    }
}

/// A landing page's asset links of the recorded file's family.
async fn by_landing(client: &reqwest::Client, landing: &str, file: &str) -> Finding {
    let html = match get_text(client, landing).await {
        Ok(t) => t,
        Err(reason) => return Finding::Failed { reason },
    };
    let family = skeleton(file);
    let mine = edition_key(file);
    let newest = links(&html)
        .into_iter()
        .filter(|l| skeleton(&file_of(l)) == family)
        .max_by_key(|l| edition_key(&file_of(l)));
    match newest {
        Some(l) if edition_key(&file_of(&l)) > mine => Finding::Newer {
            found: file_of(&l),
            at: resolve(landing, &l),
        },
        Some(l) => Finding::Current { found: file_of(&l) },
        None => Finding::Failed {
            reason: format!(
                "{landing} lists no file of the family of {file}; check the landing page"
            ),
        },
    }
}

/// The file's `Last-Modified` against when it was last fetched.
async fn by_last_modified(client: &reqwest::Client, url: &str, fetched: Option<&str>) -> Finding {
    let resp = match client.head(url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            return Finding::Failed {
                reason: format!("HTTP {} from {url}", r.status()),
            }
        }
        Err(e) => {
            return Finding::Failed {
                reason: e.to_string(),
            }
        }
    };
    let Some(lm) = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
    else {
        return Finding::Failed {
            reason: format!("{url} sends no Last-Modified"),
        };
    };
    let found = format!("modified {}", lm.to_rfc3339());
    match fetched.and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok()) {
        Some(t) if lm > t => Finding::Newer {
            found,
            at: url.to_string(),
        },
        _ => Finding::Current { found },
    }
}

/// Every `href` of a page: any case, spaces around `=`, quoted or not.
fn links(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("href") {
        let start = from + i + 4;
        from = start;
        let rest = html[start..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let link = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next(),
            Some(_) => rest.split(|c: char| c.is_whitespace() || c == '>').next(),
            None => None,
        };
        if let Some(l) = link.filter(|l| !l.is_empty()) {
            out.push(l.to_string());
        }
    }
    out
}

/// The file a link downloads, named as the catalog names files.
fn file_of(link: &str) -> String {
    crate::catalog::url_file_name(link).unwrap_or_default()
}

fn resolve(base: &str, link: &str) -> String {
    reqwest::Url::parse(base)
        .and_then(|b| b.join(link))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| link.to_string())
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Splits a name into lower-case words and numbers.
fn tokens(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in name.to_ascii_lowercase().chars() {
        let same = cur
            .chars()
            .last()
            .is_some_and(|p| p.is_ascii_digit() == c.is_ascii_digit() && c.is_ascii_alphanumeric());
        if !same && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if c.is_ascii_alphanumeric() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The month a word names, in full or in three letters (`nov`, `sept`).
fn month(word: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| {
            *m == word
                || (word.len() == 3 && m.starts_with(word))
                || (word == "sept" && *m == "september")
        })
        .map(|i| i as u32 + 1)
}

/// Which tokens of a name say its edition: a year (1990 to 2100, or two
/// digits after a month, as in `FEB24`) and month names. Other numbers
/// (table numbers such as `ts007`, file numbers) belong to the family.
fn edition_tokens(toks: &[String]) -> Vec<Option<(u32, u32)>> {
    toks.iter()
        .enumerate()
        .map(|(i, t)| {
            if let Some(m) = month(t) {
                return Some((0, m));
            }
            let n: u32 = t
                .parse()
                .ok()
                .filter(|_| t.chars().all(|c| c.is_ascii_digit()))?;
            let after_month = i > 0 && month(&toks[i - 1]).is_some();
            match (t.len(), n) {
                (4, 1990..=2100) => Some((n, 0)),
                (2, _) if after_month => Some((2000 + n, 0)),
                _ => None,
            }
        })
        .collect()
}

/// A name with its edition tokens blanked: two files of one family
/// (editions of one table) share it.
fn skeleton(name: &str) -> String {
    let toks = tokens(name);
    let ed = edition_tokens(&toks);
    toks.iter()
        .zip(&ed)
        .map(|(t, e)| match e {
            Some((0, _)) => "@",
            Some(_) => "#",
            None => t.as_str(),
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// What orders editions: the latest year named, then the month.
pub fn edition_key(name: &str) -> (u32, u32) {
    let toks = tokens(name);
    let ed = edition_tokens(&toks);
    let year = ed.iter().flatten().map(|(y, _)| *y).max().unwrap_or(0);
    let month = ed
        .iter()
        .flatten()
        .map(|(_, m)| *m)
        .find(|m| *m > 0)
        .unwrap_or(0);
    (year, month)
}

/// A value in a Markdown table cell, inert: no pipes, line breaks,
/// mentions or links from a publisher's page reach the issue.
fn cell(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            '`' => '\'',
            c => c,
        })
        .collect();
    format!("`{}`", s.replace('|', "\\|"))
}

/// The table `outdated` prints, in Markdown.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from("source | recorded | found | where\n---|---|---|---\n");
    for r in rows {
        let (found, at) = match &r.finding {
            Finding::Current { found } => (format!("current: {found}"), r.looked.clone()),
            Finding::Newer { found, at } => (format!("NEWER: {found}"), at.clone()),
            Finding::NotWatched { reason } => (format!("not watched: {reason}"), String::new()),
            Finding::Failed { reason } => (format!("could not check: {reason}"), r.looked.clone()),
        };
        out.push_str(&format!(
            "{} | {} | {} | {}\n",
            r.source,
            cell(&r.recorded),
            cell(&found),
            cell(&at)
        ));
    }
    out
}

/// How many sources could not be checked.
pub fn failed(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| matches!(r.finding, Finding::Failed { .. }))
        .count()
}

/// How many sources have something newer, by source.
pub fn newer(rows: &[Row]) -> BTreeMap<&str, &Finding> {
    rows.iter()
        .filter(|r| matches!(r.finding, Finding::Newer { .. }))
        .map(|r| (r.source.as_str(), &r.finding))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_are_ordered_by_year_then_month() {
        assert!(edition_key("ONSPD_FEB_2024_UK.zip") > edition_key("ONSPD_NOV_2023_UK.zip"));
        assert!(
            edition_key("ONS Postcode Directory (February 2024)") > edition_key("November 2023")
        );
        assert!(edition_key("File_7_IoD2028_All.csv") > edition_key("File_7_IoD2025_All.csv"));
        assert!(edition_key("NSPL_FEB24_UK.zip") > edition_key("NSPL_NOV23_UK.zip"));
        assert_ne!(
            skeleton("census2021-ts007.zip"),
            skeleton("census2021-ts067.zip")
        );
        assert_eq!(
            skeleton("ONSPD_FEB_2024_UK.zip"),
            skeleton("ONSPD_NOV_2023_UK.zip")
        );
        assert_ne!(
            skeleton("File_1_IoD2025_Index.xlsx"),
            skeleton("File_2_IoD2025_Domains.xlsx")
        );
    }

    #[test]
    fn links_are_read_from_a_page() {
        let html =
            r#"<a href="/media/1/a_2025.ods">x</a> <a class=y href='b.csv'> <A HREF = c.zip>"#;
        assert_eq!(links(html), vec!["/media/1/a_2025.ods", "b.csv", "c.zip"]);
        assert_eq!(
            file_of("https://www.ons.gov.uk/file?uri=/a/b/sape2019.zip"),
            "sape2019.zip"
        );
        assert_eq!(resolve("https://h/p/page", "b.csv"), "https://h/p/b.csv");
    }
}
