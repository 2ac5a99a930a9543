//! `corpus_xss_html_is_inert`: every `xss/` message delivered; its sanitized html inert, its
//! headers plain strings. Plus the tests of the HTML checkers themselves.

use super::files::{corpus, files, manifest, rel};
use super::http::Http;
use super::message::{
    deliver_and_check, disposition_filenames, failure_list, filename_problems, report_timings,
    Counts,
};
use crate::common::html_audit::{html_problems, squash};
use crate::common::*;
use std::collections::HashSet;
use std::time::Instant;

/// A JSON field that must be a plain string (or absent/null).
fn plain_string(p: &mut Vec<String>, what: &str, v: &Value) {
    if !(v.is_string() || v.is_null()) {
        p.push(format!("{what} is not a plain string: {v}"));
    }
}

fn address_fields(p: &mut Vec<String>, what: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Object(_) => {
            plain_string(p, &format!("{what}.name"), &v["name"]);
            plain_string(p, &format!("{what}.address"), &v["address"]);
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                address_fields(p, &format!("{what}[{i}]"), x);
            }
        }
        other => p.push(format!("{what} is neither an address nor a list: {other}")),
    }
}

#[test]
fn corpus_xss_html_is_inert() {
    let t0 = Instant::now();
    let server = Server::start(&[]);
    let http = Http::new(&server);
    let mbox = server.mailbox(json!({"localPart": "corpus-xss", "tier": "pro"}));
    let mailbox = mbox["address"].as_str().expect("address").to_string();
    let own_origins = vec![
        format!("http://{}/", server.http),
        format!("http://localhost:{}/", server.http.port()),
    ];
    let man = manifest("xss");
    let cases = files(&corpus().join("xss"), "eml");
    assert!(cases.len() >= 200, "only {} xss cases found", cases.len());
    let mut seen = HashSet::new();
    let mut timings = Vec::new();
    let mut counts = Counts::default();
    let mut failures: Vec<(String, Vec<String>)> = Vec::new();
    let (mut with_html, mut stored) = (0usize, 0usize);
    for f in &cases {
        let name = rel(f);
        let mut problems = Vec::new();
        let Some(expect) = man.get(&name).and_then(|v| v["expect"].as_str()) else {
            failures.push((name, vec!["no MANIFEST.json entry".into()]));
            continue;
        };
        let want_nosniff = expect.to_lowercase().contains("nosniff");
        // Byte for byte: h5sc-101 hides a bare CR inside a javascript: URL.
        if let Some((summary, full)) = deliver_and_check(
            &server,
            &http,
            &mailbox,
            &mut seen,
            f,
            true,
            false,
            want_nosniff,
            &mut problems,
            &mut timings,
            &mut counts,
        ) {
            stored += 1;
            match &full["html"] {
                Value::String(h) => {
                    with_html += 1;
                    problems.extend(html_problems(h, &own_origins));
                }
                Value::Null => {}
                other => problems.push(format!("html is not a string: {other}")),
            }
            if let Some(links) = full["links"].as_array() {
                for l in links {
                    let url = l.as_str().or_else(|| l["url"].as_str()).unwrap_or_default();
                    let u = squash(url);
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        problems.push(format!("links has a non-http(s) entry: {l}"));
                    }
                }
            }
            if name.starts_with("xss/header-injection/") {
                for (what, v) in [("summary", &summary), ("message", &full)] {
                    plain_string(&mut problems, &format!("{what}.subject"), &v["subject"]);
                    address_fields(&mut problems, &format!("{what}.from"), &v["from"]);
                    address_fields(&mut problems, &format!("{what}.to"), &v["to"]);
                    address_fields(&mut problems, &format!("{what}.cc"), &v["cc"]);
                }
                plain_string(&mut problems, "message.messageId", &full["messageId"]);
                address_fields(&mut problems, "message.replyTo", &full["replyTo"]);
            }
        }
        if !problems.is_empty() {
            failures.push((name, problems));
        }
    }
    match http.get("/v1/health") {
        Ok(r) if r.status == 200 => {}
        Ok(r) => failures.push((
            "(after all) /v1/health".into(),
            vec![format!("-> {}", r.status)],
        )),
        Err(e) => failures.push(("(after all) /v1/health".into(), vec![e])),
    }
    let mut out = format!(
        "\n== corpus_xss_html_is_inert ==\n{} messages, {stored} stored, {with_html} with html, {} attachments listed, {} downloaded, {} failing, {:.1} s\n",
        cases.len(),
        counts.attachments,
        counts.downloaded,
        failures.len(),
        t0.elapsed().as_secs_f64()
    );
    report_timings(&mut out, &mut timings);
    println!("{out}");
    if !server.stop() {
        failures.push((
            "(after all) shutdown".into(),
            vec!["unclean exit on SIGTERM".into()],
        ));
    }
    assert!(failures.is_empty(), "{}", failure_list(&failures));
}

