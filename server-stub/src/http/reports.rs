//! The agencies' sales report: `GET /v1/reports/sales` (JSON or CSV, audit tokens) and the
//! report page `GET /reports` with its login (`POST /reports/login`, `POST /reports/logout`).
//!
//! A browser cannot send a bearer header by itself, so the page has its own session: the
//! analyst posts an audit token once to `/reports/login`; the answer sets a cookie
//! (`HttpOnly`, `SameSite=Strict`, `Path=/reports`, `Secure` over HTTPS, 8 hours) holding the
//! token's stored hash, an expiry and an HMAC-SHA256 of both under a key this server process
//! drew at start. The token itself is never in the cookie, a URL or a log. Each page view checks
//! the MAC and the expiry, then the token as a bearer request would (revoked, expired, unknown:
//! refused; a pharmacy token: refused). A server restart forgets the key, so sessions end with
//! it (log in again); several servers behind one name each need their own login.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{KeyInit, Mac};
use mask_api::SalesReport;
use serde::Deserialize;
use time::{Date, OffsetDateTime};

use super::AppState;
use super::audit::{csv_response, day_range, wants_csv};
use super::auth::{AuditAuthed, ClientIp, check_token};
use super::error::ApiError;
use super::v1::Problems;
use crate::reports::page::{self, Lang, Refusal};
use crate::reports::{self, Sites};
use crate::store::{TokenRole, token_hash};

/// Longest range of days one report may cover.
pub const MAX_REPORT_DAYS: i64 = 31;

/// Days the page shows, ending today (Asia/Taipei), unless `days` says otherwise.
const PAGE_DAYS: u32 = 7;

/// Name of the page's session cookie.
pub const SESSION_COOKIE: &str = "mask_reports";

/// How long a page session lasts (a working day).
const SESSION_SECS: i64 = 8 * 3600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The page sessions' key (drawn at start) and whether cookies are `Secure` (HTTPS).
pub struct Sessions {
    key: [u8; 32],
    secure: bool,
}

impl Sessions {
    /// A new random key; `secure` when the server speaks HTTPS.
    pub fn new(secure: bool) -> Self {
        Self {
            key: rand::random(),
            secure,
        }
    }

    fn mac(&self, hash: &str, expires: i64) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(format!("v1.{hash}.{expires}").as_bytes());
        mac
    }

    /// The cookie value for the token of `hash`, valid until `expires` (unix seconds).
    fn value(&self, hash: &str, expires: i64) -> String {
        let tag = hex::encode(self.mac(hash, expires).finalize().into_bytes());
        format!("v1.{hash}.{expires}.{tag}")
    }

    /// The token hash a cookie value vouches for, if its MAC is right and it has not expired.
    fn check(&self, value: &str, now: i64) -> Option<String> {
        let mut parts = value.split('.');
        let (Some("v1"), Some(hash), Some(expires), Some(tag), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        let tag = hex::decode(tag).ok()?;
        self.mac(hash, expires).verify_slice(&tag).ok()?;
        (now < expires).then(|| hash.to_owned())
    }

    fn set_cookie(&self, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={value}; Path=/reports; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
    }
}

/// The value of cookie `name` in the request. Hand-written: one `name=value` out of the
/// `Cookie` header's `; `-separated list; a cookie crate would bring a jar we do not need.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Query of `GET /v1/reports/sales`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day `YYYY-MM-DD` (Asia/Taipei).
    from: String,
    /// Last day `YYYY-MM-DD`, inclusive (at most 31 days from `from`, both counted).
    to: String,
    /// `json` (default) or `csv`; without it `Accept: text/csv` asks for CSV.
    format: Option<String>,
}

async fn report(st: &AppState, from: Date, to: Date) -> Result<SalesReport, ApiError> {
    let rows = st.store.report_rows(from, to).await?;
    Ok(reports::build(
        &st.registry,
        &rows,
        from,
        to,
        st.clock.now(),
        Sites::Active,
    ))
}

/// Sales per 3-hour slot (Asia/Taipei: 00–03, 03–06, …) and per day of `from..=to`, by county
/// (every county of the registry) and by site (each site with a sale or a stock movement in the
/// range), adult and child, with the stock on hand at the end of each day. Overrun sales count
/// as sold. Audit tokens only (pharmacy tokens get 403). JSON, or CSV with `format=csv` /
/// `Accept: text/csv` (columns: `day, slot, level, county, district, site, sold_adult,
/// sold_child, remaining_adult, remaining_child`; `slot` is `00-03` … `21-24` or `day` for the
/// whole day, the only rows with the remaining stock; `level` is `county` or `site`).
#[utoipa::path(
    get,
    path = "/v1/reports/sales",
    tag = "reports",
    params(ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SalesReport, content(
            (SalesReport = "application/json"),
            (String = "text/csv")
        )),
        Problems
    )
)]
pub async fn sales_report(
    State(st): State<Arc<AppState>>,
    _auth: AuditAuthed,
    headers: HeaderMap,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_query(e.body_text()))?;
    let (from, to) = day_range(&q.from, &q.to, MAX_REPORT_DAYS)?;
    let csv = wants_csv(q.format.as_deref(), &headers)?;
    let report = report(&st, from, to).await?;
    if !csv {
        return Ok(axum::Json(report).into_response());
    }
    csv_response(reports::csv(&report), "sales report")
}

