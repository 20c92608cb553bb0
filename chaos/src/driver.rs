//! The driver: one server, two pharmacies' agents (each behind its own fault proxy), a shared
//! pool of buyers, and seeded rounds of selling while kills, faults, clock skew, double outages
//! and server restarts happen. Then heal, drain, and account.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mask_api::policy::PolicySet;
use mask_protocol::{RequestBody, ResponseBody, SellBuyer, SellOutcome, SyncStatus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use time::macros::datetime;

use crate::accounting::{self, AccountingError, Acked, Verdict};
use crate::buyers::{self, PoolBuyer};
use crate::client::AgentClient;
use crate::procs::{AgentProc, ProcError, RunClock, ServerProc};
use crate::proxy::{FaultCounts, FaultProxy, FaultRates};

/// The two pharmacies (sites of the real open-data registry).
pub const SITES: [&str; 2] = ["0145080011", "2101010013"];

/// Thursday 2020-03-12 10:00 Taipei: rules of 2020-03-05, inside opening hours for hours.
pub const BASE: time::OffsetDateTime = datetime!(2020-03-12 10:00 +08:00);

/// The server's storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Backend {
    /// SQLite in the server's data dir.
    Sqlite,
    /// A fresh database on this PostgreSQL server (URL of any database there).
    Postgres(String),
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// First seed; run `i` uses `seed + i`.
    pub seed: u64,
    /// Runs (one seed each).
    pub runs: u32,
    /// Rounds per run (at least; more when kills are still short).
    pub rounds: Option<u32>,
    /// Time per run (instead of rounds).
    pub duration: Option<Duration>,
    /// Agent kills per run (at least).
    pub kills: u32,
    /// Server storage.
    pub backend: Backend,
    /// Where mask-agent and mask-server-stub are.
    pub bin_dir: PathBuf,
    /// Where runs keep their files (a temporary dir when `None`).
    pub work_dir: Option<PathBuf>,
    /// Longest injected delay.
    pub max_delay: Duration,
    /// Rate of each fault kind during a fault round.
    pub fault_rate: f64,
    /// Rate of each fault kind outside fault rounds.
    pub background_rate: f64,
    /// Buyers in the shared pool (smaller: more overlap, more overruns).
    pub pool: usize,
    /// How long the heal may take to drain the queues.
    pub drain_limit: Duration,
    /// The command line, for the figures.
    pub command: String,
}

/// A driver failure (not a finding: findings are in the figures).
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// A process would not start.
    #[error(transparent)]
    Proc(#[from] ProcError),
    /// Reading the results failed.
    #[error(transparent)]
    Accounting(#[from] AccountingError),
    /// Files or sockets.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// PostgreSQL set-up.
    #[error("PostgreSQL: {}", accounting::pg_text(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Missing binaries.
    #[error("{0}")]
    Setup(String),
}

/// The figures of one run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunFigures {
    /// Its seed.
    pub seed: u64,
    /// Rounds driven.
    pub rounds: u32,
    /// kill -9 of an agent.
    pub kills: u32,
    /// kill -9 of the server during a drain.
    pub server_restarts: u32,
    /// Agent restarts with a wrong clock.
    pub clock_skews: u32,
    /// Both pharmacies offline at once.
    pub double_outages: u32,
    /// Proxy counts by fault kind (both proxies).
    pub faults: FaultCounts,
    /// Sell requests sent.
    pub sells_sent: u64,
    /// Refused by the agent (eligibility).
    pub refused: u64,
    /// No answer (agent killed, timeout) or an error answer.
    pub unanswered: u64,
    /// The accounting.
    pub verdict: Verdict,
    /// Seconds the run took.
    pub seconds: f64,
    /// Unreadable states seen during the heal (agent down, sync error text).
    pub heal_notes: Vec<String>,
}

/// The figures of all runs.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// The command that produced them.
    pub command: String,
    /// Storage backend.
    pub backend: String,
    /// Each run.
    pub runs: Vec<RunFigures>,
}

