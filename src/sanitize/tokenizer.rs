//! Stage 1: the pre-flattening scanner. It re-emits the HTML in a canonical form
//! html5ever cannot read differently, and bounds what the parser gets (depth, elements,
//! attributes), since the tree builder is quadratic in nesting depth.

use std::collections::HashMap;

use super::{MAX_ATTRIBUTES_PER_TAG, MAX_DEPTH, MAX_ELEMENTS};

/// Void elements: never pushed on the scanner's stack.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "image"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
            | "basefont"
            | "bgsound"
            | "frame"
    )
}

/// Elements whose content the tokenizer reads as text, or that switch to foreign content:
/// dropped with their content, so the parser never enters those states.
fn is_dropped_with_content(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "xmp"
            | "iframe"
            | "noembed"
            | "noframes"
            | "noscript"
            | "textarea"
            | "title"
            | "svg"
            | "math"
            | "template"
    )
}

fn is_formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

fn is_scope_boundary(name: &str) -> bool {
    matches!(
        name,
        "applet" | "caption" | "html" | "table" | "td" | "th" | "marquee" | "object" | "template"
    )
}

fn is_table_closer(name: &str) -> bool {
    matches!(
        name,
        "table" | "tbody" | "thead" | "tfoot" | "tr" | "td" | "th" | "caption" | "colgroup"
    )
}

/// Block elements whose end tag pops everything above them up to a scope boundary.
fn is_block_closer(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "button"
            | "center"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "header"
            | "hgroup"
            | "listing"
            | "main"
            | "menu"
            | "nav"
            | "ol"
            | "pre"
            | "section"
            | "summary"
            | "ul"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "dd"
            | "dt"
            | "p"
    )
}

/// Elements the HTML parser's "special" category stops generic end tags at.
fn is_special(name: &str) -> bool {
    is_block_closer(name)
        || is_scope_boundary(name)
        || is_void(name)
        || matches!(
            name,
            "body"
                | "head"
                | "colgroup"
                | "tbody"
                | "thead"
                | "tfoot"
                | "tr"
                | "select"
                | "plaintext"
                | "frameset"
                | "search"
        )
        || is_dropped_with_content(name)
}

/// Tags a start tag of `new` implicitly closes when they are the current element.
fn implicitly_closed_by(new: &str, open: &str) -> bool {
    match open {
        "p" => is_block_closer(new) || matches!(new, "hr" | "table"),
        "li" => new == "li",
        "dd" | "dt" => matches!(new, "dd" | "dt"),
        "td" | "th" => matches!(new, "td" | "th" | "tr" | "tbody" | "thead" | "tfoot"),
        "tr" => matches!(new, "tr" | "tbody" | "thead" | "tfoot"),
        "tbody" | "thead" | "tfoot" => matches!(new, "tbody" | "thead" | "tfoot"),
        "option" => matches!(new, "option" | "optgroup"),
        _ => false,
    }
}

/// Whether an end tag `</closing>` may be taken to close the open element `crossed` on its
/// way to a matching element lower on the stack. Conservative: when the real parser might
/// keep `crossed` open (or reopen it, as it does formatting elements), the answer is no,
/// so the scanner's depth never undercounts the parser's.
fn can_cross(closing: &str, crossed: &str, in_cell: bool) -> bool {
    if is_table_closer(closing) {
        !matches!(
            crossed,
            "table" | "template" | "html" | "applet" | "object" | "marquee"
        ) && (in_cell || !is_formatting(crossed))
    } else if is_block_closer(closing) {
        let list_scope = closing == "li" && matches!(crossed, "ol" | "ul");
        let button_scope = closing == "p" && crossed == "button";
        !(is_scope_boundary(crossed) || is_formatting(crossed) || list_scope || button_scope)
    } else {
        !is_special(crossed) && !is_formatting(crossed)
    }
}

/// One parsed tag.
struct Tag<'a> {
    name: String,
    self_closing: bool,
    attrs: Vec<(String, &'a str)>,
}

