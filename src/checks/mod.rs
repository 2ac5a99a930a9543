//! Message checks a developer runs before real readers see a mail: will its HTML render
//! ([`html`], against the vendored caniemail data), do its links answer (`links`), what does
//! SpamAssassin make of it (`spam`). Each gives its own result type, and [`mailpit`] renders
//! each in Mailpit's JSON shapes for the Mailpit-compatible routes.
//!
//! `html` is pure (floor 1); `links` and `spam` reach out over the network and run only when a
//! user asks (floor 4, like sync's client).

pub mod caniemail;
pub mod html;
pub mod links;
pub mod mailpit;
mod scan;
pub mod spam;

use crate::check_config::{HtmlCheckConfig, LinkCheckConfig};

/// The HTML check of a stored message's original HTML part. Blocking (parsing): run it on the
/// blocking pool.
pub fn html_check(raw: &[u8], cfg: &HtmlCheckConfig) -> html::HtmlCheck {
    match crate::mime::parse(raw).html {
        Some(h) => html::check(&h, cfg),
        None => html::HtmlCheck::without_html(),
    }
}

/// The link check of a stored message: its links and images. Blocking (parsing, then HTTP on
/// a few threads): run it on the blocking pool.
pub fn link_check(
    raw: &[u8],
    html_cfg: &HtmlCheckConfig,
    cfg: &LinkCheckConfig,
) -> links::LinkCheck {
    let parsed = crate::mime::parse(raw);
    let images = parsed
        .html
        .as_deref()
        .map(|h| scan::images(h, html_cfg))
        .unwrap_or_default();
    let urls = links::urls_of(parsed.text.as_deref(), parsed.html.as_deref(), &images);
    links::check(urls, cfg)
}
