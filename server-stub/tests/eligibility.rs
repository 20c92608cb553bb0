//! Eligibility: the contract shape, the 2020 rules through HTTP, quota across pharmacies.

use reqwest::StatusCode;
use serde_json::json;

use crate::on_both_backends;
use crate::support::*;

#[tokio::test]
async fn wrong_weekday_is_refused_with_the_contract_shape() {
    // 2020-03-12 is a Thursday: even last digits only; A123456789 is odd.
    let s = TestServer::sqlite("2020-03-12T09:00:00+08:00").await;
    assert_eq!(
        s.eligibility("A123456789", None).await,
        json!({"kind": "adult", "allowed": 0, "next_date": "2020-03-13", "reason": "weekday"})
    );
    assert_eq!(
        s.eligibility("B123456780", Some("1990-01-01")).await,
        json!({"kind": "adult", "allowed": 3, "next_date": null, "reason": null})
    );
}

#[tokio::test]
async fn children_by_birth_date_are_exempt_from_odd_even() {
    let s = TestServer::sqlite("2020-03-12T09:00:00+08:00").await;
    assert_eq!(
        s.eligibility("A123456789", Some("2012-05-01")).await,
        json!({"kind": "child", "allowed": 5, "next_date": null, "reason": null})
    );
}

#[tokio::test]
async fn sunday_closed_from_2020_04_19() {
    let s = TestServer::sqlite("2020-04-19T10:00:00+08:00").await;
    assert_eq!(
        s.eligibility("A123456789", None).await,
        json!({"kind": "adult", "allowed": 0, "next_date": "2020-04-20", "reason": "closed"})
    );
}

#[tokio::test]
async fn outside_opening_hours() {
    let s = TestServer::sqlite("2020-03-13T06:30:00+08:00").await;
    assert_eq!(s.eligibility("A123456789", None).await["reason"], "hours");
}

#[tokio::test]
async fn invalid_id_number_is_422_and_names_the_problem() {
    let s = TestServer::sqlite("2020-03-13T09:00:00+08:00").await;
    let (status, body) = s
        .post("/v1/eligibility", &json!({"id_no": "A123456788"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_id_number");
    assert!(
        !body["detail"].as_str().unwrap().contains("A123456788"),
        "no full ID in errors"
    );
}

on_both_backends!(
    a_sale_closes_the_window_at_every_pharmacy,
    "2020-03-13T09:00:00+08:00",
    |s: TestServer| async move {
        let id = "A123456789";
        assert_eq!(s.eligibility(id, None).await["allowed"], 3);
        let (status, body) = s
            .post(
                "/v1/sales",
                &json!({"sales": [sale(id, 3, "2020-03-13T09:00:00+08:00")]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["status"], "accepted");
        // The other pharmacy sees the window closed until purchase date + 7.
        let (_, other) = s
            .post_as(&s.other_token, "/v1/eligibility", &json!({"id_no": id}))
            .await;
        assert_eq!(
            other,
            json!({"kind": "adult", "allowed": 0, "next_date": "2020-03-20", "reason": "window"})
        );
    }
);

on_both_backends!(
    offline_sales_to_one_person_at_two_pharmacies_are_kept_and_flagged,
    "2020-03-13T12:00:00+08:00",
    |s: TestServer| async move {
        let id = "A123456789";
        let first = sale(id, 3, "2020-03-13T10:00:00+08:00");
        let mut second = sale(id, 2, "2020-03-13T10:05:00+08:00");
        second["offline"] = json!(true);
        let (_, a) = s.post("/v1/sales", &json!({"sales": [first]})).await;
        let (status, b) = s
            .post_as(&s.other_token, "/v1/sales", &json!({"sales": [second]}))
            .await;
        assert_eq!(a["results"][0]["status"], "accepted");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(b["results"][0]["status"], "overrun");
        assert_eq!(b["results"][0]["overrun_reason"], "window");
        // Both are recorded: the other site's inventory counts the overrun sale.
        let (_, inv) = s
            .get_as(&s.other_token, "/v1/inventory?date=2020-03-13")
            .await;
        assert_eq!(inv["sold_adult"], 2);
    }
);

on_both_backends!(
    concurrent_sales_to_one_person_never_both_pass,
    "2020-03-13T12:00:00+08:00",
    |s: TestServer| async move {
        let s = s; // capture the whole server (not just the fields used below), keeping it running
        let id = "A123456789";
        let mut tasks = Vec::new();
        let mut all = Vec::new();
        for i in 0..32 {
            let token = if i % 2 == 0 {
                s.token.clone()
            } else {
                s.other_token.clone()
            };
            let http = s.http.clone();
            let url = format!("{}/v1/sales", s.base);
            let one = sale(id, 1, "2020-03-13T11:00:00+08:00");
            all.push(one.clone());
            let body = json!({"sales": [one]});
            tasks.push(tokio::spawn(async move {
                let r = post_with(&http, &url, &token, &body).await;
                let v = r.json::<serde_json::Value>().await.unwrap();
                v["results"][0]["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{v}"))
                    .to_owned()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Sales of one instant are judged in id order whatever order they arrive in, so an
        // early answer may be re-judged later: the held statuses are what count.
        let (_, held) = s.post("/v1/sales", &json!({"sales": all})).await;
        let accepted = held["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "accepted")
            .count();
        assert_eq!(
            accepted, 3,
            "exactly the adult quantity of 2020-03-13 is accepted"
        );
        assert_eq!(
            held["results"][0]["status"], "accepted",
            "the first in id order"
        );
    }
);
