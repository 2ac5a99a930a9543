//! Pulls the two things a test suite wants out of a verification mail: the
//! links it can follow (sign-up / magic-login URLs) and the one-time codes it
//! can type. Both scans are linear and bounded so a hostile or huge message
//! cannot stall the inbox.
//!
//! Code detection is heuristic: numbers are only reported when they sit near a
//! keyword ("code", "verify", "OTP", "Bestätigungscode", "验证码", ...), sit on a
//! line of their own in a mail that mentions such a keyword, or have Google's
//! self-describing `G-123456` shape. Dates, times, phone numbers, prices,
//! postal addresses, URLs, colours, versions and percentages are filtered out
//! by shape and by the words around them.

use std::collections::HashSet;

/// Stop collecting links after this many; a mail with more is not a
/// verification mail and callers only look at the first few.
const MAX_LINKS: usize = 1000;
/// Codes are always near the top of a mail; the tail is footers and tracking.
const MAX_CODE_SCAN: usize = 100 * 1024;
/// Subjects are short; anything longer is garbage we need not scan.
const MAX_SUBJECT_SCAN: usize = 2 * 1024;
const MAX_CODES: usize = 5;

// ---------------------------------------------------------------------------
// links
// ---------------------------------------------------------------------------

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

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        // Entity names are short; a bounded look-ahead keeps this linear.
        let semi = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(k, _)| k);
        match semi.and_then(|e| decode_entity(&after[..e]).map(|c| (e, c))) {
            Some((e, c)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let v = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        return char::from_u32(v).filter(|&c| c != '\0');
    }
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "sol" => '/',
        "colon" => ':',
        "equals" => '=',
        "quest" => '?',
        "num" => '#',
        "percnt" => '%',
        "period" => '.',
        "lpar" => '(',
        "rpar" => ')',
        _ => return None,
    })
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

// ---------------------------------------------------------------------------
// codes
// ---------------------------------------------------------------------------

/// One-time codes found in the subject and the text, best guess first, deduplicated.
pub fn codes(subject: &str, text: Option<&str>) -> Vec<String> {
    let subject = bounded(subject, MAX_SUBJECT_SCAN);
    let body = bounded(text.unwrap_or(""), MAX_CODE_SCAN);
    let subj = Segment::new(subject);
    let text = Segment::new(body);
    let any_kw = subj.any_kw || text.any_kw;

    let mut found = Vec::new();
    subj.candidates(true, any_kw, 0, &mut found);
    text.candidates(false, any_kw, subject.len() + 1, &mut found);

    found.sort_by(|a, b| b.score.cmp(&a.score).then(a.pos.cmp(&b.pos)));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in found {
        if out.len() == MAX_CODES {
            break;
        }
        if seen.insert(c.value.clone()) {
            out.push(c.value);
        }
    }
    out
}

/// Prefix of at most `max` bytes, cut back to whitespace so the last token
/// is never a truncated number that could look like a code.
fn bounded(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &s[..end];
    match cut.rfind(char::is_whitespace) {
        Some(ws) => &cut[..ws],
        None => cut,
    }
}

struct Keyword {
    pat: &'static str,
    /// Short words ("pin", "otp") must end at a word boundary ("pink").
    whole: bool,
}

const fn kw(pat: &'static str) -> Keyword {
    Keyword { pat, whole: false }
}

const fn kw_whole(pat: &'static str) -> Keyword {
    Keyword { pat, whole: true }
}

