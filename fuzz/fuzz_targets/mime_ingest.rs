//! MIME ingest: any bytes as a received message, through `ingest::prepare`, the function the
//! engine runs before every store (parse, sanitize, each copy's columns). Asserts the bounds
//! and clean-up promised to the API and the viewer; a panic anywhere is a crash (the fuzzer's
//! panic hook aborts even where the engine would catch it).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mailiy::engine::Recipient;
use mailiy::ingest::prepare;
use mailiy::mime;
use mailiy::sanitize::Sanitizer;
use mailiy::Tier;

#[allow(dead_code)]
#[path = "../../tests/common/html_audit.rs"]
mod html_audit;

fn clean(what: &str, s: &str) {
    assert!(
        s.chars().all(|c| c == '\t' || !c.is_control()),
        "{what} has a control character: {s:?}"
    );
}

/// One sanitizer for the whole run, as the engine keeps one.
fn sanitizer() -> &'static Sanitizer {
    static SANITIZER: OnceLock<Sanitizer> = OnceLock::new();
    SANITIZER.get_or_init(Sanitizer::new)
}

fuzz_target!(|data: &[u8]| {
    let target = Recipient::CatchAll {
        address: "fuzz@mailiy.localhost".into(),
        tier: Tier::Anon,
        smtp_user: None,
    };
    let (prepared, copies) = prepare(sanitizer(), data, vec![(target, 0)], None);
    let m = &prepared.parsed;
    clean("subject", &m.subject);
    assert!(m.subject.chars().count() <= mime::MAX_SUBJECT_CHARS);
    assert!(m.snippet.chars().count() <= mime::SNIPPET_CHARS);
    assert!(m.headers.len() <= mime::MAX_HEADERS);
    for list in [&m.to, &m.cc, &m.reply_to] {
        assert!(list.len() <= mime::MAX_ADDRESSES);
    }
    for a in m.from.iter().chain(&m.to).chain(&m.cc).chain(&m.reply_to) {
        clean("address", &a.address);
        if let Some(name) = &a.name {
            clean("display name", name);
        }
    }
    assert!(m.attachments.len() <= mime::MAX_ATTACHMENTS);
    for a in &m.attachments {
        let f = &a.filename;
        assert!(
            !f.is_empty() && f.len() <= mime::MAX_FILENAME_BYTES,
            "filename {f:?}"
        );
        assert!(
            !f.contains(['/', '\\']) && f != "." && f != "..",
            "filename {f:?}"
        );
        clean("filename", f);
        let (t, s) = a.content_type.split_once('/').expect("type/subtype");
        assert!(
            !t.is_empty() && !s.is_empty(),
            "content type {:?}",
            a.content_type
        );
        assert!(
            a.content_type
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"[]?=".contains(&b)),
            "content type {:?}",
            a.content_type
        );
    }
    assert_eq!(copies.len(), 1);
    if let Some(html) = &copies[0].html {
        let broken = html_audit::broken_promises(html, &[]);
        assert!(broken.is_empty(), "{broken:?}\n{html}");
    }
});
