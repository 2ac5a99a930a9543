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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
