//! Tags through the real binary: from `X-Tags` on arrival (cleaned, deduplicated, bounded by
//! the flags), on summaries and the full message, `tag:` in search, set/list/rename/delete in
//! `/v1`, and nothing of a tag left on disk once its last message is deleted.

use crate::common::*;
use crate::common::{files_under, occurrences};

const BOX: &str = "tagged@mailiy.localhost";

fn send(s: &Server, subject: &str, x_tags: Option<&str>) {
    let mut raw = simple_message("a@shop.test", BOX, subject, "hello");
    if let Some(t) = x_tags {
        raw = format!("X-Tags: {t}\r\n{raw}");
    }
    let mut c = s.smtp();
    c.cmd("EHLO t");
    let r = c.deliver("a@shop.test", &[BOX], &raw);
    assert_eq!(code(&r), 250, "{r}");
}

fn tags_of(s: &Server, subject: &str) -> Vec<String> {
    let m = s
        .messages(BOX)
        .into_iter()
        .find(|m| m["subject"] == subject)
        .expect(subject);
    serde_json::from_value(m["tags"].clone()).expect("tags")
}

fn search(s: &Server, q: &str) -> Vec<String> {
    let (st, v) = s.get(&format!("/v1/messages?q={}", enc(q)));
    assert_eq!(st, 200, "{v}");
    let mut found: Vec<String> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn x_tags_on_arrival_in_summaries_messages_and_search() {
    let s = Server::start(&["--tags-max", "3", "--tag-max-length", "10"]);
    s.mailbox(json!({"localPart": "tagged"}));
    send(
        &s,
        "one",
        Some(" signup , Signup,,Two  Words, a-much-longer-tag, extra"),
    );
    send(&s, "two", Some("billing"));
    send(&s, "three", None);
    assert_eq!(
        tags_of(&s, "one"),
        vec!["a-much-lon", "signup", "Two Words"]
    );
    assert_eq!(tags_of(&s, "two"), vec!["billing"]);
    assert!(tags_of(&s, "three").is_empty());
    let one = s
        .messages(BOX)
        .into_iter()
        .find(|m| m["subject"] == "one")
        .unwrap();
    let (st, full) = s.get(&format!(
        "/v1/mailbox/{}/messages/{}",
        enc(BOX),
        one["id"].as_str().unwrap()
    ));
    assert_eq!(st, 200);
    assert_eq!(full["tags"], json!(["a-much-lon", "signup", "Two Words"]));
    assert_eq!(search(&s, "tag:SIGNUP"), vec!["one"]);
    assert_eq!(search(&s, "tag:\"two words\""), vec!["one"]);
    assert_eq!(search(&s, "-tag:signup"), vec!["three", "two"]);
    assert!(search(&s, "tag:sign").is_empty(), "a tag matches whole");
    let (_, all) = s.get("/v1/tags");
    assert_eq!(all, json!(["a-much-lon", "billing", "signup", "Two Words"]));
}

#[test]
fn tags_set_renamed_and_deleted_through_v1() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "tagged"}));
    send(&s, "one", Some("old"));
    send(&s, "two", Some("old, keep"));
    let two = s
        .messages(BOX)
        .into_iter()
        .find(|m| m["subject"] == "two")
        .unwrap();
    let url = format!(
        "/v1/mailbox/{}/messages/{}/tags",
        enc(BOX),
        two["id"].as_str().unwrap()
    );
    let put = |url: &str, body: Value| s.put(url, body);
    let (st, v) = put(&url, json!({"tags": ["keep", " new ", "KEEP"]}));
    assert_eq!((st, v), (200, json!({"tags": ["keep", "new"]})));
    assert_eq!(tags_of(&s, "two"), vec!["keep", "new"]);
    let (st, _) = put(
        &format!("/v1/mailbox/{}/messages/msg_nope/tags", enc(BOX)),
        json!({"tags": ["x"]}),
    );
    assert_eq!(st, 404);
    let (st, v) = put(&url, json!({"labels": []}));
    assert_eq!(st, 400, "{v}");
    // Rename "old" (only on one now) to "new": merged where both were.
    send(&s, "three", Some("old, new"));
    let (st, v) = put("/v1/tags/old", json!({"name": "new"}));
    assert_eq!((st, v), (200, json!({"messages": 2})));
    assert_eq!(tags_of(&s, "one"), vec!["new"]);
    assert_eq!(tags_of(&s, "three"), vec!["new"]);
    let (_, all) = s.get("/v1/tags");
    assert_eq!(
        all,
        json!(["keep", "new"]),
        "old is gone with its last link"
    );
    assert_eq!(s.delete("/v1/tags/new"), 204);
    let (_, all) = s.get("/v1/tags");
    assert_eq!(all, json!(["keep"]));
    assert!(tags_of(&s, "one").is_empty());
}

/// A tag set through the API is on disk only while a message carries it.
#[test]
fn deleting_its_last_message_leaves_no_byte_of_a_tag() {
    let s = Server::start(&[]);
    s.mailbox(json!({"localPart": "tagged"}));
    send(&s, "one", None);
    let token = format!("TAG{}Q", std::process::id() as u64 * 7717 + 3);
    let one = s.messages(BOX).into_iter().next().unwrap();
    let id = one["id"].as_str().unwrap().to_string();
    let (st, _) = s.put(
        &format!("/v1/mailbox/{}/messages/{id}/tags", enc(BOX)),
        json!({"tags": [token]}),
    );
    assert_eq!(st, 200);
    let on_disk = || -> usize {
        files_under(&s.data_dir)
            .iter()
            .map(|(_, b)| occurrences(b, token.as_bytes()))
            .sum()
    };
    assert!(on_disk() > 0, "the search must be able to find the tag");
    assert_eq!(
        s.delete(&format!("/v1/mailbox/{}/messages/{id}", enc(BOX))),
        204
    );
    let (_, all) = s.get("/v1/tags");
    assert_eq!(all, json!([]));
    eventually("the WAL truncation after the delete", || {
        (on_disk() == 0).then_some(())
    });
}
