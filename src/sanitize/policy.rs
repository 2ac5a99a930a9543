//! Stage 2: the ammonia policy. Allow-lists of tags and attributes, and the attribute filter
//! that is the single judge of URLs (links, images, `cid:`) and hands `style` to [`super::css`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ammonia::{Builder, UrlRelative};

use super::context::FilterContext;
use super::css::{filter_style, STYLE_PROPERTIES};
use super::urls::{compact, has_script_url, looks_remote};
use super::ID_PREFIX;

/// Tags kept (without their unknown attributes). Everything else is unwrapped: the tag
/// goes, its text stays, except for [`REMOVED_WITH_CONTENT`].
pub(super) const TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "article",
    "aside",
    "b",
    "bdi",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "main",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "section",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Elements removed together with everything inside them.
const REMOVED_WITH_CONTENT: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "noscript",
    "noembed",
    "noframes",
    "template",
    "svg",
    "math",
    "title",
    "textarea",
    "select",
    "option",
    "xmp",
    "plaintext",
    "canvas",
    "audio",
    "video",
    "head",
];

/// Attributes allowed on every kept tag (URL-bearing ones are only there so the filter can
/// notice blocked remote content; the filter always removes them).
const GENERIC_ATTRIBUTES: &[&str] = &[
    "align",
    "valign",
    "width",
    "height",
    "bgcolor",
    "color",
    "border",
    "dir",
    "lang",
    "title",
    "class",
    "style",
    "id",
    "nowrap",
    "background",
];

/// Attributes allowed on particular tags.
const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "ping"]),
    (
        "img",
        &[
            "src", "alt", "hspace", "vspace", "srcset", "lowsrc", "dynsrc", "longdesc",
        ],
    ),
    (
        "table",
        &["cellpadding", "cellspacing", "summary", "frame", "rules"],
    ),
    ("td", &["colspan", "rowspan", "headers", "abbr", "scope"]),
    ("th", &["colspan", "rowspan", "headers", "abbr", "scope"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("font", &["face", "size"]),
    ("ol", &["start", "type", "reversed"]),
    ("ul", &["type"]),
    ("li", &["type", "value"]),
    ("hr", &["size", "noshade"]),
    ("br", &["clear"]),
    ("time", &["datetime"]),
    ("details", &["open"]),
];

/// URL schemes ammonia lets through to the attribute filter, which decides per attribute.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "cid", "data"];

/// The allow-lists as ammonia takes them, hashed once per [`super::Sanitizer`]: a builder is
/// made per call (below) and cloning these costs a memcpy, where hashing them again costs
/// ~30 µs, more than sanitizing a small message. Immutable once built.
pub(super) struct AllowLists {
    tags: HashSet<&'static str>,
    removed_with_content: HashSet<&'static str>,
    generic_attributes: HashSet<&'static str>,
    tag_attributes: HashMap<&'static str, HashSet<&'static str>>,
    url_schemes: HashSet<&'static str>,
    style_properties: HashSet<&'static str>,
}

impl AllowLists {
    pub(super) fn new() -> AllowLists {
        AllowLists {
            tags: TAGS.iter().copied().collect(),
            removed_with_content: REMOVED_WITH_CONTENT.iter().copied().collect(),
            generic_attributes: GENERIC_ATTRIBUTES.iter().copied().collect(),
            tag_attributes: TAG_ATTRIBUTES
                .iter()
                .map(|(t, a)| (*t, a.iter().copied().collect()))
                .collect(),
            url_schemes: URL_SCHEMES.iter().copied().collect(),
            style_properties: STYLE_PROPERTIES.iter().copied().collect(),
        }
    }
}

/// The policy for one `clean`, its attribute filter holding that call's context.
///
/// Built per call because ammonia's filter must be `'static` and can be set only once per
/// builder, so the context cannot be handed to a shared builder.
pub(super) fn builder(lists: &AllowLists, ctx: Arc<FilterContext>) -> Builder<'static> {
    let mut b = Builder::empty();
    b.tags(lists.tags.clone())
        .clean_content_tags(lists.removed_with_content.clone())
        .generic_attributes(lists.generic_attributes.clone())
        .tag_attributes(lists.tag_attributes.clone())
        .url_schemes(lists.url_schemes.clone())
        // Relative URLs reach the filter, which keeps only `#fragment` links; `//host`
        // is relative to the url crate, so the filter must see it to block it.
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .id_prefix(Some(ID_PREFIX))
        .strip_comments(true)
        .filter_style_properties(lists.style_properties.clone())
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(&ctx, element, attribute, value)
        });
    b
}

