//! Tags (`/api/v1/tags`), `info`, `webui`, `chaos` (onto our faults on demand), and the
//! health checks `/livez` and `/readyz`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{body, ok, MailpitError, MailpitResult, Scope};
use crate::api::AppState;
use crate::store::Selection;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tags", get(tags).put(set_tags))
        .route(
            "/api/v1/tags/{tag}",
            axum::routing::put(rename).delete(delete),
        )
        .route("/api/v1/info", get(info))
        .route("/api/v1/webui", get(webui))
        .route("/api/v1/chaos", get(chaos).put(set_chaos))
}

/// At the root only: they are about the server, not a mailbox.
pub(super) fn health_routes() -> Router<AppState> {
    Router::new()
        .route("/livez", get(|| async { ok() }))
        .route("/readyz", get(|| async { ok() }))
}

async fn tags(State(s): State<AppState>, scope: Scope) -> MailpitResult<Json<Vec<String>>> {
    Ok(Json(s.engine.tags(scope.mailbox()).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct SetTags {
    #[serde(rename = "IDs")]
    ids: Vec<String>,
    tags: Vec<String>,
}

/// Replaces the tags of the messages named (Mailpit: an empty list removes them).
async fn set_tags(
    State(s): State<AppState>,
    scope: Scope,
    bytes: Bytes,
) -> MailpitResult<Response> {
    let req: SetTags = body(&bytes)?;
    if req.ids.is_empty() {
        return Err(MailpitError::bad_request("no IDs"));
    }
    s.engine
        .set_tags(scope.mailbox(), Selection::Ids(req.ids), &req.tags)
        .await?;
    Ok(ok())
}

/// By name: under `/m/{address}` the path holds the address too.
#[derive(Deserialize)]
struct TagPath {
    tag: String,
}

#[derive(Debug, Default, Deserialize)]
struct Rename {
    #[serde(rename = "Name", default)]
    name: String,
}

async fn rename(
    State(s): State<AppState>,
    scope: Scope,
    Path(TagPath { tag }): Path<TagPath>,
    bytes: Bytes,
) -> MailpitResult<Response> {
    let req: Rename = body(&bytes)?;
    s.engine
        .rename_tag(scope.mailbox(), &tag, &req.name)
        .await?;
    Ok(ok())
}

async fn delete(
    State(s): State<AppState>,
    scope: Scope,
    Path(TagPath { tag }): Path<TagPath>,
) -> MailpitResult<Response> {
    s.engine.delete_tag(scope.mailbox(), &tag).await?;
    Ok(ok())
}

/// Mailpit's `AppInformation`: our version, the store's file and size, counts in scope, the
/// messages per tag, and what this run has taken in.
async fn info(State(s): State<AppState>, scope: Scope) -> MailpitResult<Json<Value>> {
    let (messages, unread) = s.engine.totals_in(scope.mailbox(), None).await?;
    let mut tags = serde_json::Map::new();
    for tag in s.engine.tags(scope.mailbox()).await? {
        let q = crate::query::Query {
            terms: vec![crate::query::Term {
                negated: false,
                kind: crate::query::TermKind::Tag(tag.clone()),
            }],
        };
        let (n, _) = s.engine.totals_in(scope.mailbox(), Some(q)).await?;
        tags.insert(tag, json!(n));
    }
    let path = s.engine.store().path().to_path_buf();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let m = s.engine.metrics();
    use std::sync::atomic::Ordering::Relaxed;
    Ok(Json(json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "LatestVersion": "",
        "Database": path.to_string_lossy(),
        "DatabaseSize": size,
        "Messages": messages,
        "Unread": unread,
        "Tags": tags,
        "RuntimeStats": {
            "Uptime": 0,
            "Memory": 0,
            "MessagesDeleted": 0,
            "SMTPAccepted": m.messages_received.load(Relaxed),
            "SMTPAcceptedSize": m.bytes_received.load(Relaxed),
            "SMTPRejected": 0,
            "SMTPIgnored": 0,
        },
    })))
}

/// The web UI's configuration as Mailpit describes it: no relay, no SpamAssassin here (the
/// lead wires the checks at merge), chaos always on.
async fn webui() -> Json<Value> {
    Json(json!({
        "Label": "Mailiy",
        "MessageRelay": {
            "Enabled": false,
            "SMTPServer": "",
            "ReturnPath": "",
            "AllowedRecipients": "",
            "BlockedRecipients": "",
            "OverrideFrom": "",
            "PreserveMessageIDs": false,
            "RecipientAllowlist": "",
        },
        "SpamAssassin": false,
        "ChaosEnabled": true,
        "DuplicatesIgnored": false,
        "HideDeleteAllButton": false,
    }))
}

/// The text our chaos rules answer with: how they are told from rules set through /v1/faults.
const CHAOS_TEXT: &str = "Chaos on demand (Mailpit API)";

/// Mailpit's triggers and the stage of our faults each maps to. `Authentication` has no
/// stage of ours (AUTH is not one of the fault stages), so it is always 0 and refused above 0.
const TRIGGERS: [(&str, &str); 2] = [("Sender", "mail"), ("Recipient", "rcpt")];

fn chaos_of(faults: &Value) -> Value {
    let rules = faults["rules"].as_array().cloned().unwrap_or_default();
    let mut out = serde_json::Map::new();
    for (trigger, stage) in TRIGGERS {
        let rule = rules.iter().find(|r| {
            r["stage"] == stage && r["text"].as_str().is_some_and(|t| t.ends_with(CHAOS_TEXT))
        });
        let (code, p) = match rule {
            Some(r) => (
                r["code"].as_u64().unwrap_or(451),
                (r["probability"].as_f64().unwrap_or(1.0) * 100.0).round() as u64,
            ),
            None => (451, 0),
        };
        out.insert(trigger.into(), json!({"ErrorCode": code, "Probability": p}));
    }
    out.insert(
        "Authentication".into(),
        json!({"ErrorCode": 451, "Probability": 0}),
    );
    Value::Object(out)
}

async fn chaos(State(s): State<AppState>) -> Json<Value> {
    Json(chaos_of(&s.engine.faults().to_json()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Trigger {
    error_code: u16,
    probability: u8,
}

/// Replaces the chaos triggers (omitted ones are off), keeping every other fault as it is.
async fn set_chaos(State(s): State<AppState>, bytes: Bytes) -> MailpitResult<Json<Value>> {
    let req: std::collections::BTreeMap<String, Trigger> =
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Default::default()
        } else {
            serde_json::from_slice(&bytes).map_err(|e| MailpitError::bad_request(e.to_string()))?
        };
    if let Some((name, _)) = req
        .iter()
        .find(|(k, _)| !["Sender", "Recipient", "Authentication"].contains(&k.as_str()))
    {
        return Err(MailpitError::bad_request(format!(
            "unknown trigger {name:?}"
        )));
    }
    if req.get("Authentication").is_some_and(|t| t.probability > 0) {
        return Err(MailpitError::bad_request(
            "the Authentication trigger is not supported here (see docs/mailpit.md)",
        ));
    }
    let mut faults = s.engine.faults().to_json();
    let mut rules: Vec<Value> = faults["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !r["text"].as_str().is_some_and(|t| t.ends_with(CHAOS_TEXT)))
        .collect();
    for (trigger, stage) in TRIGGERS {
        let Some(t) = req.get(trigger).filter(|t| t.probability > 0) else {
            continue;
        };
        if !(400..=599).contains(&t.error_code) || t.probability > 100 {
            return Err(MailpitError::bad_request(format!(
                "{trigger}: ErrorCode must be 400-599 and Probability 0-100"
            )));
        }
        let class = if t.error_code >= 500 {
            "5.0.0"
        } else {
            "4.0.0"
        };
        rules.push(json!({
            "stage": stage,
            "code": t.error_code,
            "text": format!("{class} {CHAOS_TEXT}"),
            "probability": f64::from(t.probability) / 100.0,
        }));
    }
    faults["rules"] = Value::Array(rules);
    let body = serde_json::to_vec(&faults).map_err(|e| MailpitError::bad_request(e.to_string()))?;
    let config = s.engine.set_faults_json(&body)?;
    Ok(Json(chaos_of(&config.to_json())))
}
