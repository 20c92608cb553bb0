//! The command line of the driver (Unix only: agents are reached over their Unix socket).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mask_chaos::driver::{self, Backend, Options};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

/// Runs real agents and a real server through kills, proxy faults, clock skew, double outages
/// and server restarts, then checks every acknowledged sale reached the server exactly once.
#[derive(Debug, Parser)]
#[command(name = "mask-chaos", version)]
struct Cli {
    /// Seed of the first run (run i uses seed + i). Default: from the clock (printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of runs.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Rounds per run.
    #[arg(long, conflicts_with = "duration")]
    rounds: Option<u32>,
    /// Time per run in seconds (instead of --rounds).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// At least this many agent kills (-9) per run.
    #[arg(long, default_value_t = 10)]
    kills: u32,
    /// Server storage.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// PostgreSQL URL for --backend postgres (a fresh database is created beside it).
    #[arg(long, env = "MASK_TEST_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Directory of mask-agent and mask-server-stub (default: beside this program, else
    /// $CARGO_TARGET_DIR/release).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Keep each run's files (journals, server data, logs) under this directory.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Longest injected delay in seconds.
    #[arg(long, default_value_t = 10.0)]
    max_delay: f64,
    /// Rate of each of the six fault kinds during a fault round.
    #[arg(long, default_value_t = 0.08)]
    fault_rate: f64,
    /// Rate of each fault kind outside fault rounds.
    #[arg(long, default_value_t = 0.01)]
    background_rate: f64,
    /// Buyers in the shared pool at any time (it slides: a new one every other round).
    #[arg(long, default_value_t = 40)]
    pool: usize,
    /// Seconds the heal may take to drain each agent.
    #[arg(long, default_value_t = 180)]
    drain_limit: u64,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let backend = match cli.backend {
        BackendArg::Sqlite => Backend::Sqlite,
        BackendArg::Postgres => match cli.postgres_url.clone() {
            Some(url) => Backend::Postgres(url),
            None => {
                eprintln!(
                    "mask-chaos: --backend postgres needs --postgres-url or MASK_TEST_POSTGRES_URL"
                );
                return ExitCode::from(2);
            }
        },
    };
    if !(0.0..=600.0).contains(&cli.max_delay)
        || !(0.0..=1.0 / 6.0).contains(&cli.fault_rate)
        || !(0.0..=1.0 / 6.0).contains(&cli.background_rate)
        || cli.pool == 0
    {
        eprintln!(
            "mask-chaos: --max-delay must be 0–600 s, --fault-rate and --background-rate 0–0.166, --pool at least 1"
        );
        return ExitCode::from(2);
    }
    let mut command = format!("mask-chaos --seed {seed} --runs {}", cli.runs);
    match (cli.rounds, cli.duration) {
        (Some(r), _) => command.push_str(&format!(" --rounds {r}")),
        (None, Some(d)) => command.push_str(&format!(" --duration {d}")),
        (None, None) => {}
    }
    command.push_str(&format!(
        " --kills {} --backend {} --max-delay {} --fault-rate {} --background-rate {} --pool {}",
        cli.kills,
        match cli.backend {
            BackendArg::Sqlite => "sqlite",
            BackendArg::Postgres => "postgres",
        },
        cli.max_delay,
        cli.fault_rate,
        cli.background_rate,
        cli.pool
    ));
    eprintln!("mask-chaos: seed {seed}");
    let options = Options {
        seed,
        runs: cli.runs,
        rounds: cli.rounds,
        duration: cli.duration.map(Duration::from_secs),
        kills: cli.kills,
        backend,
        bin_dir: cli.bin_dir.unwrap_or_else(driver::default_bin_dir),
        work_dir: cli.work_dir,
        max_delay: Duration::from_secs_f64(cli.max_delay),
        fault_rate: cli.fault_rate,
        background_rate: cli.background_rate,
        pool: cli.pool,
        drain_limit: Duration::from_secs(cli.drain_limit),
        command,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mask-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    // On Ctrl-C or SIGTERM the run's future is dropped, and with it every child process.
    let result = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = driver::run_all(&options) => r.map(Some),
            _ = tokio::signal::ctrl_c() => Ok(None),
            _ = term.recv() => Ok(None),
        }
    });
    let figures = match result {
        Ok(Some(f)) => f,
        Ok(None) => {
            eprintln!("mask-chaos: interrupted; processes stopped");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("mask-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", figures.table());
    if let Some(out) = &cli.out {
        let json = match serde_json::to_string_pretty(&figures) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("mask-chaos: {e}");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = std::fs::write(out, json) {
            eprintln!("mask-chaos: cannot write {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    if figures.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
