//! Authenticated `/v1` routes of a pharmacy: eligibility, sales, stock, inventory, listing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State, rejection::QueryRejection};
use mask_api::{
    Buyer, BuyerKind, Eligibility, EligibilityRequest, ErrorCode, Inventory, InventoryWarning,
    ListingRequest, ListingState, ProblemItem, Purchase, Sale, SaleBatch, SaleBatchResult,
    SaleFlag, SaleResult, SaleStatus, StockIn, StockInResult, StockLevel, WhoAmI, decide,
    taipei_date,
};
use nhi_card::IdNumber;
use serde::Deserialize;
use time::{Date, OffsetDateTime};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder, ResponsesBuilder};

use super::AppState;
use super::auth::Authed;
use super::error::{ApiError, ApiJson};
use crate::content_hash::{
    ContentHashes, legacy_sale_tail, legacy_stock_tail, sale_canonical, stock_canonical,
};
use crate::store::{
    AskRecord, DayTotals, PreparedSale, SalesOutcome, SalesWrite, StockOutcome, StockWrite,
};

/// Most sales in one batch.
pub const MAX_BATCH: usize = 500;
/// Most masks in one sale.
pub const MAX_QUANTITY: u32 = 100;
/// Most masks in one stock-in field.
pub const MAX_STOCK: u32 = 1_000_000;
/// Most unsynced sales one eligibility request may carry.
pub const MAX_UNSYNCED: usize = 100;

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
            (
                "401",
                "Missing, unknown, revoked (`token_revoked`) or expired (`token_expired`) token",
            ),
            (
                "403",
                "Acting for another site, or a token of the wrong kind (pharmacy / audit)",
            ),
            ("404", "Unknown resource"),
            ("409", "Id reused with different content (stock-in)"),
            ("413", "Body too large"),
            ("415", "Body is not application/json"),
            ("422", "Invalid content (ID number, times, quantities)"),
            (
                "429",
                "Rate limited (`rate_limited`), or, on eligibility, too many different ID numbers \
                 asked in the last minute (`distinct_id_limit`); see Retry-After",
            ),
            ("500", "Server fault"),
            (
                "503",
                "Storage (or the eligibility audit) unavailable; retry",
            ),
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
    mask_api::to_millisecond(st.clock.now())
}

/// May this person buy now, and how many? Quota is per person across all pharmacies: decided
/// over the server's history of the person and the request's `unsynced` sales (at most 100),
/// deduplicated by sale id.
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
    auth: Authed,
    ApiJson(req): ApiJson<EligibilityRequest>,
) -> Result<Json<Eligibility>, ApiError> {
    let now = st.clock.now();
    let id =
        parse_id(&req.id_no).map_err(|d| ApiError::unprocessable(ErrorCode::InvalidIdNumber, d))?;
    check_birth(req.birth_date, now)
        .map_err(|d| ApiError::unprocessable(ErrorCode::InvalidBody, d))?;
    if req.unsynced.len() > MAX_UNSYNCED {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidQuantity,
            format!(
                "at most {MAX_UNSYNCED} unsynced sales per request; send the outbox first, then ask again"
            ),
        ));
    }
    if let Some(bad) = req
        .unsynced
        .iter()
        .position(|u| u.quantity == 0 || u.quantity > MAX_QUANTITY)
    {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidQuantity,
            format!("unsynced sale {bad}: quantity must be 1..={MAX_QUANTITY}"),
        ));
    }
    let person = st.person_keys.key(id.as_str());
    if let Err(wait) = st.distinct_ids.check(&auth.token_id, person) {
        let mut e = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::DistinctIdLimit,
            "Too many different ID numbers",
            "This token asked about more different ID numbers in the last minute than a \
             pharmacy counter serves; retry after the given seconds. Asking again about the \
             same ID number does not count.",
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let held = st.store.purchases(person).await?;
    let mut ids: std::collections::HashSet<uuid::Uuid> = held.iter().map(|h| h.id).collect();
    let mut history: Vec<Purchase> = held.iter().map(|h| h.purchase()).collect();
    // A sale the server holds already is counted once, whichever side reports it.
    for u in &req.unsynced {
        if ids.insert(u.id) {
            history.push(Purchase {
                sold_at: u.sold_at,
                quantity: u.quantity,
            });
        }
    }
    let buyer = Buyer::from_id(&id, req.birth_date);
    let answer = decide(&st.policies, &buyer, &history, now);
    // No answer about a person leaves without its audit row queued.
    st.asks
        .record(AskRecord {
            asked_at: now_ms(&st),
            site: auth.site,
            token_id: auth.token_id,
            person,
            id_masked: id.masked(),
        })
        .map_err(|_| {
            let mut e = ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "Audit unavailable",
                "The server cannot record who asked about whom right now, so it does not answer; retry later.",
            );
            e.retry_after = Some(1);
            e
        })?;
    Ok(Json(answer))
}

fn item(index: usize, id: String, code: ErrorCode, detail: impl Into<String>) -> ProblemItem {
    ProblemItem {
        index: Some(index),
        id: Some(id),
        code,
        detail: detail.into(),
    }
}

