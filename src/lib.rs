//! Mailiy: a local disposable-mail inbox engine.
//!
//! # Layout
//! The modules read bottom-up: each imports only those on its own floor or below.
//!
//! 1. **Leaf helpers**: [`clock`] (wall time, RFC 3339), `ids`, [`error`] (the typed errors,
//!    the remote one included), [`config`] (every cap, port and timeout with its default, and
//!    which settings a flag pins), [`credentials`] (the SMTP logins taken), [`token`] (the API token file), [`tls`] (the SMTP certificate: made or
//!    loaded, and its rustls config), `urls`; the mail formats:
//!    [`mime`] (parsing), [`sanitize`] (HTML for the viewer), [`extract`] (links and codes),
//!    [`mbox`] (the mboxrd export and import format); [`relay_config`] (`--smtp-relay*`);
//!    [`query`] (the search language, parsed into terms; the store turns them into SQL);
//!    [`check_config`] (the message checks' settings) and the pure checks of [`checks`]
//!    (`checks::html`, against the vendored caniemail data); [`tags`] (a message's tags as
//!    they are kept: trimmed, deduplicated, bounded).
//! 2. **Store and events**: [`store`] owns every SQL statement (mailboxes, messages, settings,
//!    remote accounts, the webhook queue): one writer thread with group commit, a pool of read
//!    connections, typed rows. [`events`] is the in-process bus; events are published only
//!    after their commit. [`model`] holds the API's objects; [`settings`] the run-time
//!    settings (defaults, then stored values, then pinned flags); `metrics` the counters.
//! 3. **Engine** ([`engine`]): the state handle and the policy over it: mailboxes and their
//!    caps, catch-all, recipients, waits for mail, expiry decisions, settings changes, the
//!    recent SMTP refusals (memory only, gone with the mailbox they name). No
//!    sockets and no spawned tasks; the server lends it its listeners and the remote accounts
//!    through two small traits.
//! 4. **Ingest and workers**: [`ingest`] (the one write path for mail: parse, sanitize,
//!    extract, store, announce), `expiry` (sleeps until the next expiry or warning), `webhooks`
//!    (a durable queue of signed POSTs), `sync` (remote Mailiy accounts and their mirrors),
//!    [`relay`] (release and automatic relay to `--smtp-relay`, loops refused); the checks
//!    that reach out: `checks::links` (HTTP) and `checks::spam` (spamd).
//! 5. **Transports**: [`smtp`] (sessions over a small recipient/deliver trait, so they run
//!    against an in-memory sink in tests and the fuzzer; each records its transcript and hands
//!    every message its envelope) and `api` (the HTTP API of
//!    `shared/API.md`, SSE and the UI's files). Handlers are query -> engine -> response.
//! 6. **Server** ([`server`]): binds the listeners, spawns the transports and workers, moves a
//!    listener when its address setting changes, shuts down in order.
//! 7. **Front doors**: the `mailiy` CLI (`src/bin/mailiy`) and the desktop shell (`src-tauri`),
//!    both on [`server::start`] and [`engine::Engine`].
//!
//! No GUI dependency lives here, and the CLI's own dependencies (anyhow, tracing-subscriber)
//! come only with the `cli` feature.

mod api;
pub mod check_config;
pub mod checks;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod engine;
pub mod error;
pub mod events;
mod expiry;
pub mod extract;
mod ids;
pub mod ingest;
pub mod mbox;
mod metrics;
pub mod mime;
pub mod model;
pub mod query;
pub mod relay;
pub mod relay_config;
pub mod sanitize;
pub mod server;
pub mod settings;
pub mod smtp;
pub mod store;
mod sync;
pub mod tags;
pub mod tls;
pub mod token;
mod urls;
mod webhooks;

pub use config::{Config, Tier};
pub use engine::Engine;
pub use error::{Error, Result};
