//! Quota integrity under faults: late sales re-judged in date order, eligibility over the
//! server's history and the agent's unsynced sales, the server's clock in every answer, the
//! central audit list, and content hashes an attacker with the database cannot brute-force.

use mask_api::{Buyer, PolicySet, Purchase, SaleCheck, check_sale};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::*;

/// Wednesday; the 2020-04-09 rules (9 adult masks per 14 days, no odd/even).
const APRIL: &str = "2020-04-15T12:00:00+08:00";
const MARCH: &str = "2020-03-13T12:00:00+08:00";

/// Status and reason of recorded sales, read back by replaying them.
async fn statuses(s: &TestServer, sales: &[Value]) -> Vec<(String, Value)> {
    let (status, body) = s.post("/v1/sales", &json!({"sales": sales})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["replayed"], true, "{r}");
            (
                r["status"].as_str().unwrap().to_owned(),
                r["overrun_reason"].clone(),
            )
        })
        .collect()
}

on_both_backends!(
    a_late_sale_dated_earlier_moves_the_overrun_to_the_later_sale,
    APRIL,
    |s: TestServer| async move {
        // Two pharmacies sold to one person offline; the later-dated sale arrives first.
        let later = sale("A123456789", 9, "2020-04-14T10:00:00+08:00");
        let earlier = sale("A123456789", 9, "2020-04-13T10:00:00+08:00");
        let (_, body) = s
            .post_as(&s.other_token, "/v1/sales", &json!({"sales": [later]}))
            .await;
        assert_eq!(body["results"][0]["status"], "accepted", "{body}");
        let (_, body) = s.post("/v1/sales", &json!({"sales": [earlier]})).await;
        assert_eq!(body["results"][0]["status"], "accepted", "{body}");
        let held = statuses(&s, &[earlier, later]).await;
        assert_eq!(held[0], ("accepted".to_owned(), Value::Null));
        assert_eq!(held[1], ("overrun".to_owned(), json!("window")));
    }
);

/// The statuses the rules give a person's sales judged one by one in (sold_at, id) order.
fn judged_in_date_order(id_no: &str, sales: &[(Uuid, OffsetDateTime, u32)]) -> Vec<Option<String>> {
    let policies = PolicySet::builtin();
    let buyer = Buyer::from_id_str(id_no, None).unwrap();
    let mut order: Vec<usize> = (0..sales.len()).collect();
    order.sort_by_key(|&i| (sales[i].1, sales[i].0));
    let mut history = Vec::new();
    let mut out = vec![None; sales.len()];
    for i in order {
        let (_, sold_at, quantity) = sales[i];
        if let SaleCheck::Overrun(reason) =
            check_sale(&policies, &buyer, &history, quantity, sold_at)
        {
            out[i] = Some(reason.as_str().to_owned());
        }
        history.push(Purchase { sold_at, quantity });
    }
    out
}

