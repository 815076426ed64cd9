//! The one place error replies are built (PROTOCOL §2.2, §2.4): HTTP 200 with
//! `{"error":<code>,"message":<text>}`, whatever went wrong.

use std::borrow::Cow;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::JsonEndpoint;
use crate::store::StoreError;
use crate::subscription::{Code, SubscriptionError};

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error {}: {message}", code.as_u8())]
pub struct ApiError {
    /// The reply's `error`.
    pub code: Code,
    /// The reply's `message`.
    pub message: Cow<'static, str>,
}

impl ApiError {
    const fn bad_input(message: &'static str) -> Self {
        ApiError {
            code: Code::BadInput,
            message: Cow::Borrowed(message),
        }
    }

    /// §2.2: body absent or empty.
    pub fn body_missing() -> Self {
        Self::bad_input("Invalid request: request body missing")
    }

    /// §2.2: body over the limit.
    pub fn too_large() -> Self {
        Self::bad_input("Invalid request: request too large")
    }

    /// §2.2: body is not JSON.
    pub fn invalid_json() -> Self {
        Self::bad_input("Invalid JSON")
    }

    /// §2.2: JSON that is neither an object nor an array (also for a non-object element).
    pub fn not_object() -> Self {
        SubscriptionError::not_an_object().into()
    }

    /// An array of more than `MAX_ELEMENTS` (100) elements.
    pub fn too_many_elements() -> Self {
        Self::bad_input("Invalid request: more than 100 elements")
    }

    /// §2.2: `[]`.
    pub fn empty_list(endpoint: JsonEndpoint) -> Self {
        Self::bad_input(match endpoint {
            JsonEndpoint::Subscribe => "Invalid request: subscribe list cannot be empty",
            JsonEndpoint::Unsubscribe => "Invalid request: unsubscribe list cannot be empty",
        })
    }

    /// §2.4 step 8: the backend did not answer in time (also the request timeout and overload).
    pub fn timeout() -> Self {
        ApiError {
            code: Code::ServiceTimeout,
            message: Cow::Borrowed("Timeout waiting for push notification backend"),
        }
    }

    /// Error 4: the account sent more subscribe/unsubscribe elements this minute than
    /// `[api] account_rate_per_minute` allows.
    pub fn rate_limited() -> Self {
        ApiError {
            code: Code::Error,
            message: Cow::Borrowed(
                "Too many subscription requests for this account; retry in a minute",
            ),
        }
    }

    /// §2.4 step 8: any other internal failure; the cause goes to the log, not the reply.
    pub fn internal() -> Self {
        ApiError {
            code: Code::Internal,
            message: Cow::Borrowed("An internal error occurred while processing your request"),
        }
    }

    /// A store failure: code 3 when the database is busy or unreachable, else 5. The cause is
    /// logged here.
    pub fn store(err: &StoreError) -> Self {
        let cause = std::error::Error::source(err).map(ToString::to_string);
        tracing::error!(error = %err, cause = cause.as_deref().unwrap_or(""), "store operation failed");
        if err.is_timeout() {
            Self::timeout()
        } else {
            Self::internal()
        }
    }

    /// The reply body as JSON.
    pub fn to_json(&self) -> Value {
        json!({ "error": self.code.as_u8(), "message": self.message })
    }

    /// A closed-set metric label: `error_<code>`.
    pub fn label(&self) -> &'static str {
        match self.code {
            Code::BadInput => "error_1",
            Code::ServiceNotAvailable => "error_2",
            Code::ServiceTimeout => "error_3",
            Code::Error => "error_4",
            Code::Internal => "error_5",
        }
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        ApiError {
            code: e.code,
            message: e.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.to_json().to_string())
    }
}

/// HTTP 200 `application/json` with `body` (§2.1: every application outcome).
pub(super) fn json_response(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_shape_is_compact_and_sorted() {
        assert_eq!(
            ApiError::too_large().to_json().to_string(),
            r#"{"error":1,"message":"Invalid request: request too large"}"#
        );
        assert_eq!(ApiError::timeout().label(), "error_3");
    }

    #[test]
    fn store_errors_map_to_3_or_5() {
        let timeout = StoreError::Unavailable(sqlx::Error::PoolTimedOut);
        assert_eq!(ApiError::store(&timeout).code, Code::ServiceTimeout);
        let dropped = StoreError::from(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(ApiError::store(&dropped).code, Code::ServiceTimeout);
        assert_eq!(
            ApiError::store(&StoreError::from(sqlx::Error::PoolClosed)).code,
            Code::ServiceTimeout
        );
        let other = StoreError::Corrupt("test");
        assert_eq!(ApiError::store(&other), ApiError::internal());
    }
}
