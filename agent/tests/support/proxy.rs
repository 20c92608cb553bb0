//! An HTTP reverse proxy (axum) in front of the real server stub that can answer some requests
//! itself: an old all-or-nothing server, a size limit, an endpoint that is down.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

/// Decides about one request: `Some` answers it here, `None` forwards it to the real server.
pub type Rule = Arc<dyn Fn(&str, &[u8]) -> Option<(StatusCode, String)> + Send + Sync>;

/// One request seen: path, the answer's status, and the number of sales in its body (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub status: u16,
    pub sales: usize,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    rule: Arc<Mutex<Rule>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    http: reqwest::Client,
}

pub struct RuleProxy {
    pub addr: SocketAddr,
    rule: Arc<Mutex<Rule>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A problem+json body as the server writes it.
pub fn problem(status: u16, code: &str, items: &[(usize, String, &str)]) -> String {
    let errors: Vec<serde_json::Value> = items
        .iter()
        .map(|(index, id, code)| {
            serde_json::json!({ "index": index, "id": id, "code": code, "detail": "refused by the test" })
        })
        .collect();
    serde_json::json!({
        "type": format!("urn:mask:problem:{code}"),
        "title": "refused by the test",
        "status": status,
        "code": code,
        "errors": errors,
    })
    .to_string()
}

/// The sales of a `POST /v1/sales` body (empty for other bodies).
pub fn sales_in(body: &[u8]) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("sales").and_then(|s| s.as_array()).cloned())
        .unwrap_or_default()
}

impl RuleProxy {
    pub async fn start(upstream: SocketAddr) -> RuleProxy {
        let rule: Rule = Arc::new(|_: &str, _: &[u8]| None);
        let rule = Arc::new(Mutex::new(rule));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            upstream: format!("http://{upstream}"),
            rule: Arc::clone(&rule),
            seen: Arc::clone(&seen),
            http: reqwest::Client::new(),
        };
        let app = axum::Router::new().fallback(forward).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuleProxy { addr, rule, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, rule: Rule) {
        *self.rule.lock().unwrap() = rule;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn forward(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let rule = Arc::clone(&*shared.rule.lock().unwrap());
    let sales = sales_in(&body).len();
    let (status, content_type, date, answer) = match rule(&path, &body) {
        Some((status, text)) => (
            status,
            HeaderValue::from_static("application/problem+json"),
            None,
            Bytes::from(text),
        ),
        None => {
            let target = format!(
                "{}{}",
                shared.upstream,
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let mut upstream = shared.http.request(parts.method.clone(), target).body(body);
            for name in [header::AUTHORIZATION, header::CONTENT_TYPE] {
                if let Some(value) = parts.headers.get(&name) {
                    upstream = upstream.header(name, value.clone());
                }
            }
            let Ok(answer) = upstream.send().await else {
                return Response::builder()
                    .status(StatusCode::BAD_GATEWAY)
                    .body(Body::empty())
                    .unwrap();
            };
            let status = answer.status();
            let content_type = answer
                .headers()
                .get(header::CONTENT_TYPE)
                .cloned()
                .unwrap_or(HeaderValue::from_static("application/json"));
            let date = answer.headers().get(header::DATE).cloned();
            (
                status,
                content_type,
                date,
                answer.bytes().await.unwrap_or_default(),
            )
        }
    };
    shared.seen.lock().unwrap().push(Seen {
        path,
        status: status.as_u16(),
        sales,
    });
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type);
    if let Some(date) = date {
        response = response.header(header::DATE, date);
    }
    response.body(Body::from(answer)).unwrap()
}
