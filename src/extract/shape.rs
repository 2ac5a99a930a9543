//! What one word (or a pair of 3-digit groups) looks like as a code, if anything.

use super::words::{BAD_LEAD, BAD_TRAIL};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    Digits,
    Alnum,
}

pub(super) struct Found {
    pub(super) value: String,
    pub(super) shape: Shape,
    /// "G-123456": self-describing, needs no keyword.
    pub(super) google: bool,
    /// "482 913" / "482-913": already proven to be a deliberate 3+3 layout.
    pub(super) split: bool,
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

/// Turns one chunk into a code shape, or None. Only the core between the
/// first and last ASCII alphanumeric is considered; the glued symbols around
/// it decide whether it is a price, colour, reference or percentage.
pub(super) fn classify(raw: &str) -> Option<Found> {
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
pub(super) fn strip_label(mid: &str) -> &str {
    match mid.rsplit_once(':') {
        Some((p, s)) if !p.is_empty() && !s.is_empty() && p.chars().all(char::is_alphabetic) => s,
        _ => mid,
    }
}

/// 5–10 chars of upper-case letters and digits with at least one of each:
/// excludes ordinary words ("IMPORTANT") and plain numbers.
pub(super) fn alnum_code(s: &str) -> bool {
    (5..=10).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// "482 913": two bare 3-digit groups (the second may end a sentence).
pub(super) fn split_pair(a: &str, b: &str) -> Option<Found> {
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
