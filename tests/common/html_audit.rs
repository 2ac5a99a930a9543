//! Checks on sanitized mail HTML, shared by the corpus tests (`tests/corpus_checks/`) and the
//! sanitizer fuzz target (`fuzz/fuzz_targets/sanitize.rs`, which includes this file by path).
//!
//! [`html_problems`] is the broad scan the corpus uses; [`broken_promises`] is the precise
//! promise of the sanitizer that the fuzzer asserts on any input: no script element, no
//! event-handler attribute, no script URL, and nothing the browser would load from elsewhere
//! by itself.

/// Up to ~60 bytes either side of `at`, on char boundaries.
pub fn snippet(s: &str, at: usize) -> String {
    let mut a = at.saturating_sub(60);
    while !s.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (at + 60).min(s.len());
    while !s.is_char_boundary(b) {
        b += 1;
    }
    format!("{:?}", &s[a..b])
}

/// `(?i)<[^>]*\son[a-z]+\s*=`, on lower-cased text: the first tag with an event-handler attribute.
pub fn handler_attr(lower: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(off) = lower[from..].find('<') {
        let s = from + off;
        let end = lower[s..].find('>').map_or(lower.len(), |e| s + e);
        let seg = &lower[s + 1..end];
        for (k, c) in seg.char_indices() {
            if !c.is_whitespace() {
                continue;
            }
            let Some(r) = seg[k + c.len_utf8()..].strip_prefix("on") else {
                continue;
            };
            let n = r.bytes().take_while(u8::is_ascii_lowercase).count();
            if n > 0 && r[n..].trim_start().starts_with('=') {
                return Some(s);
            }
        }
        from = s + 1;
    }
    None
}

pub struct Tag {
    pub name: String,
    pub start: usize,
    pub interior: String,
    pub attrs: Vec<(String, String)>,
}

/// A small tokenizer for serialized (sanitizer output) HTML: start tags and their attributes.
pub fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let len = b.len();
    let ws = |c: u8| c.is_ascii_whitespace();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = html[i..].find('<') {
        let s = i + off;
        if html[s..].starts_with("<!--") {
            i = html[s..].find("-->").map_or(len, |e| s + e + 3);
            continue;
        }
        let mut j = s + 1;
        if b.get(j) == Some(&b'/') {
            j += 1;
        }
        let name_start = j;
        while j < len && !(ws(b[j]) || b[j] == b'>' || b[j] == b'/') {
            j += 1;
        }
        let name = html[name_start..j].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while j < len && (ws(b[j]) || b[j] == b'/') {
                j += 1;
            }
            if j >= len || b[j] == b'>' {
                break;
            }
            let before = j;
            let an = j;
            while j < len && !(ws(b[j]) || b[j] == b'=' || b[j] == b'>' || b[j] == b'/') {
                j += 1;
            }
            let aname = html[an..j].to_ascii_lowercase();
            while j < len && ws(b[j]) {
                j += 1;
            }
            let mut val = String::new();
            if j < len && b[j] == b'=' {
                j += 1;
                while j < len && ws(b[j]) {
                    j += 1;
                }
                if j < len && (b[j] == b'"' || b[j] == b'\'') {
                    let q = b[j];
                    let vs = j + 1;
                    let ve = b[vs..].iter().position(|&c| c == q).map_or(len, |p| vs + p);
                    val = html[vs..ve].to_string();
                    j = (ve + 1).min(len);
                } else {
                    let vs = j;
                    while j < len && !ws(b[j]) && b[j] != b'>' {
                        j += 1;
                    }
                    val = html[vs..j].to_string();
                }
            }
            if !aname.is_empty() {
                attrs.push((aname, val));
            }
            if j == before {
                j += 1;
            }
        }
        let end = j.min(len);
        out.push(Tag {
            name,
            start: s,
            interior: html[s + 1..end].to_string(),
            attrs,
        });
        i = (j + 1).min(len);
        if i >= len {
            break;
        }
    }
    out
}

