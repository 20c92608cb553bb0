//! Latency and error figures per request kind, over the day and per simulated 15 minutes.
//!
//! The agents' exchanges are timed by the agent's own client (its `mask_agent::exchange` debug
//! event, collected by [`ExchangeLayer`]); the public's requests by the load generator. Both
//! land here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Simulated minutes per slot of the chart.
pub const SLOT_MINUTES: i64 = 15;

/// Latencies above this are recorded as this (a stuck request still counts, at the top).
const MAX_MICROS: u64 = 120_000_000;

fn histogram() -> Histogram<u64> {
    // Three significant digits from 1 µs to two minutes.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant, valid bounds")
}

/// One kind's figures.
#[derive(Clone)]
pub struct KindStats {
    /// Over the day.
    pub all: Histogram<u64>,
    /// Per slot.
    pub slots: BTreeMap<usize, Histogram<u64>>,
    /// Failures by outcome (status code or transport error), not injected.
    pub errors: BTreeMap<String, u64>,
    /// Failures the benchmark caused on purpose (an outage site's network is down).
    pub injected: u64,
    /// The first words seen of each failure outcome, for the report.
    pub examples: BTreeMap<String, String>,
}

impl Default for KindStats {
    fn default() -> Self {
        KindStats {
            all: histogram(),
            slots: BTreeMap::new(),
            errors: BTreeMap::new(),
            injected: 0,
            examples: BTreeMap::new(),
        }
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Answered as wanted.
    Ok,
    /// Failed (status code or error kind), not on purpose.
    Failed(&'a str),
    /// Failed because the benchmark cut the network.
    Injected,
}

/// Everything measured, shared by all tasks.
#[derive(Clone, Default)]
pub struct Stats {
    inner: Arc<Mutex<BTreeMap<String, KindStats>>>,
}

impl Stats {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, KindStats>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one request of `kind` in `slot` (None: before the day, not in a slot).
    pub fn record(&self, kind: &str, slot: Option<usize>, latency: Duration, outcome: Outcome<'_>) {
        self.record_with(kind, slot, latency, outcome, None);
    }

    /// [`Stats::record`], keeping `words` as the example of a failure outcome not seen before.
    pub fn record_with(
        &self,
        kind: &str,
        slot: Option<usize>,
        latency: Duration,
        outcome: Outcome<'_>,
        words: Option<&str>,
    ) {
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        let mut all = self.lock();
        let stats = match all.get_mut(kind) {
            Some(stats) => stats,
            None => all.entry(kind.to_owned()).or_default(),
        };
        match outcome {
            Outcome::Ok => {}
            Outcome::Injected => {
                stats.injected += 1;
                return;
            }
            Outcome::Failed(what) => {
                *stats.errors.entry(what.to_owned()).or_default() += 1;
                if let Some(words) = words
                    && !stats.examples.contains_key(what)
                {
                    stats.examples.insert(what.to_owned(), words.to_owned());
                }
            }
        }
        let _ = stats.all.record(micros);
        if let Some(slot) = slot {
            let _ = stats
                .slots
                .entry(slot)
                .or_insert_with(histogram)
                .record(micros);
        }
    }

    /// Forgets every figure.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// A copy of the figures so far.
    pub fn snapshot(&self) -> BTreeMap<String, KindStats> {
        self.lock().clone()
    }
}

/// Maps a real instant to the slot of the simulated day it falls in.
pub type SlotOf = Arc<dyn Fn() -> Option<usize> + Send + Sync>;

/// Whether a base URL belongs to a site whose network is cut right now.
pub type IsCut = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Collects the agent client's per-exchange events into [`Stats`].
pub struct ExchangeLayer {
    /// Where figures go.
    pub stats: Stats,
    /// The current slot.
    pub slot: SlotOf,
    /// Outage sites' proxies.
    pub is_cut: IsCut,
}

#[derive(Default)]
struct Exchange {
    route: String,
    server: String,
    outcome: String,
    error: Option<String>,
    micros: u64,
}

impl Visit for Exchange {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "route" => self.route = value.to_owned(),
            "server" => self.server = value.to_owned(),
            "outcome" => self.outcome = value.to_owned(),
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "micros" {
            self.micros = value;
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ExchangeLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != mask_agent::EXCHANGE_TARGET {
            return;
        }
        let mut exchange = Exchange::default();
        event.record(&mut exchange);
        let outcome = if exchange.outcome == "ok" {
            Outcome::Ok
        } else if exchange.outcome.parse::<u16>().is_err() && (self.is_cut)(&exchange.server) {
            // A transport failure through a cut site's proxy is the injected outage; a status
            // code came from the server itself and counts whatever the network.
            Outcome::Injected
        } else {
            Outcome::Failed(&exchange.outcome)
        };
        self.stats.record_with(
            &exchange.route,
            (self.slot)(),
            Duration::from_micros(exchange.micros),
            outcome,
            exchange.error.as_deref(),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn exchange_events_become_figures_and_cut_sites_count_as_injected() {
        let stats = Stats::default();
        let layer = ExchangeLayer {
            stats: stats.clone(),
            slot: Arc::new(|| Some(3)),
            is_cut: Arc::new(|server| server.contains(":9")),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for (server, outcome, micros) in [
                ("http://127.0.0.1:8/", "ok", 1_000u64),
                ("http://127.0.0.1:8/", "ok", 3_000),
                ("http://127.0.0.1:8/", "503", 2_000),
                ("http://127.0.0.1:9/", "connect", 5),
                ("http://127.0.0.1:8/", "connect", 7),
            ] {
                tracing::debug!(
                    target: mask_agent::EXCHANGE_TARGET,
                    route = "v1/sales",
                    server,
                    outcome,
                    error = (outcome != "ok").then_some("connection refused"),
                    micros,
                    "server exchange"
                );
            }
            tracing::debug!(target: "elsewhere", route = "v1/sales", micros = 1u64, "not ours");
        });
        let all = stats.snapshot();
        let sales = &all["v1/sales"];
        assert_eq!(
            sales.all.len(),
            4,
            "ok, ok, 503 and the real connect failure"
        );
        assert_eq!(sales.injected, 1);
        assert_eq!(sales.errors["503"], 1);
        assert_eq!(sales.errors["connect"], 1);
        assert_eq!(sales.examples["connect"], "connection refused");
        assert_eq!(sales.slots[&3].len(), 4);
        assert!(sales.all.max() >= 2_990 && sales.all.max() <= 3_010);
        assert_eq!(all.len(), 1);
    }
}
