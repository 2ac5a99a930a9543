//! The corpus files: where they are, how a case is named, and each category's MANIFEST.json.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub(super) fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// A path relative to the corpus root, with `/` separators (`mime/headers/empty-file.eml`).
pub(super) fn rel(p: &Path) -> String {
    p.strip_prefix(corpus())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every file under `dir` (recursively) whose extension is `ext`, sorted.
pub(super) fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub(super) fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// A category's MANIFEST.json, keyed by each entry's `file` (`real/cpython/msg_19.eml`).
pub(super) fn manifest(category: &str) -> HashMap<String, Value> {
    let path = corpus().join(category).join("MANIFEST.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_slice(&bytes).expect("MANIFEST.json is JSON");
    v.as_array()
        .expect("MANIFEST.json is an array")
        .iter()
        .filter_map(|e| Some((e["file"].as_str()?.to_string(), e.clone())))
        .collect()
}

pub(super) fn smtp_root() -> PathBuf {
    corpus().join("smtp")
}
