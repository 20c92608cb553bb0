//! The HTTP surface: state, router, OpenAPI document.

pub mod ask_log;
mod audit;
pub mod auth;
pub mod distinct_ids;
pub mod error;
mod feeds;
pub mod reports;
mod stock_page;
pub mod timing;
mod v1;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::connect_info::Connected;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use mask_api::PolicySet;
use utoipa::OpenApi;

use crate::open_data::Snapshot;
use crate::sites::Registry;
use crate::store::DynStore;
use mask_api::Clock;

/// Everything handlers share.
pub struct AppState {
    pub store: DynStore,
    /// How buyers are keyed in the store.
    pub person_keys: crate::person_key::PersonKeys,
    pub registry: Registry,
    pub policies: Arc<PolicySet>,
    /// `GET /v1/policy` body, precomputed.
    pub policy_json: Bytes,
    /// `GET /v1/openapi.json` body, precomputed.
    pub openapi_json: Bytes,
    pub clock: Clock,
    pub snapshot: RwLock<Arc<Snapshot>>,
    pub tokens: auth::TokenCache,
    pub limiter: auth::RateLimiter,
    /// Per client address: unknown tokens sent.
    pub unknown_tokens: auth::RateLimiter,
    /// Per token: different persons asked about in the last minute.
    pub distinct_ids: distinct_ids::DistinctIds,
    /// The audit of eligibility questions.
    pub asks: ask_log::AskLog,
    pub refresh: Duration,
    /// Oldest sale/stock time accepted, relative to the clock.
    pub max_sale_age: time::Duration,
    /// Allowed client clock lead.
    pub max_clock_ahead: time::Duration,
    /// The report page's sessions.
    pub sessions: reports::Sessions,
    /// The thread where snapshots are rebuilt.
    pub background: crate::background::Background,
}

impl AppState {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

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
        v1::note,
        v1::whoami,
        audit::audit_sales,
        audit::audit_eligibility,
        reports::sales_report,
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
        mask_api::AuditSale,
        mask_api::AuditSales,
        mask_api::EligibilityAsk,
        mask_api::EligibilityAsks,
        mask_api::SalesReport,
        mask_api::CountyReport,
        mask_api::SiteReport,
        mask_api::DayFigures,
        mask_api::SlotSales,
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

/// `Date` of every answer, errors included, from the server's own clock (which honours
/// `--as-of`), so an agent can set its clock by the server's.
async fn server_date(State(st): State<Arc<AppState>>, mut response: Response) -> Response {
    let now = st.clock.now().to_offset(time::UtcOffset::UTC);
    let text = now.format(time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ));
    if let Ok(value) = text
        .map_err(|_| ())
        .and_then(|t| HeaderValue::from_str(&t).map_err(|_| ()))
    {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

pub fn router(state: Arc<AppState>, body_limit: usize) -> Router {
    Router::new()
        .route("/v1/eligibility", post(v1::eligibility))
        .route("/v1/sales", post(v1::sales))
        .route("/v1/stock", post(v1::stock))
        .route("/v1/inventory", get(v1::inventory))
        .route("/v1/listing", post(v1::listing))
        .route("/v1/note", post(v1::note))
        .route("/v1/whoami", get(v1::whoami))
        .route("/v1/audit/sales", get(audit::audit_sales))
        .route("/v1/audit/eligibility", get(audit::audit_eligibility))
        .route("/v1/reports/sales", get(reports::sales_report))
        .route("/reports", get(reports::report_page))
        .route("/reports/login", post(reports::login))
        .route("/reports/logout", post(reports::logout))
        .route("/v1/policy", get(feeds::policy))
        .route("/v1/sites", get(feeds::sites))
        .route("/v1/health", get(feeds::health))
        .route("/v1/openapi.json", get(feeds::openapi))
        .route("/maskdata.csv", get(feeds::maskdata))
        .route("/", get(stock_page::zh_tw))
        .route("/en", get(stock_page::en))
        .route("/en/", get(stock_page::en))
        .route("/style.css", get(stock_page::style))
        .route_layer(axum::middleware::from_fn(timing::time_request))
        .fallback(|| async { error::ApiError::not_found() })
        .method_not_allowed_fallback(|| async { error::ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&state),
            server_date,
        ))
        .with_state(state)
}

/// The peer address of a connection, plain or TLS (what per-address limits key on).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, crate::tls::TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, PlainListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, PlainListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// Plain-HTTP connections, without Nagle's delay on the small answers.
pub struct PlainListener(pub tokio::net::TcpListener);

impl axum::serve::Listener for PlainListener {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return (stream, peer);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Wraps the router in the server's limits: each request, reading its body included, gets at
/// most `timeout` (then 408, so a client trickling a body cannot hold a handler forever), and
/// at most `max_concurrent` requests are handled at once across all connections (the rest wait
/// for a slot, so a burst cannot pile up unbounded work on the store).
pub fn with_limits(app: Router, timeout: Duration, max_concurrent: usize) -> Router {
    let slots = Arc::new(tokio::sync::Semaphore::new(
        max_concurrent.clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
    ));
    app.layer(
        tower::ServiceBuilder::new()
            .layer(HandleErrorLayer::new(|e: tower::BoxError| async move {
                if e.is::<tower::timeout::error::Elapsed>() {
                    let mut err = error::ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        mask_api::ErrorCode::Unavailable,
                        "Request timeout",
                        "The request took longer than the server allows (a slow upload, or \
                         the server too busy); nothing was acknowledged. Retry.",
                    );
                    err.retry_after = Some(1);
                    err
                } else {
                    tracing::error!(error = %e, "request failed in the server's limits");
                    error::ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        mask_api::ErrorCode::Internal,
                        "Server error",
                        "The server could not complete the request; nothing was acknowledged.",
                    )
                }
            }))
            .layer(tower::timeout::TimeoutLayer::new(timeout))
            .layer(tower::limit::GlobalConcurrencyLimitLayer::with_semaphore(
                slots,
            )),
    )
}

/// The OpenAPI document as JSON bytes (served at `/v1/openapi.json`).
pub fn openapi_json() -> Bytes {
    feeds::openapi_bytes()
}

/// The headers every HTML page of the server carries (stock page, report page): its
/// Content-Security-Policy `csp` (each page allows only what it loads), no MIME sniffing, no
/// referrer sent to the map links or anywhere else.
fn with_page_security(mut response: Response, csp: &'static str) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