#[test]
fn corpus_html_checker_catches_known_shapes() {
    let own = vec!["http://127.0.0.1:8025/".to_string()];
    let bad = [
        "<p>x</p><script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<img\nsrc=x\nONLOAD = alert(1)>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"jav&#97;script&colon;x\">x</a>",
        "<img src=\"http://127.0.0.1:9/CANARY-x-1\">",
        "<img src=\"//2130706433:9/x\">",
        "<img src=\"http://0x7f.0x0.0x0.0x1:9/x\">",
        "<img src=\"http://%31%32%37.0.0.1:9/\">",
        "<table background=\"http://example.test/x.png\">",
        "<video poster=\"https://example.test/p.png\"></video>",
        "<div style=\"background:url(x)\">",
        "<img srcset=\"a.png 1x\">",
        "<a ping=\"http://x.test/\">",
        "<iframe srcdoc=\"x\"></iframe>",
        "<svg><image href=\"http://x.test/a.png\"/></svg>",
        "<object data=\"data:text/html,x\">",
    ];
    for h in bad {
        assert!(!html_problems(h, &own).is_empty(), "not caught: {h}");
    }
    let good = [
        "<p>Case XSS-x: inline style background-image url() and srcset, javascript: links</p>",
        "<img src=\"http://127.0.0.1:8025/v1/mailbox/a/messages/b/attachments/c\">",
        "<img src=\"/v1/mailbox/a/messages/b/attachments/c\" alt=\"x\">",
        "<a href=\"http://127.0.0.1:9/CANARY-x-1\" rel=\"noopener\">link</a>",
        "<img src=\"data:image/png;base64,AAAA\">",
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; one=1</p>",
    ];
    for h in good {
        assert!(
            html_problems(h, &own).is_empty(),
            "false positive on {h}: {:?}",
            html_problems(h, &own)
        );
    }
    assert!(filename_problems("f", "a/b").len() == 1);
    assert!(filename_problems("f", "evil\u{202E}txt.exe").len() == 1);
    assert!(filename_problems("f", "ok name.pdf").is_empty());
    assert_eq!(
        disposition_filenames("attachment; filename=\"a;b.txt\"; filename*=UTF-8''a%2Fb"),
        vec![
            (
                "Content-Disposition filename".to_string(),
                "a;b.txt".to_string()
            ),
            (
                "Content-Disposition filename*".to_string(),
                "a/b".to_string()
            )
        ]
    );
}

#[test]
fn html_audit_precise_promises_catch_what_they_must_and_nothing_else() {
    use crate::common::html_audit::broken_promises;
    let own = vec!["http://127.0.0.1:8025/".to_string()];
    for bad in [
        "<script>x</script>",
        "<img src=x onerror=alert(1)>",
        "<a href=\"java&#x09;script:alert(1)\">x</a>",
        "<a href=\"vbscript:x\">x</a>",
        "<form action=\"javascript:x\">",
        "<img src=\"http://127.0.0.1:9/x\">",
        "<img src=\"//evil.test/x\">",
        "<img src=\"data:image/svg+xml,x\">",
        "<div style=\"background:url(x)\">",
        "<table background=\"https://x.test/a.png\">",
        "<iframe></iframe>",
        "<svg><image href=\"http://x.test/\"/></svg>",
    ] {
        assert!(!broken_promises(bad, &own).is_empty(), "not caught: {bad}");
    }
    for good in [
        "<p title=\"url(x) srcset ping=\">text with <b>javascript</b> words</p>",
        "<a href=\"https://example.test/\" rel=\"noopener\">link</a>",
        "<img src=\"/v1/mailbox/a/messages/b/attachments/c\">",
        "<img src=\"http://127.0.0.1:8025/v1/x\">",
        "<img src=\"data:image/png;base64,0x7f2130706433\">",
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; onload=1</p>",
        // Found by the sanitize fuzzer: text that spells a scheme where no URL is read.
        "<div style=\"width:300 } pdata : text / htmlx;background:red\">x</div>",
        "<div id=\"mailiy-\u{fffd}javascript:\u{fffd}dropbox\" title=\"vbscript:x\">x</div>",
    ] {
        assert!(
            broken_promises(good, &own).is_empty(),
            "false alarm on {good}: {:?}",
            broken_promises(good, &own)
        );
    }
}
