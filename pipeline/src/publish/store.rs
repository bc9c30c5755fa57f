//! Opening a bucket, and what each object is stored with.

use object_store::path::Path as ObjPath;
use object_store::{Attribute, Attributes, ObjectStore};

use crate::error::{Error, ErrorKind, Result};

pub fn store_err(what: &str, e: object_store::Error) -> Error {
    Error::new(ErrorKind::Bucket {
        reason: scrub(&format!("{what}: {e}")),
    })
}

/// Removes credentials (`scheme://user:password@`) from any URL in a text,
/// such as an error the store library wrote.
pub fn scrub(text: &str) -> String {
    static CREDENTIALS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = CREDENTIALS.get_or_init(|| {
        regex::Regex::new(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
            .expect("a constant, valid pattern")
    });
    re.replace_all(text, "$1").into_owned()
}

/// A destination URL as it may be shown: without a user name or password.
pub fn redact(to: &str) -> String {
    match url::Url::parse(to) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an unparseable URL)".into(),
    }
}

fn usage(reason: String) -> Error {
    Error::new(ErrorKind::Usage { reason })
}

/// Opens a destination URL: `s3://bucket/prefix` (configured by the usual
/// AWS_* environment variables, e.g. AWS_ENDPOINT and AWS_ALLOW_HTTP for a
/// local S3-compatible server), `file:///path`, or another object_store URL.
pub fn open_store(to: &str) -> Result<(Box<dyn ObjectStore>, ObjPath)> {
    let url = url::Url::parse(to).map_err(|e| {
        usage(format!(
            "`--to` must be a URL such as s3://bucket/prefix or file:///path, got {}: {e}",
            redact(to)
        ))
    })?;
    match url.scheme() {
        "s3" => {
            // Few, quick retries: a publish that cannot reach its bucket should
            // say so within a minute, and a rerun resumes where it stopped.
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(20),
                ..Default::default()
            };
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_url(to)
                .with_retry(retry)
                .build()
                .map_err(|e| store_err("configuring the S3 store", e))?;
            let prefix = ObjPath::from(url.path().trim_start_matches('/'));
            Ok((Box::new(store), prefix))
        }
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|_| usage(format!("not a local path: {}", redact(to))))?;
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| store_err("opening the folder", e))?;
            Ok((Box::new(store), ObjPath::from("")))
        }
        "memory" => Err(usage(
            "memory:// keeps nothing once the command ends: publish to s3://bucket/prefix, file:///path or another bucket's URL".into(),
        )),
        _ => object_store::parse_url(&url).map_err(|e| store_err("opening the store", e)),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("parquet") => "application/vnd.apache.parquet",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        // The page's script and style sheet: browsers refuse a style sheet,
        // and strict ones a script, served as anything else.
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        // `tables/<t>.csv.gz`: a compressed download, not an encoding.
        Some("gz") => "application/gzip",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Content type, encoding and cache lifetime: a version's files never
/// change (`immutable`); `latest.json` does. JSON stored gzip-encoded (the
/// API's files) is served with `Content-Encoding: gzip`, so clients receive
/// the JSON itself.
pub fn attributes(path: &str, bytes: &[u8], immutable: bool) -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::ContentType, content_type(path).into());
    if path.ends_with(".json") && crate::gz::is_gzip(bytes) {
        a.insert(Attribute::ContentEncoding, "gzip".into());
    }
    a.insert(
        Attribute::CacheControl,
        if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache, max-age=60"
        }
        .into(),
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed_from_any_text() {
        let t = scrub("error sending request for url (http://u:pw@127.0.0.1:9/b/latest.json)");
        assert_eq!(
            t,
            "error sending request for url (http://127.0.0.1:9/b/latest.json)"
        );
    }

    #[test]
    fn credentials_never_appear_in_messages() {
        let shown = redact("http://user:secret@127.0.0.1:9000/bucket/x");
        assert!(
            !shown.contains("secret") && !shown.contains("user"),
            "{shown}"
        );
        assert_eq!(redact("s3://bucket/prefix"), "s3://bucket/prefix");
    }
}
