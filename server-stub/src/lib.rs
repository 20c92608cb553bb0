//! `mask-server-stub`: the central quota API and open-data feed (stand-in for the NHI system).
//!
//! # Running it in-process (tests of other crates)
//!
//! ```no_run
//! # async fn demo() -> Result<(), mask_server_stub::ServerError> {
//! use mask_server_stub::{ServerConfig, spawn};
//! let dir = tempfile::tempdir().unwrap();
//! let mut config = ServerConfig::new(dir.path());          // SQLite in dir, plain HTTP
//! config.as_of = Some(time::macros::datetime!(2020-03-12 09:00 +08:00));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let server = spawn(config, listener).await?;             // store open, sites seeded, serving
//! let token = server.issue_token("0145080011", None).await?; // bearer token of that site
//! let base = server.url();                                  // "http://127.0.0.1:PORT"
//! // ... talk to `base` with `Authorization: Bearer {token}` ...
//! server.shutdown().await?;                                 // (dropping it also stops it)
//! # Ok(()) }
//! ```
//!
//! For HTTPS set `config.tls = Some(TlsFiles { cert, key })` (e.g. from
//! [`ensure_self_signed`]); [`ServerHandle::url`] then starts with `https://`.
//! [`serve`] is the same with a caller-given shutdown future (what the binary uses), and
//! [`issue_token`] issues a token on a data dir without a running server (what
//! `mask-server-stub token issue` uses); [`list_tokens`], [`revoke_tokens`] and
//! [`rotate_token`] are the other `token` commands (running servers see a revocation or rotation
//! within about a second, `http::auth::TOKEN_POLL`).
//!
//! # Layout
//! The crate is a library for its own binary, tests and benches (and the agent's tests); its
//! modules are private and what those use is re-exported here. Two modules stay public for
//! benches that build on the registry: [`sites`] (the embedded site registry) and [`region`]
//! (county and district of each site).
//! - `http`: routes (`/v1/...`, `/maskdata.csv`), problem details, auth, OpenAPI;
//! - `store`: the storage trait ([`Store`]) with SQLite and PostgreSQL backends;
//! - `stock_page`: the public stock page (HTML, zh-TW and en) rendered from the snapshots;
//! - `open_data`: the byte-exact `maskdata.csv` and its in-memory [`Snapshot`]s;
//! - `background`: the one thread where snapshots are rebuilt and their pages rendered;
//! - `reports`: the agencies' sales report (roll-up by county, CSV, the page's SVG charts);
//! - `person_key`, `content_hash`: what buyers are filed under and resends compared by;
//! - `tls`: HTTPS listener and the self-signed certificate; `config`: [`ServerConfig`];
//! - `mask_api::Clock`: the (shiftable) server clock.
//!
//! The rules themselves live in `mask_api::policy`, shared with the agent.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod background;
mod config;
mod content_hash;
mod http;
mod limits;
mod open_data;
mod person_key;
pub mod region;
mod reports;
pub mod sites;
mod stock_page;
mod store;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use mask_api::Clock;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

// Configuration and running a server (the binary, tests of this and other crates, benches).
pub use config::{DEFAULT_ELIGIBILITY_IDS_PER_MINUTE, Database, ServerConfig, TlsFiles};
pub use limits::raise_open_files_limit;
pub use tls::ensure_self_signed;
// What `ServerError`'s variants carry, so that callers can name and match them.
pub use open_data::OpenDataError;
pub use person_key::PersonKeyError;
pub use store::StoreError;
pub use tls::TlsError;
// The store `open_store` returns and `issue_token_in` takes.
pub use store::{DynStore, Store};
// Tokens as the `token` commands and the tests see them (a token's id is a prefix of its hash).
pub use store::{TOKEN_ID_LEN, TokenInfo, TokenSelector, token_hash};
// How buyers and resends are hashed: the integrity tests brute-force stolen rows with these.
pub use content_hash::{legacy_sale_hash, legacy_sale_tail, sale_canonical};
pub use person_key::{PersonKeys, SECRET_FILE};
// The open-data snapshot and the stock page it carries: the load bench times their rendering,
// the page tests check the word of each level.
pub use open_data::{Snapshot, StockRow};
pub use stock_page::{
    Kind as MaskKind, Lang as PageLang, Level as StockLevel, Lookup, PageParams, Pages,
};
// The launch-day benchmark: the SQLite file whose rows it counts, and the report page's SVG
// charts, which draw its chart too.
/// The target of the per-request timing events (see `http::timing`).
pub use http::timing::REQUEST_TARGET;
pub use reports::svg as charts;
pub use store::DB_FILE;

