//! Mailiy: a local disposable-mail inbox engine.
//!
//! # Layout
//! - [`config`]: every cap, port and timeout, with defaults; validated once at start.
//! - [`store`]: the SQLite store (the only state): mailboxes, messages, raw bytes, attachments.
//!   One writer thread owns the write connection and commits concurrent writes in one
//!   transaction each round (group commit); reads use a small pool of read connections.
//! - [`smtp`]: the SMTP listener: a tokio accept loop and one session task per connection,
//!   speaking through the sans-IO parser `smtp-proto`.
//! - [`ingest`]: the one write path for mail: raw bytes -> [`mime`] -> [`sanitize`] -> store.
//! - [`extract`]: links and one-time codes found in a message, for tests that sign up.
//! - [`expiry`]: one task that sleeps until the earliest expiry and deletes what expired.
//! - [`events`]: the in-process event bus; events are published only after their commit.
//! - [`api`]: the HTTP API (`shared/API.md`) on axum: REST, long-poll waits, server-sent
//!   events, Host/Origin/token checks.
//! - [`metrics`]: counters behind `/metrics`; [`token`]: the API token file.
//! - [`webhooks`]: signed POSTs of events to registered URLs, from a durable retry queue.
//! - [`sync`]: remote Mailiy accounts; mailboxes created on them are mirrored here, their mail
//!   pulled over the remote's event stream (or long-poll) through [`ingest`].
//! - [`settings`]: what may change while running (ports, catch-all, defaults, notification
//!   choices): defaults, then stored values, then flags pinned for the run.
//! - [`engine`]: starts and stops all of the above as one unit; rebinds a listener whose
//!   address setting changed.
//!
//! No GUI dependency lives here: the desktop shell and the `mailiy` CLI are both thin front
//! doors onto [`engine::Engine`].

pub mod api;
pub mod clock;
pub mod config;
pub mod engine;
pub mod error;
pub mod events;
pub mod expiry;
pub mod extract;
pub mod ids;
pub mod ingest;
pub mod metrics;
pub mod mime;
pub mod model;
pub mod sanitize;
pub mod settings;
pub mod smtp;
pub mod store;
pub mod sync;
pub mod token;
pub mod urls;
pub mod webhooks;

pub use config::{Config, Tier};
pub use engine::Engine;
pub use error::{Error, Result};
