//! `GET /api/events`: Mailpit's WebSocket stream from our event bus, for clients that listen
//! live: `new` (a message's summary) and `stats` after it, `update` (read), `delete`, `prune`
//! (a mailbox's mail gone with it). Under a prefix, only that mailbox's events.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{shape, Scope};
use crate::api::AppState;
use crate::events::EventKind;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/api/events", get(upgrade))
}

async fn upgrade(State(s): State<AppState>, scope: Scope, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| stream(s, scope, socket))
}

/// Mailpit's frame for one of our events, if it has one.
fn frame(kind: &EventKind) -> Option<Value> {
    match kind {
        EventKind::MessageReceived { message, .. } => {
            Some(json!({"Type": "new", "Data": shape::summary(message)}))
        }
        EventKind::MessageSeen { message_id, .. } => {
            Some(json!({"Type": "update", "Data": {"ID": message_id, "Read": true}}))
        }
        EventKind::MessageDeleted { message_id, .. } => {
            Some(json!({"Type": "delete", "Data": {"ID": message_id}}))
        }
        EventKind::MailboxExpired { .. } | EventKind::MailboxDeleted { .. } => {
            Some(json!({"Type": "prune", "Data": null}))
        }
        _ => None,
    }
}

async fn stream(s: AppState, scope: Scope, mut socket: WebSocket) {
    let mut events = s.engine.events().subscribe();
    let mut shutdown = s.shutdown.clone();
    let only = scope.mailbox().map(|m| m.id.clone());
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = shutdown.changed() => break,
            // A client's close (or anything it sends) is read here; it ends the stream.
            msg = socket.recv() => match msg {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => break,
            },
        };
        let event = match event {
            Ok(e) => e,
            // A slow client missed some: it carries on with what comes next.
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => break,
        };
        if only
            .as_deref()
            .is_some_and(|id| event.kind.mailbox_id() != id)
        {
            continue;
        }
        let Some(frame) = frame(&event.kind) else {
            continue;
        };
        let stats = matches!(event.kind, EventKind::MessageReceived { .. });
        if socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
        if stats {
            let Ok((total, unread)) = s.engine.totals_in(scope.mailbox(), None).await else {
                continue;
            };
            let stats = json!({"Type": "stats", "Data": {
                "Total": total, "Unread": unread, "Version": env!("CARGO_PKG_VERSION"),
            }});
            if socket
                .send(Message::Text(stats.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    }
}
