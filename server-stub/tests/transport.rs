//! HTTPS with the self-signed certificate, and the public JSON documents.

use mask_api::{Health, PolicySet};
use reqwest::StatusCode;

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

#[tokio::test]
async fn https_with_the_generated_certificate_pinned() {
    let mut cert_path = None;
    let s = TestServer::start(Backend::Sqlite, NOW, |c| {
        let files = mask_server_stub::ensure_self_signed(&c.data_dir).unwrap();
        cert_path = Some(files.cert.clone());
        c.tls = Some(files);
    })
    .await;
    assert!(s.base.starts_with("https://127.0.0.1:"));
    let pem = std::fs::read(cert_path.unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let health: Health = client
        .get(format!("{}/v1/health", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.status, "ok");
    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::builder().use_rustls_tls().build().unwrap();
    assert!(
        untrusting
            .get(format!("{}/v1/health", s.base))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn health_reports_the_shifted_server_clock() {
    let s = TestServer::sqlite(NOW).await;
    let (_, body) = s.get("/v1/health").await;
    let health: Health = serde_json::from_value(body).unwrap();
    let start = time::macros::datetime!(2020-03-13 12:00 +08:00);
    assert!(health.server_time >= start && health.server_time < start + time::Duration::minutes(1));
    assert_eq!(
        health.policy_in_force,
        Some(time::macros::date!(2020 - 03 - 05))
    );
    assert_eq!(health.storage, "sqlite");
}

#[tokio::test]
async fn policy_is_served_as_the_builtin_records() {
    let s = TestServer::sqlite(NOW).await;
    let r = s.get_public("/v1/policy").await;
    assert_eq!(r.status(), StatusCode::OK);
    let set: PolicySet = r.json().await.unwrap();
    assert_eq!(set, PolicySet::builtin());
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let s = TestServer::sqlite(NOW).await;
    let (_, doc) = s.get("/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/eligibility",
        "/v1/sales",
        "/v1/stock",
        "/v1/inventory",
        "/v1/listing",
        "/v1/note",
        "/v1/policy",
        "/v1/sites",
        "/v1/health",
        "/maskdata.csv",
        "/v1/audit/sales",
        "/v1/audit/eligibility",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    // The codes a client switches on are in the schema.
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in ["token_revoked", "token_expired", "distinct_id_limit"] {
        assert!(
            codes.as_array().unwrap().contains(&serde_json::json!(code)),
            "{code} missing from {codes}"
        );
    }
    let params: Vec<&str> = doc["paths"]["/v1/audit/eligibility"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["from", "to", "site", "after", "limit", "format"]);
    let ok = &doc["paths"]["/v1/audit/eligibility"]["get"]["responses"]["200"];
    assert!(ok["headers"].get("x-next-after").is_some(), "{ok}");
}
