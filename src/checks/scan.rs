//! The HTML check's scanner: one pass over the original HTML that names the caniemail
//! features it uses (elements, attributes, image formats, and in `<style>` and `style=""` the
//! CSS properties, values, selectors and at-rules), with the offset of each use.
//!
//! It builds no tree: it reads tags, attributes and style text left to right, so its work is
//! linear in the input, and it stops at the caller's bounds (tags read, time).

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Instant;

use super::caniemail::CANIEMAIL;

/// What one scan found: slug -> offsets of its uses, in order.
#[derive(Debug, Default)]
pub struct Uses {
    pub by_slug: HashMap<String, Vec<usize>>,
    /// `src` of each `<img>` and each `background` attribute, in order (at most [`MAX_IMAGES`]), for the link check.
    pub images: Vec<String>,
    /// Start tags read.
    pub nodes: usize,
    /// Why the scan stopped early, when it did.
    pub stopped: Option<String>,
}

/// Image URLs kept per scan: past the link check's own cap, and bounded memory.
pub const MAX_IMAGES: usize = 10_000;

/// Bounds of one scan.
pub struct Bounds {
    pub max_nodes: usize,
    pub deadline: Instant,
}

/// The `<img src>` URLs of `html`, within the HTML check's bounds.
pub fn images(html: &str, cfg: &crate::check_config::HtmlCheckConfig) -> Vec<String> {
    let bounds = Bounds {
        max_nodes: cfg.max_nodes,
        deadline: Instant::now() + cfg.timeout,
    };
    scan(cut(html, cfg.max_bytes), &bounds).images
}

/// `html` cut to at most `max` bytes, on a character boundary.
pub fn cut(html: &str, max: usize) -> &str {
    let mut end = html.len().min(max);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    &html[..end]
}

/// Scans `html` (already cut to the size cap by the caller).
pub fn scan(html: &str, bounds: &Bounds) -> Uses {
    let mut s = Scanner {
        src: html,
        uses: Uses::default(),
        bounds,
    };
    s.run();
    s.uses
}

struct Scanner<'a> {
    src: &'a str,
    uses: Uses,
    bounds: &'a Bounds,
}

/// Elements whose content is text up to their end tag, not markup.
const RAW_TEXT: &[&str] = &["script", "textarea", "title", "xmp", "style"];

impl<'a> Scanner<'a> {
    fn hit(&mut self, slug: &str, at: usize) {
        if CANIEMAIL.feature(slug).is_none() {
            return;
        }
        match self.uses.by_slug.get_mut(slug) {
            Some(v) => v.push(at),
            None => {
                self.uses.by_slug.insert(slug.to_string(), vec![at]);
            }
        }
    }

    fn run(&mut self) {
        let b = self.src.as_bytes();
        let mut pos = 0;
        while let Some(rel) = memchr(b'<', &b[pos..]) {
            let at = pos + rel;
            let rest = &b[at..];
            if rest.starts_with(b"<!--") {
                self.hit("html-comments", at);
                pos = find(b, b"-->", at + 4).map_or(b.len(), |e| e + 3);
            } else if starts_with_ci(rest, b"<!doctype") {
                self.hit("html-doctype", at);
                pos = skip_past(b, b'>', at);
            } else if rest.starts_with(b"</") || rest.starts_with(b"<!") || rest.starts_with(b"<?")
            {
                pos = skip_past(b, b'>', at);
            } else if rest.len() > 1 && rest[1].is_ascii_alphabetic() {
                if let Some(why) = self.over_budget() {
                    self.uses.stopped = Some(why);
                    return;
                }
                pos = self.tag(at);
            } else {
                pos = at + 1;
            }
        }
    }

    fn over_budget(&self) -> Option<String> {
        if self.uses.nodes >= self.bounds.max_nodes {
            return Some(format!(
                "stopped after {} tags (--html-check-max-nodes)",
                self.uses.nodes
            ));
        }
        // A clock read per 64 tags keeps the check cheap and still on time.
        if self.uses.nodes.is_multiple_of(64) && Instant::now() >= self.bounds.deadline {
            return Some(format!(
                "stopped after {} tags: the check's time was up (--html-check-timeout-ms)",
                self.uses.nodes
            ));
        }
        None
    }

