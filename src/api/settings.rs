//! `/v1/settings`: what the UI's settings view reads and writes.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::ApiResult;
use super::mailboxes::json_body;
use super::AppState;
use crate::config::{SmtpAuth, Tier};

pub(crate) async fn get_all(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(view(&s)))
}

pub(crate) async fn update(State(s): State<AppState>, body: Bytes) -> ApiResult<Json<Value>> {
    let patch: Map<String, Value> = json_body(&body)?;
    s.engine.update_settings(&patch).await?;
    Ok(Json(view(&s)))
}

/// The editable settings, plus what the UI shows beside them but cannot change here.
fn view(s: &AppState) -> Value {
    let engine = &s.engine;
    let settings = engine.settings();
    let config = engine.config();
    let mut out = match serde_json::to_value(&settings) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // The relay's password is write-only: whether one is set, never what it is.
    if let Some(Value::Object(relay)) = out.get_mut("relay") {
        relay.remove("password");
        relay.insert(
            "passwordSet".into(),
            json!(settings.relay.password.is_some()),
        );
    }
    let tiers: Map<String, Value> = [Tier::Anon, Tier::Free, Tier::Pro]
        .into_iter()
        .map(|t| (t.as_str().to_string(), json!(engine.limits(t))))
        .collect();
    out.extend([
        ("lanMode".to_string(), json!(settings.lan_mode())),
        (
            "dataDir".to_string(),
            json!(config.data_dir.display().to_string()),
        ),
        ("domain".to_string(), json!(config.domain)),
        // Set at start, shown beside the settings: the AUTH mode (never a file's path or
        // users) and the implicit-TLS listener.
        ("smtpAuth".to_string(), json!(auth_mode(&config.smtp_auth))),
        ("smtps".to_string(), json!(config.smtps_addr)),
        ("token".to_string(), json!(engine.token())),
        ("tokenRequired".to_string(), json!(s.require_token)),
        ("tiers".to_string(), Value::Object(tiers)),
        ("pinned".to_string(), json!(config.pinned)),
    ]);
    Value::Object(out)
}

fn auth_mode(auth: &SmtpAuth) -> &'static str {
    match auth {
        SmtpAuth::Any => "any",
        SmtpAuth::Off => "off",
        SmtpAuth::File(_) => "file",
    }
}