/// Lower-case stems; all but the CJK ones must start at a word boundary so
/// "zipcode"/"postcode" do not count as "code".
const KEYWORDS: &[Keyword] = &[
    kw("code"),
    kw("passcode"),
    kw("verif"),
    kw("vérif"),
    kw("one-time"),
    kw("one time"),
    kw("onetime"),
    kw("confirm"),
    kw("login"),
    kw("log in"),
    kw("log-in"),
    kw("sign in"),
    kw("sign-in"),
    kw("signin"),
    kw("authenticat"),
    kw("token"),
    kw("is:"),
    kw("código"),
    kw("codigo"),
    kw("codice"),
    kw("bestätig"),
    kw("sicherheitscode"),
    kw("zugangscode"),
    kw("anmelde"),
    kw("einmal"),
    kw("kod"),
    kw("код"),
    kw_whole("pin"),
    kw_whole("otp"),
    kw_whole("2fa"),
    kw_whole("mfa"),
    kw_whole("tan"),
    kw("验证码"),
    kw("驗證碼"),
    kw("校验码"),
    kw("动态码"),
    kw("認証コード"),
    kw("確認コード"),
    kw("인증"),
];

/// "zip code", "promo code", "area code": a code, but not a one-time one.
const NOT_OTP_CODE: &[&str] = &[
    "zip", "postal", "post", "area", "country", "dial", "promo", "coupon", "discount", "voucher",
    "gift", "referral", "source", "qr", "bar", "dress", "sort", "swift", "tax", "colour", "color",
    "hex",
];

/// Whether the word just before a "code" keyword (text before it is `before`)
/// is one of NOT_OTP_CODE. Looks back a few bytes only, to stay linear.
fn labels_other_code(before: &str) -> bool {
    let mut from = before.len().saturating_sub(24);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let tail = before[from..].trim_end_matches(|c: char| c.is_whitespace() || c == '-');
    let word = tail
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    NOT_OTP_CODE.contains(&word)
}

/// Words right before a number that say it is an identifier, not a code.
const ANTI: &[&str] = &[
    "order",
    "invoice",
    "account",
    "acct",
    "ref",
    "reference",
    "ticket",
    "case",
    "tracking",
    "customer",
    "member",
    "membership",
    "booking",
    "reservation",
    "id",
    "no",
    "nr",
    "#",
    "box",
    "suite",
    "ste",
    "apt",
    "unit",
    "floor",
    "zip",
    "postal",
    "postcode",
    "plz",
    "tel",
    "phone",
    "fax",
    "call",
    "mobile",
    "page",
    "flight",
    "gate",
    "seat",
    "room",
    "color",
    "colour",
    "hex",
    "version",
    "build",
    "model",
    "serial",
    "sku",
    "item",
    "product",
    "part",
    "iban",
    "routing",
    "ext",
];

/// Promotional codes are codes, but not the one-time kind a test wants.
const MARKETING: &[&str] = &[
    "promo",
    "promotional",
    "coupon",
    "discount",
    "voucher",
    "gutschein",
    "rabatt",
    "gift",
    "referral",
    "cupón",
    "cupon",
];

const CURRENCY: &[&str] = &[
    "$", "€", "£", "¥", "₹", "us$", "usd", "eur", "gbp", "jpy", "cny", "rmb", "inr", "cad", "aud",
    "chf", "sek", "nok", "dkk", "pln", "brl", "mxn", "dollar", "dollars", "euro", "euros",
    "pounds", "yen", "rupees",
];

const UNITS: &[&str] = &[
    "%",
    "percent",
    "km",
    "mi",
    "kg",
    "lb",
    "lbs",
    "mb",
    "gb",
    "kb",
    "tb",
    "px",
    "ms",
    "sec",
    "seconds",
    "minutes",
    "mins",
    "hours",
    "hrs",
    "days",
    "users",
    "people",
    "members",
    "subscribers",
    "followers",
    "customers",
    "items",
    "points",
    "pts",
    "miles",
    "steps",
    "views",
    "likes",
    "downloads",
    "words",
    "characters",
    "reviews",
    "products",
    "times",
];

/// Words that may stand between a keyword and its code ("code is 2026").
const LINKING: &[&str] = &[
    "", "is", "ist", "lautet", "es", "est", "è", "é", "är", "er", "-", "–", "—", "=",
];

