//! Server configuration (what the CLI flags fill in, and what in-process tests build).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mask_api::PolicySet;
use time::OffsetDateTime;

use crate::open_data::OpenDataError;
use crate::sites::Registry;
use crate::store::StoreError;

/// Which storage backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// SQLite file `mask-server.sqlite3` in the data dir (default).
    Sqlite,
    /// PostgreSQL at this URL (`postgres://user:pass@host:port/db`).
    Postgres(String),
}

impl Database {
    /// Parses the `--database` flag: `sqlite` or a `postgres://` / `postgresql://` URL.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("sqlite") {
            Some(Self::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Some(Self::Postgres(s.to_owned()))
        } else {
            None
        }
    }
}

/// Default of [`ServerConfig::eligibility_ids_per_minute`]: a busy counter serves a few buyers
/// a minute, each with up to four cards (a proxy buyer), and the agent asks again at the sale
/// (which does not count); 30 leaves room for a rush, and a token walking through ID numbers
/// learns about 30 people a minute instead of thousands.
pub const DEFAULT_ELIGIBILITY_IDS_PER_MINUTE: u32 = 30;

/// Certificate and key (PEM) for HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM, PKCS#8 / PKCS#1 / SEC1).
    pub key: PathBuf,
}

/// Everything [`crate::serve`] / [`crate::spawn`] need.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Data directory (created 0700 if missing): SQLite file, generated TLS files.
    pub data_dir: PathBuf,
    /// Storage backend.
    pub database: Database,
    /// Start the server clock at this instant (then it runs on); `None` = real time.
    pub as_of: Option<OffsetDateTime>,
    /// Clock seconds per real second from `as_of` (a replay, e.g. the launch-day benchmark
    /// playing a 14-hour day in minutes); 1 = real time.
    pub clock_speed: u32,
    /// The selling sites; `None` = the embedded registry (the real 5,600 of 2020-03-22).
    pub registry: Option<Registry>,
    /// Open-data refresh interval (`/maskdata.csv` and `/v1/sites` are rebuilt at most this often).
    pub refresh: Duration,
    /// HTTPS certificate; `None` = plain HTTP (the CLI allows that on loopback only).
    pub tls: Option<TlsFiles>,
    /// Largest request body in bytes (413 above).
    pub body_limit: usize,
    /// Requests per second per token (burst: twice that); 0 = unlimited.
    pub rate_limit_per_sec: u32,
    /// Oldest sale time accepted, relative to the server clock.
    pub max_sale_age: time::Duration,
    /// How far a sale time may be ahead of the server clock (client clock skew).
    pub max_clock_ahead: time::Duration,
    /// Rationing rules served and applied.
    pub policies: PolicySet,
    /// Longest a request may take, reading its body included (408 after).
    pub request_timeout: Duration,
    /// Requests handled at once; more wait for a free slot.
    pub max_concurrent_requests: usize,
    /// TLS handshakes in flight at once (the oldest is dropped beyond).
    pub max_tls_handshakes: usize,
    /// Longest TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Unknown tokens per second per client address (burst: twice that); beyond, requests with
    /// tokens not seen lately are refused before the store is asked. 0 = unlimited.
    pub unknown_tokens_per_sec: u32,
    /// Different ID numbers one token may ask eligibility about per minute (asking again about
    /// one counts once); beyond, 429. 0 = unlimited.
    pub eligibility_ids_per_minute: u32,
    /// Longest an answered eligibility question waits before its audit row is written (rows
    /// are written in groups; a crash loses at most this much of the audit).
    pub eligibility_audit_flush: Duration,
}

impl ServerConfig {
    /// Defaults: SQLite in `data_dir`, real clock, 30 s refresh, plain HTTP, 1 MiB bodies,
    /// 200 requests/s per token, sales up to 14 days old and 5 minutes ahead, 2020 policies,
    /// 30 s per request, 1,024 requests at once, 256 TLS handshakes in flight of 10 s at most,
    /// 5 unknown tokens per second per client address, 30 different ID numbers per token per
    /// minute on eligibility, eligibility audit rows written every 200 ms.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: Database::Sqlite,
            as_of: None,
            clock_speed: 1,
            registry: None,
            refresh: Duration::from_secs(30),
            tls: None,
            body_limit: 1 << 20,
            rate_limit_per_sec: 200,
            max_sale_age: time::Duration::days(14),
            max_clock_ahead: time::Duration::minutes(5),
            policies: PolicySet::builtin(),
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            max_tls_handshakes: 256,
            tls_handshake_timeout: Duration::from_secs(10),
            unknown_tokens_per_sec: 5,
            eligibility_ids_per_minute: DEFAULT_ELIGIBILITY_IDS_PER_MINUTE,
            eligibility_audit_flush: Duration::from_millis(200),
        }
    }
}

impl ServerConfig {
    /// The configured registry, else the embedded one.
    pub fn registry(&self) -> Result<Registry, OpenDataError> {
        match &self.registry {
            Some(registry) => Ok(registry.clone()),
            None => Registry::embedded(),
        }
    }
}

/// Creates a directory (and parents) readable only by its owner.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    mask_private_file::create_private_dir(dir).map_err(|source| StoreError::DataDir {
        path: dir.to_owned(),
        source,
    })
}
