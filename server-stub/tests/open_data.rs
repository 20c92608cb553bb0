//! `/maskdata.csv` and `/v1/sites` over HTTP: format, ETag/304, gzip.

use std::io::Read;

use reqwest::StatusCode;

use crate::support::*;

const NOW: &str = "2020-03-22T21:20:43+08:00";

#[tokio::test]
async fn fresh_server_serves_the_real_file_byte_for_byte_at_its_time() {
    // Opening stock is the file's own counts, so at the file's own data time the output is
    // the published file itself.
    let s = TestServer::sqlite(NOW).await;
    let real = include_bytes!("../../fixtures/data/maskdata-2020-03-22.csv");
    let r = s.get_public("/maskdata.csv").await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let body = r.bytes().await.unwrap();
    assert!(body.starts_with("\u{feff}醫事機構代碼,".as_bytes()));
    assert_eq!(body.len(), real.len());
    assert!(&body[..] == real, "byte-for-byte the published file");
}

#[tokio::test]
async fn etag_gives_304_and_gzip_is_served_when_asked() {
    let s = TestServer::sqlite(NOW).await;
    let url = format!("{}/maskdata.csv", s.base);
    let r = s.http.get(&url).send().await.unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let plain = r.bytes().await.unwrap();
    let r = s
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = s
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    let gz_etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(gz_etag, etag, "each encoding has its own strong ETag");
    let compressed = r.bytes().await.unwrap();
    assert!(compressed.len() * 3 < plain.len());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain);
    let r = s
        .http
        .get(&url)
        .header("accept-encoding", "gzip;q=0, identity")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn sites_json_is_the_same_snapshot() {
    let s = TestServer::sqlite(NOW).await;
    let (status, body) = s.get("/v1/sites").await;
    assert_eq!(status, StatusCode::OK);
    let sites = body["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 5600);
    assert_eq!(sites[0]["code"], SITE);
    assert_eq!(sites[0]["adult_remaining"], 970);
    assert_eq!(body["data_time"], "2020-03-22T21:20:43+08:00");
}
