//! Corpus-driven tests: the hostile test corpus in `tests/corpus/` (a byte-for-byte copy of
//! `shared/corpus`, see `tests/corpus/README.md`) fed to the real `mailiy serve` binary over TCP
//! and HTTP.
//!
//! - `smtp::corpus_smtp_sessions`: every `smtp/GROUP/NAME.smtp` is replayed with
//!   `smtp/replay_smtp.py` (its reply checks and `alive_after` must pass), then the number of
//!   stored messages is checked through the API against the case's `expect_stored`.
//! - `real_and_mime::corpus_real_and_mime_deliver`: every `real/` and `mime/` message is
//!   delivered in one SMTP transaction; the message, its raw bytes and its attachments are
//!   checked through the API.
//! - `xss::corpus_xss_html_is_inert`: every `xss/` message is delivered; the sanitized `html`
//!   must hold no active content and no remote load, headers must come back as plain JSON
//!   strings.
//!
//! Each test runs every case, collects all failures and asserts once at the end, listing them.
//!
//! One file a stage: the corpus files, HTTP to the server, SMTP delivery of one message, the
//! checks on a stored message, then one file a test group (smtp sessions with their
//! `expect_stored` and `expect` checks, real and mime, xss).

mod delivery;
mod expect_stored;
mod files;
mod http;
mod message;
mod real_and_mime;
mod smtp;
mod smtp_expectations;
mod xss;
