//! The central side under test: `mask-server-stub` in a process of its own (the
//! `mask-launch-day-server` binary runs the server library exactly as the server binary does,
//! with the day's registry and a replaying clock), its tokens, and a monitor of its CPU and memory (and
//! PostgreSQL's CPU when that is the store).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use mask_server_stub::{Database, ServerConfig};
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio_util::sync::CancellationToken;

use crate::lag::{Lag, LagFigures};
use crate::server_times::ServerTimes;
use crate::timeline::Timeline;

/// What the server process is started with.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Data directory.
    pub data_dir: PathBuf,
    /// `sqlite` or a PostgreSQL URL.
    pub database: String,
    /// Sites in the registry (see [`crate::plan::registry`]).
    pub sites: usize,
    /// Replay speed.
    pub speed: u32,
    /// The clock's first instant.
    pub as_of: OffsetDateTime,
    /// Where to listen (a free port on 127.0.0.1, chosen before the sites are built).
    pub listen: std::net::SocketAddr,
}

impl ServeArgs {
    /// The server configuration: defaults, with the day's registry and clock. Limits counted
    /// per minute of the day's clock are scaled by the speed (a simulated minute passes in
    /// 1/speed of a real one), and the open data refresh every 30 simulated seconds as in 2020.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let mut config = ServerConfig::new(&self.data_dir);
        config.database = Database::parse(&self.database)
            .ok_or_else(|| anyhow!("bad database {}", self.database))?;
        config.registry = Some(crate::plan::registry(self.sites)?);
        config.as_of = Some(self.as_of);
        config.clock_speed = self.speed;
        config.refresh = Duration::from_secs(30)
            .div_f64(f64::from(self.speed.max(1)))
            .max(Duration::from_millis(100));
        config.eligibility_ids_per_minute =
            config.eligibility_ids_per_minute.saturating_mul(self.speed);
        config.rate_limit_per_sec = config.rate_limit_per_sec.saturating_mul(self.speed);
        Ok(config)
    }

    /// Arguments of the server binary (`mask-launch-day-server`).
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--database".into(),
            self.database.clone(),
            "--sites".into(),
            self.sites.to_string(),
            "--speed".into(),
            self.speed.to_string(),
            "--as-of-ms".into(),
            (self.as_of.unix_timestamp_nanos() / 1_000_000).to_string(),
            "--listen".into(),
            self.listen.to_string(),
        ]
    }
}

/// What the server process measured of itself since the last ask.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ServerFigures {
    /// Its runtime's lag ([`crate::lag`]).
    pub runtime: LagFigures,
    /// Its own time per route ([`crate::server_times`]).
    pub routes: BTreeMap<String, LagFigures>,
}

/// The server process (`mask-launch-day-server`): serves (printing `listening <addr>` once the
/// port is open) until standard input closes. A `figures` line on standard input is answered with
/// `figures <json>`: the [`ServerFigures`] since the last one, per-route times from `times` (which
/// the process's tracing subscriber feeds).
pub async fn serve(args: ServeArgs, times: ServerTimes) -> anyhow::Result<()> {
    let config = args.config()?;
    let server = mask_server_stub::spawn_on(config, args.listen).await?;
    let lag = Lag::default();
    let stop_lag = CancellationToken::new();
    tokio::spawn(crate::lag::probe(lag.clone(), stop_lag.clone()));
    println!("listening {}", server.addr());
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    while stdin.read_line(&mut line).await.unwrap_or(0) > 0 {
        if line.trim() == "figures" {
            let figures = ServerFigures {
                runtime: lag.take(),
                routes: times.take(),
            };
            println!("figures {}", serde_json::to_string(&figures)?);
        }
        line.clear();
    }
    stop_lag.cancel();
    server.shutdown().await?;
    Ok(())
}

/// Issues one pharmacy token per site (before the server starts; the store is the same).
pub async fn issue_tokens(args: &ServeArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let config = args.config()?;
    let registry = config.registry()?;
    let store = mask_server_stub::open_store(&config, &registry).await?;
    let mut tokens = BTreeMap::new();
    for site in registry.all() {
        let token =
            mask_server_stub::issue_token_in(store.as_ref(), &registry, &site.code, None).await?;
        tokens.insert(site.code.clone(), token);
    }
    Ok(tokens)
}

/// The running server process.
pub struct Central {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Its process id.
    pub pid: u32,
}