    /// Reads the start tag at `at`; returns where scanning goes on.
    fn tag(&mut self, at: usize) -> usize {
        let b = self.src.as_bytes();
        let mut i = at + 1;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
            i += 1;
        }
        let name = self.src[at + 1..i].to_ascii_lowercase();
        let mut attrs: Vec<(String, &'a str, usize)> = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let name_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            // A stray '=' or quote where a name should be: step over it.
            if i == name_start {
                i += 1;
                continue;
            }
            let attr = self.src[name_start..i].to_ascii_lowercase();
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            let mut value = "";
            let mut value_at = name_start;
            if j < b.len() && b[j] == b'=' {
                j += 1;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
                    let q = b[j];
                    let end = memchr(q, &b[j + 1..]).map_or(b.len(), |e| j + 1 + e);
                    value = &self.src[j + 1..end];
                    value_at = j + 1;
                    i = (end + 1).min(b.len());
                } else {
                    let start = j;
                    while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' {
                        j += 1;
                    }
                    value = &self.src[start..j];
                    value_at = start;
                    i = j;
                }
            }
            attrs.push((attr, value, value_at));
        }
        self.uses.nodes += 1;
        self.element(&name, &attrs, at);
        for (attr, value, value_at) in &attrs {
            self.attribute(&name, attr, value, *value_at, at);
        }
        if RAW_TEXT.contains(&name.as_str()) {
            let close = format!("</{name}");
            let end = find_ci(b, close.as_bytes(), i).unwrap_or(b.len());
            if name == "style" {
                self.stylesheet(i, end);
            }
            return end;
        }
        i
    }

    fn element(&mut self, name: &str, attrs: &[(String, &str, usize)], at: usize) {
        let attr = |n: &str| {
            attrs
                .iter()
                .find(|(a, _, _)| a == n)
                .map(|(_, v, _)| v.trim().to_ascii_lowercase())
        };
        let slug = match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => "html-h1-h6",
            "ul" | "ol" | "li" | "dl" | "dt" | "dd" => "html-lists",
            "map" | "area" => "html-image-maps",
            "table" | "tr" | "td" | "th" | "thead" | "tbody" | "tfoot" | "caption" => "html-table",
            "article" | "aside" | "details" | "figcaption" | "figure" | "footer" | "header"
            | "main" | "mark" | "nav" | "section" | "summary" | "time" => "html-semantics",
            "b" => "html-strong",
            "s" => "html-strike",
            "input" => {
                let kind = attr("type").unwrap_or_else(|| "text".into());
                return self.hit(&format!("html-input-{kind}"), at);
            }
            "button" => {
                let kind = attr("type").unwrap_or_else(|| "submit".into());
                return self.hit(&format!("html-button-{kind}"), at);
            }
            "meta" => {
                if attr("name").as_deref() == Some("color-scheme") {
                    self.hit("html-meta-color-scheme", at);
                }
                return;
            }
            other => {
                // Every other element caniemail names is `html-<element>`.
                return self.hit(&format!("html-{other}"), at);
            }
        };
        self.hit(slug, at);
    }

    fn attribute(&mut self, element: &str, attr: &str, value: &str, value_at: usize, at: usize) {
        match attr {
            "style" => return self.declarations(value_at, value_at + value.len()),
            "href" if element == "a" => {
                let v = value.trim_start();
                if v.starts_with('#') {
                    self.hit("html-anchor-links", at);
                } else if v.len() >= 7 && v[..7].eq_ignore_ascii_case("mailto:") {
                    self.hit("html-mailto-links", at);
                }
                return;
            }
            "src" if element == "img" => {
                if self.uses.images.len() < MAX_IMAGES {
                    self.uses.images.push(value.trim().to_string());
                }
                return self.image(value, at);
            }
            "inert" => return self.hit("css-inert-attribute", at),
            // `<td background=…>` loads an image as `<img src>` does.
            "background" if self.uses.images.len() < MAX_IMAGES => {
                self.uses.images.push(value.trim().to_string());
            }
            "type" | "name" | "class" | "id" | "href" | "src" | "alt" | "title" | "content" => {
                return
            }
            _ => {}
        }
        if attr.starts_with("aria-")
            || matches!(
                attr,
                "align"
                    | "background"
                    | "cellpadding"
                    | "cellspacing"
                    | "dir"
                    | "height"
                    | "width"
                    | "hidden"
                    | "lang"
                    | "required"
                    | "role"
                    | "srcset"
                    | "target"
                    | "valign"
                    | "popover"
            )
        {
            self.hit(&format!("html-{attr}"), at);
        } else if attr == "loading" {
            self.hit("html-loading-attribute", at);
        }
    }

    fn image(&mut self, src: &str, at: usize) {
        let src = src.trim();
        let format = if let Some(data) = src.strip_prefix("data:") {
            self.hit("image-base64", at);
            let mime = data.split([';', ',']).next().unwrap_or("");
            mime.strip_prefix("image/")
                .unwrap_or("")
                .to_ascii_lowercase()
        } else {
            let path = src.split(['?', '#']).next().unwrap_or("");
            match path.rsplit_once('.') {
                Some((_, ext)) if !ext.contains('/') => ext.to_ascii_lowercase(),
                _ => return,
            }
        };
        let slug = match format.as_str() {
            "jpeg" | "jpg" | "pjpeg" => "image-jpg",
            "svg+xml" | "svg" => "image-svg",
            "tif" | "tiff" => "image-tiff",
            "heic" | "heif" => "image-heif",
            "x-icon" | "vnd.microsoft.icon" | "ico" => "image-ico",
            other => return self.hit(&format!("image-{other}"), at),
        };
        self.hit(slug, at);
    }

    /// A `<style>` element's text: rules, at-rules and their declarations.
    fn stylesheet(&mut self, start: usize, end: usize) {
        let css = self.without_comments(start, end);
        let b = css.as_bytes();
        let mut seg = 0;
        for i in 0..b.len() {
            match b[i] {
                b'{' => {
                    // `decl; decl; selector {` (nesting): the part after the last `;` leads the block.
                    let text = &css[seg..i];
                    let (decls, prelude_at) = match text.rfind(';') {
                        Some(k) => (Some(seg..seg + k), seg + k + 1),
                        None => (None, seg),
                    };
                    if let Some(r) = decls {
                        self.declarations_in(&css, start, r.start, r.end);
                    }
                    let prelude = &css[prelude_at..i];
                    let lead = prelude.len() - prelude.trim_start().len();
                    let p_at = start + prelude_at + lead;
                    if prelude.trim_start().starts_with('@') {
                        self.at_rule(prelude.trim(), p_at);
                    } else {
                        self.selector(prelude.trim(), p_at);
                    }
                    seg = i + 1;
                }
                b'}' => {
                    self.declarations_in(&css, start, seg, i);
                    seg = i + 1;
                }
                b';' if css[seg..i].trim_start().starts_with('@') => {
                    let text = &css[seg..i];
                    let lead = text.len() - text.trim_start().len();
                    self.at_rule(text.trim(), start + seg + lead);
                    seg = i + 1;
                }
                _ => {}
            }
        }
    }

    /// The style text from `start` to `end` with each comment blanked (offsets kept).
    fn without_comments(&mut self, start: usize, end: usize) -> String {
        let text = &self.src[start..end];
        if !text.contains("/*") {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut offset = start;
        while let Some(open) = rest.find("/*") {
            self.hit("css-comments", offset + open);
            out.push_str(&rest[..open]);
            let close = rest[open + 2..]
                .find("*/")
                .map_or(rest.len(), |c| open + 2 + c + 2);
            out.extend(std::iter::repeat_n(' ', close - open));
            offset += close;
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }

    fn declarations(&mut self, start: usize, end: usize) {
        let css = self.without_comments(start, end);
        self.declarations_in(&css, start, 0, css.len());
    }

    /// Declarations `prop: value; …` in `css[from..to]`; `base` is `css`'s offset in the HTML.
    fn declarations_in(&mut self, css: &str, base: usize, from: usize, to: usize) {
        let mut at = from;
        for decl in css[from..to].split(';') {
            let here = base + at;
            at += decl.len() + 1;
            let Some((prop, value)) = decl.split_once(':') else {
                continue;
            };
            let prop = prop.trim().to_ascii_lowercase();
            if prop.is_empty() {
                continue;
            }
            let lead = decl.len() - decl.trim_start().len();
            let here = here + lead;
            self.property(&prop, here);
            self.value(&prop, &value.to_ascii_lowercase(), here);
        }
    }

    fn property(&mut self, prop: &str, at: usize) {
        if prop.starts_with("--") {
            return self.hit("css-variables", at);
        }
        let bare = unprefixed(prop);
        if let Some(slug) = PROPERTIES.get(bare) {
            let slug = slug.clone();
            self.hit(&slug, at);
        }
    }

    fn value(&mut self, prop: &str, value: &str, at: usize) {
        if value.contains("!important") {
            self.hit("css-important", at);
        }
        let value = value.replace("!important", "");
        let v = value.trim();
        if unprefixed(prop) == "display" {
            match unprefixed(v) {
                "flex" | "inline-flex" => self.hit("css-display-flex", at),
                "grid" | "inline-grid" => self.hit("css-display-grid", at),
                "none" => self.hit("css-display-none", at),
                _ => {}
            }
        }
        let b = v.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'#' {
                // A hex colour: its digits and letters are no number with a unit.
                i += 1;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            } else if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            {
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let u = i;
                while i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'%') {
                    i += 1;
                }
                let unit = &v[u..i];
                if unit == "%" {
                    self.hit("css-unit-percent", at);
                } else if !unit.is_empty() {
                    self.hit(&format!("css-unit-{unit}"), at);
                }
            } else if c.is_ascii_alphabetic() || c == b'-' {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
                    i += 1;
                }
                let word = &v[s..i];
                if b.get(i) == Some(&b'(') {
                    self.function(unprefixed(word), at);
                } else if word == "system-ui" {
                    self.hit("css-sytem-ui", at);
                } else if word == "initial" {
                    self.hit("css-unit-initial", at);
                }
            } else {
                i += 1;
            }
        }
    }

    fn function(&mut self, name: &str, at: usize) {
        let slug = match name {
            "linear-gradient" | "repeating-linear-gradient" => "css-linear-gradient",
            "radial-gradient" | "repeating-radial-gradient" => "css-radial-gradient",
            "conic-gradient" | "repeating-conic-gradient" => "css-conic-gradient",
            "calc" => "css-unit-calc",
            "var" => "css-variables",
            "rgb" => "css-rgb",
            "rgba" => "css-rgba",
            other => return self.hit(&format!("css-function-{other}"), at),
        };
        self.hit(slug, at);
    }

    fn selector(&mut self, sel: &str, at: usize) {
        let b = sel.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b':' => {
                    let element = b.get(i + 1) == Some(&b':');
                    i += if element { 2 } else { 1 };
                    let s = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
                        i += 1;
                    }
                    let name = sel[s..i].to_ascii_lowercase();
                    let class = format!("css-pseudo-class-{name}");
                    let elem = format!("css-pseudo-element-{name}");
                    // `:before` is the old spelling of `::before`.
                    if element || CANIEMAIL.feature(&class).is_none() {
                        self.hit(&elem, at);
                    } else {
                        self.hit(&class, at);
                    }
                    continue;
                }
                b'[' => self.hit("css-selector-attribute", at),
                b'>' => self.hit("css-selector-child", at),
                b'+' => self.hit("css-selector-adjacent-sibling", at),
                b'~' => self.hit("css-selector-general-sibling", at),
                b',' => self.hit("css-selector-grouping", at),
                b'*' => self.hit("css-selector-universal", at),
                b'.' if b
                    .get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c == b'-') =>
                {
                    self.hit("css-selector-class", at)
                }
                b'#' => self.hit("css-selector-id", at),
                _ => {}
            }
            i += 1;
        }
    }

    fn at_rule(&mut self, rule: &str, at: usize) {
        let lower = rule.to_ascii_lowercase();
        let name: String = lower[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let name = unprefixed(&name);
        self.hit(&format!("css-at-{name}"), at);
        if name == "media" {
            for (needle, slug) in [
                ("prefers-color-scheme", "css-at-media-prefers-color-scheme"),
                (
                    "prefers-reduced-motion",
                    "css-at-media-prefers-reduced-motion",
                ),
                ("orientation", "css-at-media-orientation"),
                ("hover", "css-at-media-hover"),
                ("device-pixel-ratio", "css-at-media-device-pixel-ratio"),
                ("resolution", "css-at-media-device-pixel-ratio"),
            ] {
                if lower.contains(needle) {
                    self.hit(slug, at);
                }
            }
        }
    }
}

