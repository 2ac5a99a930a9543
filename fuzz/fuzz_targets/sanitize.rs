//! Sanitizer: any text as mail HTML, with remote content blocked. Asserts the sanitizer's
//! promise on the output (`tests/common/html_audit.rs`): no script element, no `on*=`
//! handler, no `javascript:` URL, no remote URL that would load by itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use mailiy::sanitize::{SanitizeOptions, Sanitizer};

#[allow(dead_code)]
#[path = "../../tests/common/html_audit.rs"]
mod html_audit;

/// One sanitizer for the whole run, as the engine keeps one.
fn sanitizer() -> &'static Sanitizer {
    static SANITIZER: OnceLock<Sanitizer> = OnceLock::new();
    SANITIZER.get_or_init(Sanitizer::new)
}

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    // cid: images resolve to a same-origin path, as the engine does for attachments.
    let cid_url = |cid: &str| {
        (cid.len() % 2 == 0).then(|| format!("/v1/mailbox/m/messages/x/attachments/{}", cid.len()))
    };
    let out = sanitizer().sanitize(
        &html,
        &SanitizeOptions {
            allow_remote: false,
            cid_url: &cid_url,
        },
    );
    let broken = html_audit::broken_promises(&out.html, &[]);
    assert!(
        broken.is_empty(),
        "{broken:?}\ninput: {html:?}\noutput: {}",
        out.html
    );
});
