//! How long the server takes over each request: a debug event (target [`REQUEST_TARGET`]) per
//! request with its route (the router's pattern, never the path a client sent: no query, no
//! made-up paths), status and microseconds from routing to the answer. An operator sees them
//! with `RUST_LOG=mask_server_stub::request=debug`; the launch-day benchmark collects them to
//! tell the server's own time from the lateness of a load generator on the same cores. With
//! the target off (the default), an event costs a check of a cached flag.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// The target of the per-request events.
pub const REQUEST_TARGET: &str = "mask_server_stub::request";

/// The middleware (a route layer: only routed requests have a pattern).
pub async fn time_request(request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: REQUEST_TARGET, tracing::Level::DEBUG) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        target: REQUEST_TARGET,
        route = route.as_str(),
        status = response.status().as_u16(),
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}
