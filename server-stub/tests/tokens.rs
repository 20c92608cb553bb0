//! Token life cycle through the real command line against the store of a running server:
//! listing (never the token), revocation seen by the running server within 5 s despite its
//! token cache, rotation with an overlap (both tokens work, then the old one expires).

use std::process::Output;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

/// `mask-server-stub token ARGS` on the store of `s` (another process), in English.
async fn token_cli(s: &TestServer, backend: &Backend, args: &[&str]) -> Output {
    let data = s._dir.path().join("data");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mask-server-stub"));
    command
        .arg("token")
        .args(args)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env("MASK_LANG", "en");
    if let Backend::Postgres(url) = backend {
        command.args(["--database", url]);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The short id `token list` shows for `token`.
async fn id_of(s: &TestServer, backend: &Backend, token: &str) -> String {
    let list = token_cli(s, backend, &["list", "--json"]).await;
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(!stdout(&list).contains(token), "token list printed a token");
    let rows: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    let hash = mask_server_stub::token_hash(token);
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .find(|id| hash.starts_with(id.as_str()))
        .expect("the token is listed")
}

async fn whoami(s: &TestServer, token: &str) -> (StatusCode, Value) {
    s.get_as(token, "/v1/whoami").await
}

/// Asks every 50 ms until `token` gets a 401 with `code`; how long that took from `since`.
async fn refused_after(s: &TestServer, token: &str, code: &str, since: Instant) -> Duration {
    loop {
        let (status, body) = whoami(s, token).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], code, "{body}");
            return since.elapsed();
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(since.elapsed() < Duration::from_secs(30), "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn server(backend: &Backend) -> TestServer {
    TestServer::start(backend.clone(), NOW, |_| {}).await
}

async fn a_revoked_token_is_refused_by_the_running_server_within_5_s(backend: Backend) {
    let s = server(&backend).await;
    // Known and cached by the running server.
    assert_eq!(whoami(&s, &s.token).await.0, StatusCode::OK);
    assert_eq!(whoami(&s, &s.token).await.0, StatusCode::OK);
    let id = id_of(&s, &backend, &s.token).await;
    let revoke = token_cli(&s, &backend, &["revoke", &id]).await;
    let revoked = Instant::now();
    assert_eq!(revoke.status.code(), Some(0), "{}", stderr(&revoke));
    assert!(
        stderr(&revoke).contains("revoked 1 token(s)"),
        "{}",
        stderr(&revoke)
    );
    let took = refused_after(&s, &s.token, "token_revoked", revoked).await;
    eprintln!("revoked token refused {took:?} after `token revoke` returned");
    assert!(took <= Duration::from_secs(5), "{took:?}");
    // Another pharmacy's token is not touched.
    assert_eq!(whoami(&s, &s.other_token).await.0, StatusCode::OK);
    // Revoking it again changes nothing and says so.
    let again = token_cli(&s, &backend, &["revoke", &id]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("revoked 0 token(s) (1 more"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_within_5_s_sqlite() {
    a_revoked_token_is_refused_by_the_running_server_within_5_s(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_within_5_s_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    a_revoked_token_is_refused_by_the_running_server_within_5_s(Backend::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_site_revokes_all_its_tokens_and_only_them() {
    let backend = Backend::Sqlite;
    let s = server(&backend).await;
    let second = s.server.issue_token(SITE, None).await.unwrap();
    for token in [&s.token, &second, &s.other_token] {
        assert_eq!(whoami(&s, token).await.0, StatusCode::OK);
    }
    let revoke = token_cli(&s, &backend, &["revoke", "--site", SITE]).await;
    let revoked = Instant::now();
    assert_eq!(revoke.status.code(), Some(0), "{}", stderr(&revoke));
    assert!(
        stderr(&revoke).contains("revoked 2 token(s)"),
        "{}",
        stderr(&revoke)
    );
    for token in [&s.token, &second] {
        let took = refused_after(&s, token, "token_revoked", revoked).await;
        assert!(took <= Duration::from_secs(5), "{took:?}");
    }
    assert_eq!(whoami(&s, &s.other_token).await.0, StatusCode::OK);
}

/// 0.002 h: the old token stays valid 7.2 s after the rotation (room for a slow CLI start).
const OVERLAP_HOURS: &str = "0.002";
const OVERLAP: Duration = Duration::from_millis(7_200);

async fn rotation_keeps_the_old_token_for_the_overlap_then_refuses_it(backend: Backend) {
    let s = server(&backend).await;
    assert_eq!(whoami(&s, &s.token).await.0, StatusCode::OK);
    let started = Instant::now();
    let rotate = token_cli(
        &s,
        &backend,
        &["rotate", "--site", SITE, "--overlap-hours", OVERLAP_HOURS],
    )
    .await;
    assert_eq!(rotate.status.code(), Some(0), "{}", stderr(&rotate));
    assert!(
        stderr(&rotate).contains("its 1 old token(s) stay valid until"),
        "{}",
        stderr(&rotate)
    );
    let new = stdout(&rotate).trim().to_owned();
    assert!(new.starts_with("mst_") && new.len() == 68, "{new}");
    // During the overlap both work.
    assert_eq!(whoami(&s, &new).await.0, StatusCode::OK);
    assert_eq!(whoami(&s, &s.token).await.0, StatusCode::OK);
    assert!(
        started.elapsed() < OVERLAP,
        "the machine is too slow for this overlap"
    );
    let took = refused_after(&s, &s.token, "token_expired", started).await;
    eprintln!("old token refused {took:?} after the rotation began (overlap {OVERLAP:?})");
    assert!(
        took >= OVERLAP,
        "refused before the overlap ended: {took:?}"
    );
    assert!(took <= OVERLAP + Duration::from_secs(5), "{took:?}");
    let (status, me) = whoami(&s, &new).await;
    assert_eq!((status, me["site"].as_str()), (StatusCode::OK, Some(SITE)));
    // Another site's token is not shortened.
    assert_eq!(whoami(&s, &s.other_token).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_overlap_sqlite() {
    rotation_keeps_the_old_token_for_the_overlap_then_refuses_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_with_overlap_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    rotation_keeps_the_old_token_for_the_overlap_then_refuses_it(Backend::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_list_shows_ids_roles_sites_and_revocations_but_never_a_token() {
    let backend = Backend::Sqlite;
    let s = server(&backend).await;
    let audit = s.server.issue_audit_token(None).await.unwrap();
    let expiring = s
        .server
        .issue_token(OTHER_SITE, Some(time::Duration::days(30)))
        .await
        .unwrap();
    let id = id_of(&s, &backend, &s.token).await;
    assert_eq!(id.len(), 12);
    token_cli(&s, &backend, &["revoke", &id]).await;

    let list = token_cli(&s, &backend, &["list", "--json"]).await;
    let rows: Vec<Value> = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(rows.len(), 4);
    let row = |token: &str| {
        let hash = mask_server_stub::token_hash(token);
        rows.iter()
            .find(|r| hash.starts_with(r["id"].as_str().unwrap()))
            .unwrap()
            .clone()
    };
    let revoked = row(&s.token);
    assert_eq!(
        (revoked["role"].as_str(), revoked["site"].as_str()),
        (Some("pharmacy"), Some(SITE))
    );
    assert!(revoked["revoked_at"].is_string() && revoked["expires_at"].is_null());
    let a = row(&audit);
    assert_eq!(
        (a["role"].as_str(), a["site"].clone()),
        (Some("audit"), Value::Null)
    );
    let e = row(&expiring);
    assert!(
        e["expires_at"].is_string() && e["revoked_at"].is_null() && e["created_at"].is_string()
    );

    let table = token_cli(&s, &backend, &["list"]).await;
    let text = stdout(&table);
    assert!(text.starts_with("id            role      site"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
    let line = text.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("pharmacy") && line.contains(SITE), "{line}");
    for token in [&s.token, &s.other_token, &audit, &expiring] {
        assert!(!text.contains(token.as_str()) && !stdout(&list).contains(token.as_str()));
        assert!(
            !text.contains(&token[4..16]),
            "a piece of a token in the list"
        );
    }
    let zh = {
        let data = s._dir.path().join("data");
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mask-server-stub"));
        c.args(["token", "list", "--data-dir"])
            .arg(data)
            .env_remove("LANG")
            .env_remove("LC_ALL")
            .env("MASK_LANG", "zh_TW");
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    };
    assert!(stdout(&zh).starts_with("代號"), "{}", stdout(&zh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_refuses_what_is_not_a_token_id_and_ids_it_does_not_know() {
    let backend = Backend::Sqlite;
    let s = server(&backend).await;
    let bad = token_cli(&s, &backend, &["revoke", "mst_0123"]).await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("is not a token id. An id is 12 hex digits"),
        "{}",
        stderr(&bad)
    );
    let unknown = token_cli(&s, &backend, &["revoke", "000000000000"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no token matches"),
        "{}",
        stderr(&unknown)
    );
    let neither = token_cli(&s, &backend, &["revoke"]).await;
    assert_eq!(neither.status.code(), Some(2));
    let unknown_site = token_cli(
        &s,
        &backend,
        &["rotate", "--site", "9999999999", "--overlap-hours", "1"],
    )
    .await;
    assert_eq!(unknown_site.status.code(), Some(2));
    assert!(stderr(&unknown_site).contains("is not in the registry"));
    let negative = token_cli(
        &s,
        &backend,
        &["rotate", "--site", SITE, "--overlap-hours", "-1"],
    )
    .await;
    assert_eq!(negative.status.code(), Some(2));
    // Nothing was changed by any of these.
    assert_eq!(whoami(&s, &s.token).await.0, StatusCode::OK);
}
