//! Server limits: request timeout, TLS handshakes in flight.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const NOW: &str = "2020-03-13T12:00:00+08:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_in_forever_is_cut_off_with_408() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| {
        c.request_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = s.server.addr();
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/sales HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{",
        s.token
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = conn.into_split();
    let trickle = tokio::spawn(async move {
        while write.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("no answer to a trickling body");
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The server serves on.
    let (status, _) = s.get("/v1/whoami").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshakes_do_not_keep_other_clients_out() {
    let mut cert_path = None;
    let s = TestServer::start(Backend::Sqlite, NOW, |c| {
        let files = mask_server_stub::ensure_self_signed(&c.data_dir).unwrap();
        cert_path = Some(files.cert.clone());
        c.tls = Some(files);
        c.max_tls_handshakes = 4;
    })
    .await;
    let addr = s.server.addr();
    // Connections that never send a ClientHello, 8 times the bound.
    let mut stalled = Vec::new();
    for _ in 0..32 {
        stalled.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pem = std::fs::read(cert_path.unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    for _ in 0..5 {
        let r = client
            .get(format!("{}/v1/health", s.base))
            .send()
            .await
            .expect("a well-behaved client is served despite stalled handshakes");
        assert_eq!(r.status(), StatusCode::OK);
    }
    // Beyond the bound the server let go of the stalled connections (the oldest first), well
    // before the handshake timeout would have.
    let mut closed = 0;
    for conn in &mut stalled {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(50), conn.read(&mut b)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 28,
        "only {closed} of 32 stalled connections closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_sending_unknown_tokens_is_refused_before_the_store_is_asked() {
    let s = TestServer::start(Backend::Sqlite, NOW, |c| c.unknown_tokens_per_sec = 1).await;
    // A pharmacy on the same address, its token seen before the guessing starts.
    let (status, _) = s.get("/v1/whoami").await;
    assert_eq!(status, StatusCode::OK);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (status, problem) = s.get_as(&format!("mst_guess{i}"), "/v1/whoami").await;
        statuses.push((
            status.as_u16(),
            problem["code"].as_str().unwrap_or("").to_owned(),
        ));
    }
    let codes: Vec<(u16, &str)> = statuses.iter().map(|(s, c)| (*s, c.as_str())).collect();
    assert_eq!(&codes[..2], [(401, "invalid_token"); 2]);
    assert!(
        codes[2..].iter().all(|c| *c == (429, "rate_limited")),
        "{codes:?}"
    );
    // Known tokens keep working, and the address gets lookups again after a while.
    let (status, _) = s.get("/v1/whoami").await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (status, problem) = s.get_as("mst_guess_late", "/v1/whoami").await;
    assert_eq!(
        (status.as_u16(), &problem["code"]),
        (401, &serde_json::json!("invalid_token"))
    );
}
