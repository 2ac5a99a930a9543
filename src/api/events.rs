//! `GET /v1/events`: server-sent events, with replay after reconnect (`Last-Event-ID`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use super::error::ApiResult;
use super::AppState;
use crate::engine::Engine;
use crate::events::Event;

/// How often an idle stream sends a comment line, so proxies and clients see it alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize)]
pub(crate) struct EventsQuery {
    mailbox: Option<String>,
}

/// Decrements the client gauge however the stream ends.
struct ClientGuard(Engine);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.metrics().sse_clients.fetch_sub(1, Relaxed);
    }
}

struct Subscription {
    rx: broadcast::Receiver<Arc<Event>>,
    replay: VecDeque<Arc<Event>>,
    /// Tell the client to re-read state before anything else (its events are gone).
    resync: Option<String>,
    mailbox: Option<String>,
    last_sent: u64,
    shutdown: watch::Receiver<bool>,
    _guard: ClientGuard,
}

fn sse_event(e: &Event) -> SseEvent {
    let data = serde_json::to_string(&e.kind).unwrap_or_else(|_| "{}".into());
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.name())
        .data(data)
}

fn resync_event(reason: &str) -> SseEvent {
    SseEvent::default()
        .event("resync")
        .data(serde_json::json!({ "reason": reason }).to_string())
}

impl Subscription {
    fn wants(&self, e: &Event) -> bool {
        e.id > self.last_sent
            && self
                .mailbox
                .as_deref()
                .is_none_or(|m| e.kind.mailbox_id() == m)
    }

    /// The next frame to send, or `None` when the stream should end.
    async fn next(&mut self) -> Option<SseEvent> {
        if let Some(reason) = self.resync.take() {
            return Some(resync_event(&reason));
        }
        while let Some(e) = self.replay.pop_front() {
            if self.wants(&e) {
                self.last_sent = e.id;
                return Some(sse_event(&e));
            }
        }
        loop {
            let received = tokio::select! {
                r = self.rx.recv() => r,
                _ = self.shutdown.changed() => return None,
            };
            match received {
                Ok(e) if self.wants(&e) => {
                    self.last_sent = e.id;
                    return Some(sse_event(&e));
                }
                Ok(_) => continue,
                // Too slow to keep up: the engine went on without this client; tell it.
                Err(RecvError::Lagged(n)) => {
                    return Some(resync_event(&format!("{n} events were missed")))
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

pub(crate) async fn stream(
    State(s): State<AppState>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let mailbox = match q.mailbox {
        Some(key) => Some(s.engine.mailbox(&key).await?.id),
        None => None,
    };
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let (rx, replay, resync) = match last_id {
        Some(id) => {
            let (rx, replay) = s.engine.events().subscribe_after(id);
            let resync = replay
                .gap
                .then(|| "some events since Last-Event-ID are no longer kept".to_string());
            (rx, replay.events.into(), resync)
        }
        None => (s.engine.events().subscribe(), VecDeque::new(), None),
    };
    s.engine.metrics().sse_clients.fetch_add(1, Relaxed);
    let sub = Subscription {
        rx,
        replay,
        resync,
        mailbox,
        last_sent: last_id.unwrap_or(0),
        shutdown: s.shutdown.clone(),
        _guard: ClientGuard(s.engine.clone()),
    };
    let events = stream::unfold(sub, |mut sub| async move {
        let frame = sub.next().await?;
        Some((Ok(frame), sub))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
