//! Stock-in, inventory with sales-cap warnings, listing in the open data.

use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::on_both_backends;
use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

fn delivery(adult: u32, child: u32, damaged_adult: u32) -> serde_json::Value {
    json!({
        "id": Uuid::now_v7(),
        "received_adult": adult,
        "received_child": child,
        "damaged_adult": damaged_adult,
        "damaged_child": 0,
        "recorded_at": "2020-03-13T08:00:00+08:00",
    })
}

on_both_backends!(
    stock_in_is_idempotent_and_shows_in_inventory,
    NOW,
    |s: TestServer| async move {
        let (_, before) = s.get("/v1/inventory?date=2020-03-13").await;
        let d = delivery(200, 50, 4);
        let (status, first) = s.post("/v1/stock", &d).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["replayed"], false);
        let inv = &first["inventory"];
        assert_eq!(
            (inv["received_adult"].clone(), inv["damaged_adult"].clone()),
            (json!(200), json!(4))
        );
        let expected = before["remaining_adult"].as_i64().unwrap() + 196;
        assert_eq!(inv["remaining_adult"], expected);
        let (_, again) = s.post("/v1/stock", &d).await;
        assert_eq!(again["replayed"], true);
        assert_eq!(again["inventory"]["remaining_adult"], expected);
        let mut changed = d.clone();
        changed["received_adult"] = json!(201);
        let (status, body) = s.post("/v1/stock", &changed).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::CONFLICT, json!("idempotency_conflict"))
        );
        let (_, after) = s.get("/v1/inventory?date=2020-03-13").await;
        assert_eq!(after["remaining_adult"], expected);
    }
);

on_both_backends!(
    sales_cap_warning_when_the_daily_allocation_is_sold,
    NOW,
    |s: TestServer| async move {
        let sales: Vec<_> = (0..2)
            .map(|i| sale(&valid_id(i), 100, "2020-03-13T11:00:00+08:00"))
            .collect();
        let (status, body) = s.post("/v1/sales", &json!({"sales": sales})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, inv) = s.get("/v1/inventory?date=2020-03-13").await;
        assert_eq!(inv["sold_adult"], 200);
        assert_eq!(inv["cap_adult"], 200);
        assert!(
            inv["warnings"]
                .as_array()
                .unwrap()
                .contains(&json!({"kind": "adult", "code": "cap_reached"})),
            "{inv}"
        );
    }
);

on_both_backends!(
    delisting_removes_the_site_from_the_open_data_at_the_next_refresh,
    NOW,
    |s: TestServer| async move {
        assert!(s.maskdata().await.contains(&format!("\r\n{SITE},")));
        let (status, body) = s.post("/v1/listing", &json!({"listed": false})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["listed"], false);
        let csv = s.maskdata().await;
        assert!(!csv.contains(&format!("\r\n{SITE},")));
        assert_eq!(csv.matches("\r\n").count(), 5600, "header + 5,599 sites");
        let (_, sites) = s.get("/v1/sites").await;
        assert_eq!(sites["sites"].as_array().unwrap().len(), 5599);
        s.post("/v1/listing", &json!({"listed": true})).await;
        assert!(s.maskdata().await.contains(&format!("\r\n{SITE},")));
    }
);

on_both_backends!(
    sales_lower_the_remaining_count_in_the_open_data,
    NOW,
    |s: TestServer| async move {
        let row = |csv: &str| {
            csv.lines()
                .find(|l| l.starts_with(SITE))
                .unwrap()
                .split(',')
                .nth(4)
                .unwrap()
                .parse::<i64>()
                .unwrap()
        };
        let before = row(&s.maskdata().await);
        s.post(
            "/v1/sales",
            &json!({"sales": [sale("A123456789", 3, "2020-03-13T11:00:00+08:00")]}),
        )
        .await;
        assert_eq!(row(&s.maskdata().await), before - 3);
    }
);

on_both_backends!(
    a_stock_in_with_a_clock_far_off_is_recorded_on_a_clamped_day,
    NOW,
    |s: TestServer| async move {
        let mut ahead = delivery(10, 0, 0);
        ahead["recorded_at"] = json!("2020-03-20T08:00:00+08:00");
        let (status, body) = s.post("/v1/stock", &ahead).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["inventory"]["date"], "2020-03-13", "counted today");
        let mut behind = delivery(20, 0, 0);
        behind["recorded_at"] = json!("2019-12-31T08:00:00+08:00");
        let (status, body) = s.post("/v1/stock", &behind).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["inventory"]["date"], "2020-02-28",
            "counted on the oldest day the server accepts"
        );
        assert_eq!(body["inventory"]["received_adult"], 20);
        let (_, again) = s.post("/v1/stock", &behind).await;
        assert_eq!(again["replayed"], true, "{again}");
        let too_many = delivery(1_000_001, 0, 0);
        let (status, body) = s.post("/v1/stock", &too_many).await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_quantity"))
        );
    }
);