/// Street-type words; a number in the same clause is a house number or a zip.
const STREET: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "parkway",
    "pkwy",
    "boulevard",
    "blvd",
    "drive",
    "dr",
    "lane",
    "ln",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "highway",
    "hwy",
    "plaza",
    "terrace",
    "suite",
    "ste",
    "floor",
    "str",
    "allee",
    "weg",
    "platz",
    "rue",
    "avenida",
    "calle",
    "via",
];
const STREET_SUFFIX: &[&str] = &["straße", "strasse", "gasse", "allee", "platz"];

/// Symbols glued in front of a number that make it a price, reference,
/// colour, phone number, path or copyright year.
const BAD_LEAD: &str = "$€£¥₹#+@/\\&=~^©®§№";
/// Symbols glued after a number that make it an amount, percentage or path.
const BAD_TRAIL: &str = "%‰€$£¥₹@/\\=°+";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Digits,
    Alnum,
}

struct Found {
    value: String,
    shape: Shape,
    /// "G-123456": self-describing, needs no keyword.
    google: bool,
    /// "482 913" / "482-913": already proven to be a deliberate 3+3 layout.
    split: bool,
}

impl Found {
    fn new(value: String, shape: Shape) -> Self {
        Found {
            value,
            shape,
            google: false,
            split: false,
        }
    }
}

struct Candidate {
    value: String,
    score: i32,
    pos: usize,
}

struct Chunk<'a> {
    raw: &'a str,
    start: usize,
    end: usize,
    line: usize,
    clause: usize,
    /// Lower-cased, edge punctuation removed; used for word-list lookups.
    word: String,
    urlish: bool,
    /// Made only of digits and number punctuation; phone/number runs chain these.
    numeric: bool,
}

/// One scanned piece of the message (the subject or the body), split into
/// whitespace-separated chunks with keyword positions precomputed so every
/// per-candidate query is O(1).
struct Segment<'a> {
    chunks: Vec<Chunk<'a>>,
    kw_start: Vec<bool>,
    kw_end: Vec<bool>,
    /// Nearest chunk at or before i where a keyword ends.
    prev_kw_end: Vec<Option<usize>>,
    /// Nearest chunk at or after i where a keyword starts.
    next_kw_start: Vec<Option<usize>>,
    chunks_per_line: Vec<usize>,
    address_clause: Vec<bool>,
    any_kw: bool,
}

/// CJK punctuation separates words the way spaces do in Latin text.
fn is_sep(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '，' | '。'
                | '：'
                | '；'
                | '！'
                | '？'
                | '、'
                | '（'
                | '）'
                | '【'
                | '】'
                | '「'
                | '」'
                | '『'
                | '』'
        )
}

fn ends_sentence(raw: &str) -> bool {
    raw.ends_with(['.', '!', '?'])
}

/// Lower-cases char by char, keeping any char whose lower-case form has a
/// different byte length, so byte offsets stay valid in the original.
fn lower_same_len(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(lc), None) if lc.len_utf8() == c.len_utf8() => lc,
                _ => c,
            }
        })
        .collect()
}

