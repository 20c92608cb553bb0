//! Malformed requests: each gets its problem and changes nothing.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

async fn raw(
    s: &TestServer,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, String, Value) {
    let r = s
        .http
        .post(format!("{}{path}", s.base))
        .bearer_auth(&s.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_bad_request_gets_its_problem_and_changes_nothing() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| c.body_limit = 64 * 1024).await;
    let before = s.maskdata().await;
    let sale_ok = serde_json::to_vec(
        &serde_json::json!({"sales": [sale("A123456789", 1, "2020-03-13T11:00:00+08:00")]}),
    )
    .unwrap();
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "/v1/sales",
            "application/json",
            b"{\"sales\": [".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/v1/sales",
            "application/json",
            b"not json".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "/v1/sales",
            "application/json",
            b"{\"sales\": 7}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/sales",
            "application/json",
            b"{\"sales\": [{\"id\": 1}]}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/sales",
            "text/plain",
            sale_ok.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "/v1/sales",
            "application/json",
            vec![b' '; 70 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "/v1/eligibility",
            "application/json",
            b"{\"id_no\": 12}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/eligibility",
            "application/json",
            b"{\"id_no\": \"A123456789\", \"birth_date\": \"1990-13-01\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/eligibility",
            "application/json",
            b"{\"id_no\": \"A123456789\", \"extra\": 1}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/stock",
            "application/json",
            b"{\"id\": \"nope\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/listing",
            "application/json",
            b"{\"listed\": \"no\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "/v1/note",
            "application/json",
            b"{\"id\": \"0190a0e0-0000-7000-8000-000000000001\", \"note\": 5, \"set_at\": \"2020-03-13T08:00:00+08:00\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let (got, content_type, problem) = raw(&s, path, ct, body).await;
        assert_eq!(got, status, "{path} {code}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["status"], status.as_u16());
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, problem) = s.get("/v1/inventory?date=2020-13-45").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, problem) = s.get("/v1/nothing-here").await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = s
        .http
        .delete(format!("{}/v1/sales", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(s.sold_adult("2020-03-13").await, 0);
    let after = s.maskdata().await;
    let strip_time = |csv: &str| {
        csv.lines()
            .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip_time(&before),
        strip_time(&after),
        "open data unchanged"
    );
}