use http::AppState;
use sites::Registry;
use store::{PostgresStore, SqliteStore, TokenRecord, TokenRole};

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The embedded site registry does not parse (a build problem).
    #[error("site registry: {0}")]
    Registry(#[from] open_data::OpenDataError),
    /// The buyer keys could not be set up (the data dir's secret).
    #[error("person keys: {0}")]
    PersonKey(#[from] person_key::PersonKeyError),
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// Socket error.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A token was asked for a site code that is not in the registry.
    #[error("unknown site code {0:?}")]
    UnknownSite(String),
    /// The server task failed.
    #[error("server task: {0}")]
    Task(String),
}

/// Opens the configured store (creating and migrating it) and seeds the site registry.
pub async fn open_store(
    config: &ServerConfig,
    registry: &Registry,
) -> Result<DynStore, ServerError> {
    let store: DynStore = match &config.database {
        Database::Sqlite => {
            let dir = config.data_dir.clone();
            Arc::new(
                tokio::task::spawn_blocking(move || SqliteStore::open(&dir))
                    .await
                    .map_err(|e| ServerError::Task(e.to_string()))??,
            )
        }
        Database::Postgres(url) => Arc::new(PostgresStore::connect(url).await?),
    };
    store
        .seed_sites(registry.all().to_vec(), OffsetDateTime::now_utc())
        .await?;
    Ok(store)
}

/// A new pharmacy token for a registered `site`, its record and the time it was made (issuing
/// and rotating store it differently).
fn new_pharmacy_token(
    registry: &Registry,
    site: &str,
    expires_in: Option<time::Duration>,
) -> Result<(String, TokenRecord, OffsetDateTime), ServerError> {
    if registry.get(site).is_none() {
        return Err(ServerError::UnknownSite(site.to_owned()));
    }
    let now = OffsetDateTime::now_utc();
    let record = TokenRecord {
        site: site.to_owned(),
        role: TokenRole::Pharmacy,
        expires_at: expires_in.map(|d| now + d),
        revoked_at: None,
    };
    Ok((http::auth::new_token(), record, now))
}

/// Issues a token for a site on an opened store; only its SHA-256 is stored.
pub async fn issue_token_in(
    store: &dyn Store,
    registry: &Registry,
    site: &str,
    expires_in: Option<time::Duration>,
) -> Result<String, ServerError> {
    let (token, record, now) = new_pharmacy_token(registry, site, expires_in)?;
    store.insert_token(token_hash(&token), record, now).await?;
    Ok(token)
}

/// Issues a central audit token (read-only, audit and report routes only) on an opened store.
pub async fn issue_audit_token_in(
    store: &dyn Store,
    expires_in: Option<time::Duration>,
) -> Result<String, ServerError> {
    let token = http::auth::new_token();
    let now = OffsetDateTime::now_utc();
    let record = TokenRecord {
        site: String::new(),
        role: TokenRole::Audit,
        expires_at: expires_in.map(|d| now + d),
        revoked_at: None,
    };
    store.insert_token(token_hash(&token), record, now).await?;
    Ok(token)
}

/// Issues an audit token in the store `config` names (no server needed).
pub async fn issue_audit_token(
    config: &ServerConfig,
    expires_in: Option<time::Duration>,
) -> Result<String, ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    issue_audit_token_in(store.as_ref(), expires_in).await
}

/// Issues a token for `site` in the store `config` names (no server needed; a running server
/// on the same store sees it at once).
pub async fn issue_token(
    config: &ServerConfig,
    site: &str,
    expires_in: Option<time::Duration>,
) -> Result<String, ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    issue_token_in(store.as_ref(), &registry, site, expires_in).await
}

/// Every token of the store `config` names, in the order issued (no server needed).
pub async fn list_tokens(config: &ServerConfig) -> Result<Vec<TokenInfo>, ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    Ok(store.list_tokens().await?)
}

/// Revokes tokens in the store `config` names: running servers on the same store refuse them
/// within about a second (`http::auth::TOKEN_POLL`). Returns (tokens selected, revoked now).
pub async fn revoke_tokens(
    config: &ServerConfig,
    which: TokenSelector,
) -> Result<(u64, u64), ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    Ok(store
        .revoke_tokens(which, OffsetDateTime::now_utc())
        .await?)
}

/// Issues a new token for `site` and lets the site's other pharmacy tokens expire `overlap`
/// from now at the latest (one transaction). Returns the new token and how many old ones now
/// expire by then.
pub async fn rotate_token_in(
    store: &dyn Store,
    registry: &Registry,
    site: &str,
    overlap: time::Duration,
    expires_in: Option<time::Duration>,
) -> Result<(String, u64), ServerError> {
    let (token, record, now) = new_pharmacy_token(registry, site, expires_in)?;
    let old = store
        .rotate_site_token(token_hash(&token), record, now, now + overlap)
        .await?;
    Ok((token, old))
}