impl Central {
    /// Starts the server process (`exe`: the `mask-launch-day-server` binary) and waits until
    /// it listens.
    pub async fn start(exe: &Path, args: &ServeArgs) -> anyhow::Result<Central> {
        let mut child = Command::new(exe)
            .args(args.to_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server process")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("server process has no pid"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
                .await
                .context("the server did not start within 5 minutes")??
                .ok_or_else(|| anyhow!("the server process ended before listening"))?;
            if let Some(addr) = line.strip_prefix("listening ") {
                break addr.parse()?;
            }
        };
        Ok(Central {
            child,
            lines,
            addr,
            pid,
        })
    }

    /// The server's runtime lag and per-route times since the last call (the first call only
    /// starts the count).
    pub async fn figures(&mut self) -> anyhow::Result<ServerFigures> {
        let stdin = self
            .child
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("the server's input is closed"))?;
        stdin.write_all(b"figures\n").await?;
        stdin.flush().await?;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
                .await
                .context("the server did not answer `figures` within a minute")??
                .ok_or_else(|| anyhow!("the server process ended"))?;
            if let Some(json) = line.strip_prefix("figures ") {
                return Ok(serde_json::from_str(json)?);
            }
        }
    }

    /// Stops the server cleanly (closes its standard input) and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        match tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                anyhow::ensure!(status.success(), "server process ended with {status}");
            }
            Err(_) => {
                self.child.start_kill()?;
                anyhow::bail!("the server did not stop within 60 s");
            }
        }
        Ok(())
    }
}

/// CPU seconds (user + system) and resident memory of a process, from `/proc`.
fn cpu_and_rss(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // /proc reports CPU time in USER_HZ ticks, which Linux fixes at 100 for user space.
    Some((ticks as f64 / 100.0, rss_kib * 1024))
}

/// CPU seconds of every `postgres` process (the store's share of the central side).
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| cpu_and_rss(pid).map(|(cpu, _)| cpu))
        .sum()
}

/// Resource use of one slot of the day.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Usage {
    /// Server CPU, in cores (1.0 = one core busy).
    pub server_cores: f64,
    /// PostgreSQL's CPU, in cores.
    pub postgres_cores: f64,
    /// This process's CPU (the load generator and the 6,500 agents), in cores.
    pub generator_cores: f64,
    /// Largest server resident memory seen, in bytes.
    pub server_rss: u64,
}

/// Samples every second until `stop`, summed per slot.
pub async fn monitor(
    pid: u32,
    postgres: bool,
    timeline: Timeline,
    stop: CancellationToken,
) -> BTreeMap<usize, Usage> {
    let usage: Arc<Mutex<BTreeMap<usize, (Usage, f64)>>> = Arc::default();
    let me = std::process::id();
    let mut last = (
        cpu_and_rss(pid).map_or(0.0, |c| c.0),
        if postgres { postgres_cpu() } else { 0.0 },
        cpu_and_rss(me).map_or(0.0, |c| c.0),
        std::time::Instant::now(),
    );
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let Some((server_cpu, rss)) = cpu_and_rss(pid) else {
            break;
        };
        let pg = if postgres { postgres_cpu() } else { 0.0 };
        let mine = cpu_and_rss(me).map_or(0.0, |c| c.0);
        let now = std::time::Instant::now();
        let secs = now.duration_since(last.3).as_secs_f64().max(1e-3);
        if let Some(slot) = timeline.slot() {
            let mut all = usage
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (u, seconds) = all.entry(slot).or_default();
            u.server_cores += server_cpu - last.0;
            u.postgres_cores += pg - last.1;
            u.generator_cores += mine - last.2;
            u.server_rss = u.server_rss.max(rss);
            *seconds += secs;
        }
        last = (server_cpu, pg, mine, now);
    }
    let all = usage
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    all.iter()
        .map(|(slot, (u, seconds))| {
            let s = seconds.max(1e-3);
            (
                *slot,
                Usage {
                    server_cores: u.server_cores / s,
                    postgres_cores: u.postgres_cores / s,
                    generator_cores: u.generator_cores / s,
                    server_rss: u.server_rss,
                },
            )
        })
        .collect()
}

/// The server's SQLite file in its data directory.
pub fn sqlite_file(data_dir: &Path) -> PathBuf {
    data_dir.join(mask_server_stub::DB_FILE)
}
