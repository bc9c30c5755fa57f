//! The engine's shape, checked: no import cycles between its modules, no
//! function longer than a screen or two, and polars only where it must be.
//! These keep the next change cheap; they read the source, not the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::repo;

/// Every `.rs` file under `pipeline/src`, with its text minus comments and
/// unit tests.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = repo().join("pipeline/src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (p.strip_prefix(&root).unwrap().to_path_buf(), code)
        })
        .collect()
}

/// The top-level module a file belongs to (`stages/api/mod.rs` -> `stages`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in sources() {
        let from = module_of(&rel);
        if from == "main" || from == "lib" {
            continue;
        }
        for part in code.split("crate::").skip(1) {
            let to: String = part
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    let mut cycles = Vec::new();
    for (a, outs) in &edges {
        for b in outs {
            // Is there a path from b back to a?
            let mut stack = vec![vec![a.clone(), b.clone()]];
            let mut seen = BTreeSet::new();
            while let Some(path) = stack.pop() {
                let last = path.last().unwrap();
                if last == a {
                    cycles.push(path.join(" -> "));
                    break;
                }
                if !seen.insert(last.clone()) {
                    continue;
                }
                for c in edges.get(last).into_iter().flatten() {
                    let mut p = path.clone();
                    p.push(c.clone());
                    stack.push(p);
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn no_function_is_longer_than_120_lines() {
    let mut long = Vec::new();
    for (rel, code) in sources() {
        let lines: Vec<&str> = code.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            let t = l.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "async fn ",
                "pub async fn ",
            ]
            .iter()
            .any(|p| t.starts_with(p));
            if is_fn && !t.ends_with(';') {
                let indent = &l[..l.len() - t.len()];
                let end = (i + 1..lines.len())
                    .find(|&j| lines[j] == format!("{indent}}}"))
                    .unwrap_or(i);
                if end - i + 1 > 120 {
                    long.push(format!(
                        "{}:{} ({} lines)",
                        rel.display(),
                        i + 1,
                        end - i + 1
                    ));
                }
                i = end;
            }
            i += 1;
        }
    }
    assert!(
        long.is_empty(),
        "functions over 120 lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn polars_is_used_only_at_the_table_edge() {
    // frame: stage tables; read/conform: files into tables; report: the
    // diff compares whole tables; error: converts polars' errors.
    let allowed = ["frame.rs", "read/conform.rs", "report.rs", "error.rs"];
    let users: Vec<String> = sources()
        .into_iter()
        .filter(|(_, code)| code.contains("polars::"))
        .map(|(rel, _)| rel.display().to_string())
        .filter(|r| !allowed.contains(&r.as_str()))
        .collect();
    assert!(users.is_empty(), "polars used in {users:?}");
}
