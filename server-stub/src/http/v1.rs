//! Authenticated `/v1` routes of a pharmacy: eligibility, sales, stock, inventory, listing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State, rejection::QueryRejection};
use mask_api::{
    Buyer, BuyerKind, Eligibility, EligibilityRequest, ErrorCode, Inventory, InventoryWarning,
    InventoryWarningCode, ListingRequest, ListingState, ProblemItem, Sale, SaleBatch,
    SaleBatchResult, StockIn, StockInResult, WhoAmI, decide, taipei_date,
};
use nhi_card::IdNumber;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder, ResponsesBuilder};

use super::AppState;
use super::auth::Authed;
use super::error::{ApiError, ApiJson};
use crate::store::{DayTotals, PreparedSale, SalesOutcome, SalesWrite, StockOutcome, StockWrite};

/// Most sales in one batch.
pub const MAX_BATCH: usize = 500;
/// Most masks in one sale.
pub const MAX_QUANTITY: u32 = 100;
/// Most masks in one stock-in field.
pub const MAX_STOCK: u32 = 1_000_000;

/// The problem answers every authenticated route may give (documented once).
pub struct Problems;

impl utoipa::IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let problem = || {
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build()
        };
        let mut builder = ResponsesBuilder::new();
        for (status, text) in [
            ("400", "Malformed JSON or query"),
            ("401", "Missing, unknown or expired token"),
            ("403", "Acting for another site"),
            ("404", "Unknown resource"),
            ("409", "Id reused with different content"),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            ("422", "Invalid content (ID number, times, quantities)"),
            ("429", "Rate limited; see Retry-After"),
            ("500", "Server fault"),
            ("503", "Storage unavailable; retry"),
        ] {
            builder = builder.response(
                status,
                ResponseBuilder::new()
                    .description(text)
                    .content(mask_api::PROBLEM_CONTENT_TYPE, problem()),
            );
        }
        builder.build().into()
    }
}

fn parse_id(raw: &str) -> Result<IdNumber, String> {
    IdNumber::parse(raw).map_err(|e| format!("{e}; check the number on the card and type it again"))
}

fn check_birth(birth: Option<Date>, now: OffsetDateTime) -> Result<(), String> {
    match birth {
        Some(b) if b > taipei_date(now) => Err("birth date is in the future".to_owned()),
        _ => Ok(()),
    }
}

/// Server time truncated to milliseconds (what storage keeps).
fn now_ms(st: &AppState) -> OffsetDateTime {
    let now = st.clock.now();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// May this person buy now, and how many? Quota is per person across all pharmacies.
#[utoipa::path(
    post,
    path = "/v1/eligibility",
    tag = "quota",
    request_body = EligibilityRequest,
    security(("bearer" = [])),
    responses((status = 200, body = Eligibility), Problems)
)]
pub async fn eligibility(
    State(st): State<Arc<AppState>>,
    _auth: Authed,
    ApiJson(req): ApiJson<EligibilityRequest>,
) -> Result<Json<Eligibility>, ApiError> {
    let now = st.clock.now();
    let id =
        parse_id(&req.id_no).map_err(|d| ApiError::unprocessable(ErrorCode::InvalidIdNumber, d))?;
    check_birth(req.birth_date, now)
        .map_err(|d| ApiError::unprocessable(ErrorCode::InvalidBody, d))?;
    let mut history = st.store.purchases(st.person_keys.key(id.as_str())).await?;
    // The agent's unsynced sales are added. The store's history carries no sale ids, so a
    // sale recorded here but not yet marked at the agent is recognised by its exact time and
    // quantity (one person, one millisecond) instead of by id.
    let held: Vec<(OffsetDateTime, u32)> =
        history.iter().map(|p| (p.sold_at, p.quantity)).collect();
    history.extend(
        req.unsynced
            .iter()
            .filter(|u| !held.contains(&(u.sold_at, u.quantity)))
            .map(|u| mask_api::Purchase {
                sold_at: u.sold_at,
                quantity: u.quantity,
            }),
    );
    let buyer = Buyer::from_id(&id, req.birth_date);
    Ok(Json(decide(&st.policies, &buyer, &history, now)))
}