/// Re-emits `html` so that html5ever's tokenizer sees exactly the tags counted here.
///
/// Text is copied with `<` escaped; tags are rewritten as `<name attr="value">` with
/// lowercase names and `"`/`<` escaped in values (entities are left as written, so values
/// decode as before); comments, doctypes, processing instructions and bogus comments are
/// dropped; elements whose content would be raw text or foreign are dropped with their
/// content. Nesting deeper than [`MAX_DEPTH`] is flattened (those tags are dropped, their
/// text kept), at most [`MAX_ELEMENTS`] tags are kept, and tags keep at most
/// [`MAX_ATTRIBUTES_PER_TAG`] attributes. Linear time,
/// up to a factor of [`MAX_DEPTH`] for end-tag matching.
pub fn preflatten(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut stack: Vec<String> = Vec::new();
    // Start tags dropped for depth, per name, so their end tags are dropped too.
    let mut excess: HashMap<String, usize> = HashMap::new();
    let mut elements = 0usize;
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        out.push_str(&html[text_start..i]);
        let next = b.get(i + 1).copied();
        match next {
            Some(c) if c.is_ascii_alphabetic() => {
                let (tag, end) = read_tag(html, i + 1, false);
                i = end;
                if let Some(tag) = tag {
                    if is_dropped_with_content(&tag.name) {
                        if !tag.self_closing || !matches!(tag.name.as_str(), "svg" | "math") {
                            i = skip_element_content(html, i, &tag.name);
                        }
                    } else {
                        emit_start(&mut out, tag, &mut stack, &mut excess, &mut elements);
                    }
                }
            }
            Some(b'/') => match b.get(i + 2).copied() {
                Some(c) if c.is_ascii_alphabetic() => {
                    let (tag, end) = read_tag(html, i + 2, true);
                    i = end;
                    if let Some(tag) = tag {
                        emit_end(&mut out, &tag.name, &mut stack, &mut excess);
                    }
                }
                Some(b'>') => i += 3,
                _ => i = skip_past_gt(b, i + 2),
            },
            Some(b'!') => {
                i = if b[i..].starts_with(b"<!--") {
                    skip_comment(b, i + 4)
                } else {
                    skip_past_gt(b, i + 2)
                };
            }
            Some(b'?') => i = skip_past_gt(b, i + 2),
            _ => {
                out.push_str("&lt;");
                i += 1;
            }
        }
        text_start = i;
    }
    out.push_str(&html[text_start.min(html.len())..]);
    out
}

fn emit_start(
    out: &mut String,
    tag: Tag<'_>,
    stack: &mut Vec<String>,
    excess: &mut HashMap<String, usize>,
    elements: &mut usize,
) {
    if matches!(tag.name.as_str(), "html" | "head" | "body" | "plaintext") {
        // Document-level wrappers add nothing to a fragment; plaintext would turn the rest
        // of the mail into raw text, so its content is simply read as markup instead.
        return;
    }
    while stack
        .last()
        .is_some_and(|open| implicitly_closed_by(&tag.name, open))
    {
        stack.pop();
    }
    let void = is_void(&tag.name);
    if *elements >= MAX_ELEMENTS || (!void && stack.len() >= MAX_DEPTH) {
        if !void {
            *excess.entry(tag.name).or_insert(0) += 1;
        }
        return;
    }
    *elements += 1;
    if !void {
        stack.push(tag.name.clone());
    }
    out.push('<');
    out.push_str(&tag.name);
    for (name, value) in &tag.attrs {
        out.push(' ');
        out.push_str(name);
        out.push_str("=\"");
        for ch in value.chars() {
            match ch {
                '"' => out.push_str("&quot;"),
                '<' => out.push_str("&lt;"),
                _ => out.push(ch),
            }
        }
        out.push('"');
    }
    if tag.self_closing {
        out.push_str(" /");
    }
    out.push('>');
}

