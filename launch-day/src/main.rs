//! `mask-launch-day`: replays 2020-02-06 against one server stub and reports (see the crate
//! doc). `scripts/bench.sh launch_day` runs it; it is a benchmark, not part of the test command.
//!
//! ```text
//! mask-launch-day [--speed 10] [--backend sqlite|postgres|both] [--from 08:00] [--to 22:00]
//!                 [--sites 6500] [--buyers 680000] [--seed N] [--out DIR] [--headroom 20,40,…]
//! ```
//! PostgreSQL: `MASK_BENCH_POSTGRES_URL` (or `MASK_TEST_POSTGRES_URL`), a server where a fresh
//! database may be created for each run.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Parser;
use mask_launch_day::logging::{self, Console};
use mask_launch_day::plan::{DAY_START, DayShape, SELLING_HOURS};
use mask_launch_day::report::DayReport;
use mask_launch_day::{Live, RunOptions, run_day};
use time::{Duration, OffsetDateTime};
use tracing_subscriber::filter::LevelFilter;

/// The load generator (6,500 agents' journals, the public's requests) allocates small blocks
/// on many threads: glibc's malloc was a quarter of its samples in a profile. mimalloc is made
/// for that. The server under test is another binary (`mask-launch-day-server`) and keeps the
/// system allocator, as the packaged server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The server's binary, built beside this one.
const SERVER_BINARY: &str = "mask-launch-day-server";

#[derive(Parser, Debug)]
#[command(
    about = "Replays the launch day of name-based mask rationing (2020-02-06) against one server stub"
)]
struct Cli {
    /// Simulated seconds per real second (10: the 14 selling hours in 84 minutes).
    #[arg(long, default_value_t = 10)]
    speed: u32,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    backend: String,
    /// First simulated time played, HH:MM (deliveries are always entered).
    #[arg(long, default_value = "08:00")]
    from: String,
    /// End of the played part, HH:MM.
    #[arg(long, default_value = "22:00")]
    to: String,
    /// Selling sites (5,600 from the registry, health centres above).
    #[arg(long, default_value_t = 6_500)]
    sites: usize,
    /// Buyers over the whole day (sold-out sites turn some away).
    #[arg(long, default_value_t = 680_000)]
    buyers: usize,
    /// People a minute on the public stock page (simulated minutes).
    #[arg(long, default_value_t = 18_000)]
    page_views_per_minute: u32,
    /// Apps polling `/maskdata.csv` every 30 simulated seconds.
    #[arg(long, default_value_t = 140)]
    apps: u32,
    /// Seed of the day.
    #[arg(long, default_value_t = 20_200_206)]
    seed: u64,
    /// Where the JSON, Markdown and SVG of each run go.
    #[arg(long, default_value = "launch-day-results")]
    out: PathBuf,
    /// Instead of one run: these speeds in turn, stopping at the first whose p99s miss 50 ms
    /// (the headroom).
    #[arg(long, value_delimiter = ',')]
    headroom: Vec<u32>,
}

fn at(hh_mm: &str) -> anyhow::Result<OffsetDateTime> {
    let (h, m) = hh_mm
        .split_once(':')
        .ok_or_else(|| anyhow!("{hh_mm}: want HH:MM"))?;
    let minutes = h.parse::<i64>()? * 60 + m.parse::<i64>()?;
    let t = DAY_START.replace_time(time::Time::MIDNIGHT) + Duration::minutes(minutes);
    anyhow::ensure!(
        t >= DAY_START && t <= DAY_START + Duration::hours(SELLING_HOURS),
        "{hh_mm}: the selling hours are 08:00–22:00"
    );
    Ok(t)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mask-launch-day: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(bench(&cli));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("mask-launch-day: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn bench(cli: &Cli) -> anyhow::Result<bool> {
    let live = Arc::new(Live::default());
    logging::init(
        live.layer(),
        mask_agent::EXCHANGE_TARGET,
        LevelFilter::ERROR,
        Console::Stderr,
    );
    // 6,500 agents and the public each hold connections; and their server.
    if let Err(error) = mask_server_stub::raise_open_files_limit() {
        tracing::warn!(%error, "cannot raise the open files limit");
    }
    let postgres_url = std::env::var("MASK_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("MASK_TEST_POSTGRES_URL"))
        .ok();
    let backends: Vec<String> = match cli.backend.as_str() {
        "sqlite" => vec!["sqlite".into()],
        "postgres" => vec![
            postgres_url
                .clone()
                .context("--backend postgres needs MASK_BENCH_POSTGRES_URL")?,
        ],
        "both" => std::iter::once("sqlite".to_owned())
            .chain(postgres_url.clone())
            .collect(),
        other => anyhow::bail!("--backend {other}: want sqlite, postgres or both"),
    };
    if cli.backend == "both" && postgres_url.is_none() {
        eprintln!("(PostgreSQL skipped: set MASK_BENCH_POSTGRES_URL)");
    }
    std::fs::create_dir_all(&cli.out)?;
    let shape = DayShape {
        seed: cli.seed,
        sites: cli.sites,
        buyers: cli.buyers,
        page_views_per_minute: cli.page_views_per_minute,
        apps: cli.apps,
        ..DayShape::default()
    };
    let speeds = if cli.headroom.is_empty() {
        vec![cli.speed]
    } else {
        cli.headroom.clone()
    };
    let mut all_passed = true;
    for database in &backends {
        let mut headroom = None;
        for &speed in &speeds {
            let work = tempfile::Builder::new()
                .prefix("launch-day-")
                .tempdir_in(std::env::temp_dir())?;
            let options = RunOptions {
                shape: shape.clone(),
                speed,
                database: database.clone(),
                from: at(&cli.from)?,
                to: at(&cli.to)?,
                exe: std::env::current_exe()?.with_file_name(SERVER_BINARY),
                work_dir: work.path().to_owned(),
                lead: mask_launch_day::LEAD,
            };
            let report = run_day(&options, Arc::clone(&live)).await?;
            write(cli, &report)?;
            println!("{}", report.markdown());
            let passed = report.passed();
            if cli.headroom.is_empty() {
                all_passed &= passed;
            } else if report.p99_ok() && report.errors() == 0 && report.accounting.exact() {
                headroom = Some(speed);
            } else {
                break;
            }
        }
        if !cli.headroom.is_empty() {
            match headroom {
                Some(speed) => println!(
                    "Headroom ({database_kind}): every p99 under 50 ms up to {speed}× (next tried speed missed or none left)",
                    database_kind = kind(database)
                ),
                None => println!(
                    "Headroom ({}): no tried speed kept every p99 under 50 ms",
                    kind(database)
                ),
            }
        }
    }
    Ok(all_passed)
}

fn kind(database: &str) -> &'static str {
    if database == "sqlite" {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

fn write(cli: &Cli, report: &DayReport) -> anyhow::Result<()> {
    let stem = format!(
        "launch-day-{}-{}x",
        report.backend.to_lowercase(),
        report.speed
    );
    std::fs::write(
        cli.out.join(format!("{stem}.json")),
        serde_json::to_vec_pretty(report)?,
    )?;
    std::fs::write(cli.out.join(format!("{stem}.md")), report.markdown())?;
    std::fs::write(cli.out.join(format!("{stem}.svg")), report.chart())?;
    Ok(())
}