/// Query of the page.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// `zh` (default) or `en`.
    lang: Option<String>,
    /// Days shown, ending today: 1..=31 (default 7).
    days: Option<u32>,
}

fn lang_of(text: Option<&str>) -> Lang {
    match text {
        Some(t) if t.eq_ignore_ascii_case("en") || t.to_ascii_lowercase().starts_with("en-") => {
            Lang::En
        }
        _ => Lang::ZhTw,
    }
}

/// An HTML answer: private, never cached, no script, no outside resources.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    super::with_page_security(
        response,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
}

/// The login page answering a refusal: 401 for no (valid) token or session, 403 for a token
/// of the wrong kind.
fn refused(lang: Lang, why: Option<Refusal>) -> Response {
    let status = match why {
        Some(Refusal::WrongKind) => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    html(status, page::login_page(lang, why.map(|w| w.text(lang))))
}

/// What a token check answered, for the page: an audit token, or why not. Limits (429) and
/// store failures (503) stay problems.
async fn page_check(
    st: &Arc<AppState>,
    hash: &str,
    client: &str,
) -> Result<Result<(), Refusal>, ApiError> {
    match check_token(st, hash, client).await {
        Ok(record) if record.role == TokenRole::Audit => Ok(Ok(())),
        Ok(_) => Ok(Err(Refusal::WrongKind)),
        Err(e) if e.problem.status == StatusCode::UNAUTHORIZED.as_u16() => {
            Ok(Err(Refusal::NotLoggedIn))
        }
        Err(e) => Err(e),
    }
}

/// `GET /reports`: the charts for an open session, else the login form (401).
pub async fn report_page(
    State(st): State<Arc<AppState>>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_query(e.body_text()))?;
    let lang = lang_of(q.lang.as_deref());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let Some(hash) = cookie(&headers, SESSION_COOKIE).and_then(|v| st.sessions.check(v, now))
    else {
        return Ok(refused(lang, None));
    };
    if let Err(why) = page_check(&st, &hash, &client).await? {
        return Ok(refused(lang, Some(why)));
    }
    let days = q.days.unwrap_or(PAGE_DAYS);
    if !(1..=u32::try_from(MAX_REPORT_DAYS).unwrap_or(31)).contains(&days) {
        return Err(ApiError::bad_query(format!(
            "`days` must be 1..={MAX_REPORT_DAYS}"
        )));
    }
    let to = mask_api::taipei_date(st.clock.now());
    let from = to - time::Duration::days(i64::from(days) - 1);
    let report = report(&st, from, to).await?;
    Ok(html(StatusCode::OK, page::report_page(&report, lang)))
}

/// Form of `POST /reports/login`.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    lang: Option<String>,
}

/// `POST /reports/login`: an audit token opens a session (303 to the page); any other token
/// gets the form again (401, or 403 for a pharmacy token).
pub async fn login(
    State(st): State<Arc<AppState>>,
    ClientIp(client): ClientIp,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Ok(Form(form)) = form else {
        return Ok(refused(Lang::ZhTw, Some(Refusal::NotLoggedIn)));
    };
    let lang = lang_of(form.lang.as_deref());
    let token = form.token.trim();
    if token.is_empty() {
        return Ok(refused(lang, Some(Refusal::NotLoggedIn)));
    }
    let hash = token_hash(token);
    if let Err(why) = page_check(&st, &hash, &client).await? {
        return Ok(refused(lang, Some(why)));
    }
    let expires = OffsetDateTime::now_utc().unix_timestamp() + SESSION_SECS;
    let value = st.sessions.value(&hash, expires);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_static(match lang {
            Lang::En => "/reports?lang=en",
            Lang::ZhTw => "/reports",
        }),
    );
    h.insert(
        header::SET_COOKIE,
        st.sessions.set_cookie(&value, SESSION_SECS),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /reports/logout`: forgets the session cookie, back to the form.
pub async fn logout(State(st): State<Arc<AppState>>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static("/reports"));
    h.insert(header::SET_COOKIE, st.sessions.set_cookie("", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_cookie_is_good_until_it_expires_and_only_as_made() {
        let sessions = Sessions::new(false);
        let value = sessions.value("abc123", 1_000);
        assert_eq!(sessions.check(&value, 999).as_deref(), Some("abc123"));
        assert_eq!(sessions.check(&value, 1_000), None, "expired");
        // Another hash or a later expiry under the same tag is refused.
        let tag = value.rsplit('.').next().unwrap_or_default();
        assert_eq!(sessions.check(&format!("v1.abc124.1000.{tag}"), 0), None);
        assert_eq!(sessions.check(&format!("v1.abc123.9999.{tag}"), 0), None);
        // Another server process (another key) does not take it.
        assert_eq!(Sessions::new(false).check(&value, 0), None);
        assert_eq!(sessions.check("garbage", 0), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let plain = Sessions::new(false).set_cookie("x", 60);
        let plain = plain.to_str().unwrap_or_default();
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(!plain.contains("Secure"));
        let tls = Sessions::new(true).set_cookie("x", 60);
        assert!(tls.to_str().unwrap_or_default().ends_with("; Secure"));
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mask_reports=v1.x.2.y; b=3"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("v1.x.2.y"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