/// Checks one sale: the prepared sale, or why it cannot be a sale at all. Everything the
/// rules say about a sale that can be one (odd times, kind, birth date) becomes a flag: the
/// counter handed the masks over.
fn prepare(
    st: &AppState,
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
    if sale.quantity == 0 || sale.quantity > MAX_QUANTITY {
        return Err(fail(
            ErrorCode::InvalidQuantity,
            format!("quantity must be 1..={MAX_QUANTITY}"),
        ));
    }
    let mut flags = Vec::new();
    if sale.sold_at > now + st.max_clock_ahead {
        flags.push(SaleFlag::SoldInFuture);
    }
    if sale.sold_at < now - st.max_sale_age {
        flags.push(SaleFlag::SoldLongAgo);
    }
    let policy = match st.policies.in_force(sale.sold_at) {
        Some(policy) => policy,
        None => {
            flags.push(SaleFlag::BeforeRationing);
            st.policies.first()
        }
    };
    if policy.kind_of(sale.birth_date) != sale.kind {
        flags.push(SaleFlag::KindMismatch);
    }
    if check_birth(sale.birth_date, now).is_err() {
        flags.push(SaleFlag::BirthDateInFuture);
    }
    Ok(PreparedSale {
        id: sale.id,
        person: st.person_keys.key(id.as_str()),
        id_masked: id.masked(),
        buyer: Buyer::from_id(&id, sale.birth_date),
        kind: sale.kind,
        quantity: sale.quantity,
        sold_at: sale.sold_at,
        source: sale.source,
        offline: sale.offline,
        hashes: ContentHashes {
            keyed: st.person_keys.content_hash(&sale_canonical(sale, &id)),
            legacy_tail: legacy_sale_tail(sale, &id),
        },
        flags,
    })
}

/// Records sales, each on its own (idempotent by id; a replay returns the stored result).
///
/// A sale the counter showed as done is a fact: it is recorded exactly once and never refused
/// for rule reasons. Each sale gets its own result: `accepted`, `overrun` (recorded, broke the
/// quota), with `flags` for what the audit should look at (sold in the future / long ago /
/// before rationing, kind contradicting the birth date, birth date in the future);
/// `rejected` with a `problem` only when it cannot be a sale at all (id not a UUIDv7, ID
/// number invalid, quantity out of 1..=100); `conflict` when its id was recorded before with
/// other content. None of these hold back the other sales of the batch. The whole batch is
/// refused only for an undecodable body, an empty or oversized batch, or another site (403).
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
    let mut results: Vec<Option<SaleResult>> = vec![None; batch.sales.len()];
    let mut prepared = Vec::with_capacity(batch.sales.len());
    let mut positions = Vec::with_capacity(batch.sales.len());
    for (i, sale) in batch.sales.iter().enumerate() {
        match prepare(&st, now, i, sale) {
            Ok(p) => {
                prepared.push(p);
                positions.push(i);
            }
            Err(problem) => {
                results[i] = Some(SaleResult {
                    id: sale.id,
                    status: SaleStatus::Rejected,
                    overrun_reason: None,
                    recorded_at: now,
                    replayed: false,
                    flags: Vec::new(),
                    problem: Some(problem),
                });
            }
        }
    }
    if !prepared.is_empty() {
        let write = SalesWrite {
            site: auth.site.clone(),
            now,
            sales: prepared,
            policies: Arc::clone(&st.policies),
        };
        let SalesOutcome(recorded) = st.store.record_sales(write).await?;
        for (i, mut result) in positions.into_iter().zip(recorded) {
            if let Some(problem) = &mut result.problem {
                problem.index = Some(i);
            }
            results[i] = Some(result);
        }
    }
    Ok(Json(SaleBatchResult {
        results: results.into_iter().flatten().collect(),
    }))
}

fn warnings(kind: BuyerKind, sold: i64, remaining: i64, cap: u32) -> Vec<InventoryWarning> {
    let level = StockLevel {
        sold: to_u32(sold),
        remaining: Some(remaining),
        cap,
    };
    level
        .warnings()
        .into_iter()
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

/// Records a delivery (received and damaged counts), idempotent by id. It counts on the
/// Asia/Taipei day of its `recorded_at`, clamped into the server's accepted sale age up to now
/// (a PC clock ahead or far behind moves the day, it does not refuse the delivery).
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
    // The masks arrived: a PC clock far off moves the day they count on, never refuses them.
    let counted_at = req.recorded_at.clamp(now - st.max_sale_age, now);
    let day = taipei_date(counted_at);
    let write = StockWrite {
        id: req.id,
        site: auth.site.clone(),
        day,
        received_adult: req.received_adult,
        received_child: req.received_child,
        damaged_adult: req.damaged_adult,
        damaged_child: req.damaged_child,
        recorded_at: req.recorded_at,
        hashes: ContentHashes {
            keyed: st.person_keys.content_hash(&stock_canonical(&req)),
            legacy_tail: legacy_stock_tail(&req),
        },
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
