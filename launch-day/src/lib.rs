//! Launch day in a box (issue 16): 2020-02-06 replayed against one `mask-server-stub`, faster
//! than real time, on one machine.
//!
//! - [`plan`]: the day from a seed: sites, deliveries, buyers, second tries, outages, notes.
//! - [`pharmacies`]: each site is the agent's own core, journal, sync and probe loops.
//! - [`public`]: people on the stock page and apps polling the open data.
//! - [`central`]: the server in its own process, its tokens, its CPU and memory.
//! - [`lag`]: how late each side's runtime wakes (whose tail a p99 is).
//! - [`server_times`]: the server's own time per route, measured inside it.
//! - [`stats`]: latencies per request kind (the agents' own client times its exchanges).
//! - [`report`]: figures, accounting and the chart.
//!
//! [`run_day`] plays the day and checks the count at the end: every sale a counter was told
//! about is on the server exactly once, overruns are flagged as the rules imply, and each
//! site's stock is what it received, less damaged, less sold.
#![forbid(unsafe_code)]

pub mod central;
pub mod lag;
pub mod logging;
pub mod pharmacies;
pub mod plan;
pub mod public;
pub mod report;
pub mod server_times;
pub mod stats;
pub mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use mask_chaos::accounting::{Acked, judge, read_server_postgres, read_server_sqlite};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use central::{Central, ServeArgs};
use pharmacies::{Counters, Pharmacy};
use plan::{DayShape, Plan};
use report::{Accounting, DayReport};
use stats::{ExchangeLayer, Stats};
use timeline::Timeline;

/// Real seconds between switching the sites' PCs on and the first simulated instant played
/// (the default of [`RunOptions::lead`]): time to build 6,500 sites and start the server, and
/// for the agents to say good morning.
pub const LEAD: Duration = Duration::from_secs(45);

/// How one run is set up.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The day.
    pub shape: DayShape,
    /// Simulated seconds per real second.
    pub speed: u32,
    /// `sqlite`, or a PostgreSQL server URL (a fresh database is made on it).
    pub database: String,
    /// Part of the day played (simulated); the deliveries are always entered.
    pub from: OffsetDateTime,
    /// End of the played part.
    pub to: OffsetDateTime,
    /// The server's binary, `mask-launch-day-server` (beside this benchmark's own). A binary of
    /// its own so that it keeps the system allocator, as the packaged server does, while the
    /// load generator uses another (see `main.rs`).
    pub exe: PathBuf,
    /// Scratch space (the server's data directory).
    pub work_dir: PathBuf,
    /// Real time between switching the PCs on and the first instant played ([`LEAD`]; a
    /// test's few dozen sites need seconds).
    pub lead: Duration,
}

/// What the figures need to know while the day runs (the exchange layer is installed before).
#[derive(Default)]
pub struct Live {
    timeline: Mutex<Option<Timeline>>,
    proxied: Mutex<HashSet<String>>,
    /// Figures.
    pub stats: Stats,
}

impl Live {
    /// The tracing layer that turns the agents' exchange events into figures of this run.
    pub fn layer(self: &Arc<Self>) -> ExchangeLayer {
        let (slot, cut) = (Arc::clone(self), Arc::clone(self));
        ExchangeLayer {
            stats: self.stats.clone(),
            slot: Arc::new(move || {
                let timeline = *lock(&slot.timeline);
                timeline.and_then(|t| t.slot())
            }),
            is_cut: Arc::new(move |server| lock(&cut.proxied).contains(server)),
        }
    }

    /// Forgets the previous run's figures.
    fn begin(&self, timeline: Timeline) {
        self.stats.clear();
        lock(&self.proxied).clear();
        *lock(&self.timeline) = Some(timeline);
    }
}

