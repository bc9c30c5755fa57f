//! ArcGIS REST URLs, as the ONS geoportal serves them: which URL is a
//! FeatureServer query (fetched in pages, see `fetch::pages`), what it asks
//! for, and the service it names. Kept apart from fetching so that the
//! catalog can validate and name such sources without depending on it.

/// True if a URL is a FeatureServer (or MapServer) layer query.
pub fn is_feature_query(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    (path.contains("/FeatureServer/") || path.contains("/MapServer/")) && path.ends_with("/query")
}

/// The `f` parameter of a query URL (`json`, `geojson`, `pjson`), if any.
pub fn output_format(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|p| p.strip_prefix("f="))
        .map(|f| f.split('#').next().unwrap_or(f))
}

/// The service's name (the path segment before `FeatureServer`), which
/// names the assembled file in the cache and in mirrors.
pub fn service_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let mut segments = path.split('/').rev();
    segments.find(|s| *s == "FeatureServer" || *s == "MapServer")?;
    segments.next().filter(|s| !s.is_empty())
}

/// The URL of the page that starts at `offset`: the query's own
/// parameters, with any `resultOffset` it had replaced.
pub fn page_url(url: &str, offset: usize) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("resultOffset="))
        .map(str::to_string)
        .collect();
    params.push(format!("resultOffset={offset}"));
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_url_replaces_its_offset() {
        let u = "https://h/arcgis/rest/services/LAD22_LAD23_UK_LU/FeatureServer/0/query?where=1%3D1&outFields=*&resultOffset=5&f=json";
        assert_eq!(
            page_url(u, 2000),
            "https://h/arcgis/rest/services/LAD22_LAD23_UK_LU/FeatureServer/0/query?where=1%3D1&outFields=*&f=json&resultOffset=2000"
        );
        assert!(is_feature_query(u));
        assert_eq!(service_name(u), Some("LAD22_LAD23_UK_LU"));
        assert_eq!(output_format(u), Some("json"));
        assert!(!is_feature_query("https://h/x.csv"));
    }
}