fn emit_end(
    out: &mut String,
    name: &str,
    stack: &mut Vec<String>,
    excess: &mut HashMap<String, usize>,
) {
    if matches!(name, "html" | "head" | "body" | "plaintext") {
        return;
    }
    if let Some(n) = excess.get_mut(name) {
        if *n > 0 && stack.last().is_none_or(|t| t != name) {
            *n -= 1;
            return;
        }
    }
    if name == "br" {
        // The parser reads `</br>` as `<br>`.
        out.push_str("<br>");
        return;
    }
    if let Some(pos) = stack.iter().rposition(|open| open == name) {
        let mut in_cell = matches!(name, "td" | "th" | "caption");
        let crossable = stack[pos + 1..].iter().all(|crossed| {
            let ok = can_cross(name, crossed, in_cell);
            in_cell |= matches!(crossed.as_str(), "td" | "th" | "caption");
            ok
        });
        if crossable {
            stack.truncate(pos);
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Reads a tag starting at its name (`start` is just after `<` or `</`), following the
/// HTML tokenizer's tag states. Returns the tag (or `None` if it is unusable or cut off by
/// the end of input) and the index just after it.
fn read_tag(html: &str, start: usize, end_tag: bool) -> (Option<Tag<'_>>, usize) {
    let b = html.as_bytes();
    let is_ws = |c: u8| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let mut i = start;
    while i < b.len() && !is_ws(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let raw_name = &html[start..i];
    let name = raw_name.to_ascii_lowercase();
    let name_ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    let mut attrs: Vec<(String, &str)> = Vec::new();
    let mut self_closing = false;
    loop {
        // Before attribute name.
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return (None, b.len());
        }
        match b[i] {
            b'>' => {
                i += 1;
                break;
            }
            b'/' => {
                i += 1;
                if b.get(i) == Some(&b'>') {
                    self_closing = true;
                    i += 1;
                    break;
                }
                continue;
            }
            _ => {}
        }
        // Attribute name: the first character may be '=' (a parse error, kept as a name).
        let name_start = i;
        i += 1;
        while i < b.len() && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        let attr_name = html[name_start..i].to_ascii_lowercase();
        while i < b.len() && is_ws(b[i]) {
            i += 1;
        }
        let mut value: &str = "";
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && is_ws(b[i]) {
                i += 1;
            }
            match b.get(i) {
                None => return (None, b.len()),
                Some(&q @ (b'"' | b'\'')) => {
                    let vstart = i + 1;
                    match b[vstart..].iter().position(|&c| c == q) {
                        Some(len) => {
                            value = &html[vstart..vstart + len];
                            i = vstart + len + 1;
                        }
                        None => return (None, b.len()),
                    }
                }
                Some(b'>') => {}
                Some(_) => {
                    let vstart = i;
                    while i < b.len() && !is_ws(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    value = &html[vstart..i];
                }
            }
        }
        let attr_ok = !attr_name.is_empty()
            && attr_name.len() <= 64
            && attr_name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.'));
        if !end_tag && attr_ok {
            // The tokenizer keeps the first of duplicate attributes.
            if attrs.len() < MAX_ATTRIBUTES_PER_TAG && !attrs.iter().any(|(n, _)| *n == attr_name) {
                attrs.push((attr_name, value));
            }
        }
    }
    let tag = name_ok.then_some(Tag {
        name,
        self_closing,
        attrs,
    });
    (tag, i)
}

/// Index just after the end of an element dropped with its content (`i` is just after
/// its start tag). Raw-text elements end at the first `</name`; svg, math and template
/// end at their matching end tag, counting nested ones. Unclosed: the rest of the input.
fn skip_element_content(html: &str, i: usize, name: &str) -> usize {
    let b = html.as_bytes();
    let nests = matches!(name, "svg" | "math" | "template");
    let mut depth = 1usize;
    let mut j = i;
    while j < b.len() {
        if b[j] != b'<' {
            j += 1;
            continue;
        }
        let is_end = b.get(j + 1) == Some(&b'/');
        let name_at = if is_end { j + 2 } else { j + 1 };
        let matches_name = b.len() >= name_at + name.len()
            && b[name_at..name_at + name.len()].eq_ignore_ascii_case(name.as_bytes())
            && b.get(name_at + name.len())
                .is_none_or(|&c| matches!(c, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'));
        if !matches_name {
            if nests && b[j..].starts_with(b"<!--") {
                j = skip_comment(b, j + 4);
            } else {
                j += 1;
            }
            continue;
        }
        let (tag, end) = read_tag(html, name_at, is_end);
        j = end;
        if is_end {
            depth -= 1;
            if depth == 0 || !nests {
                return j;
            }
        } else if nests && !tag.is_some_and(|t| t.self_closing) {
            depth += 1;
        }
    }
    b.len()
}

/// Index after a comment whose `<!--` ended at `i`: `-->`, `--!>`, or the abrupt `<!-->`
/// and `<!--->` forms; the end of input if unterminated.
fn skip_comment(b: &[u8], i: usize) -> usize {
    if b[i..].starts_with(b">") {
        return i + 1;
    }
    if b[i..].starts_with(b"->") {
        return i + 2;
    }
    let mut j = i;
    while j + 2 < b.len() {
        if b[j] == b'-' && b[j + 1] == b'-' {
            if b[j + 2] == b'>' {
                return j + 3;
            }
            if b[j + 2] == b'!' && b.get(j + 3) == Some(&b'>') {
                return j + 4;
            }
        }
        j += 1;
    }
    b.len()
}

fn skip_past_gt(b: &[u8], i: usize) -> usize {
    b[i.min(b.len())..]
        .iter()
        .position(|&c| c == b'>')
        .map_or(b.len(), |p| i + p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflatten_canonicalizes() {
        assert_eq!(
            preflatten(
                "<!-- c --><DIV Class='a\"b' class=x>1 < 2<!--x--!>3</DIV><?pi?><!doctype html>"
            ),
            "<div class=\"a&quot;b\">1 &lt; 23</div>"
        );
        assert_eq!(
            preflatten("a<script>x</p></script >b<svg><svg></svg><p>c</svg>d"),
            "abd"
        );
        assert_eq!(preflatten("<p a=1 a=2 b>x"), "<p a=\"1\" b=\"\">x");
        assert_eq!(preflatten("<div title='unterminated"), "");
    }

    #[test]
    fn depth_and_attributes_are_capped() {
        let deep = "<div>".repeat(10_000) + "x" + &"</div>".repeat(10_000);
        let flat = preflatten(&deep);
        assert_eq!(flat.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(flat.matches("</div>").count(), MAX_DEPTH);
        let wide = format!(
            "<p {}>x</p>",
            (0..5000)
                .map(|i| format!("a{i}=x"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            preflatten(&wide).matches("=\"x\"").count(),
            MAX_ATTRIBUTES_PER_TAG
        );
    }
}