/// Content hash of a sale (replay vs conflict): every field, times as exact instants.
fn sale_hash(site: &str, sale: &Sale, id: &IdNumber) -> String {
    let mut h = Sha256::new();
    let birth = sale
        .birth_date
        .map(|d| d.to_julian_day())
        .unwrap_or(i32::MIN);
    h.update(format!(
        "{site}|{}|{}|{birth}|{}|{}|{}|{:?}|{}",
        sale.id,
        id.as_str(),
        sale.kind.as_str(),
        sale.quantity,
        sale.sold_at.unix_timestamp_nanos(),
        sale.source,
        sale.offline
    ));
    hex::encode(h.finalize())
}

fn item(index: usize, id: String, code: ErrorCode, detail: impl Into<String>) -> ProblemItem {
    ProblemItem {
        index: Some(index),
        id: Some(id),
        code,
        detail: detail.into(),
    }
}

/// Checks one sale; the prepared sale or what is wrong with it.
fn prepare(
    st: &AppState,
    site: &str,
    now: OffsetDateTime,
    index: usize,
    sale: &Sale,
) -> Result<PreparedSale, ProblemItem> {
    let fail = |code, detail: String| item(index, sale.id.to_string(), code, detail);
    if sale.id.get_version_num() != 7 {
        return Err(fail(
            ErrorCode::InvalidBody,
            "sale id must be a UUIDv7 made when the sale happened".into(),
        ));
    }
    let id = parse_id(&sale.id_no).map_err(|d| fail(ErrorCode::InvalidIdNumber, d))?;
    check_birth(sale.birth_date, now).map_err(|d| fail(ErrorCode::InvalidBody, d))?;
    if sale.quantity == 0 || sale.quantity > MAX_QUANTITY {
        return Err(fail(
            ErrorCode::InvalidQuantity,
            format!("quantity must be 1..={MAX_QUANTITY}"),
        ));
    }
    if sale.sold_at > now + st.max_clock_ahead {
        return Err(fail(
            ErrorCode::SaleTimeInFuture,
            "sale time is later than the server clock; check the pharmacy computer's clock".into(),
        ));
    }
    let Some(policy) = st.policies.in_force(sale.sold_at) else {
        return Err(fail(
            ErrorCode::SaleTimeTooOld,
            "sale time is before name-based rationing began".into(),
        ));
    };
    if sale.sold_at < now - st.max_sale_age {
        return Err(fail(
            ErrorCode::SaleTimeTooOld,
            format!(
                "sale time is more than {} days old; report it to the health bureau",
                st.max_sale_age.whole_days()
            ),
        ));
    }
    let kind = policy.kind_of(sale.birth_date);
    if kind != sale.kind {
        let detail = match sale.birth_date {
            None => "child masks need the buyer's birth date".to_owned(),
            Some(_) => format!(
                "the birth date makes this buyer {}, not {}",
                kind.as_str(),
                sale.kind.as_str()
            ),
        };
        return Err(fail(ErrorCode::KindMismatch, detail));
    }
    Ok(PreparedSale {
        id: sale.id,
        person: st.person_keys.key(id.as_str()),
        id_masked: id.masked(),
        buyer: Buyer::from_id(&id, sale.birth_date),
        kind,
        quantity: sale.quantity,
        sold_at: sale.sold_at,
        source: sale.source,
        offline: sale.offline,
        content_hash: sale_hash(site, sale, &id),
    })
}

