//! The subject or the body cut into whitespace-separated chunks, with lines, clauses,
//! address clauses and keyword positions precomputed.

use super::words::{labels_other_code, KEYWORDS, LINKING, STREET, STREET_SUFFIX};

pub(super) struct Chunk<'a> {
    pub(super) raw: &'a str,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) line: usize,
    pub(super) clause: usize,
    /// Lower-cased, edge punctuation removed; used for word-list lookups.
    pub(super) word: String,
    pub(super) urlish: bool,
    /// Made only of digits and number punctuation; phone/number runs chain these.
    pub(super) numeric: bool,
}

/// One scanned piece of the message (the subject or the body), split into
/// whitespace-separated chunks with keyword positions precomputed so every
/// per-candidate query is O(1).
pub(super) struct Segment<'a> {
    pub(super) chunks: Vec<Chunk<'a>>,
    pub(super) kw_start: Vec<bool>,
    pub(super) kw_end: Vec<bool>,
    /// Nearest chunk at or before i where a keyword ends.
    pub(super) prev_kw_end: Vec<Option<usize>>,
    /// Nearest chunk at or after i where a keyword starts.
    pub(super) next_kw_start: Vec<Option<usize>>,
    pub(super) chunks_per_line: Vec<usize>,
    pub(super) address_clause: Vec<bool>,
    pub(super) any_kw: bool,
}

/// CJK punctuation separates words the way spaces do in Latin text.
pub(super) fn is_sep(c: char) -> bool {
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

pub(super) fn ends_sentence(raw: &str) -> bool {
    raw.ends_with(['.', '!', '?'])
}

/// Lower-cases char by char, keeping any char whose lower-case form has a
/// different byte length, so byte offsets stay valid in the original.
pub(super) fn lower_same_len(s: &str) -> String {
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
    pub(super) fn new(s: &'a str) -> Self {
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

    pub(super) fn has_kw(&self, i: usize) -> bool {
        self.kw_start[i] || self.kw_end[i]
    }

    /// Words between the nearest preceding keyword and chunk `cs`.
    pub(super) fn after_dist(&self, cs: usize, ce: usize) -> Option<usize> {
        let j = self.prev_kw_end[ce]?;
        Some(if j >= cs { 0 } else { cs - j - 1 })
    }

    /// Words between chunk `ce` and the nearest following keyword.
    pub(super) fn before_dist(&self, cs: usize, ce: usize) -> Option<usize> {
        let k = self.next_kw_start[cs]?;
        Some(if k <= ce { 0 } else { k - ce - 1 })
    }

    /// "code: 2026", "code 2026", "Code ist 2026": the keyword labels this very number.
    pub(super) fn immediate(&self, cs: usize, ce: usize) -> bool {
        if self.prev_kw_end[ce].is_some_and(|j| j + 1 >= cs) {
            return true;
        }
        cs >= 2 && self.kw_end[cs - 2] && LINKING.contains(&self.chunks[cs - 1].word.as_str())
    }
}
