//! Mail HTML made safe to render: the one ammonia policy of the engine.
//!
//! Owned by the MIME/sanitizer work; the signatures below are the contract the rest of the
//! engine codes against.
//!
//! Three stages, one file each:
//! 1. `tokenizer.rs` ([`preflatten`]): a linear scanner that re-emits the HTML in a canonical
//!    form ammonia's parser cannot read differently, drops comments and every element whose
//!    content is raw text or foreign (script, style, iframe, textarea, title, svg, math,
//!    template…), and caps nesting depth and attributes per tag. html5ever's tree builder is
//!    quadratic in nesting depth (50,000 nested divs take ~18 s), so this is what bounds the
//!    time.
//! 2. `policy.rs`: ammonia with an allow-list of mail formatting tags and attributes. Its
//!    attribute filter is the single authority for URLs (links, images, `cid:`) and, through
//!    `css.rs`, inline CSS. The filter must be `'static`, so each call builds its policy around
//!    that call's own context (what is allowed, what was blocked, which `cid:`s were seen).
//! 3. `cid.rs`: `cid:` images get their attachment URL from the caller. The filter cannot call
//!    the caller's (non-`'static`) closure, so it leaves an unguessable placeholder that one
//!    linear pass replaces.
//!
//! The result is meant for a sandboxed `<iframe srcdoc>` without `allow-scripts`; the policy
//! still removes all script so that nothing depends on the sandbox alone.

mod cid;
mod context;
mod css;
mod policy;
mod tokenizer;
mod urls;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::mime::floor_char_boundary;
use cid::CidPlaceholders;
use context::FilterContext;

pub use tokenizer::preflatten;

/// Longest HTML input sanitized, in bytes; the rest is cut on a character boundary.
pub const MAX_HTML_BYTES: usize = 2 * 1024 * 1024;
/// Deepest element nesting passed to the HTML parser; deeper tags are dropped (text kept).
pub const MAX_DEPTH: usize = 256;
/// Most elements passed to the HTML parser; later start tags are dropped (text kept).
/// ammonia costs about 2-5 µs per element, so this bounds the time on huge but shallow
/// HTML; real newsletters have a few thousand elements.
pub const MAX_ELEMENTS: usize = 50_000;
/// Most attributes kept on one tag; the rest are dropped before parsing.
pub const MAX_ATTRIBUTES_PER_TAG: usize = 100;
/// Longest inline `style` attribute considered, in bytes; longer ones are removed.
pub const MAX_STYLE_BYTES: usize = 16 * 1024;
/// Most declarations kept from one `style` attribute.
pub const MAX_STYLE_DECLARATIONS: usize = 100;
/// Most `cid:` images rewritten per message; further ones lose their `src`.
pub const MAX_CID_REFERENCES: usize = 1000;
/// Prefix given to element ids (and to `#fragment` links) so mail cannot reuse app ids.
pub const ID_PREFIX: &str = "mailiy-";

/// How to sanitize one message's HTML.
pub struct SanitizeOptions<'a> {
    /// Keep remote images and CSS URLs (the user asked to load them).
    pub allow_remote: bool,
    /// Maps a `cid:` reference (without the `cid:` prefix) to the attachment's URL.
    pub cid_url: &'a dyn Fn(&str) -> Option<String>,
}

/// The result: HTML safe to put in a sandboxed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The sanitized HTML fragment.
    pub html: String,
    /// True when something remote was removed because `allow_remote` was off.
    pub remote_content_blocked: bool,
}

/// The sanitizer: its allow-lists are built once, by whoever holds it (the engine keeps one),
/// and shared by every call.
pub struct Sanitizer {
    lists: policy::AllowLists,
}

impl Default for Sanitizer {
    fn default() -> Self {
        Sanitizer::new()
    }
}

impl Sanitizer {
    pub fn new() -> Sanitizer {
        Sanitizer {
            lists: policy::AllowLists::new(),
        }
    }

    /// Sanitizes mail HTML. Bounded in time and memory whatever the input.
    pub fn sanitize(&self, html: &str, opts: &SanitizeOptions<'_>) -> Sanitized {
        let cut = &html[..floor_char_boundary(html, MAX_HTML_BYTES)];
        let flat = preflatten(cut);

        let ctx = Arc::new(FilterContext::new(
            opts.allow_remote,
            CidPlaceholders::new(html.len()),
        ));
        // The policy (and with it the filter's hold on `ctx`) lives for this one `clean`.
        let cleaned = policy::builder(&self.lists, Arc::clone(&ctx))
            .clean(&flat)
            .to_string();

        Sanitized {
            html: ctx.cids.resolve(&cleaned, opts.cid_url),
            remote_content_blocked: ctx.blocked(),
        }
    }
}
