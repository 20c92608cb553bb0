//! Bearer tokens: missing, unknown, expired, rate limited.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

#[tokio::test]
async fn missing_unknown_and_expired_tokens_are_401_with_their_codes() {
    let s = TestServer::sqlite(NOW).await;
    let body = json!({"id_no": "A123456789"});
    let r = s
        .http
        .post(format!("{}/v1/eligibility", s.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "unauthorized"
    );
    let (status, problem) = s.post_as("mst_not-a-token", "/v1/eligibility", &body).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_token"))
    );
    let expired = s
        .server
        .issue_token(SITE, Some(time::Duration::seconds(-1)))
        .await
        .unwrap();
    let (status, problem) = s.post_as(&expired, "/v1/eligibility", &body).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token_expired"))
    );
}

#[tokio::test]
async fn tokens_are_issued_only_for_registered_sites() {
    let s = TestServer::sqlite(NOW).await;
    assert!(s.server.issue_token("0000000000", None).await.is_err());
    assert!(
        s.server.issue_token("592202A296", None).await.is_ok(),
        "codes with letters exist"
    );
}

#[tokio::test]
async fn whoami_names_the_tokens_site() {
    let s = TestServer::sqlite(NOW).await;
    let (_, me) = s.get("/v1/whoami").await;
    assert_eq!(me["site"], SITE);
    assert_eq!(me["name"], "衛生福利部花蓮醫院豐濱原住民分院");
}

#[tokio::test]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| c.rate_limit_per_sec = 1).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = s.get_raw(&s.token, "/v1/whoami").await;
        statuses.push((r.status(), r.headers().get("retry-after").is_some()));
    }
    assert_eq!(statuses[0], (StatusCode::OK, false));
    assert!(
        statuses.contains(&(StatusCode::TOO_MANY_REQUESTS, true)),
        "{statuses:?}"
    );
    // Another pharmacy is not affected.
    let (status, _) = s.get_as(&s.other_token, "/v1/whoami").await;
    assert_eq!(status, StatusCode::OK);
}
