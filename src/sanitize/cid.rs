//! Stage 3: `cid:` images. The attribute filter swaps each `cid:` for a numbered placeholder;
//! once ammonia is done, one linear pass puts the caller's attachment URL in its place.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use super::urls::{compact, has_script_url};
use super::MAX_CID_REFERENCES;

/// The `cid:` references one call's filter has seen, and the per-call prefix of the
/// placeholders that stand for them in the cleaned HTML.
pub(super) struct CidPlaceholders {
    /// `cid:mailiy-<nonce>-`: the nonce is random per call, so text in the mail cannot
    /// spell a placeholder that the final pass would take for one of ours.
    prefix: String,
    ids: Mutex<Vec<String>>,
}

impl CidPlaceholders {
    pub(super) fn new(seed: usize) -> Self {
        let nonce = format!("{:016x}", RandomState::new().hash_one(seed));
        CidPlaceholders {
            prefix: format!("cid:mailiy-{nonce}-"),
            ids: Mutex::new(Vec::new()),
        }
    }

    /// Records `id` and returns the placeholder URL that stands for it, or `None` when the
    /// id is empty or the message already has [`MAX_CID_REFERENCES`].
    pub(super) fn placeholder(&self, id: String) -> Option<String> {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        if ids.len() >= MAX_CID_REFERENCES || id.is_empty() {
            return None;
        }
        ids.push(id);
        Some(format!("{}{}", self.prefix, ids.len() - 1))
    }

    /// Replaces each placeholder `src` in `html` with the caller's URL for its id, or drops
    /// the `src` when the caller has none.
    pub(super) fn resolve(&self, html: &str, cid_url: &dyn Fn(&str) -> Option<String>) -> String {
        let cids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        resolve_cids(html, &self.prefix, &cids, cid_url)
    }
}

fn resolve_cids(
    html: &str,
    prefix: &str,
    cids: &[String],
    cid_url: &dyn Fn(&str) -> Option<String>,
) -> String {
    if cids.is_empty() {
        return html.to_string();
    }
    let resolved: Vec<Option<String>> = cids
        .iter()
        .map(|id| {
            cid_url(id)
                .filter(|u| !has_script_url(&compact(u)))
                .map(|u| escape_attribute(&u))
        })
        .collect();
    let needle = format!(" src=\"{prefix}");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = rest.find(&needle) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + needle.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index: Option<usize> = after[..digits].parse().ok();
        match (
            index.and_then(|i| resolved.get(i)),
            after[digits..].starts_with('"'),
        ) {
            (Some(url), true) => {
                if let Some(url) = url {
                    out.push_str(" src=\"");
                    out.push_str(url);
                    out.push('"');
                }
                // No URL for this cid: the src attribute is dropped.
                rest = &after[digits + 1..];
            }
            _ => {
                // Not one of ours after all: keep the text as it was.
                out.push_str(&needle);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape_attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(ch),
        }
    }
    out
}