impl<'a> Segment<'a> {
    fn new(s: &'a str) -> Self {
        let mut chunks: Vec<Chunk<'a>> = Vec::new();
        let (mut line, mut clause) = (0, 0);
        let mut start: Option<usize> = None;
        let push =
            |chunks: &mut Vec<Chunk<'a>>, st: usize, en: usize, line: usize, clause: &mut usize| {
                let raw = &s[st..en];
                let word = raw
                    .trim_matches(|c: char| ".,;:!?()[]{}\"'*“”‘’«»".contains(c))
                    .to_lowercase();
                chunks.push(Chunk {
                    raw,
                    start: st,
                    end: en,
                    line,
                    clause: *clause,
                    urlish: raw.contains("://") || raw.contains('@') || word.starts_with("www."),
                    numeric: raw.bytes().any(|b| b.is_ascii_digit())
                        && raw
                            .chars()
                            .all(|c| c.is_ascii_digit() || "+-().,;:!?/".contains(c)),
                    word,
                });
                if ends_sentence(raw) {
                    *clause += 1;
                }
            };
        for (i, c) in s.char_indices() {
            if is_sep(c) {
                if let Some(st) = start.take() {
                    push(&mut chunks, st, i, line, &mut clause);
                }
                if c == '\n' {
                    line += 1;
                    clause += 1;
                } else if matches!(c, '。' | '！' | '？') {
                    clause += 1;
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(st) = start {
            push(&mut chunks, st, s.len(), line, &mut clause);
        }

        let n = chunks.len();
        let mut chunks_per_line = vec![0; line + 1];
        let mut address_clause = vec![false; clause + 1];
        for (i, ch) in chunks.iter().enumerate() {
            chunks_per_line[ch.line] += 1;
            let first_in_clause = i == 0 || chunks[i - 1].clause != ch.clause;
            let starts_upper = ch.raw.chars().next().is_some_and(char::is_uppercase);
            // A street word never opens its clause ("Place the code..."),
            // it follows a name ("Amphitheatre Parkway").
            let street = starts_upper
                && ((!first_in_clause && STREET.contains(&ch.word.as_str()))
                    || STREET_SUFFIX
                        .iter()
                        .any(|suf| ch.word.ends_with(suf) && ch.word.len() > suf.len() + 2));
            if street {
                address_clause[ch.clause] = true;
            }
        }

        let (mut kw_start, mut kw_end) = (vec![false; n], vec![false; n]);
        let mut any_kw = false;
        let lower = lower_same_len(s);
        let chunk_at = |byte: usize| -> Option<usize> {
            let k = chunks.partition_point(|c| c.start <= byte).checked_sub(1)?;
            (byte < chunks[k].end).then_some(k)
        };
        for k in KEYWORDS {
            let cjk = k.pat.chars().next().is_some_and(|c| c >= '\u{2e80}');
            for (idx, _) in lower.match_indices(k.pat) {
                let end = idx + k.pat.len();
                if !cjk
                    && lower[..idx]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphabetic)
                {
                    continue;
                }
                if k.whole
                    && lower[end..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)
                {
                    continue;
                }
                if k.pat == "code" && labels_other_code(&lower[..idx]) {
                    continue;
                }
                let (Some(a), Some(b)) = (chunk_at(idx), chunk_at(end - 1)) else {
                    continue;
                };
                // "?code=..." in a link says nothing about nearby numbers.
                if chunks[a].urlish {
                    continue;
                }
                kw_start[a] = true;
                kw_end[b] = true;
                any_kw = true;
            }
        }
        let mut prev_kw_end = vec![None; n];
        let mut next_kw_start = vec![None; n];
        let mut last = None;
        for i in 0..n {
            if kw_end[i] {
                last = Some(i);
            }
            prev_kw_end[i] = last;
        }
        last = None;
        for i in (0..n).rev() {
            if kw_start[i] {
                last = Some(i);
            }
            next_kw_start[i] = last;
        }
        Segment {
            chunks,
            kw_start,
            kw_end,
            prev_kw_end,
            next_kw_start,
            chunks_per_line,
            address_clause,
            any_kw,
        }
    }

    fn has_kw(&self, i: usize) -> bool {
        self.kw_start[i] || self.kw_end[i]
    }

    /// Words between the nearest preceding keyword and chunk `cs`.
    fn after_dist(&self, cs: usize, ce: usize) -> Option<usize> {
        let j = self.prev_kw_end[ce]?;
        Some(if j >= cs { 0 } else { cs - j - 1 })
    }

    /// Words between chunk `ce` and the nearest following keyword.
    fn before_dist(&self, cs: usize, ce: usize) -> Option<usize> {
        let k = self.next_kw_start[cs]?;
        Some(if k <= ce { 0 } else { k - ce - 1 })
    }

    /// "code: 2026", "code 2026", "Code ist 2026": the keyword labels this very number.
    fn immediate(&self, cs: usize, ce: usize) -> bool {
        if self.prev_kw_end[ce].is_some_and(|j| j + 1 >= cs) {
            return true;
        }
        cs >= 2 && self.kw_end[cs - 2] && LINKING.contains(&self.chunks[cs - 1].word.as_str())
    }

    fn candidates(&self, in_subject: bool, any_kw: bool, offset: usize, out: &mut Vec<Candidate>) {
        let n = self.chunks.len();
        let mut i = 0;
        while i < n {
            // Chain adjacent numeric chunks on one line: "+1 415 555 0100",
            // "(415) 555-0100". A comma/period ends the chain ("482913, 10").
            let mut j = i;
            if self.chunks[i].numeric {
                while j + 1 < n
                    && self.chunks[j + 1].numeric
                    && self.chunks[j + 1].line == self.chunks[j].line
                    && !self.chunks[j].raw.ends_with([',', ';', ':', '!', '?', '.'])
                {
                    j += 1;
                }
            }
            let found = match j - i {
                0 => classify(self.chunks[i].raw),
                1 => split_pair(self.chunks[i].raw, self.chunks[j].raw),
                _ => None, // three or more groups: a phone or account number
            };
            if let Some(c) = found.and_then(|f| self.score(f, i, j, in_subject, any_kw, offset)) {
                out.push(c);
            }
            i = j + 1;
        }
    }

    fn score(
        &self,
        f: Found,
        cs: usize,
        ce: usize,
        in_subject: bool,
        any_kw: bool,
        offset: usize,
    ) -> Option<Candidate> {
        let n = self.chunks.len();
        let digits = f.shape == Shape::Digits;
        let plain = digits && !f.split && !f.google;
        let immediate = self.immediate(cs, ce);
        let prev = cs.checked_sub(1).map(|k| &self.chunks[k]);
        let next = self.chunks.get(ce + 1);

        let is_year = plain
            && f.value.len() == 4
            && f.value
                .parse::<u32>()
                .is_ok_and(|y| (1900..=2099).contains(&y));
        if is_year && !immediate {
            return None;
        }
        if let Some(p) = prev {
            let w = p.word.as_str();
            if CURRENCY.contains(&w)
                || w == "©"
                || w == "copyright"
                || p.raw.ends_with(['$', '€', '£', '¥'])
            {
                return None;
            }
        }
        if let Some(nx) = next {
            let w = nx.word.as_str();
            if CURRENCY.contains(&w) || UNITS.contains(&w) || nx.raw.starts_with('%') {
                return None;
            }
        }
        // "Order 48213", "Ticket # 5521"; a keyword in between wins ("Reference code: 55021").
        for k in (cs.saturating_sub(2)..cs).rev() {
            if self.has_kw(k) {
                break;
            }
            if ANTI.contains(&self.chunks[k].word.as_str()) {
                return None;
            }
        }
        let hi = (ce + 4).min(n.saturating_sub(1));
        if (cs.saturating_sub(4)..=hi).any(|k| MARKETING.contains(&self.chunks[k].word.as_str())) {
            return None;
        }
        // "CA 94043", "NSW 2000": region abbreviation then postcode.
        let region_before = prev.is_some_and(|p| {
            let r = p.raw.trim_end_matches(',');
            (2..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_uppercase())
        });
        if plain && (4..=5).contains(&f.value.len()) && region_before && !self.has_kw(cs - 1) {
            return None;
        }
        let clause_addr = self.address_clause[self.chunks[cs].clause]
            || self.address_clause[self.chunks[ce].clause];
        if clause_addr && !immediate {
            return None;
        }

        // Alphanumeric codes look like product names and SKUs, so they need
        // the keyword closer than digits do.
        let (win_after, win_before) = if digits { (6, 5) } else { (4, 3) };
        let near_after = self.after_dist(cs, ce).filter(|&d| d <= win_after);
        let near_before = self.before_dist(cs, ce).filter(|&d| d <= win_before);
        let prox = match (near_after, near_before) {
            (None, None) => None,
            (a, b) => {
                let a = a.map_or(0, |d| 40 - 4 * d as i32);
                let b = b.map_or(0, |d| 36 - 4 * d as i32);
                Some(a.max(b))
            }
        };
        let line = self.chunks[cs].line;
        let standalone = self.chunks[ce].line == line && self.chunks_per_line[line] == ce - cs + 1;
        if prox.is_none() && !f.google && !(standalone && any_kw) {
            return None;
        }
        let len = f.value.len();
        let mut score = match (f.shape, len) {
            (Shape::Digits, 6) => 30,
            (Shape::Digits, _) => 20,
            (Shape::Alnum, 6) => 20,
            (Shape::Alnum, _) => 15,
        };
        score += prox.unwrap_or(0);
        if f.google {
            score += 40;
        }
        if in_subject {
            score += 25;
        }
        if standalone {
            score += 10;
        }
        Some(Candidate {
            value: f.value,
            score,
            pos: offset + self.chunks[cs].start,
        })
    }
}

/// Turns one chunk into a code shape, or None. Only the core between the
/// first and last ASCII alphanumeric is considered; the glued symbols around
/// it decide whether it is a price, colour, reference or percentage.
fn classify(raw: &str) -> Option<Found> {
    let first = raw.find(|c: char| c.is_ascii_alphanumeric())?;
    let last = raw.rfind(|c: char| c.is_ascii_alphanumeric())?;
    let (lead, trail) = (&raw[..first], &raw[last + 1..]);
    if lead.chars().any(|c| BAD_LEAD.contains(c)) || trail.chars().any(|c| BAD_TRAIL.contains(c)) {
        return None;
    }
    let mid = strip_label(&raw[first..=last]);
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());

