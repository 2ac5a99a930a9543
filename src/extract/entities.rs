//! HTML character references in attribute values: the few a URL needs, decoded as a
//! browser would before following the link.

pub(super) fn decode_entities(s: &str) -> String {
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