/// A lock whose holder's panic does not stop the figures.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn fresh_postgres(url: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let name = format!("mask_launch_{}", uuid::Uuid::now_v7().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Plays the day and accounts for it. `live` must be the one whose [`Live::layer`] is installed.
pub async fn run_day(options: &RunOptions, live: Arc<Live>) -> anyhow::Result<DayReport> {
    let plan = Arc::new(plan::plan(&options.shape)?);
    let postgres = options.database != "sqlite";
    let database = if postgres {
        fresh_postgres(&options.database).await?
    } else {
        "sqlite".to_owned()
    };
    let speed = options.speed.max(1);
    let listen = mask_chaos::free_port()?;
    let lead_sim = time::Duration::try_from(options.lead * speed)?;
    let mut args = ServeArgs {
        data_dir: options.work_dir.join("server"),
        database: database.clone(),
        sites: options.shape.sites,
        speed,
        as_of: options.from - lead_sim,
        listen,
    };
    eprintln!("launch day: issuing {} tokens", plan.sites.len());
    let tokens = central::issue_tokens(&args).await?;

    // Everything below runs on the day's clock from here.
    let clock = mask_api::Clock::replaying(args.as_of, speed);
    let started = tokio::time::Instant::now() + options.lead;
    let timeline = Timeline {
        from: options.from,
        to: options.to,
        started,
        speed,
    };
    live.begin(timeline);
    // The server listens before the sites are built: their fault proxies bind ports of their
    // own, which could otherwise take the one chosen for the server, and their agents start
    // probing during the lead.
    args.as_of = clock.now();
    eprintln!(
        "launch day: starting the server ({database_kind})",
        database_kind = if postgres { "PostgreSQL" } else { "SQLite" }
    );
    let mut central = Central::start(&options.exe, &args).await?;
    let shutdown = CancellationToken::new();
    eprintln!("launch day: building {} sites", plan.sites.len());
    let mut pharmacies = Vec::with_capacity(plan.sites.len());
    let n = plan.sites.len().max(1) as u32;
    for (i, day) in plan.sites.iter().enumerate() {
        // PCs are switched on over the first two thirds of the lead.
        let switched_on = tokio::time::Instant::now()
            + options
                .lead
                .mul_f64(0.2 + 0.5 * f64::from(i as u32) / f64::from(n));
        let token = tokens.get(&day.code).context("no token")?;
        let pharmacy =
            Pharmacy::start(i, day, listen, token, clock, switched_on, &shutdown).await?;
        if pharmacy.proxy.is_some()
            && let Some(url) = pharmacy.server_url()
        {
            lock(&live.proxied).insert(url);
        }
        pharmacies.push(Arc::new(pharmacy));
    }
    let base = format!("http://{listen}");

    // Outages.
    let mut outages = tokio::task::JoinSet::new();
    for (pharmacy, day) in pharmacies.iter().zip(&plan.sites) {
        if let Some((at, length)) = day.outage {
            let pharmacy = Arc::clone(pharmacy);
            outages.spawn(async move {
                timeline.sleep_until(at).await;
                if let Some(proxy) = &pharmacy.proxy {
                    proxy.set_down(true);
                }
                timeline.sleep_until(at + length).await;
                if let Some(proxy) = &pharmacy.proxy {
                    proxy.set_down(false);
                }
            });
        }
    }
    let public_stop = CancellationToken::new();
    let monitor = tokio::spawn(central::monitor(
        central.pid,
        postgres,
        timeline,
        public_stop.clone(),
    ));
    eprintln!(
        "launch day: the day starts in {:.0} s and lasts {:.0} s",
        started
            .saturating_duration_since(tokio::time::Instant::now())
            .as_secs_f64(),
        (options.to - options.from).as_seconds_f64() / f64::from(speed)
    );
    tokio::time::sleep_until(started).await;
    // Runtime lag over the played part only: the server's is reset now, the generator's
    // probe starts now.
    central.figures().await?;
    let generator_lag = lag::Lag::default();
    let lag_task = tokio::spawn(lag::probe(generator_lag.clone(), public_stop.clone()));
    let page_task = tokio::spawn(public::page_views(
        base.clone(),
        Arc::clone(&plan),
        options.shape.page_views_per_minute,
        timeline,
        live.stats.clone(),
        options.shape.seed,
        public_stop.clone(),
    ));
    let apps_task = tokio::spawn(public::apps(
        base.clone(),
        options.shape.apps,
        options.shape.app_period,
        timeline,
        live.stats.clone(),
        public_stop.clone(),
    ));

    let counters = Arc::new(Counters::default());
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut days = tokio::task::JoinSet::new();
    for (pharmacy, day) in pharmacies.iter().zip(plan.sites.iter().cloned()) {
        let (pharmacy, stats, counters, acked) = (
            Arc::clone(pharmacy),
            live.stats.clone(),
            Arc::clone(&counters),
            Arc::clone(&acked),
        );
        days.spawn(async move {
            pharmacy
                .play(&day, timeline, &stats, &counters, &acked)
                .await
        });
    }
    while let Some(result) = days.join_next().await {
        result?;
    }
    timeline.sleep_until(options.to).await;
    // The played part is over: outages still running (or planned later in the day) end now,
    // so that every backlog drains.
    outages.abort_all();
    for pharmacy in &pharmacies {
        if let Some(proxy) = &pharmacy.proxy {
            proxy.set_down(false);
        }
    }
    let real_secs = timeline
        .real(options.to)
        .duration_since(started)
        .as_secs_f64();
    let server_figures = central.figures().await?;
    let runtime_lag = BTreeMap::from([
        ("generator".to_owned(), generator_lag.take()),
        ("server".to_owned(), server_figures.runtime),
    ]);
    public_stop.cancel();
    let _ = page_task.await;
    let _ = apps_task.await;
    let _ = lag_task.await;
    let usage = monitor.await?;
    eprintln!("launch day: played; waiting for every outbox to drain");

    // End of day: every outbox empties (the outage sites' backlogs included).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let mut queued = 0;
        for pharmacy in &pharmacies {
            queued += pharmacy.queued().await?;
        }
        if queued == 0 || tokio::time::Instant::now() > deadline {
            if queued > 0 {
                eprintln!("launch day: {queued} records still queued after 10 minutes");
            }
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    shutdown.cancel();
    let mut journals = Vec::with_capacity(pharmacies.len());
    for pharmacy in &pharmacies {
        journals.push(pharmacy.journal_view().await?);
    }
    central.stop().await?;

    // The server's side of the count.
    let config = args.config()?;
    let server_sales = if postgres {
        read_server_postgres(&database).await?
    } else {
        read_server_sqlite(&central::sqlite_file(&args.data_dir))?
    };
    let acked = std::mem::take(&mut *lock(&acked));
    let verdict = judge(
        &acked,
        &journals,
        &server_sales,
        &mask_api::PolicySet::builtin(),
    );
    let registry = config.registry()?;
    let store = mask_server_stub::open_store(&config, &registry).await?;
    let rows: HashMap<String, mask_server_stub::StockRow> = store
        .stock_rows()
        .await?
        .into_iter()
        .map(|row| (row.code.clone(), row))
        .collect();
    drop(store);
    let mut accounting = Accounting {
        verdict,
        second_tries_recorded: counters.second_after_first.load(Ordering::Relaxed),
        ..Accounting::default()
    };
    for pharmacy in &pharmacies {
        let ledger = lock(&pharmacy.ledger).clone();
        accounting.masks_sold.0 += ledger.sold.0;
        accounting.masks_sold.1 += ledger.sold.1;
        let Some(row) = rows.get(&pharmacy.code) else {
            accounting.stock_mismatches += 1;
            continue;
        };
        if (row.adult, row.child)
            != (
                ledger.delivered.0 - ledger.sold.0,
                ledger.delivered.1 - ledger.sold.1,
            )
        {
            accounting.stock_mismatches += 1;
        }
        if row.listed == ledger.delisted {
            accounting.listing_mismatches += 1;
        }
        if row.public_note != ledger.note {
            accounting.note_mismatches += 1;
        }
    }
    if postgres {
        drop_database(&options.database, &database).await;
    }

    let stats = live.stats.snapshot();
    let slot_secs = (stats::SLOT_MINUTES * 60) as f64 / f64::from(speed);
    let mut counters = counters.figures();
    counters.extend([
        ("buyers_planned".to_owned(), plan.buyers() as u64),
        (
            "second_tries_planned".to_owned(),
            plan.second_tries() as u64,
        ),
        (
            "outage_sites".to_owned(),
            plan.sites.iter().filter(|s| s.outage.is_some()).count() as u64,
        ),
    ]);
    Ok(DayReport {
        backend: if postgres { "PostgreSQL" } else { "SQLite" }.into(),
        speed,
        sites: plan.sites.len(),
        window: format!(
            "{:02}:{:02}–{:02}:{:02}",
            options.from.hour(),
            options.from.minute(),
            options.to.hour(),
            options.to.minute()
        ),
        real_secs,
        kinds: report::kind_rows(&stats, real_secs),
        slots: report::slot_rows(&stats, &usage, slot_secs),
        counters,
        accounting,
        runtime_lag,
        server_times: server_figures.routes,
    })
}

async fn drop_database(admin_url: &str, url: &str) {
    let Some((_, name)) = url.rsplit_once('/') else {
        return;
    };
    if let Ok((client, connection)) =
        tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await
    {
        tokio::spawn(connection);
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// Plays nothing: checks that a plan of this shape can be made (for `--dry-run`).
pub fn describe(shape: &DayShape) -> anyhow::Result<Plan> {
    Ok(plan::plan(shape)?)
}
