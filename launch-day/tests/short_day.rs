//! A short, seeded launch day inside the test command: 40 sites (two of them cut off for an
//! hour), a morning of buyers with second tries, the stock page and the open-data apps, played
//! at 360× against the real server binary on SQLite and, when the test database is there, on
//! PostgreSQL. The count must be exact and nothing may fail that was not injected; latency
//! targets are the benchmark's business (`scripts/bench.sh launch_day`), not this test's.

use std::sync::Arc;
use std::time::Duration;

use mask_launch_day::logging::{self, Console};
use mask_launch_day::plan::{DAY_START, DayShape};
use mask_launch_day::{Live, RunOptions, run_day};
use tracing_subscriber::filter::LevelFilter;

fn shape() -> DayShape {
    DayShape {
        seed: 3,
        sites: 40,
        buyers: 2_400,
        page_views_per_minute: 40,
        apps: 4,
        ..DayShape::default()
    }
}

async fn play(live: &Arc<Live>, database: String) {
    let work = tempfile::tempdir().expect("scratch directory");
    let options = RunOptions {
        shape: shape(),
        speed: 360,
        database,
        from: DAY_START,
        to: DAY_START + time::Duration::hours(2),
        exe: env!("CARGO_BIN_EXE_mask-launch-day-server").into(),
        work_dir: work.path().to_owned(),
        lead: Duration::from_secs(4),
    };
    let report = run_day(&options, Arc::clone(live))
        .await
        .expect("the day runs");
    let said = report.markdown();
    let count = |name: &str| report.counters.get(name).copied().unwrap_or_default();
    assert!(
        count("recorded") > 500,
        "too few sales to mean anything\n{said}"
    );
    assert!(count("outage_sites") > 0, "{said}");
    assert!(count("second_tries_planned") > 0, "{said}");
    assert_eq!(count("refused_unexpected"), 0, "{said}");
    assert_eq!(count("sell_errors") + count("other_errors"), 0, "{said}");
    assert_eq!(
        report.errors(),
        0,
        "errors other than the injected ones\n{said}"
    );
    assert!(report.accounting.exact(), "the count does not hold\n{said}");
    assert_eq!(report.accounting.verdict.acked, count("recorded"), "{said}");
    let kinds: Vec<&str> = report.kinds.iter().map(|k| k.kind.as_str()).collect();
    for kind in ["counter: sell", "maskdata.csv", "page"] {
        assert!(
            kinds.iter().any(|k| k.starts_with(kind)),
            "no {kind} figures in {kinds:?}"
        );
    }
    assert!(!report.slots.is_empty());
    assert!(report.chart().starts_with("<svg"));
    // Both runtimes' lag was measured over the played part (a 10 ms timer: ~100 a second).
    for side in ["generator", "server"] {
        let lag = report.runtime_lag.get(side);
        assert!(
            lag.is_some_and(|l| l.samples >= 50),
            "{side} lag {lag:?}\n{said}"
        );
    }
    assert!(said.contains("Runtime lag"), "{said}");
    // The server timed its own routes: the day's sales and page views are among them.
    for route in ["/v1/sales", "/v1/eligibility", "/"] {
        let times = report.server_times.get(route);
        assert!(
            times.is_some_and(|t| t.samples > 0 && t.p99_ms >= t.p50_ms),
            "{route} in the server: {times:?}\n{said}"
        );
    }
    assert!(said.contains("In the server"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_launch_day_counts_every_sale_once_on_both_backends() {
    let live = Arc::new(Live::default());
    logging::init(
        live.layer(),
        mask_agent::EXCHANGE_TARGET,
        LevelFilter::ERROR,
        Console::Test,
    );
    play(&live, "sqlite".into()).await;
    match std::env::var("MASK_TEST_POSTGRES_URL") {
        Ok(url) => play(&live, url).await,
        Err(_) if std::env::var_os("REQUIRE_POSTGRES").is_some() => {
            panic!("REQUIRE_POSTGRES is set but MASK_TEST_POSTGRES_URL is not")
        }
        Err(_) => eprintln!("PostgreSQL half skipped: MASK_TEST_POSTGRES_URL is not set"),
    }
}