/// CSS property name -> slug: `css-<property>` where caniemail has one, else the feature whose
/// keywords list the property (`margin-left` -> `css-margin`).
static PROPERTIES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    let grouped = |slug: &str| {
        [
            "css-display-",
            "css-unit-",
            "css-function-",
            "css-pseudo-",
            "css-selector-",
            "css-at-",
        ]
        .iter()
        .any(|p| slug.starts_with(p))
    };
    let css = || {
        CANIEMAIL
            .data
            .data
            .iter()
            .filter(|f| f.category == "css" && !grouped(&f.slug))
    };
    for f in css() {
        if let Some(p) = f.slug.strip_prefix("css-") {
            map.insert(p.to_string(), f.slug.clone());
        }
    }
    for f in css() {
        for kw in f
            .keywords
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
        {
            if !kw.is_empty() && kw.bytes().all(|c| c.is_ascii_lowercase() || c == b'-') {
                map.entry(kw.to_string()).or_insert_with(|| f.slug.clone());
            }
        }
    }
    map
});

/// `-webkit-transform` -> `transform`.
fn unprefixed(name: &str) -> &str {
    for p in ["-webkit-", "-moz-", "-ms-", "-o-"] {
        if let Some(rest) = name.strip_prefix(p) {
            return rest;
        }
    }
    name
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == needle)
}

