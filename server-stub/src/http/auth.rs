//! Bearer tokens: issuing (stored as SHA-256 only), checking, and rate limiting. A pharmacy
//! token opens the pharmacy routes for its own site; an audit token (central, read-only) opens
//! only the audit and report routes (and the report page, through its session: `reports`).
//! Each kind gets 403 on the other's routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use mask_api::ErrorCode;
use time::OffsetDateTime;

use super::AppState;
use super::error::ApiError;
use crate::store::{TokenRecord, TokenRole, token_hash};

/// How long a looked-up token is trusted without asking the store again, when nothing says
/// it changed. A revocation or rotation does not wait for this: it bumps the store's token
/// generation, which every server polls every [`TOKEN_POLL`] and then forgets its cache.
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(60);

/// How often a server asks the store whether any token was revoked or shortened. Why a polled
/// counter rather than a short cache lifetime: several servers may share one PostgreSQL store
/// and `token revoke` runs in yet another process, so a change must be seen across processes.
/// A 5 s lifetime would make every busy pharmacy's token a store read every 5 s (launch day:
/// ~6,000 tokens, over 1,000 reads a second on the hot path); the counter is one single-row
/// read a second per server, and a revoke takes effect within about a second.
pub const TOKEN_POLL: Duration = Duration::from_secs(1);

/// A new random token (`mst_` + 64 hex digits, 256 bits).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("mst_{}", hex::encode(bytes))
}

/// The site an authenticated request acts for.
#[derive(Clone, Debug)]
pub struct Authed {
    /// Site code of the token.
    pub site: String,
    pub expires_at: Option<OffsetDateTime>,
    /// The token's short id (`token list`).
    pub token_id: String,
}

impl Authed {
    /// 403 unless `requested` (when given) is the token's own site.
    pub fn check_site(&self, requested: Option<&str>) -> Result<(), ApiError> {
        match requested {
            Some(site) if site != self.site => Err(ApiError::forbidden(
                "A pharmacy may act only for its own site; the site in the request is not the token's site.",
            )),
            _ => Ok(()),
        }
    }
}

/// Recently seen tokens (hash → record).
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<String, (TokenRecord, Instant)>,
    /// Counts [`TokenCache::forget_all`]s: a lookup that began before one may not store what
    /// it read (it may have read a token just revoked).
    epoch: u64,
}

impl TokenCache {
    fn get(&self, hash: &str) -> Option<TokenRecord> {
        let entries = self.entries.lock().ok()?;
        let (record, at) = entries.by_hash.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| record.clone())
    }

    /// Call before a store lookup; pass the answer to [`Self::put`].
    fn epoch(&self) -> u64 {
        self.entries.lock().map_or(u64::MAX, |e| e.epoch)
    }

    fn put(&self, hash: String, record: TokenRecord, epoch: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.epoch != epoch {
                return;
            }
            if entries.by_hash.len() > 100_000 {
                entries.by_hash.clear();
            }
            entries.by_hash.insert(hash, (record, Instant::now()));
        }
    }

    /// Forgets every cached token (a token was revoked or shortened somewhere).
    pub fn forget_all(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.by_hash.clear();
            entries.epoch = entries.epoch.wrapping_add(1);
        }
    }
}

/// Polls the store's token generation every [`TOKEN_POLL`] and empties the token cache when it
/// moved from `seen` (read before the server takes requests), until the state is dropped. A
/// failed poll is logged and retried: meanwhile cached tokens live at most [`TOKEN_CACHE_TTL`].
///
/// Starting from the generation read before serving matters: a first poll that found "a new
/// generation" would empty the cache just filled by the first requests, and a pharmacy sharing
/// its address with someone guessing tokens would then be refused (429) before its own token is
/// looked up again.
pub(crate) fn spawn_token_watch(
    state: &Arc<AppState>,
    seen: Option<i64>,
) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TOKEN_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = seen;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            match state.store.token_generation().await {
                Ok(generation) if seen != Some(generation) => {
                    state.tokens.forget_all();
                    seen = Some(generation);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "token generation unreadable; cached tokens kept up to 60 s")
                }
            }
        }
    })
}

