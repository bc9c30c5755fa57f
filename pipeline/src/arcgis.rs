//! ArcGIS REST URLs, as the ONS geoportal serves them: which URL is a
//! FeatureServer query (fetched in pages, see `fetch::pages`), what it asks
//! for, and the service it names. Kept apart from fetching so that the
//! catalog can validate and name such sources without depending on it.

/// True if a URL is a FeatureServer (or MapServer) layer query, however
/// its path is capitalised (ArcGIS ignores case there).
pub fn is_feature_query(url: &str) -> bool {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    (path.contains("/featureserver/") || path.contains("/mapserver/")) && path.ends_with("/query")
}

/// The name of a query's assembled file: the service, and the layer when
/// it is not the first (`LAD22_LAD23_UK_LU`, `SVC_layer1`).
pub fn file_stem(url: &str) -> Option<String> {
    let service = service_name(url)?;
    let path = url.split(['?', '#']).next()?;
    let layer = path
        .split('/')
        .skip_while(|s| !is_server(s))
        .nth(1)
        .filter(|l| !l.is_empty() && *l != "0" && l.chars().all(|c| c.is_ascii_digit()));
    Some(match layer {
        Some(l) => format!("{service}_layer{l}"),
        None => service.to_string(),
    })
}

fn is_server(segment: &str) -> bool {
    segment.eq_ignore_ascii_case("FeatureServer") || segment.eq_ignore_ascii_case("MapServer")
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
    segments.find(|s| is_server(s))?;
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
        assert!(is_feature_query(
            "https://h/rest/services/S/featureserver/0/Query/?f=json"
        ));
        assert_eq!(file_stem(u).as_deref(), Some("LAD22_LAD23_UK_LU"));
        assert_eq!(
            file_stem("https://h/rest/services/S/FeatureServer/1/query?f=json").as_deref(),
            Some("S_layer1")
        );
    }
}
