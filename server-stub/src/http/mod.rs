//! The HTTP surface: state, router, OpenAPI document.

pub mod auth;
pub mod error;
mod feeds;
mod v1;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use mask_api::PolicySet;
use utoipa::OpenApi;

use crate::clock::Clock;
use crate::open_data::Snapshot;
use crate::sites::Registry;
use crate::store::DynStore;

/// Everything handlers share.
pub struct AppState {
    /// Storage.
    pub store: DynStore,
    /// How buyers are keyed in the store.
    pub person_keys: crate::person_key::PersonKeys,
    /// Site registry.
    pub registry: Registry,
    /// Rules.
    pub policies: Arc<PolicySet>,
    /// `GET /v1/policy` body, precomputed.
    pub policy_json: Bytes,
    /// `GET /v1/openapi.json` body, precomputed.
    pub openapi_json: Bytes,
    /// Server clock.
    pub clock: Clock,
    /// Current open-data snapshot.
    pub snapshot: RwLock<Arc<Snapshot>>,
    /// Token lookups.
    pub tokens: auth::TokenCache,
    /// Per-token rate limit.
    pub limiter: auth::RateLimiter,
    /// Open-data refresh interval.
    pub refresh: Duration,
    /// Oldest sale/stock time accepted, relative to the clock.
    pub max_sale_age: time::Duration,
    /// Allowed client clock lead.
    pub max_clock_ahead: time::Duration,
}

impl AppState {
    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Replaces the snapshot.
    pub fn set_snapshot(&self, snap: Snapshot) {
        let snap = Arc::new(snap);
        match self.snapshot.write() {
            Ok(mut s) => *s = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
    }
}

/// The OpenAPI 3 document, generated from the handlers and the `mask-api` types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mask-server-stub",
        description = "Central quota API and open-data feed of the 2020 name-based mask rationing (stand-in for the NHI system).",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        v1::eligibility,
        v1::sales,
        v1::stock,
        v1::inventory,
        v1::listing,
        v1::whoami,
        feeds::policy,
        feeds::sites,
        feeds::health,
        feeds::maskdata,
    ),
    components(schemas(
        mask_api::Problem,
        mask_api::ProblemItem,
        mask_api::ErrorCode,
        mask_api::PolicySet,
        mask_api::PolicyVersion,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The full router.
pub fn router(state: Arc<AppState>, body_limit: usize) -> Router {
    Router::new()
        .route("/v1/eligibility", post(v1::eligibility))
        .route("/v1/sales", post(v1::sales))
        .route("/v1/stock", post(v1::stock))
        .route("/v1/inventory", get(v1::inventory))
        .route("/v1/listing", post(v1::listing))
        .route("/v1/whoami", get(v1::whoami))
        .route("/v1/policy", get(feeds::policy))
        .route("/v1/sites", get(feeds::sites))
        .route("/v1/health", get(feeds::health))
        .route("/v1/openapi.json", get(feeds::openapi))
        .route("/maskdata.csv", get(feeds::maskdata))
        .fallback(|| async { error::ApiError::not_found() })
        .method_not_allowed_fallback(|| async { error::ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&state),
            server_date,
        ))
        .with_state(state)
}

/// Agents set their clock by the `Date` of our answers, so it must be this server's clock
/// (which honours `--as-of`), not the host's.
async fn server_date(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    if let Ok(text) = st.clock.now().format(HTTP_DATE)
        && let Ok(value) = axum::http::HeaderValue::from_str(&text)
    {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// The OpenAPI document as JSON bytes (served at `/v1/openapi.json`).
pub fn openapi_json() -> Bytes {
    feeds::openapi_bytes()
}