/// Records sales (idempotent by id; a replay returns the original result). A sale that breaks
/// the quota is recorded as `overrun`. The batch is checked as a whole: any invalid sale or an
/// id reused with other content rejects it (422 / 409, listing the sales) and nothing is written.
#[utoipa::path(
    post,
    path = "/v1/sales",
    tag = "quota",
    request_body = SaleBatch,
    security(("bearer" = [])),
    responses((status = 200, body = SaleBatchResult), Problems)
)]
pub async fn sales(
    State(st): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(batch): ApiJson<SaleBatch>,
) -> Result<Json<SaleBatchResult>, ApiError> {
    auth.check_site(batch.site.as_deref())?;
    if batch.sales.is_empty() || batch.sales.len() > MAX_BATCH {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidQuantity,
            format!(
                "a batch holds 1..={MAX_BATCH} sales; send {} in several batches",
                batch.sales.len()
            ),
        ));
    }
    let now = now_ms(&st);
    let mut prepared = Vec::with_capacity(batch.sales.len());
    let mut problems = Vec::new();
    for (i, sale) in batch.sales.iter().enumerate() {
        match prepare(&st, &auth.site, now, i, sale) {
            Ok(p) => prepared.push(p),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::unprocessable(
            problems[0].code,
            "Some sales are invalid (see `errors`); nothing was recorded. Fix or remove them and send the batch again.",
        )
        .with_items(problems));
    }
    let write = SalesWrite {
        site: auth.site.clone(),
        now,
        sales: prepared,
        policies: Arc::clone(&st.policies),
    };
    match st.store.record_sales(write).await? {
        SalesOutcome::Recorded(results) => Ok(Json(SaleBatchResult { results })),
        SalesOutcome::Conflict(indices) => {
            let items = indices
                .into_iter()
                .filter_map(|i| batch.sales.get(i).map(|s| (i, s)))
                .map(|(i, s)| {
                    item(
                        i,
                        s.id.to_string(),
                        ErrorCode::IdempotencyConflict,
                        "this id was recorded before with different content",
                    )
                })
                .collect();
            Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                ErrorCode::IdempotencyConflict,
                "Sale id reused",
                "Some sale ids were recorded before with different content (see `errors`); nothing was recorded. Each sale needs its own new id.",
            )
            .with_items(items))
        }
    }
}

fn warnings(kind: BuyerKind, sold: i64, remaining: i64, cap: u32) -> Vec<InventoryWarning> {
    let cap = i64::from(cap);
    let mut out = Vec::new();
    if cap > 0 && sold >= cap {
        out.push(InventoryWarningCode::CapReached);
    } else if cap > 0 && sold * 10 >= cap * 9 {
        out.push(InventoryWarningCode::CapNear);
    }
    if remaining <= 0 {
        out.push(InventoryWarningCode::OutOfStock);
    } else if remaining * 10 < cap {
        out.push(InventoryWarningCode::StockLow);
    }
    out.into_iter()
        .map(|code| InventoryWarning { kind, code })
        .collect()
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn inventory_of(st: &AppState, site: &str, day: Date, t: DayTotals) -> Inventory {
    let policy = st
        .policies
        .in_force_on(day)
        .unwrap_or_else(|| st.policies.first());
    let (cap_adult, cap_child) = (policy.site_daily_adult, policy.site_daily_child);
    let mut warn = warnings(BuyerKind::Adult, t.sold_adult, t.remaining_adult, cap_adult);
    warn.extend(warnings(
        BuyerKind::Child,
        t.sold_child,
        t.remaining_child,
        cap_child,
    ));
    Inventory {
        site: site.to_owned(),
        date: day,
        received_adult: to_u32(t.received_adult),
        received_child: to_u32(t.received_child),
        sold_adult: to_u32(t.sold_adult),
        sold_child: to_u32(t.sold_child),
        damaged_adult: to_u32(t.damaged_adult),
        damaged_child: to_u32(t.damaged_child),
        remaining_adult: t.remaining_adult,
        remaining_child: t.remaining_child,
        opening_adult: t.remaining_adult - t.received_adult + t.damaged_adult + t.sold_adult,
        opening_child: t.remaining_child - t.received_child + t.damaged_child + t.sold_child,
        cap_adult,
        cap_child,
        warnings: warn,
    }
}

/// Records a delivery (received and damaged counts), idempotent by id.
#[utoipa::path(
    post,
    path = "/v1/stock",
    tag = "stock",
    request_body = StockIn,
    security(("bearer" = [])),
    responses((status = 200, body = StockInResult), Problems)
)]
pub async fn stock(
    State(st): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(req): ApiJson<StockIn>,
) -> Result<Json<StockInResult>, ApiError> {
    auth.check_site(req.site.as_deref())?;
    let now = st.clock.now();
    let counts = [
        req.received_adult,
        req.received_child,
        req.damaged_adult,
        req.damaged_child,
    ];
    if counts.iter().any(|&n| n > MAX_STOCK) {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidQuantity,
            format!("counts must be 0..={MAX_STOCK}"),
        ));
    }
    if req.recorded_at > now + st.max_clock_ahead {
        return Err(ApiError::unprocessable(
            ErrorCode::SaleTimeInFuture,
            "recorded_at is later than the server clock; check the pharmacy computer's clock",
        ));
    }
    if req.recorded_at < now - st.max_sale_age {
        return Err(ApiError::unprocessable(
            ErrorCode::SaleTimeTooOld,
            "recorded_at is too old",
        ));
    }
    let day = taipei_date(req.recorded_at);
    let hash = {
        let mut h = Sha256::new();
        h.update(format!(
            "{}|{}|{:?}|{}",
            auth.site,
            req.id,
            counts,
            req.recorded_at.unix_timestamp_nanos()
        ));
        hex::encode(h.finalize())
    };
    let write = StockWrite {
        id: req.id,
        site: auth.site.clone(),
        day,
        received_adult: req.received_adult,
        received_child: req.received_child,
        damaged_adult: req.damaged_adult,
        damaged_child: req.damaged_child,
        recorded_at: req.recorded_at,
        content_hash: hash,
    };
    match st.store.record_stock(write).await? {
        StockOutcome::Conflict => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::IdempotencyConflict,
            "Stock-in id reused",
            "This stock-in id was recorded before with different counts; nothing was recorded. Each delivery needs its own new id.",
        )),
        StockOutcome::Recorded { replayed, day } => {
            let totals = st.store.day_totals(auth.site.clone(), day).await?;
            Ok(Json(StockInResult {
                id: req.id,
                replayed,
                inventory: inventory_of(&st, &auth.site, day, totals),
            }))
        }
    }
}

