//! `corpus_real_and_mime_deliver`: every `real/` and `mime/` message delivered and checked.

use super::files::{corpus, files, manifest, rel};
use super::http::{global_messages, Http};
use super::message::{deliver_and_check, failure_list, report_timings, Counts};
use crate::common::*;
use std::collections::HashSet;
use std::time::Instant;

#[test]
fn corpus_real_and_mime_deliver() {
    let t0 = Instant::now();
    let server = Server::start(&[]);
    let http = Http::new(&server);
    let mbox = server.mailbox(json!({"localPart": "corpus-deliver", "tier": "pro"}));
    let mailbox = mbox["address"].as_str().expect("address").to_string();
    let mut man = manifest("real");
    man.extend(manifest("mime"));
    let mut cases = files(&corpus().join("real"), "eml");
    cases.extend(files(&corpus().join("mime"), "eml"));
    assert!(cases.len() >= 250, "only {} .eml cases found", cases.len());
    let mut seen = HashSet::new();
    let mut timings = Vec::new();
    let mut counts = Counts::default();
    let mut failures: Vec<(String, Vec<String>)> = Vec::new();
    let (mut stored, mut parse_notes) = (0u64, 0usize);
    for f in &cases {
        let name = rel(f);
        let mut problems = Vec::new();
        let Some(expect) = man.get(&name).and_then(|v| v["expect"].as_str()) else {
            failures.push((name, vec!["no MANIFEST.json entry".into()]));
            continue;
        };
        let expect = expect.to_lowercase();
        // real/ is delivered the way an MTA would (CRLF everywhere); mime/ byte for byte.
        let raw_mode = name.starts_with("mime/");
        let may_refuse = expect.contains("refused with 5xx");
        let want_nosniff = expect.contains("nosniff");
        if let Some((_, full)) = deliver_and_check(
            &server,
            &http,
            &mailbox,
            &mut seen,
            f,
            raw_mode,
            may_refuse,
            want_nosniff,
            &mut problems,
            &mut timings,
            &mut counts,
        ) {
            stored += 1;
            parse_notes += usize::from(full.get("parseNote").is_some_and(|n| !n.is_null()));
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
    match global_messages(&http) {
        Ok((n, _)) if n == stored => {}
        Ok((n, _)) => failures.push((
            "(after all) /v1/messages".into(),
            vec![format!("count {n}, but {stored} messages were accepted")],
        )),
        Err(e) => failures.push(("(after all) /v1/messages".into(), vec![e])),
    }
    let mut out = format!(
        "\n== corpus_real_and_mime_deliver ==\n{} messages, {stored} stored, {parse_notes} with a parseNote, {} attachments listed, {} downloaded, {} failing, {:.1} s\n",
        cases.len(),
        counts.attachments,
        counts.downloaded,
        failures.len(),
        t0.elapsed().as_secs_f64()
    );
    report_timings(&mut out, &mut timings);
    println!("{out}");
    let clean = server.stop();
    if !clean {
        failures.push((
            "(after all) shutdown".into(),
            vec!["unclean exit on SIGTERM".into()],
        ));
    }
    assert!(failures.is_empty(), "{}", failure_list(&failures));
}
