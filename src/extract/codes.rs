//! One-time codes: candidates from the subject and the body, scored by shape, by the
//! keywords near them and by the words that say they are something else.

use std::collections::HashSet;

use super::segment::Segment;
use super::shape::{classify, split_pair, Found, Shape};
use super::words::{ANTI, CURRENCY, MARKETING, UNITS};

/// Codes are always near the top of a mail; the tail is footers and tracking.
const MAX_CODE_SCAN: usize = 100 * 1024;
/// Subjects are short; anything longer is garbage we need not scan.
const MAX_SUBJECT_SCAN: usize = 2 * 1024;
const MAX_CODES: usize = 5;

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

struct Candidate {
    value: String,
    score: i32,
    pos: usize,
}

impl Segment<'_> {
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
}
