//! Keyset paging through the real binary: 5,000 messages walked both ways, in a mailbox and
//! across all of them, while more arrive between the pages; nothing skipped, nothing twice,
//! and the totals follow the arrivals.

use std::collections::HashSet;

use crate::common::*;

/// Sends `n` messages to `to` over eight concurrent SMTP sessions (so commits group), subjects
/// `prefix-0`…; returns the subjects.
pub fn flood(s: &Server, to: &str, prefix: &str, n: usize) -> Vec<String> {
    let sessions = 8;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..sessions)
            .map(|k| {
                scope.spawn(move || {
                    let mut c = s.smtp();
                    c.cmd("EHLO flood.test");
                    let mut sent = Vec::new();
                    for i in (k..n).step_by(sessions) {
                        let subject = format!("{prefix}-{i}");
                        let raw = simple_message("flood@sender.test", to, &subject, "paging");
                        let r = c.deliver("flood@sender.test", &[to], &raw);
                        assert_eq!(code(&r), 250, "{r}");
                        sent.push(subject);
                    }
                    sent
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    })
}

/// `GET path`: the summaries (a list, or `{messages}`), and the total (the `X-Total-Count`
/// header, or `total`).
fn page(s: &Server, path: &str) -> (Vec<Value>, u64) {
    let r = ureq::get(&s.url(path))
        .call()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let header = r.header("x-total-count").map(|t| t.parse().expect("total"));
    let v: Value = r.into_json().expect("json");
    match v.get("messages") {
        Some(list) => (
            list.as_array().expect("messages").clone(),
            v["total"].as_u64().expect("total"),
        ),
        None => (
            v.as_array().expect("list").clone(),
            header.expect("X-Total-Count"),
        ),
    }
}

fn ids_and_subjects(list: &[Value]) -> Vec<(String, String)> {
    list.iter()
        .map(|m| {
            (
                m["id"].as_str().expect("id").to_string(),
                m["subject"].as_str().expect("subject").to_string(),
            )
        })
        .collect()
}

/// Walks `base` page by page, sending three messages to `to` after each of the first twenty
/// pages (or the walk forward would never end): back from the newest by `before=`, or
/// `forward` from the oldest by `order=oldest&after=`. Returns what was walked, in its order,
/// and what arrived meanwhile.
fn walk(s: &Server, base: &str, to: &str, arrivals: &str, forward: bool) -> Walk {
    let (mut walked, mut arrived) = (Vec::new(), Vec::new());
    let (order, cursor) = if forward {
        ("&order=oldest", "after")
    } else {
        ("", "before")
    };
    let mut edge: Option<String> = None;
    for turn in 0.. {
        let at = edge.as_ref().map(|id| format!("&{cursor}={id}"));
        let path = format!("{base}&limit=400{order}{}", at.unwrap_or_default());
        let rows = ids_and_subjects(&page(s, &path).0);
        let Some((last, _)) = rows.last() else {
            break;
        };
        edge = Some(last.clone());
        walked.extend(rows.into_iter().map(|(_, subject)| subject));
        if turn < 20 {
            arrived.extend(flood(s, to, &format!("{arrivals}{turn}"), 3));
        }
    }
    (walked, arrived)
}

/// What a walk saw and what arrived during it.
type Walk = (Vec<String>, Vec<String>);

/// Every subject in a mailbox, walked back page by page (newest first).
pub fn all_subjects(s: &Server, mailbox: &str) -> Vec<String> {
    let base = format!("/v1/mailbox/{}/messages?limit=1000", enc(mailbox));
    let mut before: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let path = match &before {
            None => base.clone(),
            Some(id) => format!("{base}&before={id}"),
        };
        let rows = ids_and_subjects(&page(s, &path).0);
        let Some((last, _)) = rows.last() else {
            return all;
        };
        before = Some(last.clone());
        all.extend(rows.into_iter().map(|(_, subject)| subject));
    }
}

fn assert_once_each(walked: &[String], expected: &[String], what: &str) {
    let unique: HashSet<&String> = walked.iter().collect();
    assert_eq!(unique.len(), walked.len(), "{what}: a message twice");
    let want: HashSet<&String> = expected.iter().collect();
    assert_eq!(unique, want, "{what}: skipped or foreign messages");
}

#[test]
fn paging_walks_5000_messages_both_ways_with_arrivals_in_between() {
    let s = Server::start(&[]);
    let addr = "pages@mailiy.localhost";
    let other = "other@mailiy.localhost";
    s.mailbox(json!({"localPart": "pages"}));
    s.mailbox(json!({"localPart": "other"}));
    let first = flood(&s, addr, "m", 5000);
    let mailbox = format!("/v1/mailbox/{}/messages?x=1", enc(addr));

    // Back from the newest: exactly the 5,000 there when the walk began, none of the later.
    let (back, arrived_back) = walk(&s, &mailbox, addr, "back", false);
    assert_once_each(&back, &first, "mailbox, walking back");
    let (_, total) = page(&s, &mailbox);
    assert_eq!(total as usize, first.len() + arrived_back.len(), "total");

    // Forward from the oldest: everything, the arrivals of both walks included.
    let (fwd, arrived_fwd) = walk(&s, &mailbox, addr, "fwd", true);
    let everything: Vec<String> = first
        .iter()
        .chain(&arrived_back)
        .chain(&arrived_fwd)
        .cloned()
        .collect();
    assert_once_each(&fwd, &everything, "mailbox, walking forward");

    // Across every mailbox: the arrivals go to another mailbox, the walks see both.
    let before_all = everything.clone();
    let all = "/v1/messages?x=1";
    let (back_all, arrived_other) = walk(&s, all, other, "oback", false);
    assert_once_each(&back_all, &before_all, "all mail, walking back");
    let (fwd_all, arrived_other_fwd) = walk(&s, all, other, "ofwd", true);
    let every: Vec<String> = before_all
        .iter()
        .chain(&arrived_other)
        .chain(&arrived_other_fwd)
        .cloned()
        .collect();
    assert_once_each(&fwd_all, &every, "all mail, walking forward");
    let (_, total_all) = page(&s, all);
    assert_eq!(total_all as usize, every.len(), "total of all mail");

    // A window between two cursors, and a filter's total.
    let (list, _) = page(&s, &format!("{mailbox}&limit=1000&order=oldest"));
    let ids: Vec<String> = ids_and_subjects(&list)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let (window, _) = page(
        &s,
        &format!("{mailbox}&after={}&before={}&limit=1000", ids[10], ids[20]),
    );
    let got: Vec<String> = ids_and_subjects(&window)
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let want: Vec<String> = ids[11..20].iter().rev().cloned().collect();
    assert_eq!(got, want, "window, newest first");
    let (found, total) = page(&s, &format!("{mailbox}&subject=m-4999&limit=5"));
    assert_eq!((found.len(), total), (1, 1), "a filter's total");
    let (status, v) = s.get(&format!("{mailbox}&order=sideways"));
    assert_eq!(status, 422, "{v}");
}