/// Decodes numeric character references and the named ones used to hide URL schemes.
pub fn decode_entities(s: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("colon", ':'),
        ("sol", '/'),
        ("bsol", '\\'),
        ("tab", '\t'),
        ("newline", '\n'),
        ("lpar", '('),
        ("rpar", ')'),
        ("period", '.'),
        ("comma", ','),
        ("num", '#'),
        ("percnt", '%'),
        ("commat", '@'),
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("nbsp", ' '),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("&#") {
            let (hex, digits) = match r.strip_prefix(['x', 'X']) {
                Some(d) => (true, d),
                None => (false, r),
            };
            let n = digits
                .bytes()
                .take_while(|c| {
                    if hex {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            if n > 0 {
                let v = u32::from_str_radix(&digits[..n], if hex { 16 } else { 10 })
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}');
                out.push(v);
                rest = &digits[n..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
                continue;
            }
        } else {
            let lower = rest[1..].to_ascii_lowercase();
            for (name, ch) in NAMED {
                if lower.starts_with(name) {
                    out.push(*ch);
                    rest = &rest[1 + name.len()..];
                    rest = rest.strip_prefix(';').unwrap_or(rest);
                    continue 'outer;
                }
            }
        }
        out.push('&');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

/// Lower case, without the whitespace and control characters browsers skip inside URLs.
pub fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Attributes whose value the browser loads by itself.
pub const LOAD_ATTRS: &[&str] = &[
    "src",
    "background",
    "poster",
    "lowsrc",
    "dynsrc",
    "srcset",
    "data",
    "codebase",
    "archive",
    "action",
    "formaction",
    "longdesc",
    "xlink:href",
    "ping",
];
/// Tags whose `href` is loaded (not a link the user clicks).
pub const HREF_LOAD_TAGS: &[&str] = &["image", "use", "feimage", "link", "base", "script"];
/// Words that mark the corpus's canary host, in any of its obfuscated forms.
pub const CANARY_MARKS: &[&str] = &[
    "127.0.0.1",
    "2130706433",
    "0x7f",
    "0177.",
    "%31%32%37",
    "canary-",
];

/// Why a URL in a load attribute is a remote load (None when it is inert or same-origin).
pub fn remote_load(value: &str, own_origins: &[String]) -> Option<&'static str> {
    let v = squash(&decode_entities(value));
    if v.is_empty() || v == "about:blank" || v.starts_with('#') {
        return None;
    }
    let rest = match own_origins.iter().find(|o| v.starts_with(o.as_str())) {
        Some(o) => &v[o.len() - 1..],
        None => v.as_str(),
    };
    if rest.starts_with("//")
        || rest.starts_with("\\\\")
        || rest.starts_with("/\\")
        || rest.starts_with("\\/")
    {
        return Some("protocol-relative URL");
    }
    if CANARY_MARKS.iter().any(|m| rest.contains(m)) {
        return Some("canary host (127.0.0.1:9 in some form)");
    }
    if let Some((scheme, _)) = rest.split_once(':') {
        let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if is_scheme {
            return match scheme {
                "cid" => None,
                "data" if rest.starts_with("data:image/") => None,
                "data" => Some("data: URL that is not an image"),
                _ => Some("absolute URL to another origin"),
            };
        }
    }
    None
}

/// Everything active or remote found in a sanitized `html` field (empty when it is inert).
///
/// Tag-shaped needles (`<script`, `<form`, …, the handler regex) are searched in the whole
/// string: a sanitizer's serializer escapes `<` in text, so any hit there is markup. Word needles
/// (`javascript:`, `url(`, `srcset`, …) are searched in the markup, i.e. inside tags, both as
/// written and with entities decoded and whitespace removed; they are not searched in text nodes,
/// which the corpus fills with inert descriptions such as "inline style background-image url()".
pub fn html_problems(html: &str, own_origins: &[String]) -> Vec<String> {
    let lower = html.to_lowercase();
    let mut p = Vec::new();
    for needle in [
        "<script", "<form", "<iframe", "<object", "<embed", "<base", "<meta", "<link", "<style",
    ] {
        if let Some(i) = lower.find(needle) {
            p.push(format!("html contains {needle:?}: {}", snippet(html, i)));
        }
    }
    if let Some(i) = handler_attr(&lower) {
        p.push(format!(
            "html has an on*= handler attribute: {}",
            snippet(html, i)
        ));
    }
    const WORDS: &[&str] = &[
        "javascript:",
        "vbscript:",
        "data:text/html",
        "url(",
        "@import",
        "srcset",
        "ping=",
        "expression(",
        "-moz-binding",
    ];
    for t in tags(html) {
        let raw = t.interior.to_lowercase();
        let decoded = squash(&decode_entities(&raw));
        for w in WORDS {
            if raw.contains(w) || decoded.contains(w) {
                p.push(format!(
                    "<{}> markup contains {w:?}: {}",
                    t.name,
                    snippet(html, t.start)
                ));
            }
        }
        for (name, value) in &t.attrs {
            if name.starts_with("on") && name.len() > 2 {
                p.push(format!(
                    "<{}> has handler attribute {name}: {}",
                    t.name,
                    snippet(html, t.start)
                ));
            }
            let loads = LOAD_ATTRS.contains(&name.as_str())
                || (name == "href" && HREF_LOAD_TAGS.contains(&t.name.as_str()));
            if loads {
                if let Some(why) = remote_load(value, own_origins) {
                    p.push(format!(
                        "<{} {name}={value:?}>: remote load ({why})",
                        t.name
                    ));
                }
            }
        }
    }
    p.dedup();
    p
}

/// Elements the sanitizer never lets through: they run script, embed or load other documents,
/// submit, or restyle the page.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "link", "base", "meta",
    "form", "style", "svg", "math", "template", "portal",
];

/// Attributes that may carry a URL.
const URL_ATTRS: &[&str] = &[
    "href",
    "src",
    "srcset",
    "action",
    "formaction",
    "xlink:href",
    "background",
    "poster",
    "data",
    "codebase",
    "cite",
    "longdesc",
    "lowsrc",
    "dynsrc",
    "ping",
];

/// Why `value` is a URL to another origin that a browser would fetch, read precisely: what
/// starts with `//` or names a scheme other than `cid:`/`data:image/`, and is not on one of
/// `own_origins`. A path without a scheme is same-origin.
pub fn remote_url(value: &str, own_origins: &[String]) -> Option<String> {
    let v = squash(&decode_entities(value));
    if own_origins.iter().any(|o| v.starts_with(o.as_str())) {
        return None;
    }
    if ["//", "\\\\", "/\\", "\\/"]
        .iter()
        .any(|p| v.starts_with(p))
    {
        return Some(format!("protocol-relative URL {v:?}"));
    }
    let (scheme, _) = v.split_once(':')?;
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let inert = scheme == "cid" || v.starts_with("data:image/") && !v.starts_with("data:image/svg");
    (is_scheme && !inert).then(|| format!("URL with scheme {scheme:?}: {v:?}"))
}

/// Every broken promise in sanitized HTML (empty when it keeps them all): a forbidden element,
/// an `on*` handler, a `javascript:`/`vbscript:`/`data:text/html` URL in a URL attribute, a
/// remote URL in an attribute that loads by itself, or a CSS value that can load or run
/// something (`url(`, `expression(`, …: outside such a function CSS text is no URL). Reads start tags only: the sanitizer's serializer escapes `<` in text.
pub fn broken_promises(html: &str, own_origins: &[String]) -> Vec<String> {
    let mut p = Vec::new();
    for t in tags(html) {
        if FORBIDDEN_TAGS.contains(&t.name.as_str()) {
            p.push(format!("<{}> element: {}", t.name, snippet(html, t.start)));
        }
        for (name, value) in &t.attrs {
            let v = squash(&decode_entities(value));
            if name.starts_with("on") && name.len() > 2 {
                p.push(format!(
                    "<{} {name}> handler: {}",
                    t.name,
                    snippet(html, t.start)
                ));
            }
            // Only URL attributes hold URLs: `id` or `title` text that spells a scheme is inert,
            // and in CSS a URL only loads inside a function such as url() (checked below).
            for scheme in ["javascript:", "vbscript:", "data:text/html"] {
                if v.contains(scheme) && URL_ATTRS.contains(&name.as_str()) {
                    p.push(format!("<{} {name}={value:?}>: {scheme} URL", t.name));
                }
            }
            // A link (`<a href>`) loads only when clicked, and opens outside the frame.
            let loads = URL_ATTRS.contains(&name.as_str()) && !(name == "href" && t.name == "a");
            if name == "style" {
                for css in [
                    "url(",
                    "image(",
                    "@import",
                    "expression(",
                    "binding",
                    "behavior",
                ] {
                    if v.contains(css) {
                        p.push(format!("<{} style={value:?}>: {css}", t.name));
                    }
                }
            } else if loads {
                if let Some(why) = remote_url(value, own_origins) {
                    p.push(format!("<{} {name}=…>: loads a remote {why}", t.name));
                }
            }
        }
    }
    p
}