    if all_digits(mid) {
        return (4..=8)
            .contains(&mid.len())
            .then(|| Found::new(mid.to_string(), Shape::Digits));
    }
    let google = mid
        .strip_prefix("G-")
        .filter(|rest| rest.len() == 6 && all_digits(rest));
    if let Some(rest) = google {
        let mut f = Found::new(rest.to_string(), Shape::Digits);
        f.google = true;
        return Some(f);
    }
    if let Some((a, b)) = mid.split_once('-') {
        if all_digits(a) && all_digits(b) {
            // Only the 3-3 layout is a code; 3-4 is a phone, 4-2-2 a date.
            if a.len() == 3 && b.len() == 3 {
                let mut f = Found::new(format!("{a}{b}"), Shape::Digits);
                f.split = true;
                return Some(f);
            }
            return None;
        }
        let joined = format!("{a}{b}");
        // Equal halves ("ABC-123", "X7K-9QP") is how sites print grouped
        // codes; "COVID-19" or "ISO-9001" are names.
        let halves_ok = a.len() == b.len() && (2..=5).contains(&a.len());
        return (halves_ok && alnum_code(&joined)).then(|| Found::new(joined, Shape::Alnum));
    }
    alnum_code(mid).then(|| Found::new(mid.to_string(), Shape::Alnum))
}