impl Figures {
    /// Whether every run is clean.
    pub fn clean(&self) -> bool {
        self.runs.iter().all(|r| r.verdict.clean())
    }

    /// The figures table (plain text, one column per run plus the total).
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let total = |f: &dyn Fn(&RunFigures) -> u64| -> u64 { self.runs.iter().map(f).sum() };
        let mut add = |name: &str, f: &dyn Fn(&RunFigures) -> u64| {
            let mut cells: Vec<String> = self.runs.iter().map(|r| f(r).to_string()).collect();
            cells.push(total(f).to_string());
            rows.push((name.to_owned(), cells));
        };
        add("rounds", &|r| u64::from(r.rounds));
        add("agent kills (-9)", &|r| u64::from(r.kills));
        add("server kills mid-drain", &|r| u64::from(r.server_restarts));
        add("clock skews", &|r| u64::from(r.clock_skews));
        add("double outages", &|r| u64::from(r.double_outages));
        for fault in crate::proxy::Fault::ALL {
            let name = format!("requests: {}", fault.name());
            add(&name, &move |r| r.faults.get(fault));
        }
        add("sell requests", &|r| r.sells_sent);
        add("refused by rules", &|r| r.refused);
        add("unanswered (killed)", &|r| r.unanswered);
        add("sales acknowledged", &|r| r.verdict.acked);
        add("sales on server", &|r| r.verdict.server_sales);
        add("lost", &|r| r.verdict.lost);
        add("  of which rejected", &|r| r.verdict.lost_rejected);
        add("missing from own journal", &|r| r.verdict.lost_from_journal);
        add("duplicated", &|r| r.verdict.duplicated);
        add("people with totals off", &|r| r.verdict.person_mismatch);
        add("stuck (queued)", &|r| r.verdict.stuck);
        add("needs attention", &|r| r.verdict.attention);
        add("overruns expected", &|r| r.verdict.overruns_expected);
        add("overruns flagged", &|r| r.verdict.overruns_flagged);
        add("  expected, not flagged", &|r| r.verdict.overruns_missing);
        add("  flagged, not expected", &|r| r.verdict.overruns_other);
        let mut header = vec!["seed".to_owned()];
        header.extend(self.runs.iter().map(|r| r.seed.to_string()));
        header.push("total".into());
        let width = rows
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(4);
        let cell = rows
            .iter()
            .flat_map(|(_, c)| c.iter().map(String::len))
            .chain(header.iter().map(String::len))
            .max()
            .unwrap_or(5);
        let mut out = format!("command: {}\nbackend: {}\n", self.command, self.backend);
        let line = |name: &str, cells: &[String]| {
            let mut s = format!("| {name:<width$} |");
            for c in cells {
                s.push_str(&format!(" {c:>cell$} |"));
            }
            s.push('\n');
            s
        };
        out.push_str(&line(&header[0], &header[1..]));
        out.push_str(&format!(
            "|{}|{}\n",
            "-".repeat(width + 2),
            format!("{}|", "-".repeat(cell + 2)).repeat(header.len() - 1)
        ));
        for (name, cells) in &rows {
            out.push_str(&line(name, cells));
        }
        out.push_str(&format!(
            "result: {}\n",
            if self.clean() {
                "clean (lost = duplicated = stuck = 0, overruns expected == flagged)"
            } else {
                "NOT clean"
            }
        ));
        for r in &self.runs {
            for item in &r.verdict.attention_list {
                out.push_str(&format!(
                    "attention (seed {}): agent-{} sale {} buyer {} {}\n",
                    r.seed,
                    item.agent + 1,
                    item.sale_id,
                    item.id_masked,
                    item.state
                ));
            }
            for note in &r.heal_notes {
                out.push_str(&format!("heal (seed {}): {note}\n", r.seed));
            }
        }
        out
    }
}

