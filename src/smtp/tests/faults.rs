//! Faults on demand in the session, against the sink: each fault mode answers with its code at
//! its stage, and the session goes on (or closes) as the fault says.

use std::time::Duration;

use super::{alice, TestSession, HELLO};
use crate::engine::FaultConfig;
use crate::metrics::Rejection;
use crate::smtp::{Flow, MemorySink};

fn with_faults(sink: MemorySink, json: &str) -> MemorySink {
    let config = FaultConfig::from_json(json.as_bytes(), Duration::from_secs(300)).expect("valid");
    sink.set_faults(config);
    sink
}

#[test]
fn a_refused_greeting_replaces_the_220_and_closes() {
    let sink = with_faults(
        MemorySink::new(),
        r#"{"rules":[{"stage":"connect","code":554,"text":"5.3.2 Not today"}]}"#,
    );
    let s = TestSession::new(sink.clone());
    assert_eq!(s.greeting, "554 5.3.2 Not today\r\n");
    assert_eq!(s.flow, Flow::Close);
    assert_eq!(sink.rejections(Rejection::Fault), 1);
}

#[test]
fn each_stage_answers_its_fault_then_the_transaction_goes_on() {
    let sink = with_faults(
        alice(),
        r#"{"rules":[
            {"stage":"helo","code":451,"count":1},
            {"stage":"mail","code":451,"count":1,"sender":"a@x.test"},
            {"stage":"rcpt","code":450,"text":"4.2.1 Busy","count":1},
            {"stage":"data","code":451,"count":1},
            {"stage":"dataEnd","code":554,"text":"5.7.1 Spam","count":1}
        ]}"#,
    );
    let mut s = TestSession::new(sink.clone());
    s.cmd("EHLO client.test", "451 4.0.0");
    s.ehlo();
    s.mail_from("a@x.test", "451 4.0.0");
    s.mail_from("a@x.test", "250");
    s.rcpt_to("alice@mailiy.test", "450 4.2.1 Busy");
    s.rcpt_to("alice@mailiy.test", "250");
    s.cmd("DATA", "451");
    s.data(HELLO, "554 5.7.1 Spam");
    assert!(sink.messages().is_empty(), "refused at the dot: not stored");
    s.deliver("alice@mailiy.test", HELLO, "250");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.rejections(Rejection::Fault), 5);
}

#[test]
fn a_421_closes_the_connection() {
    let sink = with_faults(alice(), r#"{"rules":[{"stage":"mail","code":421}]}"#);
    let (mut s, _) = TestSession::greeted(sink);
    s.mail_from("a@x.test", "421");
    assert_eq!(s.flow, Flow::Close);
}

#[test]
fn a_cut_in_data_closes_without_a_reply_and_stores_nothing() {
    let sink = with_faults(
        alice(),
        r#"{"rules":[{"stage":"data","disconnectAfterBytes":10}]}"#,
    );
    let (mut s, sink) = TestSession::greeted(sink);
    s.mail_from("a@x.test", "250");
    s.rcpt_to("alice@mailiy.test", "250");
    s.cmd("DATA", "354");
    assert_eq!(s.send(b"Subject: a long enough line\r\n"), "");
    assert_eq!(s.flow, Flow::Close);
    assert!(sink.messages().is_empty());
    assert_eq!(sink.rejections(Rejection::Fault), 1);
}

#[test]
fn greylisting_passes_a_retry_after_the_delay() {
    let sink = with_faults(alice(), r#"{"greylist":{"delaySeconds":300}}"#);
    let (mut s, sink) = TestSession::greeted(sink);
    s.mail_from("a@x.test", "250");
    s.rcpt_to("alice@mailiy.test", "451 4.7.1");
    s.rcpt_to("alice@mailiy.test", "451 4.7.1");
    sink.advance_clock(Duration::from_secs(300));
    s.rcpt_to("alice@mailiy.test", "250");
}

#[test]
fn mailboxes_answer_as_full_or_unknown_and_the_rate_limit_refuses_mail() {
    let sink = with_faults(
        alice(),
        r#"{"mailboxes":[{"address":"Alice@mailiy.test","answer":"full"},{"address":"bob@x.test","answer":"unknown"}],
            "rateLimit":{"messages":1,"windowSeconds":60}}"#,
    );
    let (mut s, sink) = TestSession::greeted(sink);
    s.mail_from("a@x.test", "250");
    s.rcpt_to("alice@mailiy.test", "452 4.2.2");
    s.rcpt_to("bob@x.test", "550 5.1.1");
    s.cmd("RSET", "250");
    s.mail_from("a@x.test", "451 4.7.0 Rate limit");
    sink.advance_clock(Duration::from_secs(60));
    s.mail_from("a@x.test", "250");
}

#[test]
fn a_slow_reply_holds_the_reply_for_the_delay() {
    let sink = with_faults(alice(), r#"{"rules":[{"stage":"rcpt","delayMs":1500}]}"#);
    let (mut s, _) = TestSession::greeted(sink);
    s.mail_from("a@x.test", "250");
    assert_eq!(s.session.take_fault_delay(), None);
    s.rcpt_to("alice@mailiy.test", "250");
    assert_eq!(
        s.session.take_fault_delay(),
        Some(Duration::from_millis(1500))
    );
}