/// "code:482913" / "OTP:X7K9QP" glued without a space.
fn strip_label(mid: &str) -> &str {
    match mid.rsplit_once(':') {
        Some((p, s)) if !p.is_empty() && !s.is_empty() && p.chars().all(char::is_alphabetic) => s,
        _ => mid,
    }
}

/// 5–10 chars of upper-case letters and digits with at least one of each:
/// excludes ordinary words ("IMPORTANT") and plain numbers.
fn alnum_code(s: &str) -> bool {
    (5..=10).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// "482 913": two bare 3-digit groups (the second may end a sentence).
fn split_pair(a: &str, b: &str) -> Option<Found> {
    let b = b.trim_end_matches([',', ';', ':', '!', '?', '.']);
    let three = |s: &str| s.len() == 3 && s.bytes().all(|x| x.is_ascii_digit());
    if three(a) && three(b) {
        let mut f = Found::new(format!("{a}{b}"), Shape::Digits);
        f.split = true;
        Some(f)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    // (name, subject, text, expected codes)
    const CODE_CASES: &[(&str, &str, &str, &[&str])] = &[
        (
            "github-style device verification",
            "[Acme] Please verify your device",
            "Hey octo!\n\nA sign in attempt requires further verification because we did not \
             recognize your device. To complete the sign in, enter the verification code on the \
             unrecognized device.\n\nDevice: Firefox on Linux\nVerification code: 482913\n\nIf you \
             did not attempt to sign in to your account, your password may be compromised.\n\n\
             Thanks,\nThe Acme Team\n\n© 2026 Acme, Inc. 88 Colin P Kelly Jr Street, San \
             Francisco, CA 94107",
            &["482913"],
        ),
        (
            "github-style all on one line",
            "",
            "Verification code: 482913 If you did not request this, ignore it. © 2026 Acme, Inc. \
             88 Colin P Kelly Jr Street, San Francisco, CA 94107",
            &["482913"],
        ),
        (
            "slack-style hyphenated alnum in subject",
            "Acme confirmation code: ABC-123",
            "Confirm your email address\nYour confirmation code is below — enter it in your open \
             browser window and we'll help you get signed in.\n\nABC-123\n\nIf you didn't request \
             this email, there's nothing to worry about.",
            &["ABC123"],
        ),
        (
            "google-style G- prefix",
            "G-482913 is your Acme verification code",
            "Use this code to finish setting up your account.",
            &["482913"],
        ),
        (
            "bank OTP with phone number",
            "Your one-time passcode",
            "Your one-time passcode is 73920184. Do not share it. Call us at +1 (800) 555-0199.",
            &["73920184"],
        ),
        ("sms-like split 3+3", "", "123 456 is your login code", &["123456"]),
        ("hyphen split 3-3", "", "Your Acme code is 482-913", &["482913"]),
        (
            "login link only",
            "Sign in to Acme",
            "Click the link below to sign in:\nhttps://acme.test/login?token=8XK2QP4812&uid=99812\n\
             This link expires in 15 minutes.",
            &[],
        ),
        (
            "newsletter with every non-code shape",
            "Black Friday deals inside",
            "Sign in to shop our 2026 sale! It starts 11/27/2026 at 10:30 AM (2026-11-27, \
             27.11.2026). Laptops from $499.99, headphones €79 and 1,250 items under 10.00. \
             Save 30% today; 4500 people already did.\nQuestions? Call (415) 555-0100, \
             +1 415 555 0100 or 555-0123.\nAcme Store, 1600 Amphitheatre Parkway, Mountain \
             View, CA 94043\nApp v1.2.3 · colour #FF5733\nUnsubscribe: \
             https://acme.test/u/8842193 or mail stop482913@acme.test\n© 2025 Acme",
            &[],
        ),
        (
            "german",
            "Ihr Bestätigungscode",
            "Ihr Bestätigungscode lautet 557201",
            &["557201"],
        ),
        ("spanish 4 digits", "", "Tu código es 8841", &["8841"]),
        (
            "french",
            "",
            "Votre code de vérification est : 730129",
            &["730129"],
        ),
        ("chinese no spaces", "", "【Acme】您的验证码是583920，5分钟内有效。", &["583920"]),
        ("alnum after keyword", "", "Your code: X7K9QP", &["X7K9QP"]),
        (
            "caps words are not codes",
            "IMPORTANT: your code",
            "HELLO from the USA. Your code: IMPORTANT",
            &[],
        ),
        ("hex colour is not a code", "", "Your code colour is #FF5733", &[]),
        (
            "subject outranks text",
            "Your login code is 4821",
            "Backup code: 573920",
            &["4821", "573920"],
        ),
        (
            "code before keyword on own line",
            "",
            "482913\n\nThis is your Acme verification code. It expires in 10 minutes.",
            &["482913"],
        ),
        (
            "own line after keyword paragraph",
            "Verify your email",
            "To verify your identity, please use the following code:\n\n582047\n\nAcme takes \
             your account security very seriously and will never ask you to disclose or verify \
             your password, credit card, or banking account number.",
            &["582047"],
        ),
        (
            "security code with masked email",
            "Acme account security code",
            "Please use the following security code for the Acme account jo***@example.test.\n\n\
             Security code: 7294\n\nIf you don't recognize the Acme account jo***@example.test, \
             you can remove your email address from that account.\n\nThanks,\nThe Acme team",
            &["7294"],
        ),
        (
            "promo code ignored, login code kept",
            "",
            "Use promo code SAVE20 for 20% off. Your login code is K7M2QX.",
            &["K7M2QX"],
        ),
        ("2fa with leading zero", "", "Your 2FA code: 093817", &["093817"]),
        ("lowercase alnum not a code", "", "Your code is abc123x", &[]),
        (
            "order number is not a code",
            "",
            "Order 48213 confirmed. Your verification code is 660912.",
            &["660912"],
        ),
        (
            "long order number",
            "",
            "Your verification for order 123456789012 is complete.",
            &[],
        ),
        ("G- with letters is not google", "", "Your code is G-7KQ2ZP", &[]),
        ("subject only", "482913 is your Acme code", "Welcome!", &["482913"]),
        (
            "two codes ranked by proximity",
            "",
            "Your code is 482913. Alternatively use the backup code 5529.",
            &["482913", "5529"],
        ),
        (
            "dedupe",
            "",
            "Your code is 482913. Again, your code is 482913.",
            &["482913"],
        ),
        (
            "at most five",
            "",
            "Your backup codes:\n11111111\n22222222\n33333333\n44444444\n55555555\n66666666",
            &["11111111", "22222222", "33333333", "44444444", "55555555"],
        ),
        ("dates after keyword", "", "Your code expires on 2026-11-27, 27.11.2026 or 11/27/2026.", &[]),
        ("time and ip after keyword", "", "Login at 10:30 from 192.168.0.1", &[]),
        ("phone after keyword", "", "Sign in trouble? Call 800 555 0199 or 555-0100.", &[]),
        ("prices after keyword", "", "Code price: $49.99, or €10, total 10.00 (1,234 pts)", &[]),
        (
            "address after keyword",
            "",
            "Verify your address: 1600 Amphitheatre Parkway, Mountain View, CA 94043",
            &[],
        ),
        ("zip code label", "", "Enter your zip code 94043", &[]),
        ("versions and percents", "", "Login with app v1.2.3 or 2.10.4; 98% and 4821% done", &[]),
        ("year not labelled", "", "Your code was sent in 2026", &[]),
        ("year labelled", "", "Your code: 2026", &["2026"]),
        (
            "code with later date in parens",
            "",
            "Your Acme code is 5502 (valid until 2026-11-27 10:30)",
            &["5502"],
        ),
        ("pin", "", "Your PIN is 4821. Do not share it.", &["4821"]),
        (
            "hyphenated names are not codes",
            "",
            "Verify with COVID-19 guidelines, code 482913",
            &["482913"],
        ),
        (
            "area and promo codes",
            "",
            "Your area code 415-555 and promo code SAVE2026, please verify",
            &[],
        ),
        ("digits inside url", "", "Verify at https://acme.test/v/482913 now", &[]),
        ("empty", "", "", &[]),
    ];

    #[test]
    fn code_table() {
        assert!(CODE_CASES.len() >= 25);
        let mut failures = Vec::new();
        for (name, subject, text, want) in CODE_CASES {
            let got = codes(subject, Some(text));
            if got != *want {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn codes_without_text() {
        assert_eq!(codes("Your code is 482913", None), vec!["482913"]);
        assert!(codes("", None).is_empty());
    }

    #[test]
    fn codes_bounded_on_huge_input() {
        let mut big = "Your code is 482913.\n".to_string();
        big.push_str(&"code 1234 5678 $9.99 2026 ".repeat(200_000)); // ~5 MB
        let t = Instant::now();
        let got = codes(&"x".repeat(1_000_000), Some(&big));
        // A complexity guard, not a speed test (see links_linear_on_5mb).
        assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
        assert_eq!(got.first().map(String::as_str), Some("482913"));
    }

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