/// The single place where attribute values are judged. `None` removes the attribute.
fn filter_attribute<'u>(
    ctx: &FilterContext,
    element: &str,
    attribute: &str,
    value: &'u str,
) -> Option<Cow<'u, str>> {
    // ammonia also shows us attributes of elements it is about to remove (`<link href>`):
    // they must not count as blocked remote content, and need no work.
    if TAGS.binary_search(&element).is_err() {
        return None;
    }
    let c = compact(value);
    match attribute {
        "href" if element == "a" => filter_href(value, &c),
        "src" if element == "img" => filter_img_src(ctx, value, &c),
        // Never kept: these load or leak without a user action and have no safe form.
        "srcset" | "background" | "lowsrc" | "dynsrc" | "longdesc" | "ping" | "href" | "src" => {
            if !ctx.allow_remote() && looks_remote(&c) {
                ctx.note_blocked();
            }
            None
        }
        "style" => filter_style(ctx, value).map(Cow::Owned),
        "id" => {
            let ok = value.len() <= 256 && !value.contains(['<', '>', '"', '\'']);
            ok.then_some(Cow::Borrowed(value))
        }
        "target" | "rel" => Some(Cow::Borrowed(value)),
        // Plain text attributes: a value that reads like markup or a script URL is useless
        // in mail and only ever an attack (mXSS shapes, scanners grepping for `javascript:`).
        _ => {
            if value.contains(['<', '>']) || has_script_url(&c) || value.len() > 4096 {
                None
            } else {
                Some(Cow::Borrowed(value))
            }
        }
    }
}

fn filter_href<'u>(value: &'u str, c: &str) -> Option<Cow<'u, str>> {
    if has_script_url(c) {
        return None;
    }
    let trimmed = value.trim_matches(|ch: char| ch.is_ascii_whitespace() || ch.is_control());
    if let Some(fragment) = trimmed.strip_prefix('#') {
        // Ids got ID_PREFIX, so same-document links must point at the prefixed id.
        return Some(Cow::Owned(format!("#{ID_PREFIX}{fragment}")));
    }
    if c.starts_with("http://") || c.starts_with("https://") {
        // Re-serialized by the URL parser: canonical, percent-encoded, no stray quotes.
        return ammonia::Url::parse(trimmed)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| Cow::Owned(u.to_string()));
    }
    if c.starts_with("mailto:") || c.starts_with("tel:") {
        return Some(Cow::Borrowed(trimmed));
    }
    None
}

fn filter_img_src<'u>(ctx: &FilterContext, value: &'u str, c: &str) -> Option<Cow<'u, str>> {
    let trimmed = value.trim_matches(|ch: char| ch.is_ascii_whitespace() || ch.is_control());
    if c.starts_with("cid:") {
        let id = trimmed
            .get(4..)
            .map(crate::mime::percent_decode)
            .unwrap_or_default();
        return ctx.cids.placeholder(id).map(Cow::Owned);
    }
    if let Some(rest) = [
        "data:image/png;base64,",
        "data:image/gif;base64,",
        "data:image/jpeg;base64,",
        "data:image/jpg;base64,",
        "data:image/webp;base64,",
    ]
    .iter()
    .find_map(|p| c.strip_prefix(p).map(|rest| (p, rest)))
    {
        let (prefix, payload) = rest;
        // Inline image bytes are not remote; anything but plain base64 is refused.
        if payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            let original_payload: String = trimmed
                .chars()
                .filter(|ch| !ch.is_ascii_whitespace())
                .skip(prefix.len())
                .collect();
            return Some(Cow::Owned(format!("{prefix}{original_payload}")));
        }
        return None;
    }
    let remote = c.starts_with("http://") || c.starts_with("https://") || c.starts_with("//");
    if !remote {
        // Relative paths would resolve against the app's own origin: never useful.
        return None;
    }
    if !ctx.allow_remote() {
        ctx.note_blocked();
        return None;
    }
    let absolute = if c.starts_with("//") {
        Cow::Owned(format!("https:{trimmed}"))
    } else {
        Cow::Borrowed(trimmed)
    };
    ammonia::Url::parse(&absolute)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| Cow::Owned(u.to_string()))
}
