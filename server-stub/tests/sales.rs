//! Sales batches: idempotency, per-sale conflicts and rejections, flags for rule findings.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";
const DAY: &str = "2020-03-13";

on_both_backends!(
    a_replay_returns_the_original_result_and_records_nothing_new,
    NOW,
    |s: TestServer| async move {
        let batch = json!({"sales": [sale("A123456789", 2, "2020-03-13T11:00:00+08:00")]});
        let (_, first) = s.post("/v1/sales", &batch).await;
        let (status, again) = s.post("/v1/sales", &batch).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["results"][0]["replayed"], true);
        assert_eq!(again["results"][0]["status"], first["results"][0]["status"]);
        assert_eq!(
            again["results"][0]["recorded_at"],
            first["results"][0]["recorded_at"]
        );
        assert_eq!(s.sold_adult(DAY).await, 2);
    }
);

on_both_backends!(
    same_id_with_other_content_is_a_conflict_of_that_sale_alone,
    NOW,
    |s: TestServer| async move {
        let original = sale("A123456789", 2, "2020-03-13T11:00:00+08:00");
        s.post("/v1/sales", &json!({"sales": [original.clone()]}))
            .await;
        let mut changed = original.clone();
        changed["quantity"] = json!(3);
        let innocent = sale("B123456780", 1, "2020-03-13T11:00:00+08:00");
        let (status, body) = s
            .post("/v1/sales", &json!({"sales": [innocent, changed]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = &body["results"];
        assert_ne!(results[0]["status"], "conflict", "{body}");
        assert_eq!(results[0]["replayed"], false, "{body}");
        assert_eq!(results[1]["status"], "conflict", "{body}");
        assert_eq!(results[1]["id"], original["id"]);
        assert_eq!(results[1]["problem"]["code"], "idempotency_conflict");
        assert_eq!(results[1]["problem"]["index"], 1);
        assert_eq!(
            s.sold_adult(DAY).await,
            3,
            "the innocent sale was recorded, the changed copy was not"
        );
    }
);

on_both_backends!(
    sales_that_cannot_be_sales_are_rejected_alone,
    NOW,
    |s: TestServer| async move {
        let cases = [
            (
                "invalid_id_number",
                sale("A123456788", 1, "2020-03-13T11:00:00+08:00"),
            ),
            (
                "invalid_quantity",
                sale("A123456789", 0, "2020-03-13T11:00:00+08:00"),
            ),
            (
                "invalid_quantity",
                sale("A123456789", 101, "2020-03-13T11:00:00+08:00"),
            ),
            ("invalid_body", {
                let mut s = sale("A123456789", 1, "2020-03-13T11:00:00+08:00");
                s["id"] = json!("7f1c9b2e-4d3a-4b5c-8d6e-0f1a2b3c4d5e");
                s
            }),
        ];
        let mut sold = 0;
        for (code, bad) in cases {
            let good = sale(&valid_id(sold + 1), 1, "2020-03-13T11:00:00+08:00");
            let (status, body) = s.post("/v1/sales", &json!({"sales": [good, bad]})).await;
            sold += 1;
            assert_eq!(status, StatusCode::OK, "{code}: {body}");
            // Recorded (valid_id's last digit may be the weekday's wrong one: overrun).
            assert_eq!(body["results"][0]["replayed"], false, "{body}");
            assert!(body["results"][0]["problem"].is_null(), "{body}");
            assert_eq!(body["results"][1]["status"], "rejected", "{body}");
            assert_eq!(body["results"][1]["problem"]["code"], code, "{body}");
            assert_eq!(body["results"][1]["problem"]["index"], 1);
        }
        let (status, body) = s.post("/v1/sales", &json!({"sales": []})).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_quantity"))
        );
        assert_eq!(
            s.sold_adult(DAY).await,
            u64::from(sold),
            "only the good sales were recorded"
        );
    }
);

on_both_backends!(
    rule_findings_are_recorded_with_flags_and_replayed_identically,
    NOW,
    |s: TestServer| async move {
        let child_without_birth_date = {
            let mut s = sale(&valid_id(101), 1, "2020-03-13T11:00:00+08:00");
            s["kind"] = json!("child");
            s
        };
        let born_tomorrow = {
            let mut s = sale(&valid_id(102), 1, "2020-03-13T11:00:00+08:00");
            s["birth_date"] = json!("2020-03-14");
            s["kind"] = json!("child");
            s
        };
        let cases = [
            (
                "sold_in_future",
                sale("A123456789", 1, "2020-03-13T12:30:00+08:00"),
            ),
            (
                "sold_long_ago",
                sale("B123456780", 1, "2020-02-20T10:00:00+08:00"),
            ),
            (
                "before_rationing",
                sale(&valid_id(103), 1, "2020-01-01T10:00:00+08:00"),
            ),
            ("kind_mismatch", child_without_birth_date),
            ("birth_date_in_future", born_tomorrow),
        ];
        let batch: Vec<_> = cases.iter().map(|(_, sale)| sale.clone()).collect();
        let (status, body) = s.post("/v1/sales", &json!({"sales": batch})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (i, (flag, _)) in cases.iter().enumerate() {
            let result = &body["results"][i];
            assert!(
                result["status"] == "accepted" || result["status"] == "overrun",
                "{flag}: {result}"
            );
            let flags = result["flags"].as_array().unwrap();
            assert!(flags.contains(&json!(flag)), "{flag}: {result}");
        }
        let (_, again) = s.post("/v1/sales", &json!({"sales": batch})).await;
        for i in 0..cases.len() {
            assert_eq!(again["results"][i]["replayed"], true);
            assert_eq!(again["results"][i]["flags"], body["results"][i]["flags"]);
            assert_eq!(again["results"][i]["status"], body["results"][i]["status"]);
        }
        // The kind is recorded as sold: the child mask left the child stock.
        let (_, inv) = s.get(&format!("/v1/inventory?date={DAY}")).await;
        assert_eq!(inv["sold_child"], 2, "{inv}");
    }
);

on_both_backends!(
    acting_for_another_site_is_403,
    NOW,
    |s: TestServer| async move {
        let (status, body) = s.post("/v1/sales", &json!({"site": OTHER_SITE, "sales": [sale("A123456789", 1, "2020-03-13T11:00:00+08:00")]})).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("forbidden"))
        );
        let (status, _) = s.get(&format!("/v1/inventory?site={OTHER_SITE}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(s.sold_adult(DAY).await, 0);
    }
);

#[tokio::test]
async fn a_sale_with_a_birth_date_counts_as_child_masks() {
    let s = TestServer::sqlite(NOW).await;
    let mut child = sale("A123456789", 5, "2020-03-13T11:00:00+08:00");
    child["kind"] = json!("child");
    child["birth_date"] = json!("2010-02-02");
    let (status, body) = s.post("/v1/sales", &json!({"sales": [child]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, inv) = s.get("/v1/inventory?date=2020-03-13").await;
    assert_eq!(
        (inv["sold_child"].clone(), inv["sold_adult"].clone()),
        (json!(5), json!(0))
    );
}

/// PostgreSQL connections dropped under load (a restarted or failed-over database): requests
/// caught in it get a retryable 5xx, the server recovers on new connections, and every sale it
/// acknowledged is recorded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_mid_stream_lose_no_acknowledged_sale() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s =
        std::sync::Arc::new(TestServer::start(Backend::Postgres(url.clone()), NOW, |_| {}).await);
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let killer = tokio::spawn(async move {
        let mut killed = 0;
        for _ in 0..6 {
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
            killed += admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
        }
        killed
    });
    let mut posters = Vec::new();
    for worker in 0..8u32 {
        let s = std::sync::Arc::clone(&s);
        posters.push(tokio::spawn(async move {
            let mut retried = 0;
            for i in 0..40 {
                let body = json!({"sales": [sale(&valid_id(worker * 1000 + i), 1, "2020-03-13T11:00:00+08:00")]});
                loop {
                    let (status, reply) = s.post("/v1/sales", &body).await;
                    if status == StatusCode::OK {
                        // (Half the IDs are refused on this weekday: recorded as overruns.)
                        let status = &reply["results"][0]["status"];
                        assert!(status == "accepted" || status == "overrun", "{reply}");
                        break;
                    }
                    assert!(status.is_server_error(), "{status}: {reply}");
                    retried += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
            retried
        }));
    }
    let mut retried = 0;
    for p in posters {
        retried += p.await.unwrap();
    }
    let killed = killer.await.unwrap();
    assert!(killed > 0, "no connection was killed");
    eprintln!("{killed} connections killed, {retried} requests retried");
    // Exactly the 320 acknowledged sales, none twice (the inventory may need a retry too).
    let sold = loop {
        let (status, inv) = s.get(&format!("/v1/inventory?date={DAY}")).await;
        if status == StatusCode::OK {
            break inv["sold_adult"].as_u64().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(sold, 320);
}
