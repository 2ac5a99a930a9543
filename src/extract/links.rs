//! Links a test can follow: `href`s of `<a>`/`<area>` in the HTML, then bare URLs in the
//! text, deduplicated in order of first appearance.

use std::collections::HashSet;

use super::entities::decode_entities;

/// Stop collecting links after this many; a mail with more is not a
/// verification mail and callers only look at the first few.
const MAX_LINKS: usize = 1000;

/// Every http(s) link in the message, in order of first appearance, deduplicated.
pub fn links(text: Option<&str>, html: Option<&str>) -> Vec<String> {
    let mut acc = LinkSet::default();
    if let Some(h) = html {
        html_hrefs(h, &mut acc);
    }
    if let Some(t) = text {
        bare_urls(t, &mut acc);
    }
    acc.list
}

#[derive(Default)]
struct LinkSet {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl LinkSet {
    fn full(&self) -> bool {
        self.list.len() >= MAX_LINKS
    }

    fn push(&mut self, url: &str) {
        if !self.full() && !self.seen.contains(url) {
            self.seen.insert(url.to_string());
            self.list.push(url.to_string());
        }
    }
}

/// `http://` or `https://` (any case) followed by at least one character.
fn is_http(url: &str) -> bool {
    let b = url.as_bytes();
    let scheme_len = if starts_with_ci(b, b"https://") {
        8
    } else if starts_with_ci(b, b"http://") {
        7
    } else {
        return false;
    };
    b.len() > scheme_len
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// A small tag tokenizer rather than a regex: it walks every tag once (so a
/// quoted `<` inside another tag's attribute cannot fake a tag) and only ever
/// moves forward, which keeps 5 MB of pathological HTML linear.
fn html_hrefs(h: &str, acc: &mut LinkSet) {
    let b = h.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n && !acc.full() {
        let Some(off) = b[i..].iter().position(|&c| c == b'<') else {
            break;
        };
        i += off + 1;
        if b[i..].starts_with(b"!--") {
            // Links inside comments are not clickable; skip the whole comment.
            match find_bytes(&b[i + 3..], b"-->") {
                Some(e) => i += 3 + e + 3,
                None => break,
            }
            continue;
        }
        let name_start = i;
        while i < n && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let name = &b[name_start..i];
        if name.is_empty() {
            continue; // closing tag, doctype, stray '<'
        }
        let wants_href = name.eq_ignore_ascii_case(b"a") || name.eq_ignore_ascii_case(b"area");
        let mut got_href = false;
        // Attributes until '>' (or end of input).
        loop {
            while i < n && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= n {
                break;
            }
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let an_start = i;
            while i < n && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
                i += 1;
            }
            if i == an_start {
                i += 1; // a lone '=' — step over it so we always progress
                continue;
            }
            let attr = &b[an_start..i];
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= n || b[i] != b'=' {
                continue; // attribute without a value
            }
            i += 1;
            while i < n && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let (vs, ve) = if i < n && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = b[vs..].iter().position(|&c| c == q).map_or(n, |p| vs + p);
                i = (ve + 1).min(n);
                (vs, ve)
            } else {
                let vs = i;
                while i < n && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                (vs, i)
            };
            // Browsers use the first href only.
            if wants_href && !got_href && attr.eq_ignore_ascii_case(b"href") {
                got_href = true;
                // vs/ve sit next to ASCII bytes, so they are char boundaries.
                if let Some(raw) = h.get(vs..ve) {
                    let url = clean_href(&decode_entities(raw));
                    if is_http(&url) {
                        acc.push(&url);
                    }
                }
            }
        }
    }
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Browsers strip surrounding whitespace and drop tabs/newlines inside URLs.
fn clean_href(s: &str) -> String {
    s.trim_matches(|c: char| c.is_ascii_whitespace() || c.is_ascii_control())
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

fn bare_urls(t: &str, acc: &mut LinkSet) {
    let b = t.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n && !acc.full() {
        let Some(off) = b[i..].iter().position(|&c| c == b'h' || c == b'H') else {
            break;
        };
        let p = i + off;
        let rest = &b[p..];
        let is_scheme = starts_with_ci(rest, b"http://") || starts_with_ci(rest, b"https://");
        // "xhttp://" is not a URL start; a word boundary is.
        if !is_scheme || (p > 0 && b[p - 1].is_ascii_alphanumeric()) {
            i = p + 1;
            continue;
        }
        let mut end = p;
        while end < n {
            let c = b[end];
            if c.is_ascii() {
                // Byte fast path: debug builds must still chew 5 MB quickly.
                if c.is_ascii_whitespace()
                    || c.is_ascii_control()
                    || matches!(c, b'<' | b'>' | b'"')
                {
                    break;
                }
                end += 1;
            } else {
                match t[end..].chars().next() {
                    Some(ch) if !ch.is_whitespace() && !ch.is_control() => end += ch.len_utf8(),
                    _ => break,
                }
            }
        }
        let url = trim_url_tail(&t[p..end]);
        if is_http(url) {
            acc.push(url);
        }
        i = end.max(p + 1);
    }
}

/// Sentence punctuation after a URL is not part of it, but a closing bracket
/// that balances an opening one inside the URL is (Wikipedia-style paths).
fn trim_url_tail(url: &str) -> &str {
    // Opens minus closes for each bracket kind, counted in one pass.
    let (mut paren, mut square, mut curly, mut quotes) = (0isize, 0isize, 0isize, 0usize);
    for b in url.bytes() {
        match b {
            b'(' => paren += 1,
            b')' => paren -= 1,
            b'[' => square += 1,
            b']' => square -= 1,
            b'{' => curly += 1,
            b'}' => curly -= 1,
            b'\'' => quotes += 1,
            _ => {}
        }
    }
    let bytes = url.as_bytes();
    let mut end = bytes.len();
    while end > 0 {
        let strip = match bytes[end - 1] {
            b'.' | b',' | b';' | b':' | b'!' | b'?' => true,
            b')' => bump_if_unbalanced(&mut paren),
            b']' => bump_if_unbalanced(&mut square),
            b'}' => bump_if_unbalanced(&mut curly),
            b'\'' if quotes % 2 == 1 => {
                quotes -= 1;
                true
            }
            _ => false,
        };
        if !strip {
            break;
        }
        end -= 1;
    }
    // Only ASCII bytes were stripped, so `end` is a char boundary.
    &url[..end]
}

/// `balance` is opens minus closes; a closer is stray when closes exceed opens.
fn bump_if_unbalanced(balance: &mut isize) -> bool {
    if *balance < 0 {
        *balance += 1;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn html_hrefs_order_entities_dedupe() {
        let html = r#"<p><A HREF="https://x.test/a?x=1&amp;y=2">A</A>
            <a class=btn href='https://x.test/b'>B</a>
            <map><area shape=rect href=https://x.test/c alt=c></map>
            <a href="https://x.test/a?x=1&amp;y=2">dup</a>
            <link rel=stylesheet href="https://x.test/style.css">
            <abbr href="https://x.test/abbr">no</abbr>
            <a href="mailto:a@x.test">m</a> <a href="javascript:alert(1)">j</a>
            <a href="java&#115;cript&colon;alert(1)">j2</a>
            <a href="data:text/html,hi">d</a> <a href="/relative">r</a>
            <img alt="<a href='https://x.test/fake'>">
            <!-- <a href="https://x.test/hidden"> -->
            <a data-x="1" href = " HTTPS://X.test/d?q=&#x41;&#66; " href="https://x.test/second">d</a>"#;
        assert_eq!(
            links(None, Some(html)),
            s(&[
                "https://x.test/a?x=1&y=2",
                "https://x.test/b",
                "https://x.test/c",
                "HTTPS://X.test/d?q=AB",
            ])
        );
    }

    #[test]
    fn bare_urls_trailing_punctuation() {
        let text = "see https://x.test/a). Also (https://x.test/b) and \
            https://en.wikipedia.org/wiki/Rust_(programming_language). 'https://x.test/c' \
            <https://x.test/d> \"https://x.test/e\" https://x.test/f?q=1, HTTP://X.TEST/G! \
            [link](https://x.test/h) https:// alone, xhttps://x.test/no mailto:a@x.test \
            https://x.test/a";
        assert_eq!(
            links(Some(text), None),
            s(&[
                "https://x.test/a",
                "https://x.test/b",
                "https://en.wikipedia.org/wiki/Rust_(programming_language)",
                "https://x.test/c",
                "https://x.test/d",
                "https://x.test/e",
                "https://x.test/f?q=1",
                "HTTP://X.TEST/G",
                "https://x.test/h",
            ])
        );
    }

    #[test]
    fn html_first_then_text_only() {
        let html = r#"<a href="https://x.test/b">b</a><a href="https://x.test/a">a</a>"#;
        let text = "https://x.test/a https://x.test/c https://x.test/b";
        assert_eq!(
            links(Some(text), Some(html)),
            s(&["https://x.test/b", "https://x.test/a", "https://x.test/c"])
        );
        assert!(links(None, None).is_empty());
    }

    #[test]
    fn links_capped() {
        let text: String = (0..1500).map(|i| format!("https://x.test/{i} ")).collect();
        let got = links(Some(&text), None);
        assert_eq!(got.len(), MAX_LINKS);
        assert_eq!(got[999], "https://x.test/999");
    }

    #[test]
    fn links_linear_on_5mb() {
        let cases = [
            (None, Some("<a href=\"".repeat(600_000))),
            (None, Some("<a x=1 ".repeat(700_000))),
            (None, Some("<!--".repeat(1_300_000))),
            (
                Some(format!("https://x.test/{}", ")".repeat(5_000_000))),
                None,
            ),
            (Some("https://x ".repeat(500_000)), None),
            (Some("hhttp:/".repeat(700_000)), None),
        ];
        // Not a speed test (benches measure speed): a quadratic scan of 5 MB would run for
        // hours, so a bound this loose only fails on a complexity blow-up, even on a busy
        // machine in a debug build.
        for (text, html) in cases {
            let t = Instant::now();
            let _ = links(text.as_deref(), html.as_deref());
            assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
        }
    }
}