/// Random sets of one person's sales sent in random orders and batchings: the overruns held
/// at the end are exactly those of judging in date order.
async fn any_arrival_order_flags_what_the_date_order_implies(s: TestServer, cases: u32) {
    let strategy = (1..=6usize).prop_flat_map(|n| {
        (
            proptest::collection::vec((0..18i64, 7 * 60..23 * 60i64, 1..=9u32), n),
            proptest::collection::vec(any::<u32>(), n),
            proptest::collection::vec(any::<bool>(), n),
        )
    });
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
    );
    let base = OffsetDateTime::parse("2020-04-10T00:00:00+08:00", &Rfc3339).unwrap();
    let handle = tokio::runtime::Handle::current();
    let person = std::sync::atomic::AtomicU32::new(1000);
    let result = runner.run(&strategy, |(specs, shuffle, cuts)| {
        let id_no = valid_id(person.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let sales: Vec<(Uuid, OffsetDateTime, u32)> = specs
            .iter()
            .map(|&(day, minute, quantity)| {
                let at = base + time::Duration::days(day) + time::Duration::minutes(minute);
                (Uuid::now_v7(), at, quantity)
            })
            .collect();
        let bodies: Vec<Value> = sales
            .iter()
            .map(|(id, at, quantity)| {
                let mut body = sale(&id_no, *quantity, &at.format(&Rfc3339).unwrap());
                body["id"] = json!(id);
                body
            })
            .collect();
        let expected = judged_in_date_order(&id_no, &sales);
        let mut order: Vec<usize> = (0..sales.len()).collect();
        order.sort_by_key(|&i| shuffle[i]);
        let held = tokio::task::block_in_place(|| {
            handle.block_on(async {
                let mut batch = Vec::new();
                for (k, &i) in order.iter().enumerate() {
                    batch.push(bodies[i].clone());
                    if cuts[k] || k + 1 == order.len() {
                        let (status, body) = s
                            .post("/v1/sales", &json!({"sales": std::mem::take(&mut batch)}))
                            .await;
                        assert_eq!(status, StatusCode::OK, "{body}");
                    }
                }
                statuses(&s, &bodies).await
            })
        });
        let got: Vec<Option<String>> = held
            .into_iter()
            .map(|(status, reason)| {
                (status == "overrun").then(|| reason.as_str().unwrap_or("").to_owned())
            })
            .collect();
        prop_assert_eq!(got, expected, "sales {:?} sent in order {:?}", specs, order);
        Ok(())
    });
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_arrival_order_flags_what_the_date_order_implies_sqlite() {
    let s = TestServer::start(Backend::Sqlite, "2020-05-01T12:00:00+08:00", |_| {}).await;
    any_arrival_order_flags_what_the_date_order_implies(s, 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_arrival_order_flags_what_the_date_order_implies_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = TestServer::start(Backend::Postgres(url), "2020-05-01T12:00:00+08:00", |_| {}).await;
    any_arrival_order_flags_what_the_date_order_implies(s, 20).await;
}

on_both_backends!(
    eligibility_counts_synced_and_unsynced_sales_once,
    MARCH,
    |s: TestServer| async move {
        // Quota 3 a week (2020-03-05 rules); A123456789 may buy on a Friday.
        let at_b = sale("A123456789", 1, "2020-03-13T10:00:00+08:00");
        s.post_as(&s.other_token, "/v1/sales", &json!({"sales": [at_b]}))
            .await;
        let at_a = sale("A123456789", 1, "2020-03-13T11:00:00+08:00");
        let unsynced = json!([{"id": at_a["id"], "sold_at": at_a["sold_at"], "quantity": 1}]);
        let ask = || json!({"id_no": "A123456789", "unsynced": unsynced});
        let (status, body) = s.post("/v1/eligibility", &ask()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["allowed"], 1, "{body}");
        let (_, synced) = s.post("/v1/sales", &json!({"sales": [at_a]})).await;
        assert_eq!(synced["results"][0]["status"], "accepted");
        let (_, body) = s.post("/v1/eligibility", &ask()).await;
        assert_eq!(
            body["allowed"], 1,
            "the synced sale is not counted twice: {body}"
        );

        let one =
            json!({"id": Uuid::now_v7(), "sold_at": "2020-03-13T09:00:00+08:00", "quantity": 0});
        let (status, body) = s
            .post(
                "/v1/eligibility",
                &json!({"id_no": "A123456789", "unsynced": [one]}),
            )
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_quantity"))
        );
        let many: Vec<Value> = (0..101)
            .map(|_| json!({"id": Uuid::now_v7(), "sold_at": "2020-03-13T09:00:00+08:00", "quantity": 1}))
            .collect();
        let (status, body) = s
            .post(
                "/v1/eligibility",
                &json!({"id_no": "A123456789", "unsynced": many}),
            )
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_quantity"))
        );
    }
);

#[tokio::test]
async fn every_answer_carries_the_server_clock_as_its_date() {
    // `--as-of` sets this clock: 2020-03-13 12:00 Taipei is 04:00 GMT.
    let s = TestServer::sqlite(MARCH).await;
    let requests = [
        s.http.get(format!("{}/v1/health", s.base)),
        s.http.get(format!("{}/v1/nothing-here", s.base)),
        s.http.post(format!("{}/v1/sales", s.base)).json(&json!({})),
        s.http
            .post(format!("{}/v1/sales", s.base))
            .bearer_auth(&s.token)
            .body("not json")
            .header("content-type", "application/json"),
        s.http.get(format!("{}/maskdata.csv", s.base)),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let date = response.headers()["date"].to_str().unwrap().to_owned();
        assert!(
            date.starts_with("Fri, 13 Mar 2020 04:0"),
            "{} answered with Date {date}",
            response.status()
        );
    }
}

async fn audit_get(
    s: &TestServer,
    token: &str,
    query: &str,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut request = s
        .http
        .get(format!("{}/v1/audit/sales{query}", s.base))
        .bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap()
}