/// [`rotate_token_in`] on the store `config` names (no server needed).
pub async fn rotate_token(
    config: &ServerConfig,
    site: &str,
    overlap: time::Duration,
    expires_in: Option<time::Duration>,
) -> Result<(String, u64), ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    rotate_token_in(store.as_ref(), &registry, site, overlap, expires_in).await
}

/// Builds the shared state: store, registry, first open-data snapshot.
async fn build_state(config: &ServerConfig) -> Result<Arc<AppState>, ServerError> {
    let registry = config.registry()?;
    let store = open_store(config, &registry).await?;
    let person_keys = person_key::PersonKeys::open(store.as_ref(), &config.data_dir).await?;
    if person_keys.is_legacy() {
        tracing::warn!(
            "this database files buyers under unkeyed SHA-256 keys (made before schema 2); \
             anyone with a copy of it can try every ID number. Start new databases with this \
             version to get keyed hashes"
        );
    }
    // Monotonic from the start also without `--as-of` (the stub's clock has always been).
    let clock = Clock::replaying(
        config.as_of.unwrap_or_else(OffsetDateTime::now_utc),
        config.clock_speed,
    );
    let rows = store.stock_rows().await?;
    let reg = registry.clone();
    let now = clock.now();
    let first = tokio::task::spawn_blocking(move || Snapshot::build(&reg, &rows, now))
        .await
        .map_err(|e| ServerError::Task(e.to_string()))?;
    let asks = http::ask_log::AskLog::start(Arc::clone(&store), config.eligibility_audit_flush);
    Ok(Arc::new(AppState {
        store,
        person_keys,
        registry,
        policy_json: Bytes::from(serde_json::to_vec(&config.policies).unwrap_or_default()),
        policies: Arc::new(config.policies.clone()),
        openapi_json: http::openapi_json(),
        clock,
        snapshot: RwLock::new(Arc::new(first)),
        tokens: http::auth::TokenCache::default(),
        limiter: http::auth::RateLimiter::new(config.rate_limit_per_sec),
        unknown_tokens: http::auth::RateLimiter::new(config.unknown_tokens_per_sec),
        distinct_ids: http::distinct_ids::DistinctIds::new(config.eligibility_ids_per_minute),
        asks,
        refresh: config.refresh,
        max_sale_age: config.max_sale_age,
        max_clock_ahead: config.max_clock_ahead,
        sessions: http::reports::Sessions::new(config.tls.is_some()),
        background: background::Background::start()
            .map_err(|e| ServerError::Task(e.to_string()))?,
    }))
}

/// Rebuilds the open-data snapshot every refresh interval until the state is dropped.
fn spawn_refresher(state: &Arc<AppState>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(state);
    let period = state.refresh.max(std::time::Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { return };
            match rebuild_snapshot(&state).await {
                Ok(()) => {}
                Err(ServerError::Store(e)) => {
                    tracing::error!(error = %e, "open-data rebuild: store unavailable; serving the previous snapshot")
                }
                Err(e) => tracing::error!(error = %e, "open-data rebuild failed"),
            }
        }
    })
}

/// Builds the next open-data snapshot from the store and publishes it, with the stock pages
/// the current one was asked for already rendered ([`stock_page::Pages::warm_from`]), on the
/// background thread (`background`).
async fn rebuild_snapshot(state: &Arc<AppState>) -> Result<(), ServerError> {
    let rows = state.store.stock_rows().await?;
    let building = Arc::clone(state);
    let snap = state
        .background
        .run(move || {
            let snap = Snapshot::build(&building.registry, &rows, building.clock.now());
            let previous = building.snapshot();
            let refresh_secs = building.refresh.as_secs();
            snap.pages
                .warm_from(&previous.pages, &building.registry, refresh_secs);
            snap
        })
        .await
        .map_err(|e| ServerError::Task(e.to_string()))?;
    state.set_snapshot(snap);
    Ok(())
}

/// Serves until `shutdown` resolves (in-flight requests are finished first).
pub async fn serve(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let state = build_state(&config).await?;
    run(state, &config, listener, shutdown).await
}