fn skip_past(b: &[u8], needle: u8, from: usize) -> usize {
    memchr(needle, &b[from..]).map_or(b.len(), |e| from + e + 1)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn find_ci(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn uses(html: &str) -> Vec<String> {
        let bounds = Bounds {
            max_nodes: 10_000,
            deadline: Instant::now() + Duration::from_secs(5),
        };
        let mut v: Vec<String> = scan(html, &bounds).by_slug.into_keys().collect();
        v.sort();
        v
    }

    #[test]
    fn finds_elements_attributes_and_css() {
        let html = r#"<!DOCTYPE html><html><head><style>
            /* note */ @media (prefers-color-scheme: dark) { .a:hover > b { display: flex; margin-left: 2rem } }
            </style></head><body><div style="background: linear-gradient(red, blue); color: #fe3a2b !important">
            <img src="x.webp" width="3"><a href="mailto:x@y">m</a></div></body></html>"#;
        let u = uses(html);
        for slug in [
            "html-doctype",
            "html-style",
            "css-comments",
            "css-at-media",
            "css-at-media-prefers-color-scheme",
            "css-pseudo-class-hover",
            "css-selector-child",
            "css-selector-class",
            "css-display-flex",
            "css-display",
            "css-margin",
            "css-unit-rem",
            "css-linear-gradient",
            "css-important",
            "html-div",
            "html-img",
            "image-webp",
            "html-width",
            "html-mailto-links",
            "html-body",
        ] {
            assert!(u.contains(&slug.to_string()), "{slug} missing from {u:?}");
        }
        // A hex colour is no unit, and a plain `color` is no caniemail feature.
        assert!(!u.iter().any(|s| s == "css-unit-a" || s == "css-unit-b"));
    }

    #[test]
    fn script_and_comment_text_is_not_markup() {
        let u = uses("<script>if (a<b) { '<video>' }</script><!-- <audio> -->");
        assert!(!u.contains(&"html-video".to_string()));
        assert!(!u.contains(&"html-audio".to_string()));
        assert!(u.contains(&"html-comments".to_string()));
    }

    #[test]
    fn stops_at_the_node_cap() {
        let bounds = Bounds {
            max_nodes: 10,
            deadline: Instant::now() + Duration::from_secs(5),
        };
        let u = scan(&"<p>".repeat(1000), &bounds);
        assert_eq!(u.nodes, 10);
        assert!(u.stopped.unwrap().contains("--html-check-max-nodes"));
    }
}
