//! The public side of the day: people on the stock page and the apps polling the open data.
//!
//! Page views arrive open-loop at a fixed rate (a slow answer does not slow the arrivals, so
//! latency is not hidden by a waiting generator). The mix follows where the sites are: a county
//! is chosen as often as it has sites, then maybe one of its districts; some people search, some
//! open the landing page, some the English page or the child-mask view, and some come back with
//! the ETag of their last visit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::header::{ACCEPT_ENCODING, ETAG, IF_NONE_MATCH};
use tokio_util::sync::CancellationToken;

use crate::plan::Plan;
use crate::stats::{Outcome, Stats};
use crate::timeline::Timeline;

/// Page requests in flight beyond which new arrivals are dropped (and counted as errors): the
/// generator must not eat the machine when the server stalls.
const MAX_IN_FLIGHT: u64 = 4_000;

/// A page request: its kind (for the figures), path and query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// `page`, `page (en)` or `page: search`.
    pub kind: &'static str,
    /// `/` or `/en/`.
    pub path: &'static str,
    /// Query pairs.
    pub query: Vec<(&'static str, String)>,
}

/// Picks what one person asks for.
pub fn pick_page(rng: &mut ChaCha8Rng, plan: &Plan) -> PageRequest {
    let total: u32 = plan.counties.iter().map(|c| c.sites).sum();
    let pick_county = |rng: &mut ChaCha8Rng| {
        let mut x = rng.random_range(0..total.max(1));
        for c in &plan.counties {
            if x < c.sites {
                return c;
            }
            x -= c.sites;
        }
        &plan.counties[0]
    };
    let roll = rng.random_range(0..100);
    let mut query = Vec::new();
    let (kind, path) = match roll {
        0..10 => ("page", "/"),
        10..20 => {
            let term = plan.search_terms.choose(rng).cloned().unwrap_or_default();
            query.push(("q", term));
            ("page: search", "/")
        }
        20..25 => {
            query.push(("county", pick_county(rng).name.clone()));
            ("page (en)", "/en/")
        }
        _ => {
            let county = pick_county(rng);
            query.push(("county", county.name.clone()));
            if roll >= 60
                && let Some((district, _)) = county.districts.choose(rng)
            {
                query.push(("district", district.clone()));
            }
            if roll >= 90 {
                query.push(("kind", "child".into()));
            }
            ("page", "/")
        }
    };
    PageRequest { kind, path, query }
}

