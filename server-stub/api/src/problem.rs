//! RFC 9457 problem details with a stable machine `code` (`application/problem+json`).

use serde::{Deserialize, Serialize};

/// Media type of a [`Problem`] body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Stable machine codes of errors. Clients switch on these, never on `title` or `detail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not JSON.
    MalformedJson,
    /// 400 / 422: JSON, but a field is missing, has the wrong type or an invalid value.
    InvalidBody,
    /// 400: a query parameter is invalid.
    InvalidQuery,
    /// 422: an ID number fails format or checksum.
    InvalidIdNumber,
    /// 422: a sale time is later than the server clock allows.
    SaleTimeInFuture,
    /// 422: a sale time is older than the server accepts (or before rationing began).
    SaleTimeTooOld,
    /// 422: a quantity is 0 or too large, or a batch is empty or too large.
    InvalidQuantity,
    /// 422: the sale's kind (adult/child) contradicts the birth date.
    KindMismatch,
    /// 401: no or malformed bearer token.
    Unauthorized,
    /// 401: the token is unknown or revoked.
    InvalidToken,
    /// 401: the token has expired.
    TokenExpired,
    /// 401: the token was revoked (`mask-server-stub token revoke`).
    TokenRevoked,
    /// 403: the request acts for another site.
    Forbidden,
    /// 404: no such route or resource.
    NotFound,
    /// 404 / 422: the site code is unknown.
    UnknownSite,
    /// 405: method not allowed on this route.
    MethodNotAllowed,
    /// 409: an id was used before with different content (a stock-in; for a sale, the code
    /// of its `conflict` result's `problem`).
    IdempotencyConflict,
    /// 413: body larger than the limit.
    PayloadTooLarge,
    /// 415: body is not `application/json`.
    UnsupportedMediaType,
    /// 429: too many requests for this token; retry after `Retry-After`.
    RateLimited,
    /// 429: this token asked eligibility about more distinct ID numbers in the last minute
    /// than the server allows (repeated asks about one ID count once); retry after
    /// `Retry-After`.
    DistinctIdLimit,
    /// 500: a server fault (logged); retry later.
    Internal,
    /// 503: storage unavailable; retry later.
    Unavailable,
    /// A code this version does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidBody => "invalid_body",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidIdNumber => "invalid_id_number",
            Self::SaleTimeInFuture => "sale_time_in_future",
            Self::SaleTimeTooOld => "sale_time_too_old",
            Self::InvalidQuantity => "invalid_quantity",
            Self::KindMismatch => "kind_mismatch",
            Self::Unauthorized => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::UnknownSite => "unknown_site",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::DistinctIdLimit => "distinct_id_limit",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Unknown => "unknown",
        }
    }

    /// Whether retrying the same request later may succeed (429, 5xx).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::DistinctIdLimit | Self::Internal | Self::Unavailable
        )
    }
}

/// One item of a problem that concerns part of the request (e.g. one sale of a batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProblemItem {
    /// Index in the request array, when it concerns an array element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The element's id (e.g. the sale's UUID), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What is wrong with it.
    pub code: ErrorCode,
    /// Human explanation.
    pub detail: String,
}

/// RFC 9457 problem details plus a stable `code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// URI identifying the problem type (`urn:mask:problem:<code>`).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// This occurrence, explained (problem + what to do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine code.
    pub code: ErrorCode,
    /// Parts of the request concerned (e.g. which sales of a batch).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemItem>,
}

impl Problem {
    /// A problem with the standard type URI for its code.
    pub fn new(status: u16, code: ErrorCode, title: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:mask:problem:{}", code.as_str()),
            title: title.into(),
            status,
            detail: None,
            code,
            errors: Vec::new(),
        }
    }

    /// Adds the occurrence's explanation.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds the parts of the request concerned.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<ProblemItem>) -> Self {
        self.errors = errors;
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.status, self.title, self.code.as_str())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}