/// Runs every seed and returns the figures.
pub async fn run_all(options: &Options) -> Result<Figures, DriverError> {
    for bin in ["mask-agent", "mask-server-stub"] {
        if !options.bin_dir.join(bin).is_file() {
            return Err(DriverError::Setup(format!(
                "{bin} not found in {}: build it with `cargo build --release -p mask-agent -p mask-server-stub`",
                options.bin_dir.display()
            )));
        }
    }
    let mut runs = Vec::new();
    for i in 0..options.runs.max(1) {
        let seed = options.seed.wrapping_add(u64::from(i));
        eprintln!(
            "mask-chaos: run {} of {}, seed {seed}",
            i + 1,
            options.runs.max(1)
        );
        runs.push(run_one(options, seed, i).await?);
    }
    Ok(Figures {
        command: options.command.clone(),
        backend: match &options.backend {
            Backend::Sqlite => "sqlite".into(),
            Backend::Postgres(_) => "postgres".into(),
        },
        runs,
    })
}

/// One run's live state.
struct Run {
    rng: ChaCha8Rng,
    clock: RunClock,
    server: ServerProc,
    agents: Vec<AgentProc>,
    proxies: Vec<FaultProxy>,
    run_index: u32,
    acked: Vec<Acked>,
    figures: RunFigures,
    options: Options,
}

/// What one sell request came to.
enum SellResult {
    Recorded(Acked),
    Refused,
    Unanswered,
}

const SELL_LIMIT: Duration = Duration::from_secs(40);
const SYNC_LIMIT: Duration = Duration::from_secs(40);

async fn sell(agent: usize, socket: PathBuf, buyer: PoolBuyer, quantity: u32) -> SellResult {
    let Ok(mut client) = AgentClient::connect(&socket, Duration::from_secs(5)).await else {
        return SellResult::Unanswered;
    };
    let body = RequestBody::Sell {
        buyer: SellBuyer::Manual {
            id_no: buyer.id_no.clone(),
            birth_date: buyer.birth_date,
        },
        quantity,
    };
    match client.request(body, SELL_LIMIT).await {
        Ok(ResponseBody::Sell(SellOutcome::Recorded(receipt))) => SellResult::Recorded(Acked {
            sale_id: receipt.sale_id,
            agent,
            quantity: receipt.quantity,
        }),
        Ok(ResponseBody::Sell(SellOutcome::Refused(_))) => SellResult::Refused,
        _ => SellResult::Unanswered,
    }
}

async fn sync_now(socket: PathBuf) -> Option<SyncStatus> {
    let mut client = AgentClient::connect(&socket, Duration::from_secs(5))
        .await
        .ok()?;
    match client.request(RequestBody::SyncNow, SYNC_LIMIT).await {
        Ok(ResponseBody::Sync(status)) => Some(status),
        _ => None,
    }
}

impl Run {
    fn record(&mut self, results: Vec<SellResult>) {
        for r in results {
            self.figures.sells_sent += 1;
            match r {
                SellResult::Recorded(a) => self.acked.push(a),
                SellResult::Refused => self.figures.refused += 1,
                SellResult::Unanswered => self.figures.unanswered += 1,
            }
        }
    }

    /// `n` seeded (buyer, quantity) picks.
    fn picks(&mut self, n: usize) -> Vec<(PoolBuyer, u32)> {
        (0..n)
            .map(|_| {
                // One new person enters the window every other round.
                let offset = (self.figures.rounds / 2) as usize;
                buyers::pick(&mut self.rng, self.run_index, offset, self.options.pool)
            })
            .collect()
    }

    /// Sells `picks` one after the other at agent `a` (one screen).
    fn sell_task(
        &self,
        a: usize,
        picks: Vec<(PoolBuyer, u32)>,
    ) -> tokio::task::JoinHandle<Vec<SellResult>> {
        let socket = self.agents[a].socket();
        tokio::spawn(async move {
            let mut out = Vec::new();
            for (buyer, q) in picks {
                out.push(sell(a, socket.clone(), buyer, q).await);
            }
            out
        })
    }

