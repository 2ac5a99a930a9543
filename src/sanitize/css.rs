//! The inline CSS filter: `style` attributes keep only allow-listed declarations whose
//! values cannot load anything or escape the frame.

use super::context::FilterContext;
use super::urls::{compact, looks_remote};
use super::{MAX_STYLE_BYTES, MAX_STYLE_DECLARATIONS};

/// CSS properties kept in `style` attributes. None of them can load a URL on its own;
/// values are checked separately (see [`filter_style`]).
pub(super) const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "background",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "font-variant",
    "font-stretch",
    "text-align",
    "text-decoration",
    "text-decoration-color",
    "text-decoration-line",
    "text-decoration-style",
    "text-indent",
    "text-transform",
    "text-overflow",
    "text-shadow",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "word-break",
    "word-wrap",
    "overflow-wrap",
    "white-space",
    "vertical-align",
    "direction",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-top-color",
    "border-right-color",
    "border-bottom-color",
    "border-left-color",
    "border-top-style",
    "border-right-style",
    "border-bottom-style",
    "border-left-style",
    "border-top-width",
    "border-right-width",
    "border-bottom-width",
    "border-left-width",
    "border-radius",
    "border-top-left-radius",
    "border-top-right-radius",
    "border-bottom-left-radius",
    "border-bottom-right-radius",
    "border-collapse",
    "border-spacing",
    "width",
    "height",
    "min-width",
    "max-width",
    "min-height",
    "max-height",
    "display",
    "list-style-type",
    "list-style-position",
    "table-layout",
    "caption-side",
    "empty-cells",
    "opacity",
    "float",
    "clear",
    "overflow",
    "overflow-x",
    "overflow-y",
    "visibility",
    "box-sizing",
    "position",
    "outline",
    "outline-color",
    "outline-style",
    "outline-width",
    "box-shadow",
];

/// Keeps allow-listed declarations whose values cannot load anything or escape the frame.
/// Returns `None` when nothing is left.
pub(super) fn filter_style(ctx: &FilterContext, style: &str) -> Option<String> {
    // Escapes can spell any keyword (`u\72l(`), so a style with one is not worth reading.
    if style.len() > MAX_STYLE_BYTES || style.contains('\\') {
        return None;
    }
    let style = strip_css_comments(style);
    let mut out = String::new();
    let mut kept = 0;
    for decl in split_declarations(&style)
        .into_iter()
        .take(MAX_STYLE_DECLARATIONS * 4)
    {
        let Some((name, value)) = decl.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        if value.is_empty() || !STYLE_PROPERTIES.contains(&name.as_str()) {
            continue;
        }
        let v = compact(value);
        let loads = [
            "url(",
            "image(",
            "image-set(",
            "cross-fade(",
            "element(",
            "paint(",
        ];
        if loads.iter().any(|p| v.contains(p)) {
            if !ctx.allow_remote() && looks_remote(&v) {
                ctx.note_blocked();
            }
            continue;
        }
        let dangerous = [
            "expression(",
            "@import",
            "javascript:",
            "vbscript:",
            "behavior",
            "binding",
            "var(",
            "env(",
            "attr(",
            "<",
            ">",
        ];
        if dangerous.iter().any(|p| v.contains(p)) {
            continue;
        }
        // Overlays that could sit over (or pretend to be) the app's own UI.
        if name == "position" && !matches!(v.trim_end_matches("!important"), "static" | "relative")
        {
            continue;
        }
        out.push_str(&name);
        out.push(':');
        out.push_str(value);
        out.push(';');
        kept += 1;
        if kept >= MAX_STYLE_DECLARATIONS {
            break;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn strip_css_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            // An unterminated comment runs to the end, as in CSS.
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Splits on `;` outside quotes and parentheses.
fn split_declarations(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut start = 0;
    for (i, ch) in s.char_indices() {
        match (quote, ch) {
            (Some(q), _) if ch == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ';') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}