/// Runs page views at `per_minute` simulated (times the speed in real time) until `stop`.
pub async fn page_views(
    base: String,
    plan: Arc<Plan>,
    per_minute: u32,
    timeline: Timeline,
    stats: Stats,
    seed: u64,
    stop: CancellationToken,
) {
    let client = public_client();
    let etags: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_second = f64::from(per_minute) / 60.0 * f64::from(timeline.speed);
    let tick = Duration::from_millis(10);
    let mut due = 0.0;
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        next += tick;
        due += per_second * tick.as_secs_f64();
        while due >= 1.0 {
            due -= 1.0;
            let request = pick_page(&mut rng, &plan);
            let revisit = rng.random_bool(0.2);
            if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                stats.record(
                    request.kind,
                    timeline.slot(),
                    Duration::ZERO,
                    Outcome::Failed("generator overloaded"),
                );
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let client = client.clone();
            let base = base.clone();
            let etags = Arc::clone(&etags);
            let in_flight = Arc::clone(&in_flight);
            let stats = stats.clone();
            tokio::spawn(async move {
                let key = format!("{}?{:?}", request.path, request.query);
                let etag = revisit.then(|| lock(&etags).get(&key).cloned()).flatten();
                let mut builder = client
                    .get(format!("{base}{}", request.path))
                    .query(&request.query)
                    .header(ACCEPT_ENCODING, "gzip");
                if let Some(etag) = etag {
                    builder = builder.header(IF_NONE_MATCH, etag);
                }
                let started = Instant::now();
                let result = fetch(builder).await;
                let took = started.elapsed();
                match result {
                    Ok((status, tag)) if status == 200 || status == 304 => {
                        if let Some(tag) = tag {
                            lock(&etags).insert(key, tag);
                        }
                        stats.record(request.kind, timeline.slot(), took, Outcome::Ok);
                    }
                    Ok((status, _)) => stats.record(
                        request.kind,
                        timeline.slot(),
                        took,
                        Outcome::Failed(&status.to_string()),
                    ),
                    Err(kind) => {
                        stats.record(request.kind, timeline.slot(), took, Outcome::Failed(kind))
                    }
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
}

/// Runs `apps` apps, each polling `/maskdata.csv` every `period` simulated: a quarter each
/// with and without gzip, with and without `If-None-Match`.
pub async fn apps(
    base: String,
    apps: u32,
    period: time::Duration,
    timeline: Timeline,
    stats: Stats,
    stop: CancellationToken,
) {
    let client = public_client();
    let real_period = Duration::try_from(period / f64::from(timeline.speed.max(1)))
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_millis(10));
    let mut tasks = tokio::task::JoinSet::new();
    for app in 0..apps {
        let client = client.clone();
        let url = format!("{base}/maskdata.csv");
        let stats = stats.clone();
        let stop = stop.clone();
        let gzip = app % 2 == 0;
        let conditional = (app / 2) % 2 == 0;
        let offset = real_period.mul_f64(f64::from(app) / f64::from(apps.max(1)));
        tasks.spawn(async move {
            let mut etag: Option<String> = None;
            let mut next = tokio::time::Instant::now() + offset;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(next) => {}
                }
                next += real_period;
                let mut builder = client.get(&url);
                if gzip {
                    builder = builder.header(ACCEPT_ENCODING, "gzip");
                }
                if let Some(tag) = etag.as_ref().filter(|_| conditional) {
                    builder = builder.header(IF_NONE_MATCH, tag);
                }
                let started = Instant::now();
                let result = fetch(builder).await;
                let took = started.elapsed();
                match result {
                    Ok((200 | 304, tag)) => {
                        etag = tag.or(etag);
                        stats.record("maskdata.csv", timeline.slot(), took, Outcome::Ok);
                    }
                    Ok((status, _)) => stats.record(
                        "maskdata.csv",
                        timeline.slot(),
                        took,
                        Outcome::Failed(&status.to_string()),
                    ),
                    Err(kind) => {
                        stats.record("maskdata.csv", timeline.slot(), took, Outcome::Failed(kind))
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

fn public_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends, reads the whole body, and returns the status and the ETag.
async fn fetch(builder: reqwest::RequestBuilder) -> Result<(u16, Option<String>), &'static str> {
    let response = builder.send().await.map_err(|e| {
        if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "transport"
        }
    })?;
    let status = response.status().as_u16();
    let tag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    response.bytes().await.map_err(|_| "body")?;
    Ok((status, tag))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::{DayShape, plan};

    #[test]
    fn the_page_mix_follows_the_sites_and_covers_every_kind_of_visit() {
        let plan = plan(&DayShape {
            sites: 300,
            buyers: 10,
            ..DayShape::default()
        })
        .unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let picks: Vec<PageRequest> = (0..2_000).map(|_| pick_page(&mut rng, &plan)).collect();
        let share = |f: &dyn Fn(&PageRequest) -> bool| {
            picks.iter().filter(|p| f(p)).count() as f64 / 2_000.0
        };
        assert!((0.07..0.13).contains(&share(&|p| p.kind == "page: search")));
        assert!((0.03..0.07).contains(&share(&|p| p.path == "/en/")));
        assert!(share(&|p| p.query.iter().any(|(k, _)| *k == "district")) > 0.2);
        assert!(share(&|p| p.query.iter().any(|(k, v)| *k == "kind" && v == "child")) > 0.05);
        let biggest = plan
            .counties
            .iter()
            .max_by_key(|c| c.sites)
            .unwrap()
            .name
            .clone();
        let smallest = plan
            .counties
            .iter()
            .min_by_key(|c| c.sites)
            .unwrap()
            .name
            .clone();
        let count = |name: &str| {
            picks
                .iter()
                .filter(|p| p.query.iter().any(|(k, v)| *k == "county" && v == name))
                .count()
        };
        assert!(count(&biggest) > count(&smallest));
    }
}
