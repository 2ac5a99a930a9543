//! API errors: `{"error":{"code","message"}}` with a fitting status; 5xx hide internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::Error;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        use StatusCode as S;
        match e {
            Error::MailboxNotFound => ApiError::new(
                S::NOT_FOUND,
                "mailbox_not_found",
                "no live mailbox with that id or address",
            ),
            Error::MessageNotFound => ApiError::new(
                S::NOT_FOUND,
                "message_not_found",
                "no such message in this mailbox",
            ),
            Error::AttachmentNotFound => {
                ApiError::new(S::NOT_FOUND, "attachment_not_found", "no such attachment")
            }
            Error::AddressTaken(a) => ApiError::new(
                S::CONFLICT,
                "address_taken",
                format!("{a} is already in use"),
            ),
            Error::InvalidInput(m) => ApiError::invalid(m),
            e @ Error::InvalidQuery { .. } => {
                ApiError::new(S::BAD_REQUEST, "invalid_query", e.to_string())
            }
            e @ Error::InvalidFaults(_) => {
                ApiError::new(S::BAD_REQUEST, "invalid_faults", e.to_string())
            }
            Error::Pinned(m) => ApiError::new(S::CONFLICT, "setting_pinned", m),
            e @ Error::Bind { .. } => ApiError::new(S::CONFLICT, "address_in_use", e.to_string()),
            Error::Remote(e) => remote_error(e),
            Error::Relay(e) => {
                use crate::error::RelayError as R;
                let (status, code) = match &e {
                    R::NotConfigured => (S::CONFLICT, "relay_not_configured"),
                    R::NotAllowed(_) => (S::UNPROCESSABLE_ENTITY, "recipient_not_allowed"),
                    R::Loop(_) => (S::CONFLICT, "relay_loop"),
                    R::Failed(_) => (S::BAD_GATEWAY, "relay_failed"),
                };
                ApiError::new(status, code, e.to_string())
            }
            Error::ShuttingDown => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the engine is shutting down",
            ),
            other => {
                // The detail goes to the log, never to the client.
                tracing::error!(error = %other, "api: internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the server log",
                )
            }
        }
    }
}

/// A remote endpoint's failure: its own 4xx refusals keep their status (a taken address is
/// still 409); everything else is 502, with the sentence that says what went wrong.
fn remote_error(e: crate::error::RemoteError) -> ApiError {
    use crate::error::RemoteError as R;
    match &e {
        R::Refused { status, .. } if (400..500).contains(status) => ApiError::new(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
            "remote_refused",
            e.to_string(),
        ),
        R::AuthFailed(_) => {
            ApiError::new(StatusCode::BAD_GATEWAY, "remote_auth_failed", e.to_string())
        }
        _ => ApiError::new(StatusCode::BAD_GATEWAY, "remote_unavailable", e.to_string()),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
