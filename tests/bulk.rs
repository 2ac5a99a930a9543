//! Bulk read/unread/delete (`POST …/messages/bulk`) through the real binary: by ids, by query
//! and all; scoped to one mailbox or every live one; events as for single operations.

use crate::common::*;

const A: &str = "bulk-a@mailiy.localhost";
const B: &str = "bulk-b@mailiy.localhost";

/// Two mailboxes, three messages in A (two from shop), two in B (one from shop).
fn seeded() -> Server {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "bulk-a"}));
    s.mailbox(json!({"localPart": "bulk-b"}));
    let mut c = s.smtp();
    c.cmd("EHLO t");
    for (to, from, subject) in [
        (A, "a@shop.test", "a-one"),
        (A, "b@shop.test", "a-two"),
        (A, "c@other.test", "a-three"),
        (B, "d@shop.test", "b-one"),
        (B, "e@other.test", "b-two"),
    ] {
        let r = c.deliver(from, &[to], &simple_message(from, to, subject, "hello"));
        assert_eq!(code(&r), 250, "{r}");
    }
    s
}

fn ids(s: &Server, mailbox: &str) -> Vec<String> {
    s.messages(mailbox)
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn unread(s: &Server, mailbox: &str) -> u64 {
    let (st, v) = s.get(&format!("/v1/mailbox/{}", enc(mailbox)));
    assert_eq!(st, 200, "{v}");
    v["unreadCount"].as_u64().expect("unreadCount")
}

#[test]
fn bulk_by_ids_query_and_all_in_one_mailbox_and_across() {
    let s = seeded();
    let a = format!("/v1/mailbox/{}/messages/bulk", enc(A));
    // Ids: B's ids are out of A's scope, ignored and not counted.
    let mut chosen = ids(&s, A);
    chosen.extend(ids(&s, B));
    chosen.push("msg_nonexistent".into());
    let (st, v) = s.post(&a, json!({"action": "read", "ids": chosen}));
    assert_eq!((st, v.clone()), (200, json!({"matched": 3})), "{v}");
    assert_eq!(unread(&s, A), 0);
    assert_eq!(unread(&s, B), 2, "B's ids were not in scope");
    // Query, in A: from:shop is two messages; unread them again.
    let (st, v) = s.post(&a, json!({"action": "unread", "query": "from:shop"}));
    assert_eq!((st, v), (200, json!({"matched": 2})));
    assert_eq!(unread(&s, A), 2);
    // Query across every mailbox: three from shop; delete them.
    let (st, v) = s.post(
        "/v1/messages/bulk",
        json!({"action": "delete", "query": "from:shop"}),
    );
    assert_eq!((st, v), (200, json!({"matched": 3})));
    assert_eq!(subjects(&s, A), vec!["a-three"]);
    assert_eq!(subjects(&s, B), vec!["b-two"]);
    // All, in A only: B keeps its message.
    let (st, v) = s.post(&a, json!({"action": "delete", "all": true}));
    assert_eq!((st, v), (200, json!({"matched": 1})));
    assert!(subjects(&s, A).is_empty());
    assert_eq!(subjects(&s, B), vec!["b-two"]);
    // All, everywhere.
    let (st, v) = s.post("/v1/messages/bulk", json!({"action": "read", "all": true}));
    assert_eq!((st, v), (200, json!({"matched": 1})));
    assert_eq!(unread(&s, B), 0);
}

#[test]
fn bulk_refuses_a_missing_or_second_selector_and_unknown_actions() {
    let s = seeded();
    let url = "/v1/messages/bulk";
    for (body, names) in [
        (json!({"action": "read"}), "selector is missing"),
        (
            json!({"action": "read", "ids": [], "all": true}),
            "more than one selector",
        ),
        (
            json!({"action": "read", "query": "x", "ids": ["a"]}),
            "more than one selector",
        ),
        (json!({"action": "read", "all": false}), "all must be true"),
        (json!({"action": "archive", "all": true}), "action must be"),
        (json!({"action": "read", "query": "larger:"}), ""),
    ] {
        let (st, v) = s.post(url, body.clone());
        assert_eq!(st, 400, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{body}: {v}");
    }
    assert_eq!(unread(&s, A), 3, "nothing changed");
    let (st, _) = s.post(
        "/v1/mailbox/nobody@mailiy.localhost/messages/bulk",
        json!({"action": "read", "all": true}),
    );
    assert_eq!(st, 404);
}

/// Each change announced as the single operation announces it, and each mailbox touched once.
#[test]
fn bulk_announces_seen_deleted_and_each_mailbox_once() {
    let s = seeded();
    let mut events = SseClient::connect(s.http, "/v1/events", &[]);
    assert_eq!(events.status, 200);
    let a_ids = ids(&s, A);
    let (st, _) = s.post(
        &format!("/v1/mailbox/{}/messages/bulk", enc(A)),
        json!({"action": "read", "ids": a_ids[..2]}),
    );
    assert_eq!(st, 200);
    let (st, _) = s.post(
        "/v1/messages/bulk",
        json!({"action": "delete", "query": "from:other"}),
    );
    assert_eq!(st, 200);
    let mut seen = Vec::new();
    while seen.len() < 2 + 1 + 2 + 2 {
        let e = events.next().expect("an event");
        if !["message.seen", "message.deleted", "mailbox.updated"].contains(&e.event.as_str()) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
        let what = match e.event.as_str() {
            "mailbox.updated" => v["mailbox"]["address"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            _ => v["messageId"].as_str().unwrap_or_default().to_string(),
        };
        seen.push((e.event, what));
    }
    let count = |name: &str| seen.iter().filter(|(e, _)| e == name).count();
    assert_eq!(count("message.seen"), 2, "{seen:?}");
    assert_eq!(count("message.deleted"), 2, "{seen:?}");
    assert_eq!(
        count("mailbox.updated"),
        3,
        "A once for read, A and B once for delete: {seen:?}"
    );
    assert!(seen
        .iter()
        .any(|(e, id)| e == "message.seen" && *id == a_ids[0]));
}
