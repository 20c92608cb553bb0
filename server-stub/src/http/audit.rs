//! The central audit list: every flagged sale (overrun or any flag) of a range of days.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mask_api::{AuditSale, AuditSales};
use serde::Deserialize;
use time::Date;

use super::AppState;
use super::auth::AuditAuthed;
use super::error::ApiError;
use super::v1::Problems;
use crate::store::codes;

/// Longest range of days one request may ask for.
const MAX_DAYS: i64 = 366;

/// Query of `GET /v1/audit/sales`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// First day `YYYY-MM-DD` (Asia/Taipei, by sale time).
    from: String,
    /// Last day `YYYY-MM-DD`, inclusive (at most 366 days after `from`).
    to: String,
    /// `json` (default) or `csv`; without it `Accept: text/csv` asks for CSV.
    format: Option<String>,
}

fn day(name: &str, text: &str) -> Result<Date, ApiError> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ApiError::bad_query(format!("`{name}` must be YYYY-MM-DD")))
}

fn wants_csv(format: Option<&str>, headers: &HeaderMap) -> Result<bool, ApiError> {
    match format {
        Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::bad_query("`format` must be json or csv")),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|m| {
                m.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
            })),
    }
}

/// CSV of the list: one header line, flags joined by `;`, instants in RFC 3339.
fn csv_body(sales: &[AuditSale]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "id",
        "site",
        "id_masked",
        "kind",
        "quantity",
        "sold_at",
        "recorded_at",
        "status",
        "overrun_reason",
        "flags",
        "offline",
    ])?;
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    for s in sales {
        out.write_record([
            s.id.to_string(),
            s.site.clone(),
            s.id_masked.clone(),
            s.kind.as_str().to_owned(),
            s.quantity.to_string(),
            rfc(s.sold_at),
            rfc(s.recorded_at),
            codes::status(s.status).to_owned(),
            s.overrun_reason
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            s.flags
                .iter()
                .map(mask_api::SaleFlag::as_str)
                .collect::<Vec<_>>()
                .join(";"),
            s.offline.to_string(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// Every flagged sale (overrun, or any audit flag) sold in `from..=to`, for the central audit.
/// Audit tokens only (pharmacy tokens get 403). JSON, or CSV with `format=csv` /
/// `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/v1/audit/sales",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AuditSales, content(
            (AuditSales = "application/json"),
            (String = "text/csv")
        )),
        Problems
    )
)]
pub async fn audit_sales(
    State(st): State<Arc<AppState>>,
    _auth: AuditAuthed,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_query(e.body_text()))?;
    let (from, to) = (day("from", &q.from)?, day("to", &q.to)?);
    if to < from || (to - from).whole_days() >= MAX_DAYS {
        return Err(ApiError::bad_query(format!(
            "`to` must be on or after `from`, at most {MAX_DAYS} days in all"
        )));
    }
    let csv = wants_csv(q.format.as_deref(), &headers)?;
    let sales = st.store.audit_sales(from, to).await?;
    if !csv {
        return Ok(Json(AuditSales { sales }).into_response());
    }
    let body = csv_body(&sales).map_err(|e| {
        tracing::error!(error = %e, "audit CSV could not be written");
        ApiError::from(crate::store::StoreError::Corrupt(e.to_string()))
    })?;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}