on_both_backends!(
    the_audit_list_shows_flagged_sales_to_audit_tokens_only,
    MARCH,
    |s: TestServer| async move {
        let audit = s.server.issue_audit_token(None).await.unwrap();
        let first = sale("A123456789", 3, "2020-03-13T10:00:00+08:00");
        let over = sale("A123456789", 1, "2020-03-13T11:00:00+08:00");
        let ahead = sale("B123456780", 1, "2020-03-13T12:30:00+08:00");
        let (_, body) = s
            .post("/v1/sales", &json!({"sales": [first, over, ahead]}))
            .await;
        assert_eq!(body["results"][1]["status"], "overrun", "{body}");

        let query = "?from=2020-03-13&to=2020-03-13";
        let response = audit_get(&s, &audit, query, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let list: Value = response.json().await.unwrap();
        let listed = list["sales"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "{list}");
        assert_eq!(listed[0]["id"], over["id"]);
        assert_eq!(listed[0]["overrun_reason"], "window");
        assert_eq!(listed[0]["id_masked"], "A12****789");
        assert_eq!(listed[0]["site"], SITE);
        assert_eq!(listed[1]["id"], ahead["id"]);
        assert_eq!(listed[1]["flags"], json!(["sold_in_future"]));

        for (q, accept) in [
            (format!("{query}&format=csv"), None),
            (query.to_owned(), Some("text/csv")),
        ] {
            let response = audit_get(&s, &audit, &q, accept).await;
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/csv")
            );
            let csv = response.text().await.unwrap();
            let lines: Vec<&str> = csv.lines().collect();
            assert_eq!(lines.len(), 3, "{csv}");
            assert!(lines[0].starts_with("id,site,id_masked,kind,quantity,sold_at"));
            assert!(lines[2].contains("sold_in_future"), "{csv}");
            assert!(!csv.contains("A123456789"), "no full ID number: {csv}");
        }

        let empty = audit_get(&s, &audit, "?from=2020-03-14&to=2020-03-20", None).await;
        let empty: Value = empty.json().await.unwrap();
        assert_eq!(empty["sales"], json!([]));
        let response = audit_get(&s, &audit, "?from=2020-03-14&to=2020-03-13", None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        let response = audit_get(&s, &s.token, query, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "pharmacy token");
        let (status, body) = s
            .post_as(
                &audit,
                "/v1/sales",
                &json!({"sales": [sale("A123456789", 1, "2020-03-13T11:30:00+08:00")]}),
            )
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("forbidden"))
        );
        let (status, _) = s.get_as(&audit, "/v1/whoami").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
);

/// A sale row as an attacker with a copy of the SQLite file sees it.
struct StolenRow {
    id: Uuid,
    id_masked: String,
    quantity: u32,
    sold_at: OffsetDateTime,
    content_hash: String,
    hash_version: i64,
}

fn stolen_row(data_dir: &std::path::Path, id: &str) -> StolenRow {
    let conn = rusqlite::Connection::open(data_dir.join("mask-server.sqlite3")).unwrap();
    conn.query_row(
        "SELECT id, id_masked, quantity, sold_at_ms, content_hash, hash_version FROM sales WHERE id = ?1",
        [id],
        |r| {
            Ok(StolenRow {
                id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap(),
                id_masked: r.get(1)?,
                quantity: r.get(2)?,
                sold_at: OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(r.get::<_, i64>(3)?) * 1_000_000,
                )
                .unwrap(),
                content_hash: r.get(4)?,
                hash_version: r.get(5)?,
            })
        },
    )
    .unwrap()
}

/// Every (ID number, birth date) the mask and a range of birth dates leave whose sale `hash`
/// gives the stored hash.
fn brute_force(
    row: &StolenRow,
    hash: impl Fn(&mask_api::Sale, &nhi_id::IdNumber) -> String,
) -> Vec<(String, Option<time::Date>)> {
    let (head, tail) = (&row.id_masked[..3], &row.id_masked[7..]);
    let births: Vec<Option<time::Date>> = std::iter::once(None)
        .chain((0..45).map(|d| Some(time::macros::date!(1990 - 05 - 01) + time::Duration::days(d))))
        .collect();
    let mut found = Vec::new();
    let mut tried = 0;
    for hidden in 0..10_000 {
        let candidate = format!("{head}{hidden:04}{tail}");
        let Ok(id_no) = nhi_id::IdNumber::parse(&candidate) else {
            continue;
        };
        tried += 1;
        for &birth_date in &births {
            let sale = mask_api::Sale {
                id: row.id,
                id_no: candidate.clone(),
                birth_date,
                kind: mask_api::BuyerKind::Adult,
                quantity: row.quantity,
                sold_at: row.sold_at,
                source: mask_api::SaleSource::Card,
                offline: false,
            };
            if hash(&sale, &id_no) == row.content_hash {
                found.push((candidate.clone(), birth_date));
            }
        }
    }
    assert!(
        (900..=1100).contains(&tried),
        "the mask leaves ~1,000 IDs: {tried}"
    );
    found
}

