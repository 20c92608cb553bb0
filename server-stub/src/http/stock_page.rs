//! The public stock page's routes: `/` (zh-TW), `/en/` (English), `/style.css`. Pages come from
//! the current open-data snapshot ([`crate::stock_page`]) with the same ETag / 304 / gzip /
//! `Cache-Control` handling as `/maskdata.csv`. Not in the OpenAPI document (HTML for people).

use std::sync::{Arc, OnceLock};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::feeds::serve_variant;
use crate::open_data::Variant;
use crate::stock_page::{Lang, Lookup, PageParams, STYLE_CSS};

/// What the page may load: its own stylesheet, nothing else (no script, no outside resource).
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";

fn harden(response: Response) -> Response {
    super::with_page_security(response, CSP)
}

async fn page(st: Arc<AppState>, lang: Lang, params: PageParams, headers: HeaderMap) -> Response {
    let snap = st.snapshot();
    let refresh = st.refresh.as_secs();
    let variant = match snap.pages.lookup(lang, &params) {
        Lookup::Hit(v) => v,
        Lookup::Miss(missing) => {
            // A large county takes milliseconds to render: off the async workers.
            let pages = Arc::clone(&snap.pages);
            let registry = st.registry.clone();
            match tokio::task::spawn_blocking(move || pages.render(&registry, missing, refresh))
                .await
            {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "stock page render failed");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
        Lookup::UnknownCounty(county) => {
            let body = snap.pages.unknown_county(lang, &county, refresh);
            return harden(
                (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, HTML)], body).into_response(),
            );
        }
    };
    harden(serve_variant(&headers, &variant, HTML, refresh))
}

/// `GET /`: the stock page in zh-TW.
pub async fn zh_tw(
    State(st): State<Arc<AppState>>,
    Query(params): Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    page(st, Lang::ZhTw, params, headers).await
}

/// `GET /en/`: the stock page in English.
pub async fn en(
    State(st): State<Arc<AppState>>,
    Query(params): Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    page(st, Lang::En, params, headers).await
}

/// `GET /style.css`: the page's one stylesheet (its URL carries a hash of it, so it may be
/// cached for a day).
pub async fn style(headers: HeaderMap) -> Response {
    static STYLE: OnceLock<Variant> = OnceLock::new();
    let v = STYLE.get_or_init(|| Variant::new(STYLE_CSS.as_bytes().to_vec()));
    serve_variant(&headers, v, "text/css; charset=utf-8", 86_400)
}
