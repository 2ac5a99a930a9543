//! How a URL in an attribute or a style is read: as browsers read its scheme.

/// Lowercase, with ASCII whitespace and controls removed, as browsers do when they read a
/// URL scheme (`java\tscript:` is `javascript:`).
pub(super) fn compact(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn has_script_url(compacted: &str) -> bool {
    [
        "javascript:",
        "vbscript:",
        "livescript:",
        "data:text/html",
        "data:image/svg",
    ]
    .iter()
    .any(|p| compacted.contains(p))
}

pub(super) fn looks_remote(compacted: &str) -> bool {
    compacted.contains("http:") || compacted.contains("https:") || compacted.contains("//")
}
