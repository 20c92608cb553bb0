//! Errors as RFC 9457 problem details, and the JSON body extractor that produces them.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mask_api::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem};
use serde::de::DeserializeOwned;

use crate::store::StoreError;

/// An error answer: a problem plus an optional `Retry-After`.
#[derive(Debug)]
pub struct ApiError {
    pub problem: Problem,
    /// Seconds for `Retry-After` (429 / 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A problem with status, code, title and detail.
    pub fn new(
        status: StatusCode,
        code: ErrorCode,
        title: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            problem: Problem::new(status.as_u16(), code, title).with_detail(detail),
            retry_after: None,
        }
    }

    /// 422 with one code.
    pub fn unprocessable(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Request cannot be processed",
            detail,
        )
    }

    /// 400 for a bad query parameter.
    pub fn bad_query(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            "Invalid query parameter",
            detail,
        )
    }

    /// 403: acting for another site.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Not allowed for this site",
            detail,
        )
    }

    /// 404 for unknown routes.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "Not found",
            "No such resource; see /v1/openapi.json.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "Method not allowed",
            "This route does not accept this method; see /v1/openapi.json.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage error");
        let (status, code) = match e {
            StoreError::Pool(_)
            | StoreError::WorkerGone
            | StoreError::Commit(_)
            | StoreError::Busy => (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        };
        let mut err = Self::new(
            status,
            code,
            "Server error",
            "The server could not complete the request; nothing was acknowledged. Retry later.",
        );
        err.retry_after = Some(1);
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// JSON body extractor whose every rejection is a problem: 415 without `application/json`,
/// 413 above the body limit, 400 for malformed JSON, 422 for the wrong shape.
pub struct ApiJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Unsupported media type",
                "Send the body as JSON with Content-Type: application/json.",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::PayloadTooLarge,
                        "Payload too large",
                        "The body is larger than the server accepts; send smaller batches.",
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::MalformedJson,
                        "Unreadable body",
                        rejection.body_text(),
                    )
                }
            })?;
        serde_json::from_slice(&bytes).map(Self).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedJson,
                    "Malformed JSON",
                    format!("The body is not valid JSON ({e}). Send a JSON document."),
                )
            } else {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::InvalidBody,
                    "Invalid request body",
                    format!(
                        "The JSON does not have the expected shape: {e}. See /v1/openapi.json."
                    ),
                )
            }
        })
    }
}
