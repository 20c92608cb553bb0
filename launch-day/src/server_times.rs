//! The server's own time per route, inside the server process: the server stub's per-request
//! events ([`mask_server_stub::REQUEST_TARGET`]) collected into one histogram per route. Beside
//! the latencies the load generator measures (which include its own lateness on the same two
//! cores, see [`crate::lag`]), these say how long the server itself took.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use crate::lag::{Lag, LagFigures};

/// Per-route times, shared by the tracing layer and whoever reads them.
#[derive(Clone, Default)]
pub struct ServerTimes {
    routes: Arc<Mutex<BTreeMap<String, Lag>>>,
}

impl ServerTimes {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Lag>> {
        self.routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one request of `route` that took `took`.
    pub fn record(&self, route: &str, took: Duration) {
        let mut routes = self.lock();
        if let Some(times) = routes.get(route) {
            times.record(took);
        } else {
            let times = Lag::default();
            times.record(took);
            routes.insert(route.to_owned(), times);
        }
    }

    /// The figures per route so far, and forgets them.
    pub fn take(&self) -> BTreeMap<String, LagFigures> {
        self.lock()
            .iter()
            .map(|(route, times)| (route.clone(), times.take()))
            .filter(|(_, figures)| figures.samples > 0)
            .collect()
    }

    /// The tracing layer that feeds these (filter it to the request target).
    pub fn layer(&self) -> ServerTimesLayer {
        ServerTimesLayer {
            times: self.clone(),
        }
    }
}

/// Records each per-request event of the server stub.
pub struct ServerTimesLayer {
    times: ServerTimes,
}

#[derive(Default)]
struct RequestEvent {
    route: String,
    micros: u64,
}

impl Visit for RequestEvent {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "route" {
            value.clone_into(&mut self.route);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "micros" {
            self.micros = value;
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ServerTimesLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != mask_server_stub::REQUEST_TARGET {
            return;
        }
        let mut seen = RequestEvent::default();
        event.record(&mut seen);
        if !seen.route.is_empty() {
            self.times
                .record(&seen.route, Duration::from_micros(seen.micros));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_server_stubs_request_events_land_per_route() {
        let times = ServerTimes::default();
        let subscriber = tracing_subscriber::registry().with(times.layer());
        tracing::subscriber::with_default(subscriber, || {
            for micros in [1_000_u64, 2_000, 3_000] {
                tracing::debug!(target: mask_server_stub::REQUEST_TARGET, route = "/v1/sales", status = 200_u16, micros, "request");
            }
            tracing::debug!(target: mask_server_stub::REQUEST_TARGET, route = "/", status = 200_u16, micros = 500_u64, "request");
            tracing::debug!(target: "elsewhere", route = "/", micros = 9_000_000_u64, "not ours");
        });
        let figures = times.take();
        assert_eq!(figures.len(), 2, "{figures:?}");
        assert_eq!(figures["/v1/sales"].samples, 3);
        assert!((1.9..2.1).contains(&figures["/v1/sales"].p50_ms));
        assert!((0.4..0.6).contains(&figures["/"].max_ms));
        assert!(times.take().is_empty(), "take forgets");
    }
}
