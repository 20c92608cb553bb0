//! Eligibility answers are personal data: a token may ask about only so many different ID
//! numbers a minute, and every answer leaves an audit row (who asked about whom, masked) that
//! an audit token reads at `/v1/audit/eligibility`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";
const DAY: &str = "from=2020-03-13&to=2020-03-13";

/// One eligibility question: status, body, `Retry-After`.
async fn ask(s: &TestServer, token: &str, id_no: &str) -> (StatusCode, Value, Option<u64>) {
    let r = s
        .post_raw(token, "/v1/eligibility", &json!({"id_no": id_no}))
        .await;
    let status = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, r.json().await.unwrap(), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_asking_about_too_many_people_a_minute_gets_429() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| c.eligibility_ids_per_minute = 3).await;
    let ids: Vec<String> = (1..=4).map(valid_id).collect();
    for id in &ids[..3] {
        let (status, body, _) = ask(&s, &s.token, id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, problem, retry) = ask(&s, &s.token, &ids[3]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{problem}");
    assert_eq!(problem["code"], "distinct_id_limit");
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    assert!(
        !problem.to_string().contains(&ids[3]),
        "no full ID in the problem"
    );
    // Asking again about someone already asked does not count.
    let (status, body, _) = ask(&s, &s.token, &ids[0]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another pharmacy's token has its own count.
    let (status, body, _) = ask(&s, &s.other_token, &ids[3]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Invalid ID numbers are refused before they count.
    let (status, ..) = ask(&s, &s.other_token, "A123456788").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The audit list of the test day, as JSON.
async fn audit(s: &TestServer, token: &str, extra: &str) -> (StatusCode, Value) {
    s.get_as(token, &format!("/v1/audit/eligibility?{DAY}{extra}"))
        .await
}

fn short_id(token: &str) -> String {
    mask_server_stub::token_hash(token)[..12].to_owned()
}

async fn every_answer_leaves_a_masked_audit_row(backend: Backend) {
    let s = TestServer::start(backend.clone(), NOW, |_| {}).await;
    let auditor = s.server.issue_audit_token(None).await.unwrap();
    let (x, y) = (valid_id(7001), valid_id(7002));
    for (token, id) in [
        (&s.token, &x),
        (&s.token, &y),
        (&s.token, &x),
        (&s.other_token, &x),
    ] {
        let (status, body, _) = ask(&s, token, id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Written in the background within the flush interval (200 ms), no flush asked.
    let started = Instant::now();
    let list = loop {
        let (status, list) = audit(&s, &auditor, "").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        if list["asks"].as_array().unwrap().len() == 4 {
            break list;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let asks = list["asks"].as_array().unwrap();
    let field =
        |name: &str| -> Vec<&str> { asks.iter().map(|a| a[name].as_str().unwrap()).collect() };
    assert_eq!(field("site"), [SITE, SITE, SITE, OTHER_SITE]);
    let (mine, other) = (short_id(&s.token), short_id(&s.other_token));
    assert_eq!(field("token_id"), [&mine, &mine, &mine, &other]);
    let masked = |id: &str| nhi_id::IdNumber::parse(id).unwrap().masked();
    assert_eq!(
        field("id_masked"),
        [masked(&x), masked(&y), masked(&x), masked(&x)]
    );
    let persons = field("person");
    assert!(
        persons
            .iter()
            .all(|p| p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(
        (persons[0], persons[0]),
        (persons[2], persons[3]),
        "one person, one key"
    );
    assert_ne!(persons[0], persons[1]);
    assert!(
        field("asked_at")
            .iter()
            .all(|t| t.starts_with("2020-03-13T04:00")),
        "{list}"
    );
    assert!(list.get("next_after").is_none());
    let text = list.to_string();
    assert!(
        !text.contains(&x) && !text.contains(&y),
        "a full ID in the audit"
    );

    // Pages.
    let (_, first) = audit(&s, &auditor, "&limit=3").await;
    assert_eq!(first["asks"].as_array().unwrap().len(), 3);
    let next = first["next_after"].as_str().unwrap().to_owned();
    let (_, second) = audit(&s, &auditor, &format!("&limit=3&after={next}")).await;
    assert_eq!(second["asks"].as_array().unwrap(), &asks[3..]);
    assert!(second.get("next_after").is_none());
    // One site's asks; another day has none.
    let (_, theirs) = audit(&s, &auditor, &format!("&site={OTHER_SITE}")).await;
    assert_eq!(theirs["asks"].as_array().unwrap(), &asks[3..]);
    let (_, before) = s
        .get_as(
            &auditor,
            "/v1/audit/eligibility?from=2020-03-12&to=2020-03-12",
        )
        .await;
    assert_eq!(before["asks"], json!([]));
    // CSV.
    let csv = s
        .get_raw(&auditor, &format!("/v1/audit/eligibility?{DAY}&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "asked_at,site,token_id,id_masked,person");
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[4].contains(OTHER_SITE) && lines[4].contains(&masked(&x)),
        "{csv}"
    );
    // Bad queries, and a pharmacy token.
    assert_eq!(
        audit(&s, &auditor, "&after=x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        audit(&s, &auditor, "&limit=0").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(audit(&s, &s.token, "").await.0, StatusCode::FORBIDDEN);

    // The store holds no full ID number.
    match backend {
        Backend::Sqlite => {
            let data = s._dir.path().join("data");
            let bytes = std::fs::read(data.join("mask-server.sqlite3")).unwrap();
            let wal = std::fs::read(data.join("mask-server.sqlite3-wal")).unwrap_or_default();
            let rows: i64 = rusqlite::Connection::open(data.join("mask-server.sqlite3"))
                .unwrap()
                .query_row("SELECT COUNT(*) FROM eligibility_asks", [], |r| r.get(0))
                .unwrap();
            assert_eq!(rows, 4);
            for file in [&bytes, &wal] {
                for id in [&x, &y] {
                    assert!(
                        !file.windows(id.len()).any(|w| w == id.as_bytes()),
                        "an ID number in the database file"
                    );
                }
            }
        }
        Backend::Postgres(url) => {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let row = client
                .query_one(
                    "SELECT count(*), string_agg(t::TEXT, ' ') FROM eligibility_asks t",
                    &[],
                )
                .await
                .unwrap();
            let (rows, dump): (i64, String) = (row.get(0), row.get(1));
            assert_eq!(rows, 4, "{dump}");
            assert!(
                !dump.contains(&x) && !dump.contains(&y),
                "a full ID in PostgreSQL"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_leaves_a_masked_audit_row_sqlite() {
    every_answer_leaves_a_masked_audit_row(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_leaves_a_masked_audit_row_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    every_answer_leaves_a_masked_audit_row(Backend::Postgres(url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_writes_the_audit_rows_still_queued() {
    // Rows would wait an hour for their group: only the stop can write them.
    let s = TestServer::start(Backend::Sqlite, NOW, |c| {
        c.eligibility_audit_flush = Duration::from_secs(3600);
    })
    .await;
    let (status, body, _) = ask(&s, &s.token, &valid_id(7003)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let TestServer { server, _dir, .. } = s;
    server.shutdown().await.unwrap();
    let rows: i64 = rusqlite::Connection::open(_dir.path().join("data/mask-server.sqlite3"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM eligibility_asks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}
