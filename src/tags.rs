//! Tags as they are kept: from an `X-Tags` header (comma-separated) or the API, each trimmed,
//! inner whitespace collapsed, control characters and commas dropped, cut to the longest
//! length, deduplicated without regard to case (the first spelling wins), at most so many.

/// How many tags a message keeps and how long each may be (`--tags-max`,
/// `--tag-max-length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagLimits {
    pub max_count: usize,
    pub max_length: usize,
}

impl Default for TagLimits {
    fn default() -> TagLimits {
        TagLimits {
            max_count: 20,
            max_length: 64,
        }
    }
}

/// The header that tags a message on arrival (Mailpit's).
pub const HEADER: &str = "X-Tags";

/// One tag cleaned, or `None` when nothing is left of it.
pub fn clean(tag: &str, limits: TagLimits) -> Option<String> {
    let words: Vec<&str> = tag
        .split(|c: char| c.is_whitespace() || c.is_control() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let joined: String = words.join(" ").chars().take(limits.max_length).collect();
    let trimmed = joined.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// A list of tags cleaned, deduplicated and bounded, in the order given.
pub fn normalize<'a>(tags: impl IntoIterator<Item = &'a str>, limits: TagLimits) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.into_iter().filter_map(|t| clean(t, limits)) {
        if out.len() >= limits.max_count {
            break;
        }
        if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag);
        }
    }
    out
}

/// The tags of every `X-Tags` header value (comma-separated).
pub fn from_headers<'a>(
    values: impl IntoIterator<Item = &'a str>,
    limits: TagLimits,
) -> Vec<String> {
    normalize(values.into_iter().flat_map(|v| v.split(',')), limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tags_are_trimmed_deduplicated_and_bounded() {
        let limits = TagLimits {
            max_count: 3,
            max_length: 8,
        };
        assert_eq!(
            from_headers(
                [
                    " signup ,Signup,, two  words",
                    "x\ty\u{7}, toolongatagname, z"
                ],
                limits
            ),
            vec!["signup", "two word", "x y"]
        );
        assert_eq!(from_headers(["toolongatagname"], limits), vec!["toolonga"]);
        assert!(from_headers([" , ,"], limits).is_empty());
        assert_eq!(clean("a \u{0} b", limits).as_deref(), Some("a b"));
    }
}
