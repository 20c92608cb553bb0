//! A server that fails in every way a VPN link can: refused connections, 5xx, garbage, a
//! server that never answers, TLS with the wrong certificate. The counter never waits more
//! than ~2 s, and every sale still arrives exactly once when the real server is back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use mask_protocol::{Connectivity, DecisionSource, RequestBody, ResponseBody, SellOutcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::requests::{self, check, manual, sell};
use crate::support::{AgentFiles, InProcessAgent, TestServer, ids, sync_until_empty};

/// What the fault proxy does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    Forward = 0,
    Error500 = 1,
    Garbage = 2,
    Hang = 3,
    WrongCount = 4,
}

/// A TCP proxy in front of the real server that can turn into a faulty server at any moment.
struct FaultProxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    changed: tokio::sync::watch::Sender<u8>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(Mode::Forward as u8));
        let (changed, _) = tokio::sync::watch::channel(Mode::Forward as u8);
        let shared = Arc::clone(&mode);
        let watch = changed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mode = shared.load(Ordering::SeqCst);
                // A mode change cuts every open connection (pooled keep-alives included).
                let mut cut = watch.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        () = handle(client, upstream, mode) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        FaultProxy {
            addr,
            mode,
            changed,
        }
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        self.changed.send_replace(mode as u8);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn read_request_head(client: &mut TcpStream) {
    let mut buf = vec![0_u8; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), client.read(&mut buf)).await;
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, mode: u8) {
    let reply = |body: &str, status: &str, ctype: &str| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match mode {
        m if m == Mode::Forward as u8 => {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        }
        m if m == Mode::Error500 as u8 => {
            read_request_head(&mut client).await;
            let body = r#"{"type":"urn:mask:problem:internal","title":"boom","status":500,"code":"internal"}"#;
            let _ = client
                .write_all(
                    reply(
                        body,
                        "500 Internal Server Error",
                        "application/problem+json",
                    )
                    .as_bytes(),
                )
                .await;
        }
        m if m == Mode::Garbage as u8 => {
            read_request_head(&mut client).await;
            let _ = client
                .write_all(
                    reply("<html>proxy login</html>", "200 OK", "application/json").as_bytes(),
                )
                .await;
        }
        m if m == Mode::WrongCount as u8 => {
            read_request_head(&mut client).await;
            let _ = client
                .write_all(reply(r#"{"results":[]}"#, "200 OK", "application/json").as_bytes())
                .await;
        }
        _ => {
            // Hang: accept, read, never answer.
            read_request_head(&mut client).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_fault_falls_back_to_offline_and_nothing_is_lost() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let files = AgentFiles::new("faults", &proxy.url(), &server.token);
    let agent = InProcessAgent::start(&files).await;
    let mut client = agent.client().await;
    let mut sold = 0;
    for (i, mode) in [Mode::Error500, Mode::Garbage, Mode::WrongCount, Mode::Hang]
        .into_iter()
        .enumerate()
    {
        proxy.set(mode);
        let started = Instant::now();
        let outcome = sell(
            &mut client,
            manual(&ids::even_id(400_000 + i * 10), None),
            2,
        )
        .await;
        let waited = started.elapsed();
        let SellOutcome::Recorded(receipt) = outcome else {
            panic!("{mode:?}: {outcome:?}")
        };
        assert!(
            waited < Duration::from_millis(2600),
            "{mode:?}: the counter waited {waited:?}"
        );
        sold += 2;
        assert!(receipt.offline, "{mode:?}");
        let ResponseBody::Sync(status) = client.request(RequestBody::SyncNow).await.unwrap() else {
            panic!()
        };
        assert_eq!(status.connectivity, Connectivity::Offline, "{mode:?}");
        assert!(status.queued >= 1, "{mode:?}");
        assert!(status.last_error.is_some());
    }
    proxy.set(Mode::Forward);
    sync_until_empty(&mut client, Duration::from_secs(60)).await;
    assert_eq!(server.sold().await, sold);
    assert_eq!(files.journal().sale_states().unwrap(), (0, 4, 0, 0));
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pinned_ca_is_trusted() {
    // The server's own self-signed certificate is the CA; another one must be refused.
    let dir = crate::support::test_dir("tls-server");
    let files_tls = mask_server_stub::ensure_self_signed(dir.path()).unwrap();
    let other = crate::support::test_dir("tls-other");
    let other_ca = mask_server_stub::ensure_self_signed(other.path()).unwrap();
    let mut config = crate::support::server_config(dir.path());
    config.tls = Some(files_tls.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mask_server_stub::spawn(config, listener).await.unwrap();
    let token = server
        .issue_token(crate::support::SITE, None)
        .await
        .unwrap();
    let url = format!("https://localhost:{}", server.addr().port());

    let wrong = AgentFiles::with_extra(
        "tls-wrong",
        &url,
        &token,
        &format!("ca_cert = \"{}\"\n", other_ca.cert.display()),
    );
    let agent = InProcessAgent::start(&wrong).await;
    let mut client = agent.client().await;
    let e = check(&mut client, &ids::even_id(1), None).await;
    assert_eq!(e.decided, DecisionSource::Local);
    let status = requests::status(&mut client).await;
    assert!(
        status
            .sync
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("TLS"),
        "{status:?}"
    );
    drop(client);
    agent.stop().await;

    let right = AgentFiles::with_extra(
        "tls-right",
        &url,
        &token,
        &format!("ca_cert = \"{}\"\n", files_tls.cert.display()),
    );
    let agent = InProcessAgent::start(&right).await;
    let mut client = agent.client().await;
    let e = check(&mut client, &ids::even_id(1), None).await;
    assert_eq!(e.decided, DecisionSource::Server);
    drop(client);
    agent.stop().await;
}

#[test]
fn plain_http_is_refused_beyond_loopback_and_https_needs_a_ca() {
    use mask_agent::{ServerClient, ServerError};
    assert!(matches!(
        ServerClient::new("http://192.0.2.1:8080", "t", None),
        Err(ServerError::Url(_))
    ));
    assert!(matches!(
        ServerClient::new("https://nhi.example", "t", None),
        Err(ServerError::NoCa)
    ));
    assert!(ServerClient::new("http://127.0.0.1:8080", "t", None).is_ok());
}