    async fn join(&mut self, task: tokio::task::JoinHandle<Vec<SellResult>>) {
        if let Ok(results) = task.await {
            self.record(results);
        }
    }

    /// Both screens selling at once.
    async fn sell_both(&mut self, n: usize) {
        let p0 = self.picks(n);
        let p1 = self.picks(n);
        let t0 = self.sell_task(0, p0);
        let t1 = self.sell_task(1, p1);
        self.join(t0).await;
        self.join(t1).await;
    }

    async fn restart_agent(&mut self, a: usize, skew_s: i64) -> Result<(), DriverError> {
        self.agents[a].kill9();
        self.agents[a].skew_s = skew_s;
        let as_of = self.clock.now() + time::Duration::seconds(skew_s);
        self.agents[a].start(as_of).await?;
        Ok(())
    }

    /// kill -9 of one agent while it sells, at a seeded point, then start it again.
    async fn round_kill(&mut self) -> Result<(), DriverError> {
        let a = self.rng.random_range(0..2);
        let n = self.rng.random_range(1..=4);
        let wait = Duration::from_millis(self.rng.random_range(0..60));
        let picks = self.picks(n);
        let task = self.sell_task(a, picks);
        // Sometimes the kill lands in a drain instead of a sale.
        if self.rng.random_bool(0.3) {
            let socket = self.agents[a].socket();
            tokio::spawn(sync_now(socket));
        }
        tokio::time::sleep(wait).await;
        self.agents[a].kill9();
        self.figures.kills += 1;
        self.join(task).await;
        let skew = self.agents[a].skew_s;
        self.restart_agent(a, skew).await
    }

    /// A burst of proxy faults on both sides while both screens sell.
    async fn round_faults(&mut self) {
        let rates = FaultRates::each(self.options.fault_rate);
        for p in &self.proxies {
            p.set_rates(rates);
        }
        let n = self.rng.random_range(2..=5);
        self.sell_both(n).await;
        let s0 = tokio::spawn(sync_now(self.agents[0].socket()));
        let s1 = tokio::spawn(sync_now(self.agents[1].socket()));
        let _ = s0.await;
        let _ = s1.await;
        let background = FaultRates::each(self.options.background_rate);
        for p in &self.proxies {
            p.set_rates(background);
        }
    }

    /// One agent restarted on a wrong clock (or back on the right one).
    async fn round_skew(&mut self) -> Result<(), DriverError> {
        let a = self.rng.random_range(0..2);
        const DAY: i64 = 86_400;
        let current = self.agents[a].skew_s;
        let skew = match self.rng.random_range(0..6) {
            0 => 15 * DAY,
            1 => -15 * DAY,
            2 => 600,
            3 => -600,
            // A jump back from wherever it was.
            4 => current - 3_600,
            _ => 0,
        };
        self.figures.clock_skews += 1;
        self.restart_agent(a, skew).await?;
        let n = self.rng.random_range(1..=4);
        self.sell_both(n).await;
        Ok(())
    }

    /// Both pharmacies offline selling to the same buyers, then back in a seeded order, each
    /// drained before the other comes back.
    async fn round_double_outage(&mut self) {
        self.figures.double_outages += 1;
        for p in &self.proxies {
            p.set_down(true);
        }
        let n = self.rng.random_range(2..=5);
        let picks = self.picks(n);
        let t0 = self.sell_task(0, picks.clone());
        let t1 = self.sell_task(1, picks);
        self.join(t0).await;
        self.join(t1).await;
        let order = if self.rng.random_bool(0.5) {
            [0, 1]
        } else {
            [1, 0]
        };
        for a in order {
            self.proxies[a].set_down(false);
            let _ = self.drain(a, Duration::from_secs(20)).await;
        }
    }

