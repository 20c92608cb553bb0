//! The central audit lists: every flagged sale (overrun or any flag) of a range of days, and
//! every eligibility question answered (who asked about whom, masked).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State, rejection::QueryRejection};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use mask_api::{AuditSale, AuditSales, EligibilityAsk, EligibilityAsks};
use serde::Deserialize;
use time::Date;

use super::AppState;
use super::auth::AuditAuthed;
use super::error::ApiError;
use super::v1::Problems;
use crate::store::{AskRange, codes, to_ms};

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

pub(super) fn wants_csv(format: Option<&str>, headers: &HeaderMap) -> Result<bool, ApiError> {
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

/// The days `from..=to` of a query: both `YYYY-MM-DD`, `to` not before `from`, at most
/// `max_days` in all (each a 400 problem otherwise).
pub(super) fn day_range(from: &str, to: &str, max_days: i64) -> Result<(Date, Date), ApiError> {
    let (from, to) = (day("from", from)?, day("to", to)?);
    if to < from || (to - from).whole_days() >= max_days {
        return Err(ApiError::bad_query(format!(
            "`to` must be on or after `from`, at most {max_days} days in all"
        )));
    }
    Ok((from, to))
}

/// A CSV answer (`text/csv; charset=utf-8`) of a body `what` was written into.
pub(super) fn csv_response(
    body: Result<Vec<u8>, csv::Error>,
    what: &str,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        tracing::error!(error = %e, what, "CSV could not be written");
        ApiError::from(crate::store::StoreError::Corrupt(e.to_string()))
    })?;
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
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
                .as_ref()
                .map(ToString::to_string)
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
    let (from, to) = day_range(&q.from, &q.to, MAX_DAYS)?;
    let csv = wants_csv(q.format.as_deref(), &headers)?;
    let sales = st.store.audit_sales(from, to).await?;
    if !csv {
        return Ok(Json(AuditSales { sales }).into_response());
    }
    csv_response(csv_body(&sales), "audit sales")
}

/// Most eligibility asks in one page (and the default).
const MAX_ASKS: u32 = 10_000;

/// Query of `GET /v1/audit/eligibility`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsksQuery {
    /// First day `YYYY-MM-DD` (Asia/Taipei, by the time the question was answered).
    from: String,
    /// Last day `YYYY-MM-DD`, inclusive (at most 366 days after `from`).
    to: String,
    /// Only the questions of this site's tokens.
    site: Option<String>,
    /// The `next_after` of the previous page.
    after: Option<String>,
    /// Most questions in this page, 1..=10000 (default 10000).
    limit: Option<u32>,
    /// `json` (default) or `csv`; without it `Accept: text/csv` asks for CSV.
    format: Option<String>,
}

/// Header carrying `next_after` (CSV answers have no place for it in the body).
const NEXT_AFTER: &str = "x-next-after";

/// Midnight at the start of a day in Asia/Taipei, as storage milliseconds.
fn day_start_ms(day: Date) -> i64 {
    to_ms(day.midnight().assume_offset(mask_api::TAIPEI))
}

/// A page cursor `MILLIS-SEQ`.
fn cursor(text: &str) -> Result<(i64, i64), ApiError> {
    text.split_once('-')
        .and_then(|(ms, seq)| Some((ms.parse().ok()?, seq.parse().ok()?)))
        .ok_or_else(|| ApiError::bad_query("`after` must be the `next_after` of a previous page"))
}

fn asks_csv(asks: &[EligibilityAsk]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["asked_at", "site", "token_id", "id_masked", "person"])?;
    for a in asks {
        out.write_record([
            a.asked_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            a.site.clone(),
            a.token_id.clone(),
            a.id_masked.clone(),
            a.person.clone(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// Every eligibility question answered on `from..=to`: which token (short id, as
/// `token list` shows it) of which site asked about which person (masked ID number and keyed
/// buyer key, never the ID number), when. In pages of at most `limit`: while more follow, the
/// JSON has `next_after` (also in the `X-Next-After` header, for CSV) to pass as `after`.
/// Audit tokens only (pharmacy tokens get 403).
#[utoipa::path(
    get,
    path = "/v1/audit/eligibility",
    tag = "audit",
    params(AsksQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = EligibilityAsks, content(
            (EligibilityAsks = "application/json"),
            (String = "text/csv")
        ), headers(
            ("x-next-after" = String, description = "Present while more asks follow: the `after` of the next page")
        )),
        Problems
    )
)]
pub async fn audit_eligibility(
    State(st): State<Arc<AppState>>,
    _auth: AuditAuthed,
    headers: HeaderMap,
    query: Result<Query<AsksQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_query(e.body_text()))?;
    let (from, to) = day_range(&q.from, &q.to, MAX_DAYS)?;
    let limit = q.limit.unwrap_or(MAX_ASKS);
    if !(1..=MAX_ASKS).contains(&limit) {
        return Err(ApiError::bad_query(format!(
            "`limit` must be 1..={MAX_ASKS}"
        )));
    }
    let csv = wants_csv(q.format.as_deref(), &headers)?;
    let start = (day_start_ms(from), -1);
    let after = match q.after.as_deref() {
        Some(text) => cursor(text)?.max(start),
        None => start,
    };
    let before_ms = to.next_day().map_or(i64::MAX, day_start_ms);
    let mut rows = st
        .store
        .asks(AskRange {
            after,
            before_ms,
            site: q.site,
            limit: limit + 1,
        })
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = rows
        .last()
        .filter(|_| more)
        .map(|(seq, a)| format!("{}-{seq}", to_ms(a.asked_at)));
    let asks: Vec<EligibilityAsk> = rows
        .into_iter()
        .map(|(_, a)| EligibilityAsk {
            asked_at: a.asked_at,
            site: a.site,
            token_id: a.token_id,
            id_masked: a.id_masked,
            person: hex::encode(a.person.as_bytes()),
        })
        .collect();
    let mut response = if csv {
        csv_response(asks_csv(&asks), "eligibility audit")?
    } else {
        Json(EligibilityAsks {
            asks,
            next_after: next_after.clone(),
        })
        .into_response()
    };
    if let Some(next) = next_after.and_then(|n| HeaderValue::from_str(&n).ok()) {
        response.headers_mut().insert(NEXT_AFTER, next);
    }
    Ok(response)
}