async fn run(
    state: Arc<AppState>,
    config: &ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let refresher = spawn_refresher(&state);
    let generation = state.store.token_generation().await.ok();
    let token_watch = http::auth::spawn_token_watch(&state, generation);
    let app = http::with_limits(
        http::router(Arc::clone(&state), config.body_limit),
        config.request_timeout,
        config.max_concurrent_requests,
    );
    let result = match &config.tls {
        None => {
            let listener = http::PlainListener(listener);
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<http::ClientAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Some(files) => {
            let tls = tls::server_config(files)?;
            let limits = tls::HandshakeLimits {
                max_in_flight: config.max_tls_handshakes,
                timeout: config.tls_handshake_timeout,
            };
            let listener = tls::TlsListener::with_limits(listener, tls, limits)?;
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<http::ClientAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    };
    refresher.abort();
    token_watch.abort();
    // Questions answered before the stop are in the audit.
    state.asks.flush().await;
    Ok(result?)
}

/// A server running in the background (see the crate docs). Dropping it stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    https: bool,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.addr
        )
    }

    /// Issues a token for a site of the registry.
    pub async fn issue_token(
        &self,
        site: &str,
        expires_in: Option<time::Duration>,
    ) -> Result<String, ServerError> {
        issue_token_in(
            self.state.store.as_ref(),
            &self.state.registry,
            site,
            expires_in,
        )
        .await
    }

    /// Issues a central audit token.
    pub async fn issue_audit_token(
        &self,
        expires_in: Option<time::Duration>,
    ) -> Result<String, ServerError> {
        issue_audit_token_in(self.state.store.as_ref(), expires_in).await
    }

    /// Writes the eligibility questions answered so far to the audit now (they are written
    /// every [`ServerConfig::eligibility_audit_flush`] anyway; tests need not wait).
    pub async fn flush_eligibility_audit(&self) {
        self.state.asks.flush().await;
    }

    /// The server clock's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// Rebuilds the open-data snapshot now (tests need not wait for the refresh interval).
    pub async fn refresh_open_data(&self) -> Result<(), ServerError> {
        rebuild_snapshot(&self.state).await
    }

    /// Stops accepting, finishes in-flight requests and returns.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| ServerError::Task(e.to_string()))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens the store, seeds sites, and serves on `listener` in a background task. Errors opening
/// the store or TLS files are returned here, before anything is served (the port is open
/// already, though: see [`spawn_on`]).
pub async fn spawn(
    config: ServerConfig,
    listener: TcpListener,
) -> Result<ServerHandle, ServerError> {
    if let Some(files) = &config.tls {
        tls::server_config(files)?;
    }
    let state = build_state(&config).await?;
    start(config, state, listener)
}

/// Like [`spawn`], but binds `addr` only once the store is migrated and seeded: a client (or a
/// load balancer's health check) that gets a connection gets a working server, and a failed
/// start never opened the port.
pub async fn spawn_on(config: ServerConfig, addr: SocketAddr) -> Result<ServerHandle, ServerError> {
    if let Some(files) = &config.tls {
        tls::server_config(files)?;
    }
    let state = build_state(&config).await?;
    let listener = bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
    start(config, state, listener)
}

/// Connections the kernel holds for the server before it accepts them. tokio's `bind` asks
/// for 1,024; when thousands of pharmacy PCs and browsers connect within a second (the
/// opening rush), a full queue drops their SYNs and each waits a whole second to retry
/// (mask-launch-day saw 389–548 such drops in a 08:00 burst). The kernel caps this at
/// `net.core.somaxconn` (4,096 on current Linux).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` as tokio's `TcpListener::bind` does (address reuse on Unix), with a deeper
/// accept queue ([`LISTEN_BACKLOG`]).
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

fn start(
    config: ServerConfig,
    state: Arc<AppState>,
    listener: TcpListener,
) -> Result<ServerHandle, ServerError> {
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let https = config.tls.is_some();
    let task_state = Arc::clone(&state);
    let task = tokio::spawn(async move {
        run(task_state, &config, listener, async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(ServerHandle {
        addr,
        https,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    /// A rush of connections the server has not accepted yet must all be queued by the kernel,
    /// not dropped (a dropped SYN costs the client a second). tokio's default queue (1,024)
    /// drops the rest of 1,500.
    #[tokio::test]
    async fn a_rush_of_1500_connections_is_queued_not_dropped() {
        let (soft, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        if soft < 1_600 {
            super::raise_open_files_limit().unwrap();
        }
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        assert!(
            somaxconn.is_none_or(|max| max >= 1_500),
            "net.core.somaxconn {somaxconn:?} caps every listen queue below this test's rush"
        );
        // Never accepted: only the kernel's queue holds the connections.
        let listener = super::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects: Vec<_> = (0..1_500)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(
                    Duration::from_millis(700),
                    tokio::net::TcpStream::connect(addr),
                ))
            })
            .collect();
        let mut queued = Vec::new();
        let mut dropped = 0;
        for connect in connects {
            match connect.await.unwrap() {
                Ok(Ok(stream)) => queued.push(stream),
                _ => dropped += 1,
            }
        }
        assert_eq!(dropped, 0, "{} queued", queued.len());
        drop(listener);
    }
}
