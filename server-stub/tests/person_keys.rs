//! What the server stores about buyers: keyed 16-byte hashes, never ID numbers or plain hashes,
//! under a private secret that must not change under a database.

use mask_server_stub::{
    Database, PersonKeyError, PersonKeys, SECRET_FILE, ServerConfig, ServerError, spawn,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, SITE, TestServer, postgres_database, sale, valid_id};

fn config(dir: &std::path::Path, backend: &Backend) -> ServerConfig {
    let mut config = ServerConfig::new(dir);
    config.as_of = Some(time::macros::datetime!(2020-03-13 12:00 +08:00));
    config.rate_limit_per_sec = 0;
    if let Backend::Postgres(url) = backend {
        config.database = Database::Postgres(url.clone());
    }
    config
}

async fn start(dir: &std::path::Path, backend: &Backend) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = spawn(config(dir, backend), listener).await?;
    server.shutdown().await
}

async fn a_replaced_or_lost_secret_stops_the_server(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    start(&data, &backend).await.unwrap();
    let secret = data.join(SECRET_FILE);
    let original = std::fs::read_to_string(&secret).unwrap();

    std::fs::write(&secret, format!("{}\n", "ab".repeat(32))).unwrap();
    let err = start(&data, &backend).await.unwrap_err();
    assert!(
        matches!(err, ServerError::PersonKey(PersonKeyError::Mismatch { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("restore the original file"),
        "{err}"
    );

    std::fs::remove_file(&secret).unwrap();
    let err = start(&data, &backend).await.unwrap_err();
    assert!(
        matches!(err, ServerError::PersonKey(PersonKeyError::Mismatch { .. })),
        "{err}"
    );

    std::fs::write(&secret, &original).unwrap();
    start(&data, &backend).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_or_lost_secret_stops_the_sqlite_server() {
    a_replaced_or_lost_secret_stops_the_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_or_lost_secret_stops_the_postgres_server() {
    let Some(url) = postgres_database().await else {
        return;
    };
    a_replaced_or_lost_secret_stops_the_server(Backend::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_holds_keyed_hashes_and_the_secret_is_private() {
    let s = TestServer::sqlite("2020-03-13T12:00:00+08:00").await;
    let id = valid_id(4242);
    let (status, body) = s
        .post(
            "/v1/sales",
            &json!({"site": SITE, "sales": [sale(&id, 1, "2020-03-13T11:00:00+08:00")]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = s._dir.path().join("data");
    let secret = data.join(SECRET_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let conn = rusqlite::Connection::open(data.join("mask-server.sqlite3")).unwrap();
    let (person, masked): (Vec<u8>, String) = conn
        .query_row("SELECT person, id_masked FROM sales", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(person.len(), 16);
    assert_ne!(&person[..], PersonKeys::legacy().key(&id).as_bytes());
    assert!(!masked.contains(&id[3..7]), "masked: {masked}");
    // Nothing in the file holds the ID number in the clear.
    drop(conn);
    let bytes = std::fs::read(data.join("mask-server.sqlite3")).unwrap();
    let wal = std::fs::read(data.join("mask-server.sqlite3-wal")).unwrap_or_default();
    for file in [&bytes, &wal] {
        assert!(
            !file.windows(id.len()).any(|w| w == id.as_bytes()),
            "an ID number in the database file"
        );
    }
}
