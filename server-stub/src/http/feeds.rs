//! Public, read-only feeds served from memory: open data, sites, policy, health, OpenAPI.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mask_api::Health;

use super::AppState;
use crate::open_data::Variant;

/// Whether the client accepts gzip (`Accept-Encoding: gzip` without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let zero_q = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero_q
        })
}

/// Whether `If-None-Match` names this ETag (or `*`); weak comparison as RFC 9110 asks.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// Serves a precomputed body: ETag / 304, gzip when accepted, cacheable for `max_age`.
pub(super) fn serve_variant(
    headers: &HeaderMap,
    v: &Variant,
    content_type: &'static str,
    max_age: u64,
) -> Response {
    let gzip = accepts_gzip(headers);
    let etag = if gzip {
        format!("{}-gz\"", v.etag.trim_end_matches('"'))
    } else {
        v.etag.clone()
    };
    let mut out_headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out_headers.insert(header::ETAG, value);
    }
    out_headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        out_headers.insert(header::CACHE_CONTROL, value);
    }
    if not_modified(headers, &etag) || not_modified(headers, &v.etag) {
        return (StatusCode::NOT_MODIFIED, out_headers).into_response();
    }
    out_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = if gzip {
        out_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        v.gzip.clone()
    } else {
        v.plain.clone()
    };
    (StatusCode::OK, out_headers, body).into_response()
}

/// The open-data file (DOMAIN.md §5).
#[utoipa::path(
    get,
    path = "/maskdata.csv",
    tag = "open data",
    responses(
        (status = 200, description = "UTF-8 CSV with BOM, CRLF, 7 columns: listed sites and remaining masks", content_type = "text/csv", body = String),
        (status = 304, description = "Not modified (If-None-Match)"),
    )
)]
pub async fn maskdata(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snap = st.snapshot();
    serve_variant(
        &headers,
        &snap.csv,
        "text/csv; charset=utf-8",
        st.refresh.as_secs(),
    )
}

/// Listed sites and remaining masks as JSON (same snapshot as `/maskdata.csv`).
#[utoipa::path(
    get,
    path = "/v1/sites",
    tag = "open data",
    responses(
        (status = 200, body = mask_api::SitesSnapshot),
        (status = 304, description = "Not modified (If-None-Match)"),
    )
)]
pub async fn sites(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snap = st.snapshot();
    serve_variant(
        &headers,
        &snap.sites_json,
        "application/json",
        st.refresh.as_secs(),
    )
}

/// All rationing policy versions (agents cache this and decide offline with it).
#[utoipa::path(
    get,
    path = "/v1/policy",
    tag = "policy",
    responses((status = 200, body = mask_api::PolicySet))
)]
pub async fn policy(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.policy_json.clone(),
    )
        .into_response()
}

/// Liveness and the server clock (for clock-skew checks).
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "health",
    responses((status = 200, body = Health))
)]
pub async fn health(State(st): State<Arc<AppState>>) -> Json<Health> {
    let now = st.clock.now();
    Json(Health {
        status: "ok".to_owned(),
        server_time: now,
        policy_in_force: st.policies.in_force(now).map(|p| p.effective_from),
        storage: st.store.kind().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

pub async fn openapi(State(st): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.openapi_json.clone(),
    )
        .into_response()
}

/// The OpenAPI document as JSON bytes.
pub fn openapi_bytes() -> Bytes {
    use utoipa::OpenApi;
    Bytes::from(super::ApiDoc::openapi().to_json().unwrap_or_default())
}
