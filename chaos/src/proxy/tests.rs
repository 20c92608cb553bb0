use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::io::AsyncReadExt;

use super::*;

const BODY: &[u8] =
    b"{\"results\":[{\"id\":\"0190\",\"status\":\"accepted\"}],\"padding\":\"0123456789\"}";

/// A keep-alive upstream answering every request with [`BODY`] and counting what it saw.
async fn upstream() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Ok(Some(_)) =
                    http::read_message(&mut stream, &mut buf, false, false).await
                {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        BODY.len()
                    );
                    if stream.write_all(head.as_bytes()).await.is_err()
                        || stream.write_all(BODY).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// What a client got for one POST: every byte until close or error, and whether it was a reset.
struct Outcome {
    bytes: Vec<u8>,
    reset: bool,
    elapsed: Duration,
}

async fn one_request(proxy: &FaultProxy) -> Outcome {
    let start = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr()).await.expect("connect");
    let body = b"{\"sales\":[]}";
    let head = format!(
        "POST /v1/sales HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut bytes = Vec::new();
    let mut reset = false;
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                bytes.extend_from_slice(&chunk[..n]);
                // The upstream keeps the connection open after a pass: stop at a whole message.
                let mut slice = &bytes[..];
                let mut buf = Vec::new();
                if let Ok(Some(_)) = http::read_message(&mut slice, &mut buf, true, false).await {
                    break;
                }
            }
            Ok(Err(e)) => {
                reset = e.kind() == std::io::ErrorKind::ConnectionReset;
                break;
            }
            Err(_) => panic!("client hung: the proxy neither answered nor closed"),
        }
    }
    Outcome {
        bytes,
        reset,
        elapsed: start.elapsed(),
    }
}

async fn proxy_with(fault: Fault) -> (FaultProxy, Arc<AtomicU64>) {
    let (addr, seen) = upstream().await;
    let proxy = FaultProxy::start(addr, 7).await.expect("proxy");
    proxy.set_rates(FaultRates::only(fault, 1.0));
    (proxy, seen)
}

async fn parse(bytes: &[u8]) -> Result<Option<Message>, http::HttpError> {
    let mut slice = bytes;
    let mut buf = Vec::new();
    http::read_message(&mut slice, &mut buf, true, false).await
}

#[tokio::test]
async fn pass_forwards_the_answer_byte_for_byte() {
    let (proxy, seen) = proxy_with(Fault::Pass).await;
    let out = one_request(&proxy).await;
    let message = parse(&out.bytes).await.expect("whole").expect("message");
    assert_eq!(message.status, Some(200));
    assert_eq!(message.body(), BODY);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.counts().get(Fault::Pass), 1);
}

#[tokio::test]
async fn drop_closes_without_an_answer_before_or_after_the_server_saw_it() {
    let (proxy, seen) = proxy_with(Fault::Drop).await;
    for _ in 0..20 {
        let out = one_request(&proxy).await;
        assert!(out.bytes.is_empty(), "drop answered something");
    }
    assert_eq!(proxy.counts().get(Fault::Drop), 20);
    let forwarded = seen.load(Ordering::SeqCst);
    assert!(
        forwarded > 0 && forwarded < 20,
        "both kinds of drop expected, server saw {forwarded} of 20"
    );
}

#[tokio::test]
async fn reset_sends_part_of_the_answer_then_rst() {
    let (proxy, seen) = proxy_with(Fault::Reset).await;
    let out = one_request(&proxy).await;
    assert!(out.reset, "expected a connection reset");
    assert!(parse(&out.bytes).await.is_err() || out.bytes.is_empty());
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(proxy.counts().get(Fault::Reset), 1);
}

#[tokio::test]
async fn delay_holds_the_answer_then_passes_it() {
    let (proxy, _) = proxy_with(Fault::Delay).await;
    proxy.set_max_delay(Duration::from_millis(400));
    let mut longest = Duration::ZERO;
    for _ in 0..5 {
        let out = one_request(&proxy).await;
        let message = parse(&out.bytes).await.expect("whole").expect("message");
        assert_eq!(message.body(), BODY);
        longest = longest.max(out.elapsed);
        assert!(out.elapsed < Duration::from_secs(5));
    }
    assert!(
        longest >= Duration::from_millis(50),
        "no delay seen: {longest:?}"
    );
    assert_eq!(proxy.counts().get(Fault::Delay), 5);
}

#[tokio::test]
async fn error_5xx_is_answered_by_the_proxy_alone() {
    let (proxy, seen) = proxy_with(Fault::Error5xx).await;
    let out = one_request(&proxy).await;
    let message = parse(&out.bytes).await.expect("whole").expect("message");
    assert_eq!(message.status, Some(503));
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn garbage_keeps_status_and_length_but_not_the_body() {
    let (proxy, seen) = proxy_with(Fault::Garbage).await;
    let out = one_request(&proxy).await;
    let message = parse(&out.bytes).await.expect("whole").expect("message");
    assert_eq!(message.status, Some(200));
    assert_ne!(message.body(), BODY);
    assert!(serde_json::from_slice::<serde_json::Value>(message.body()).is_err());
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn truncated_promises_more_than_it_sends() {
    let (proxy, seen) = proxy_with(Fault::Truncated).await;
    let out = one_request(&proxy).await;
    assert!(matches!(
        parse(&out.bytes).await,
        Err(http::HttpError::Closed)
    ));
    let text = String::from_utf8_lossy(&out.bytes);
    assert!(text.contains(&format!("content-length: {}", BODY.len() + 64)));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn outage_refuses_everything_until_switched_back() {
    let (proxy, seen) = proxy_with(Fault::Pass).await;
    proxy.set_down(true);
    for _ in 0..3 {
        let out = one_request(&proxy).await;
        assert!(out.bytes.is_empty());
    }
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    assert_eq!(proxy.counts().get(Fault::Down), 3);
    proxy.set_down(false);
    let out = one_request(&proxy).await;
    assert!(parse(&out.bytes).await.expect("whole").is_some());
}

#[tokio::test]
async fn same_seed_same_faults() {
    let (addr, _) = upstream().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = FaultProxy::start(addr, 42).await.expect("proxy");
        proxy.set_rates(FaultRates {
            error_5xx: 0.3,
            garbage: 0.3,
            ..FaultRates::NONE
        });
        let mut statuses = Vec::new();
        for _ in 0..30 {
            let out = one_request(&proxy).await;
            statuses.push(
                parse(&out.bytes)
                    .await
                    .ok()
                    .flatten()
                    .map(|m| (m.status, m.body() == BODY)),
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn rates_pick_by_cumulative_edges() {
    let rates = FaultRates {
        drop: 0.1,
        reset: 0.1,
        ..FaultRates::NONE
    };
    assert_eq!(rates.pick(0.05), Fault::Drop);
    assert_eq!(rates.pick(0.15), Fault::Reset);
    assert_eq!(rates.pick(0.5), Fault::Pass);
    assert_eq!(FaultRates::NONE.pick(0.0), Fault::Pass);
}
