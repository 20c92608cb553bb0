//! The client of the central API (`mask-api` wire types) over reqwest + rustls (ring).
//!
//! TLS trusts exactly one CA, the configured `ca_cert` (pinning): no system or bundled roots are
//! ever consulted. Plain `http://` is accepted for loopback addresses only (checked by
//! [`crate::config::check_server_url`]).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mask_api::{
    Eligibility, EligibilityRequest, Health, ListingRequest, ListingState, NoteRequest, NoteResult,
    PolicySet, Problem, SaleBatch, SaleBatchResult, StockIn, StockInResult, WhoAmI,
};
use reqwest::StatusCode;
use serde::{Serialize, de::DeserializeOwned};

/// The counter cannot wait longer than this for an eligibility answer; then it decides offline.
pub const ELIGIBILITY_TIMEOUT: Duration = Duration::from_secs(2);

/// Time limit of every other request (a batch of 500 sales on a slow link).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Time limit to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The most of an answer the agent reads (a result of 500 sales is ~100 KiB): a proxy or a
/// broken server sending without end must not fill the pharmacy PC's memory.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Tracing target of the per-exchange debug event (see `ServerClient::send`).
pub const EXCHANGE_TARGET: &str = "mask_agent::exchange";

/// A failed exchange with the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configured CA file could not be used.
    #[error("CA certificate {path}: {detail}")]
    CaCert {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// `https` without a configured CA: nothing would be trusted.
    #[error("https needs `ca_cert` (the CA that signs the server certificate)")]
    NoCa,
    /// The URL is unusable.
    #[error("server URL: {0}")]
    Url(String),
    /// TLS handshake failed (wrong CA, expired or mismatched certificate).
    #[error("TLS handshake with the server failed: {0}")]
    Tls(String),
    /// No answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// Could not connect (down, network, VPN).
    #[error("cannot connect to the server: {0}")]
    Connect(String),
    /// The server answered with an error status.
    #[error("server answered {status}: {}", problem.as_ref().map_or_else(String::new, ToString::to_string))]
    Status {
        /// HTTP status.
        status: u16,
        /// Its problem details, when it sent any.
        problem: Option<Box<Problem>>,
    },
    /// The server answered something that is not the expected JSON.
    #[error("the server's answer is not understood: {0}")]
    Garbage(String),
    /// The answer was a redirect. Not followed: it would resend bodies with ID numbers to
    /// wherever it points; `server_url` must name the API itself.
    #[error(
        "the server answered {status} redirecting to {location:?}; redirects are not followed (check server_url)"
    )]
    Redirect {
        /// HTTP status (3xx).
        status: u16,
        /// Its `Location` header, if any.
        location: String,
    },
    /// The answer was longer than [`MAX_ANSWER_BYTES`]; reading stopped there.
    #[error("the server's answer is longer than {limit} bytes; reading stopped")]
    AnswerTooLarge {
        /// The limit.
        limit: usize,
    },
}

impl ServerError {
    /// A short name of the failure's kind (for logs and counts; a status is its number).
    pub fn kind_name(&self) -> &'static str {
        match self {
            ServerError::CaCert { .. } => "ca_cert",
            ServerError::NoCa => "no_ca",
            ServerError::Url(_) => "url",
            ServerError::Tls(_) => "tls",
            ServerError::Timeout => "timeout",
            ServerError::Connect(_) => "connect",
            ServerError::Status { .. } => "status",
            ServerError::Garbage(_) => "garbage",
            ServerError::Redirect { .. } => "redirect",
            ServerError::AnswerTooLarge { .. } => "too_large",
        }
    }

    /// Whether the server answers but refuses this pharmacy's token (401/403): not an outage.
    pub fn is_token_refused(&self) -> bool {
        matches!(
            self,
            ServerError::Status {
                status: 401 | 403,
                ..
            }
        )
    }

    /// Whether the agent should treat the server as unreachable (try again later).
    pub fn is_transient(&self) -> bool {
        match self {
            ServerError::Tls(_)
            | ServerError::Timeout
            | ServerError::Connect(_)
            | ServerError::Garbage(_)
            | ServerError::Redirect { .. }
            | ServerError::AnswerTooLarge { .. } => true,
            ServerError::Status { status, .. } => *status == 429 || *status >= 500,
            ServerError::CaCert { .. } | ServerError::NoCa | ServerError::Url(_) => true,
        }
    }

    /// The problem details, when the server sent some.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ServerError::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> ServerError {
        if error.is_timeout() {
            return ServerError::Timeout;
        }
        if is_tls_failure(&error) {
            return ServerError::Tls(chain_text(&error));
        }
        if error.is_decode() {
            return ServerError::Garbage(error.to_string());
        }
        ServerError::Connect(chain_text(&error))
    }
}