/// Query of `GET /v1/inventory`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InventoryQuery {
    /// Day `YYYY-MM-DD` (Asia/Taipei); default today by the server clock.
    date: Option<String>,
    /// Site; when given it must be the token's own.
    site: Option<String>,
}

/// Inventory of the token's site on a day, with sales-cap warnings.
#[utoipa::path(
    get,
    path = "/v1/inventory",
    tag = "stock",
    params(InventoryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Inventory), Problems)
)]
pub async fn inventory(
    State(st): State<Arc<AppState>>,
    auth: Authed,
    query: Result<Query<InventoryQuery>, QueryRejection>,
) -> Result<Json<Inventory>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_query(e.body_text()))?;
    auth.check_site(q.site.as_deref())?;
    let day = match q.date.as_deref() {
        None => taipei_date(st.clock.now()),
        Some(text) => Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| ApiError::bad_query("`date` must be YYYY-MM-DD"))?,
    };
    let totals = st.store.day_totals(auth.site.clone(), day).await?;
    Ok(Json(inventory_of(&st, &auth.site, day, totals)))
}

/// Delists ("sold out", 一鍵下架) or relists the site; shown in the open data at the next refresh.
#[utoipa::path(
    post,
    path = "/v1/listing",
    tag = "stock",
    request_body = ListingRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ListingState), Problems)
)]
pub async fn listing(
    State(st): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(req): ApiJson<ListingRequest>,
) -> Result<Json<ListingState>, ApiError> {
    auth.check_site(req.site.as_deref())?;
    let now = now_ms(&st);
    let state = st
        .store
        .set_listing(auth.site.clone(), req.listed, now)
        .await?;
    let refresh = time::Duration::try_from(st.refresh).unwrap_or(time::Duration::ZERO);
    let next_refresh = st.snapshot().data_time + refresh;
    Ok(Json(ListingState {
        site: auth.site,
        listed: state.listed,
        changed_at: state.changed_at,
        effective_by: next_refresh.max(now),
    }))
}

/// The site this token acts for.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    tag = "quota",
    security(("bearer" = [])),
    responses((status = 200, body = WhoAmI), Problems)
)]
pub async fn whoami(State(st): State<Arc<AppState>>, auth: Authed) -> Json<WhoAmI> {
    let name = st
        .registry
        .get(&auth.site)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    Json(WhoAmI {
        site: auth.site,
        name,
        token_expires_at: auth.expires_at,
    })
}