#[tokio::test]
async fn a_stolen_sale_row_cannot_be_brute_forced_without_the_secret() {
    use mask_server_stub::{legacy_sale_hash, legacy_sale_tail, sale_canonical};
    use sha2::{Digest, Sha256};
    let s = TestServer::sqlite(MARCH).await;
    let mut real = sale("A123456789", 2, "2020-03-13T11:00:00+08:00");
    real["birth_date"] = json!("1990-05-17");
    let (_, body) = s.post("/v1/sales", &json!({"sales": [real]})).await;
    assert_eq!(body["results"][0]["status"], "accepted", "{body}");
    let data = s._dir.path().join("data");
    let row = stolen_row(&data, real["id"].as_str().unwrap());
    assert_eq!(row.hash_version, 2);
    assert_eq!(row.id_masked, "A12****789");
    let truth = vec![(
        "A123456789".to_owned(),
        Some(time::macros::date!(1990 - 05 - 17)),
    )];

    // Without the secret: the unkeyed encodings an attacker would try find nothing.
    let unkeyed = brute_force(&row, |sale, id| {
        hex::encode(Sha256::digest(sale_canonical(sale, id)))
    });
    assert!(unkeyed.is_empty(), "{unkeyed:?}");
    let tagged = brute_force(&row, |sale, id| {
        let mut h = Sha256::new();
        h.update(b"mask-content-v2:");
        h.update(sale_canonical(sale, id));
        hex::encode(h.finalize())
    });
    assert!(tagged.is_empty(), "{tagged:?}");
    let old_scheme = brute_force(&row, |sale, id| {
        legacy_sale_hash(SITE, &legacy_sale_tail(sale, id))
    });
    assert!(old_scheme.is_empty(), "{old_scheme:?}");

    // The same search is not futile by construction: with the data dir's secret it finds the
    // buyer, and against a row of the old unkeyed scheme it finds the buyer without one.
    let secret_hex = std::fs::read_to_string(data.join("person-key.secret")).unwrap();
    let secret: [u8; 32] = hex::decode(secret_hex.trim()).unwrap().try_into().unwrap();
    let keys = mask_server_stub::PersonKeys::keyed(&secret);
    let with_secret = brute_force(&row, |sale, id| {
        keys.content_hash(&sale_canonical(sale, id))
    });
    assert_eq!(with_secret, truth);
    let real_sale: mask_api::Sale = serde_json::from_value(real.clone()).unwrap();
    let real_id = nhi_id::IdNumber::parse("A123456789").unwrap();
    let legacy_row = StolenRow {
        content_hash: legacy_sale_hash(SITE, &legacy_sale_tail(&real_sale, &real_id)),
        hash_version: 1,
        ..row
    };
    let legacy = brute_force(&legacy_row, |sale, id| {
        legacy_sale_hash(SITE, &legacy_sale_tail(sale, id))
    });
    assert_eq!(legacy, truth, "the old unkeyed hash gives the buyer away");
}

#[tokio::test]
async fn a_sale_recorded_under_the_old_hash_replays_after_the_upgrade() {
    use mask_server_stub::{legacy_sale_hash, legacy_sale_tail};
    let s = TestServer::sqlite(MARCH).await;
    let old = sale("A123456789", 2, "2020-03-13T11:00:00+08:00");
    let old_sale: mask_api::Sale = serde_json::from_value(old.clone()).unwrap();
    let id_no = nhi_id::IdNumber::parse("A123456789").unwrap();
    {
        // The row as the previous version wrote it (hash version 1, site in the hash).
        let conn =
            rusqlite::Connection::open(s._dir.path().join("data").join("mask-server.sqlite3"))
                .unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.execute(
            "INSERT INTO sales (id, site, person, id_masked, kind, quantity, sold_at_ms, sold_day,
                source, offline, content_hash, status, overrun_reason, recorded_at_ms)
             VALUES (?1, ?2, zeroblob(16), 'A12****789', 'adult', 2, ?3, '2020-03-13', 'card', 0,
                ?4, 'accepted', NULL, ?3)",
            rusqlite::params![
                old_sale.id.to_string(),
                SITE,
                i64::try_from(old_sale.sold_at.unix_timestamp_nanos() / 1_000_000).unwrap(),
                legacy_sale_hash(SITE, &legacy_sale_tail(&old_sale, &id_no)),
            ],
        )
        .unwrap();
    }
    let (status, body) = s.post("/v1/sales", &json!({"sales": [old]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["replayed"], true, "{body}");
    assert_eq!(body["results"][0]["status"], "accepted", "{body}");
    let mut changed = old.clone();
    changed["quantity"] = json!(3);
    let (_, body) = s.post("/v1/sales", &json!({"sales": [changed]})).await;
    assert_eq!(body["results"][0]["status"], "conflict", "{body}");
}