    /// kill -9 of the server while an agent drains a batch, then the server again on the same
    /// data.
    async fn round_server_restart(&mut self) -> Result<(), DriverError> {
        let a = self.rng.random_range(0..2);
        self.proxies[a].set_down(true);
        let n = self.rng.random_range(3..=8);
        let picks = self.picks(n);
        let task = self.sell_task(a, picks);
        self.join(task).await;
        self.proxies[a].set_down(false);
        let drain = tokio::spawn(sync_now(self.agents[a].socket()));
        tokio::time::sleep(Duration::from_millis(self.rng.random_range(0..40))).await;
        self.server.kill9();
        self.figures.server_restarts += 1;
        let _ = drain.await;
        self.server.start(self.clock.now()).await?;
        Ok(())
    }

    /// SyncNow until agent `a` has nothing queued, or `limit`. Returns the last status.
    async fn drain(&mut self, a: usize, limit: Duration) -> Option<SyncStatus> {
        let deadline = Instant::now() + limit;
        let mut last = None;
        loop {
            let status = sync_now(self.agents[a].socket()).await;
            if let Some(s) = &status
                && s.queued == 0
                && s.queued_other == 0
            {
                return status;
            }
            if status.is_some() {
                last = status;
            }
            if Instant::now() > deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Faults off, clocks right, everyone up, queues drained.
    async fn heal(&mut self) -> Result<(), DriverError> {
        for p in &self.proxies {
            p.set_rates(FaultRates::NONE);
            p.set_down(false);
        }
        if !self.server.running() {
            self.server.start(self.clock.now()).await?;
        }
        for a in 0..2 {
            if self.agents[a].skew_s != 0 || !self.agents[a].running() {
                self.restart_agent(a, 0).await?;
            }
        }
        for a in 0..2 {
            let limit = self.options.drain_limit;
            match self.drain(a, limit).await {
                Some(s) if s.queued == 0 && s.queued_other == 0 => {}
                Some(s) => self.figures.heal_notes.push(format!(
                    "agent-{} still has {} sales and {} other records queued after {limit:?} (last error: {})",
                    a + 1,
                    s.queued,
                    s.queued_other,
                    s.last_error.as_deref().unwrap_or("none")
                )),
                None => self
                    .figures
                    .heal_notes
                    .push(format!("agent-{} did not answer SyncNow", a + 1)),
            }
        }
        Ok(())
    }
}

async fn run_one(options: &Options, seed: u64, index: u32) -> Result<RunFigures, DriverError> {
    let started = Instant::now();
    let temp;
    let dir: PathBuf = match &options.work_dir {
        Some(base) => {
            let d = base.join(format!("seed-{seed}"));
            if d.exists() {
                std::fs::remove_dir_all(&d)?;
            }
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            temp = tempfile::Builder::new().prefix("mask-chaos-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let (database, pg_admin) = match &options.backend {
        Backend::Sqlite => ("sqlite".to_owned(), None),
        Backend::Postgres(url) => {
            let name = format!("mask_chaos_{}_{seed}", std::process::id());
            let db_url = create_database(url, &name).await?;
            (db_url, Some((url.clone(), name)))
        }
    };
    let mut server = ServerProc::new(&options.bin_dir, &dir, database.clone())?;
    let tokens = [server.issue_token(SITES[0])?, server.issue_token(SITES[1])?];
    let clock = RunClock {
        base: BASE,
        start: Instant::now(),
    };
    server.start(clock.now()).await?;
    let mut proxies = Vec::new();
    let mut agents = Vec::new();
    for (i, site) in SITES.iter().enumerate() {
        let proxy =
            FaultProxy::start(server.addr, seed.wrapping_mul(31).wrapping_add(i as u64)).await?;
        proxy.set_max_delay(options.max_delay);
        proxy.set_rates(FaultRates::each(options.background_rate));
        let mut agent = AgentProc::new(
            &options.bin_dir,
            &dir,
            &format!("agent-{}", i + 1),
            site,
            tokens[i].clone(),
            proxy.url(),
        )?;
        agent.start(clock.now()).await?;
        proxies.push(proxy);
        agents.push(agent);
    }
    let mut run = Run {
        rng: ChaCha8Rng::seed_from_u64(seed),
        clock,
        server,
        agents,
        proxies,
        run_index: index,
        acked: Vec::new(),
        figures: RunFigures {
            seed,
            ..RunFigures::default()
        },
        options: options.clone(),
    };

    let rounds_target = options.rounds;
    let deadline = options.duration.map(|d| Instant::now() + d);
    let begun = Instant::now();
    loop {
        let done_rounds = rounds_target.is_none_or(|r| run.figures.rounds >= r);
        let done_time = deadline.is_none_or(|d| Instant::now() >= d);
        let kills_short = run.figures.kills < options.kills;
        if done_rounds && done_time && !kills_short {
            break;
        }
        // Kills are paced over the run so the target is met without a long tail of kill-only
        // rounds; past the planned end only kills happen.
        let progress = match (rounds_target, options.duration) {
            _ if done_rounds && done_time => 1.0,
            (Some(r), _) => f64::from(run.figures.rounds) / f64::from(r.max(1)),
            (None, Some(d)) => begun.elapsed().as_secs_f64() / d.as_secs_f64().max(0.001),
            (None, None) => 1.0,
        };
        let behind = f64::from(run.figures.kills) < f64::from(options.kills) * progress.min(1.0);
        let roll: f64 = run.rng.random();
        if behind || (done_rounds && done_time) || roll < 0.30 {
            run.round_kill().await?;
        } else if roll < 0.55 {
            run.round_faults().await;
        } else if roll < 0.67 {
            run.round_skew().await?;
        } else if roll < 0.79 {
            run.round_double_outage().await;
        } else if roll < 0.87 {
            run.round_server_restart().await?;
        } else {
            let n = run.rng.random_range(1..=4);
            run.sell_both(n).await;
        }
        run.figures.rounds += 1;
    }

    run.heal().await?;
    let journals = run
        .agents
        .iter()
        .map(|a| accounting::read_journal(&a.journal_path()))
        .collect::<Result<Vec<_>, _>>()?;
    let server_sales = match &options.backend {
        Backend::Sqlite => {
            accounting::read_server_sqlite(&run.server.data_dir.join("mask-server.sqlite3"))?
        }
        Backend::Postgres(_) => accounting::read_server_postgres(&database).await?,
    };
    let mut faults = FaultCounts::default();
    for p in &run.proxies {
        faults.add(&p.counts());
    }
    run.figures.faults = faults;
    run.figures.verdict =
        accounting::judge(&run.acked, &journals, &server_sales, &PolicySet::builtin());
    run.figures.seconds = started.elapsed().as_secs_f64();
    let figures = run.figures.clone();
    for a in &mut run.agents {
        a.kill9();
    }
    run.server.kill9();
    drop(run);
    if let Some((url, name)) = pg_admin
        && figures.verdict.clean()
    {
        drop_database(&url, &name).await?;
    }
    Ok(figures)
}

/// `postgres://…/db` with the database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |s| s + 2) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

async fn admin(url: &str) -> Result<tokio_postgres::Client, DriverError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn create_database(url: &str, name: &str) -> Result<String, DriverError> {
    let client = admin(url).await?;
    // Separate statements: CREATE DATABASE refuses to run inside the implicit transaction of a
    // multi-statement query.
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await?;
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(with_database(url, name))
}

async fn drop_database(url: &str, name: &str) -> Result<(), DriverError> {
    let client = admin(url).await?;
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else the workspace's `target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Where the release binaries are: beside this program when it was built with them, else the
/// target dir's `release`.
pub fn default_bin_dir() -> PathBuf {
    let has_both =
        |d: &Path| d.join("mask-agent").is_file() && d.join("mask-server-stub").is_file();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        && has_both(&dir)
    {
        return dir;
    }
    target_dir().join("release")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://mask:mask@127.0.0.1:55432/mask_test", "x"),
            "postgres://mask:mask@127.0.0.1:55432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
