//! The relay as a run-time setting (`relay` in `/v1/settings`): set, changed and turned off
//! without a restart, kept across one, its password write-only, and pinned by `--smtp-relay`.

use crate::common::*;

fn relay_of(s: &Server) -> Value {
    let (st, v) = s.get("/v1/settings");
    assert_eq!(st, 200, "{v}");
    v["relay"].clone()
}

#[test]
fn the_relay_set_at_run_time_relays_keeps_its_password_hidden_and_survives_a_restart() {
    let target = Server::start(&["--catch-all", "pro"]);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--catch-all", "pro"]);
    let off = relay_of(&s);
    assert_eq!(off["target"], Value::Null);
    assert_eq!(off["passwordSet"], false);
    assert!(off.get("password").is_none(), "{off}");

    // Refused with the reason, and nothing changes.
    for bad in [
        json!({"target": "no-port"}),
        json!({"target": target.smtp.to_string(), "auto": "from:\"unclosed"}),
        json!({"target": target.smtp.to_string(), "security": "ssl3"}),
        json!({"target": target.smtp.to_string(), "attempts": 0}),
        json!({"colour": "red"}),
    ] {
        let (st, v) = s.patch("/v1/settings", json!({ "relay": bad }));
        // 400 for a query that does not parse (as a search says), 422 for the rest.
        assert!(st == 422 || st == 400, "{bad}: {st} {v}");
    }
    assert_eq!(relay_of(&s), off);

    let (st, v) = s.patch(
        "/v1/settings",
        json!({"relay": {"target": target.smtp.to_string(), "auto": "subject:invoice",
                         "password": "hidden-pw-1"}}),
    );
    assert_eq!(st, 200, "{v}");
    assert!(!v.to_string().contains("hidden-pw-1"), "{v}");
    assert_eq!(v["relay"]["passwordSet"], true);
    assert_eq!(v["relay"]["auto"], "subject:invoice");

    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO settings.test")), 250);
    for subject in ["newsletter", "invoice 1"] {
        let body = simple_message("shop@example.test", "ann@dest.test", subject, "x");
        assert!(c
            .deliver("shop@example.test", &["ann@dest.test"], &body)
            .starts_with("250"));
    }
    eventually("the invoice relayed", || {
        let (st, _) = target.get(&format!("/v1/mailbox/{}", enc("ann@dest.test")));
        (st == 200).then_some(())
    });
    eventually("one message there", || {
        (subjects(&target, "ann@dest.test") == ["invoice 1"]).then_some(())
    });

    // Kept across a restart, password included (still hidden).
    drop(c);
    assert!(s.stop());
    let s = Server::start_in(dir.path(), &["--catch-all", "pro"]);
    let kept = relay_of(&s);
    assert_eq!(kept["target"], target.smtp.to_string());
    assert_eq!(kept["passwordSet"], true);
    let (_, all) = s.get("/v1/settings");
    assert!(!all.to_string().contains("hidden-pw-1"));

    // Turned off at run time: new mail gets no job.
    let (st, v) = s.patch("/v1/settings", json!({"relay": {"auto": null}}));
    assert_eq!(st, 200, "{v}");
    let mut c = s.smtp();
    assert_eq!(code(&c.cmd("EHLO settings.test")), 250);
    let body = simple_message("shop@example.test", "ann@dest.test", "invoice 2", "x");
    assert!(c
        .deliver("shop@example.test", &["ann@dest.test"], &body)
        .starts_with("250"));
    let (_, jobs) = s.get("/v1/relay/deliveries");
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "only the first invoice's: {jobs}"
    );
}

#[test]
fn a_relay_given_by_flag_is_pinned_and_its_password_not_shown() {
    let s = Server::start(&[
        "--smtp-relay",
        "relay.test:2525",
        "--smtp-relay-user",
        "app",
        "--smtp-relay-password",
        "flag-pw-2",
    ]);
    let (st, all) = s.get("/v1/settings");
    assert_eq!(st, 200);
    assert!(!all.to_string().contains("flag-pw-2"), "{all}");
    assert_eq!(all["relay"]["target"], "relay.test:2525");
    assert_eq!(all["relay"]["user"], "app");
    assert_eq!(all["relay"]["passwordSet"], true);
    assert!(all["pinned"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "relay"));
    let (st, v) = s.patch(
        "/v1/settings",
        json!({"relay": {"target": "other.test:25"}}),
    );
    assert_eq!(st, 409, "{v}");
    assert!(v.to_string().contains("--smtp-relay"), "{v}");
}
