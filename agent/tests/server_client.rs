//! The server client against small HTTP servers on 127.0.0.1 that misbehave: a redirect
//! (following it would resend a body with ID numbers elsewhere) and an answer without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use mask_agent::{MAX_ANSWER_BYTES, ServerClient, ServerError};
use mask_api::{BuyerKind, Sale, SaleBatch, SaleSource};

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn batch() -> SaleBatch {
    SaleBatch {
        site: None,
        sales: vec![Sale {
            id: uuid::Uuid::now_v7(),
            id_no: crate::support::ids::even_id(1),
            birth_date: None,
            kind: BuyerKind::Adult,
            quantity: 1,
            sold_at: crate::support::AS_OF,
            source: SaleSource::Manual,
            offline: false,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let elsewhere = Arc::new(AtomicUsize::new(0));
    let hits = Arc::clone(&elsewhere);
    let app = axum::Router::new()
        .route(
            "/v1/sales",
            axum::routing::post(|| async {
                Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header(header::LOCATION, "/elsewhere/v1/sales")
                    .body(Body::empty())
                    .unwrap()
            }),
        )
        .route(
            "/elsewhere/v1/sales",
            axum::routing::post(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::OK, r#"{"results":[]}"#) }
            }),
        );
    let url = serve(app).await;
    let client = ServerClient::new(&url, "t", None).unwrap();
    let error = client.post_sales(&batch()).await.unwrap_err();
    assert!(
        matches!(error, ServerError::Redirect { status: 307, ref location } if location == "/elsewhere/v1/sales"),
        "{error:?}"
    );
    assert!(error.to_string().contains("redirect"), "{error}");
    assert_eq!(elsewhere.load(Ordering::SeqCst), 0, "the body was resent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_off_with_a_clear_error() {
    // Endless to the client; the stream itself stops after 256 MiB so a broken client cannot
    // run this machine out of memory.
    let app = axum::Router::new().route(
        "/v1/whoami",
        axum::routing::get(|| async {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures::stream::iter(
                std::iter::repeat_n(chunk, 4096).map(Ok::<_, std::convert::Infallible>),
            );
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap()
        }),
    );
    let url = serve(app).await;
    let client = ServerClient::new(&url, "t", None).unwrap();
    let started = Instant::now();
    let error = client.whoami().await.unwrap_err();
    assert!(
        matches!(error, ServerError::AnswerTooLarge { limit } if limit == MAX_ANSWER_BYTES),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A declared length over the limit is refused before reading.
    let app = axum::Router::new().route(
        "/v1/whoami",
        axum::routing::get(|| async { vec![b' '; MAX_ANSWER_BYTES + 1] }),
    );
    let url = serve(app).await;
    let client = ServerClient::new(&url, "t", None).unwrap();
    assert!(matches!(
        client.whoami().await,
        Err(ServerError::AnswerTooLarge { .. })
    ));
}

/// A gateway's own error page carries the gateway's clock. The client's clock reading is shared
/// by every task of the agent (the next successful exchange takes the offset from it, and sales
/// are dated by that offset), so only our server's own answers may set it. A test proxy's 500
/// with today's date once dated a 2020 sale in 2026 this way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_error_does_not_set_the_clock_reading() {
    const GATEWAY_DATE: &str = "Sun, 02 Feb 2031 10:00:00 GMT";
    const SERVER_DATE: &str = "Thu, 12 Mar 2020 02:00:00 GMT";
    let with_date = |status: StatusCode, date: &'static str, body: &'static str| {
        Response::builder()
            .status(status)
            .header(header::DATE, date)
            .body(Body::from(body))
            .unwrap()
    };
    let app = axum::Router::new()
        .route(
            "/gateway/v1/sales",
            axum::routing::post(move || async move {
                with_date(StatusCode::BAD_GATEWAY, GATEWAY_DATE, "<html>down</html>")
            }),
        )
        .route(
            "/portal/v1/sales",
            axum::routing::post(move || async move {
                with_date(StatusCode::OK, GATEWAY_DATE, "<html>log in</html>")
            }),
        )
        .route(
            "/server/v1/sales",
            axum::routing::post(move || async move {
                with_date(StatusCode::OK, SERVER_DATE, r#"{"results":[]}"#)
            }),
        );
    let url = serve(app).await;
    let year = |client: &ServerClient| client.last_server_date().map(|d| d.date.year());

    let gateway = ServerClient::new(&format!("{url}/gateway/"), "t", None).unwrap();
    let error = gateway.post_sales(&batch()).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(
        year(&gateway),
        None,
        "a 502's date was taken as the server's"
    );

    let portal = ServerClient::new(&format!("{url}/portal/"), "t", None).unwrap();
    let error = portal.post_sales(&batch()).await.unwrap_err();
    assert!(matches!(error, ServerError::Garbage(_)), "{error:?}");
    assert_eq!(year(&portal), None, "a captive portal's date was taken");

    let server = ServerClient::new(&format!("{url}/server/"), "t", None).unwrap();
    server.post_sales(&batch()).await.unwrap();
    assert_eq!(
        year(&server),
        Some(2020),
        "the server's own answer sets the reading"
    );
}
