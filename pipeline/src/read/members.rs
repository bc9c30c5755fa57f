//! Sources published as many files of one layout, such as a postcode
//! directory's one CSV per postcode area: the members of a zip whose names
//! match a pattern, or the files of a folder that do.
//!
//! Each member is streamed and only the columns the dataset claims are
//! kept, so a 1.3 GB directory never lies in memory as text. Members are
//! read in name order and must agree on their headers, matched by name (a
//! directory that moves or adds a column still reads; one that drops a
//! claimed column names the member).

use std::io::Read;
use std::path::Path;

use super::bounded::Limits;
use super::csv::{read_csv_keeping, Keep};
use super::RawTable;
use crate::cache::{sha256_bytes, sha256_file};
use crate::catalog::{Format, RawSource};
use crate::error::{Error, ErrorKind, Result};

pub use crate::catalog::is_member_pattern as is_pattern;

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) if !rest[..i].contains('/') => rest = &rest[i + p.len()..],
            _ => return false,
        }
    }
    !rest.contains('/')
}

/// The matching files of a folder, in name order.
fn folder_members(dir: &Path, pattern: &str) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| matches(pattern, &n.to_string_lossy()))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The digest of a folder source: the sha256 of one `name sha256` line per
/// matching file, in name order. It changes when any file's bytes do.
pub fn folder_digest(dir: &Path, pattern: &str) -> Result<String> {
    let mut lines = String::new();
    for f in folder_members(dir, pattern)? {
        let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        lines.push_str(&format!("{name} {}\n", sha256_bytes(&bytes)));
    }
    Ok(sha256_bytes(lines.as_bytes()))
}

/// Reads every member matching `raw.member`, in name order, handing each
/// one's table of kept columns to `each` with the member's name (so that a
/// caller can conform and keep it compactly before the next is read).
/// Returns the digest of what was read: the zip's bytes, or for a folder
/// the digest of its files (see [`folder_digest`]).
pub fn for_each_member(
    raw: &RawSource,
    input: &Path,
    limits: &Limits,
    keep: Keep<'_>,
    mut each: impl FnMut(&str, RawTable) -> Result<()>,
) -> Result<String> {
    let pattern = raw.member.as_deref().unwrap_or_default();
    let mut read = 0usize;
    let digest = if input.is_dir() {
        let mut lines = String::new();
        for f in folder_members(input, pattern)? {
            let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            lines.push_str(&format!("{name} {}\n", sha256_bytes(&bytes)));
            let table = match raw.format {
                Format::CsvGz => read_csv_keeping(
                    flate2::read::MultiGzDecoder::new(&bytes[..]),
                    raw,
                    limits,
                    keep,
                ),
                _ => read_csv_keeping(&bytes[..], raw, limits, keep),
            };
            each(&name, table.map_err(|e| e.sheet(format!("file {name}")))?)?;
            read += 1;
        }
        sha256_bytes(lines.as_bytes())
    } else {
        // The zip is read from the file, not held in memory (ONSPD's is
        // about 250 MB); its digest is taken after reading, and the caller
        // compares it with the one taken (and checked against the pin)
        // before, so a file changed while it was read is refused.
        let file = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
        read = zip_members(file, pattern, raw, limits, keep, &mut each)?;
        sha256_file(input)?
    };
    if read == 0 {
        return Err(Error::new(ErrorKind::NotInFile {
            what: "member matching",
            name: pattern.to_string(),
            available: Vec::new(),
        }));
    }
    Ok(digest)
}

/// Streams each matching member of a zip; returns how many there were.
fn zip_members(
    file: std::fs::File,
    pattern: &str,
    raw: &RawSource,
    limits: &Limits,
    keep: Keep<'_>,
    each: &mut impl FnMut(&str, RawTable) -> Result<()>,
) -> Result<usize> {
    let mut zip = zip::ZipArchive::new(std::io::BufReader::with_capacity(256 << 10, file))
        .map_err(|e| Error::unreadable(format!("not a valid zip archive: {e}")))?;
    let mut names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|s| s.into_owned()))
        .filter(|n| !n.ends_with('/') && matches(pattern, n))
        .collect();
    names.sort();
    // Declared sizes first: a bomb is refused before anything is inflated.
    let mut total: u64 = 0;
    for name in &names {
        let size = zip.by_name(name).map(|f| f.size()).unwrap_or(0);
        total = total.saturating_add(size);
    }
    if total > limits.max_bytes {
        return Err(Error::new(ErrorKind::TooLarge {
            limit: format!(
                "{} members of {total} bytes after decompression, more than {}",
                names.len(),
                limits.max_bytes
            ),
        }));
    }
    for name in &names {
        let file = zip
            .by_name(name)
            .map_err(|e| Error::unreadable(format!("cannot open zip member {name}: {e}")))?;
        let table = read_csv_keeping(file.take(limits.max_bytes), raw, limits, keep)
            .map_err(|e| e.sheet(format!("zip member {name}")))?;
        each(name, table)?;
    }
    Ok(names.len())
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_star_matches_within_one_folder() {
        assert!(matches("NSPL_*_UK_*.csv.gz", "NSPL_NOV_2021_UK_DG.csv.gz"));
        assert!(matches(
            "Data/multi_csv/ONSPD_*.csv",
            "Data/multi_csv/ONSPD_NOV_2025_UK_AB.csv"
        ));
        assert!(!matches("Data/multi_csv/*.csv", "Data/other/x/y.csv"));
        assert!(!matches("*.csv", "Data/a.csv"));
        assert!(matches("a.csv", "a.csv"));
        assert!(!matches("a*b", "ab/b"));
    }
}
