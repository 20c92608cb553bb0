//! Test helpers: a server per test (SQLite in a temp dir, or a fresh PostgreSQL database), a
//! client with the site's token, and small request helpers; [`browser`]: headless Chromium.

pub mod browser;

use std::time::Duration;

use mask_server_stub::{Database, ServerConfig, ServerHandle, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use uuid::Uuid;

/// A site of the registry (the first row of the real file).
pub const SITE: &str = "0145080011";
/// Another site.
pub const OTHER_SITE: &str = "2101010013";

/// Which storage a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// A fresh PostgreSQL database for one test, or `None` (skip) when no server is configured.
pub async fn postgres_database() -> Option<String> {
    let Ok(base) = std::env::var("MASK_TEST_POSTGRES_URL") else {
        if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!(
                "REQUIRE_POSTGRES=1 but MASK_TEST_POSTGRES_URL is not set (run scripts/postgres-test.sh)"
            );
        }
        eprintln!("skipped: MASK_TEST_POSTGRES_URL not set (run scripts/postgres-test.sh)");
        return None;
    };
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("connect to MASK_TEST_POSTGRES_URL");
    tokio::spawn(conn);
    let name = format!("mask_t_{}", Uuid::now_v7().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
    Some(format!("{prefix}/{name}"))
}

/// A running server with a token for [`SITE`] and one for [`OTHER_SITE`].
pub struct TestServer {
    pub server: ServerHandle,
    /// Kept so the data dir lives as long as the server.
    pub _dir: TempDir,
    pub base: String,
    pub token: String,
    pub other_token: String,
    pub http: reqwest::Client,
}

impl TestServer {
    /// SQLite server with the clock at `as_of`.
    pub async fn sqlite(as_of: &str) -> Self {
        Self::start(Backend::Sqlite, as_of, |_| {}).await
    }

    /// A server on `backend` with the clock at `as_of`, config adjusted by `tweak`.
    pub async fn start(
        backend: Backend,
        as_of: &str,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path().join("data"));
        config.as_of = Some(
            time::OffsetDateTime::parse(as_of, &time::format_description::well_known::Rfc3339)
                .unwrap(),
        );
        config.rate_limit_per_sec = 0;
        if let Backend::Postgres(url) = backend {
            config.database = Database::Postgres(url);
        }
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = spawn(config, listener).await.unwrap();
        let token = server.issue_token(SITE, None).await.unwrap();
        let other_token = server.issue_token(OTHER_SITE, None).await.unwrap();
        let base = server.url();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            server,
            _dir: dir,
            base,
            token,
            other_token,
            http,
        }
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        status_and_json(self.post_raw(token, path, body).await).await
    }

    /// `POST path` with `token` and a JSON body: the whole response (headers, text).
    pub async fn post_raw(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        post_with(&self.http, &format!("{}{path}", self.base), token, body).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_as(&self.token, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(&self.token, path).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        status_and_json(self.get_raw(token, path).await).await
    }

    /// `GET path` without a token (public routes, or to be refused): the whole response.
    pub async fn get_public(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// `GET path` with `token`: the whole response (headers, text).
    pub async fn get_raw(&self, token: &str, path: &str) -> reqwest::Response {
        get_with(&self.http, &format!("{}{path}", self.base), token).await
    }

    pub async fn eligibility(&self, id_no: &str, birth: Option<&str>) -> Value {
        let (status, body) = self
            .post(
                "/v1/eligibility",
                &json!({"id_no": id_no, "birth_date": birth}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Sold adult masks of [`SITE`] on a day.
    pub async fn sold_adult(&self, day: &str) -> u64 {
        let (status, inv) = self.get(&format!("/v1/inventory?date={day}")).await;
        assert_eq!(status, StatusCode::OK, "{inv}");
        inv["sold_adult"].as_u64().unwrap()
    }

    /// The open-data file now (after forcing a refresh).
    pub async fn maskdata(&self) -> String {
        self.server.refresh_open_data().await.unwrap();
        let bytes = self
            .get_public("/maskdata.csv")
            .await
            .bytes()
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}

/// `GET url` with `token` on `http` (any server, also one in another process): the whole
/// response. Panics when the server does not answer.
pub async fn get_with(http: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    http.get(url).bearer_auth(token).send().await.unwrap()
}

/// `POST url` with `token` and a JSON body on `http`: the whole response. Panics when the server
/// does not answer.
pub async fn post_with(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A response's status and JSON body (`Null` when the body is not JSON).
pub async fn status_and_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A sale JSON with a new UUIDv7.
pub fn sale(id_no: &str, quantity: u32, sold_at: &str) -> Value {
    json!({
        "id": Uuid::now_v7(),
        "id_no": id_no,
        "kind": "adult",
        "quantity": quantity,
        "sold_at": sold_at,
        "source": "card",
        "offline": false,
    })
}

/// Runs a test body against SQLite and (when available) PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $as_of:expr, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::support::TestServer::sqlite($as_of).await;
                ($body)(server).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(url) = $crate::support::postgres_database().await else {
                    return;
                };
                let server = $crate::support::TestServer::start(
                    $crate::support::Backend::Postgres(url),
                    $as_of,
                    |_| {},
                )
                .await;
                ($body)(server).await;
            }
        }
    };
}

/// A valid citizen ID number `A1nnnnnnnC` for any `n < 10^7`, from the one generator of test
/// IDs (`nhi_fixtures::generated_id`, which lists it for `scripts/check-logs.sh`).
pub fn valid_id(n: u32) -> String {
    nhi_fixtures::generated_id(&format!("A1{n:07}")).expect("one check digit always fits")
}