/// Whether a rustls error hides anywhere in the cause chain. `io::Error::source` skips the
/// error it wraps, so wrapped errors are unpacked with `get_ref` as well.
fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![error];
    while let Some(current) = pending.pop() {
        if current.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            pending.push(inner);
        }
        if let Some(source) = current.source() {
            pending.push(source);
        }
    }
    false
}

/// The error and its causes, `: `-separated, without repeating a cause already in the text.
fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The server's clock as read from the `Date` header of its latest answer (any status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerDate {
    /// The server's time (whole seconds, as HTTP dates are).
    pub date: time::OffsetDateTime,
    /// When the answer arrived, to age the reading.
    pub received: Instant,
    /// From sending the request to the answer's arrival: the reading was taken somewhere in
    /// it, so it is only as precise as half of it.
    pub round_trip: Duration,
}

/// The central API client of one pharmacy.
#[derive(Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: reqwest::Url,
    token: String,
    last_date: Arc<Mutex<Option<ServerDate>>>,
}

impl std::fmt::Debug for ServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// Builds the rustls configuration trusting only the CA in `pem_path`.
pub fn pinned_tls_config(pem_path: &Path) -> Result<rustls::ClientConfig, ServerError> {
    let ca_error = |detail: String| ServerError::CaCert {
        path: pem_path.display().to_string(),
        detail,
    };
    let pem = std::fs::read(pem_path).map_err(|e| ca_error(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    let mut found = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| ca_error(e.to_string()))?;
        roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
        found += 1;
    }
    if found == 0 {
        return Err(ca_error("no PEM certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_error(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl ServerClient {
    /// A client for `base_url` with `token`, trusting only `ca_cert` for https.
    pub fn new(
        base_url: &str,
        token: &str,
        ca_cert: Option<&Path>,
    ) -> Result<ServerClient, ServerError> {
        crate::config::check_server_url(base_url).map_err(ServerError::Url)?;
        let mut base =
            reqwest::Url::parse(base_url).map_err(|e| ServerError::Url(e.to_string()))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mask-agent/", env!("CARGO_PKG_VERSION")));
        match (base.scheme(), ca_cert) {
            ("https", Some(path)) => {
                builder = builder.use_preconfigured_tls(pinned_tls_config(path)?)
            }
            ("https", None) => return Err(ServerError::NoCa),
            _ => builder = builder.https_only(false),
        }
        let http = builder
            .build()
            .map_err(|e| ServerError::Url(e.to_string()))?;
        Ok(ServerClient {
            http,
            base,
            token: token.to_owned(),
            last_date: Arc::new(Mutex::new(None)),
        })
    }

    /// The server's clock from its latest answer that carried a valid `Date` header.
    pub fn last_server_date(&self) -> Option<ServerDate> {
        *self
            .last_date
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The server's clock as an answer's `Date` header gives it, with the round trip.
    fn date_reading(headers: &reqwest::header::HeaderMap, sent: Instant) -> Option<ServerDate> {
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())?;
        let received = Instant::now();
        Some(ServerDate {
            date: time::OffsetDateTime::from(date),
            received,
            round_trip: received.duration_since(sent),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, ServerError> {
        self.base
            .join(path)
            .map_err(|e| ServerError::Url(e.to_string()))
    }

    /// One exchange, timed: a debug event (target [`EXCHANGE_TARGET`]) says which route, how
    /// it ended and how long it took, for diagnosis (`RUST_LOG=mask_agent::exchange=debug`) and
    /// for the launch-day benchmark, which collects these into its latency figures.
    async fn send<T: DeserializeOwned>(
        &self,
        route: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ServerError> {
        let started = Instant::now();
        let result = self.exchange(request, started).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(ServerError::Status { status, .. }) => status.to_string(),
            Err(error) => error.kind_name().to_owned(),
        };
        // The error's own words (no buyer data: identities travel in bodies, never in URLs).
        let error = result.as_ref().err().map(ToString::to_string);
        tracing::debug!(
            target: EXCHANGE_TARGET,
            route,
            server = self.base.as_str(),
            outcome = outcome.as_str(),
            error = error.as_deref(),
            micros = started.elapsed().as_micros() as u64,
            "server exchange"
        );
        result
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        sent: Instant,
    ) -> Result<T, ServerError> {
        let response = request.send().await.map_err(ServerError::from_reqwest)?;
        let reading = Self::date_reading(response.headers(), sent);
        let result = Self::answer(response).await;
        // Only our server's own answer may set the clock reading. A 5xx, 429, redirect or
        // unreadable body can come from a gateway, proxy or captive portal with a clock of its
        // own, and this reading is shared: another task's successful exchange takes the clock
        // offset from it, and sales are dated by that offset. (A proxy's 500 with today's date
        // once dated a sale 2020 → 2026 in a test.)
        let trusted = result.as_ref().err().is_none_or(|e| !e.is_transient());
        if let (true, Some(reading)) = (trusted, reading) {
            *self
                .last_date
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reading);
        }
        result
    }

    /// Reads an answer: the body if it succeeded, else the error it stands for.
    async fn answer<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ServerError> {
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            return Err(ServerError::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        let bytes = read_capped(response, MAX_ANSWER_BYTES).await?;
        if !status.is_success() {
            let problem = serde_json::from_slice::<Problem>(&bytes).ok().map(Box::new);
            return Err(ServerError::Status {
                status: status.as_u16(),
                problem,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ServerError::Garbage(e.to_string()))
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &'static str,
        body: &B,
        timeout: Option<Duration>,
    ) -> Result<T, ServerError> {
        let mut request = self
            .http
            .post(self.url(path)?)
            .bearer_auth(&self.token)
            .json(body);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        self.send(path, request).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        route: &'static str,
        path: &str,
    ) -> Result<T, ServerError> {
        self.send(
            route,
            self.http.get(self.url(path)?).bearer_auth(&self.token),
        )
        .await
    }

    /// `POST /v1/eligibility`, answering within `ELIGIBILITY_TIMEOUT` or failing.
    pub async fn eligibility(
        &self,
        request: &EligibilityRequest,
    ) -> Result<Eligibility, ServerError> {
        let answer = self.post("v1/eligibility", request, Some(ELIGIBILITY_TIMEOUT));
        // The request timeout covers the exchange; this outer limit also covers DNS and pool waits.
        match tokio::time::timeout(ELIGIBILITY_TIMEOUT, answer).await {
            Ok(result) => result,
            Err(_) => Err(ServerError::Timeout),
        }
    }

    /// `POST /v1/sales`.
    pub async fn post_sales(&self, batch: &SaleBatch) -> Result<SaleBatchResult, ServerError> {
        self.post("v1/sales", batch, None).await
    }

    /// `POST /v1/stock`.
    pub async fn post_stock(&self, stock: &StockIn) -> Result<StockInResult, ServerError> {
        self.post("v1/stock", stock, None).await
    }

    /// `POST /v1/note`.
    pub async fn post_note(&self, note: &NoteRequest) -> Result<NoteResult, ServerError> {
        self.post("v1/note", note, None).await
    }

    /// `POST /v1/listing`.
    pub async fn post_listing(
        &self,
        listing: &ListingRequest,
    ) -> Result<ListingState, ServerError> {
        self.post("v1/listing", listing, None).await
    }

    /// `GET /v1/policy`.
    pub async fn policy(&self) -> Result<PolicySet, ServerError> {
        self.get("v1/policy", "v1/policy").await
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, ServerError> {
        self.get("v1/health", "v1/health").await
    }

    /// `GET /v1/inventory?date=` of the token's site (the server's opening stock of that day).
    pub async fn inventory(&self, day: time::Date) -> Result<mask_api::Inventory, ServerError> {
        let path = format!(
            "v1/inventory?date={:04}-{:02}-{:02}",
            day.year(),
            u8::from(day.month()),
            day.day()
        );
        self.get("v1/inventory", &path).await
    }

    /// `GET /v1/whoami`.
    pub async fn whoami(&self) -> Result<WhoAmI, ServerError> {
        self.get("v1/whoami", "v1/whoami").await
    }
}

/// The body, chunk by chunk, failing as soon as it passes `limit`.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ServerError> {
    let too_large = ServerError::AnswerTooLarge { limit };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ServerError::from_reqwest)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether an HTTP status means "this request will never succeed as it is".
pub fn is_permanent(status: u16) -> bool {
    StatusCode::from_u16(status).is_ok_and(|s| s.is_client_error())
        && status != 429
        && status != 408
}