/// Token bucket per token: `rate` per second, bursts of `2 × rate`.
pub struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter; `per_sec == 0` disables it.
    pub fn new(per_sec: u32) -> Self {
        Self {
            rate: f64::from(per_sec),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` or the seconds to wait.
    fn take(&self, key: &str) -> Result<(), u64> {
        self.bucket(key, |tokens| {
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                Ok(())
            } else {
                Err(1)
            }
        })
    }

    /// Whether `key` has anything left, without using it up.
    fn allows(&self, key: &str) -> Result<(), u64> {
        self.bucket(key, |tokens| if *tokens >= 1.0 { Ok(()) } else { Err(1) })
    }

    /// Uses up one unit of `key`'s bucket even when it is empty: requests that passed
    /// [`Self::allows`] side by side all count.
    fn charge(&self, key: &str) {
        let _ = self.bucket(key, |tokens| {
            *tokens -= 1.0;
            Ok(())
        });
    }

    fn bucket(&self, key: &str, f: impl FnOnce(&mut f64) -> Result<(), u64>) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let burst = self.rate * 2.0;
        // Keyed by client address, the map would otherwise grow with every address seen.
        if buckets.len() > 100_000 {
            buckets.clear();
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).clamp(-burst, burst);
        *last = now;
        f(tokens)
    }
}

fn unauthorized(code: ErrorCode, detail: &str) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::UNAUTHORIZED,
        code,
        "Authentication required",
        detail,
    );
    e.problem.type_uri = format!("urn:mask:problem:{}", code.as_str());
    e
}

/// An authenticated central auditor (audit token).
#[derive(Clone, Debug)]
pub struct AuditAuthed;

fn wrong_kind(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "Not allowed for this token",
        detail,
    )
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (hash, record) = authenticate(parts, state).await?;
        if record.role != TokenRole::Pharmacy {
            return Err(wrong_kind(
                "An audit token may read the audit routes only; pharmacy routes need a pharmacy's token.",
            ));
        }
        Ok(Self {
            site: record.site,
            expires_at: record.expires_at,
            token_id: crate::store::token_id(&hash),
        })
    }
}

impl FromRequestParts<Arc<AppState>> for AuditAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (_, record) = authenticate(parts, state).await?;
        if record.role != TokenRole::Audit {
            return Err(wrong_kind(
                "The audit and report routes need an audit token (`mask-server-stub token issue --audit`); a pharmacy token cannot read them.",
            ));
        }
        Ok(Self)
    }
}

/// The client address per-address limits key on.
pub(crate) fn client_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<super::ClientAddr>>()
        .map_or_else(String::new, |c| c.0.0.ip().to_string())
}

/// The client's address as per-address limits see it (empty when the connection has none),
/// for handlers that check a token without a bearer header (the report page's login).
pub struct ClientIp(pub String);

impl FromRequestParts<Arc<AppState>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_of(parts)))
    }
}

/// The bearer token's hash and record: known, not revoked, unexpired, within its rate.
async fn authenticate(
    parts: &Parts,
    state: &Arc<AppState>,
) -> Result<(String, TokenRecord), ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthorized(
                ErrorCode::Unauthorized,
                "Send the pharmacy's token as `Authorization: Bearer <token>` (issue one with `mask-server-stub token issue`).",
            )
        })?;
    let hash = token_hash(token);
    let record = check_token(state, &hash, &client_of(parts)).await?;
    Ok((hash, record))
}

/// The record of the token whose hash is `hash`, asked from `client`: known, not revoked,
/// unexpired, within its rate (the bearer header and the report page's session both end here).
pub(crate) async fn check_token(
    state: &Arc<AppState>,
    hash: &str,
    client: &str,
) -> Result<TokenRecord, ApiError> {
    let record = match state.tokens.get(hash) {
        Some(r) => r,
        None => {
            // An address that sent too many unknown tokens lately gets no more lookups, so
            // guessing tokens costs the guesser, not the store. Known tokens never count:
            // many pharmacies may share one address (a VPN), and after a restart they all
            // look their tokens up at once.
            if let Err(wait) = state.unknown_tokens.allows(client) {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::RateLimited,
                    "Too many requests",
                    "Too many unknown tokens from this address; retry after the given seconds.",
                );
                e.retry_after = Some(wait);
                return Err(e);
            }
            let epoch = state.tokens.epoch();
            let found = state.store.find_token(hash.to_owned()).await?;
            let record = found.ok_or_else(|| {
                state.unknown_tokens.charge(client);
                unauthorized(
                    ErrorCode::InvalidToken,
                    "The token is not known to this server; ask for a new one.",
                )
            })?;
            state.tokens.put(hash.to_owned(), record.clone(), epoch);
            record
        }
    };
    if record.revoked_at.is_some() {
        return Err(unauthorized(
            ErrorCode::TokenRevoked,
            "The token was revoked by the central side; ask for a new one.",
        ));
    }
    // Token expiry is a security matter: real time, not the (possibly shifted) rules clock.
    if record
        .expires_at
        .is_some_and(|exp| exp <= OffsetDateTime::now_utc())
    {
        return Err(unauthorized(
            ErrorCode::TokenExpired,
            "The token has expired; ask for a new one.",
        ));
    }
    if let Err(wait) = state.limiter.take(hash) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "Too many requests",
            "This token sends more requests than allowed; retry after the given seconds.",
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TokenRecord {
        TokenRecord {
            site: "0145080011".into(),
            role: TokenRole::Pharmacy,
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_lookup_that_began_before_a_forget_is_not_cached() {
        let cache = TokenCache::default();
        // A lookup starts, a revocation is noticed meanwhile, the lookup ends.
        let epoch = cache.epoch();
        cache.forget_all();
        cache.put("h".into(), record(), epoch);
        assert_eq!(
            cache.get("h"),
            None,
            "what it read may be the revoked token"
        );
        // A lookup that began after is cached, until the next forget.
        cache.put("h".into(), record(), cache.epoch());
        assert_eq!(cache.get("h"), Some(record()));
        cache.forget_all();
        assert_eq!(cache.get("h"), None);
    }
}
