//! Draining the outbox: N queued sales pushed to an in-process server stub (SQLite, loopback)
//! through the real sync code (`sync::drain`), for several N to show memory does not grow with
//! the queue. Memory is the process's peak RSS (VmHWM), which includes the in-process server.
//!
//! `cargo bench -p mask-agent --bench drain [-- --sales 100000]`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use mask_agent::{Core, CoreSettings, Journal, Language, NewSale, ServerClient};
use mask_api::Clock;
use mask_api::{BuyerKind, SaleSource};
use time::macros::datetime;

const SITE: &str = "0145080011";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn vm_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// `prefix` (letter + 8 digits) completed with its check digit by the one generator of test
/// IDs.
fn id_with_check(prefix: &str) -> String {
    nhi_fixtures::generated_id(prefix).unwrap()
}

async fn run(n: usize, letter: char) -> (f64, u64) {
    let as_of = datetime!(2020-03-12 10:00 +08:00);
    let server_dir = tempfile::tempdir().unwrap();
    let mut config = mask_server_stub::ServerConfig::new(server_dir.path());
    config.as_of = Some(as_of);
    config.rate_limit_per_sec = 0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = mask_server_stub::spawn(config, listener).await.unwrap();
    let token = server.issue_token(SITE, None).await.unwrap();

    let agent_dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(&agent_dir.path().join("journal.sqlite3")).unwrap();
    let sold_at = NewSale::truncate_time(as_of - time::Duration::hours(1));
    let mut batch = Vec::with_capacity(5000);
    for i in 0..n {
        batch.push(NewSale {
            id: uuid::Uuid::now_v7(),
            id_no: id_with_check(&format!("{letter}1{:07}", i)),
            birth_date: None,
            kind: BuyerKind::Adult,
            quantity: 1,
            sold_at,
            source: SaleSource::Manual,
            offline: true,
            pc_sold_at: None,
        });
        if batch.len() == 5000 {
            journal.record_sales(&batch).unwrap();
            batch.clear();
        }
    }
    journal.record_sales(&batch).unwrap();
    drop(batch);

    let client = ServerClient::new(&server.url(), &token, None).unwrap();
    let settings = CoreSettings {
        site_code: SITE.into(),
        language: Language::En,
        clock: Clock::starting_at(as_of),
    };
    let core = Core::new(settings, journal, Some(client));
    let started = Instant::now();
    let report = mask_agent::drain_outbox(&core).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(report.sales + report.rejected, n, "{report:?}");
    assert_eq!(report.rejected, 0, "{report:?}");
    let queued = core.journal(|j| j.queued_sale_count()).await.unwrap();
    assert_eq!(queued, 0);
    drop(core);
    server.shutdown().await.unwrap();
    (n as f64 / elapsed.as_secs_f64(), vm_kib("VmHWM:"))
}

fn main() {
    let max: usize = arg("--sales")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "drain queued sales to an in-process server stub (SQLite, loopback, batches of {})",
        mask_agent::SYNC_BATCH_SIZE
    );
    let sizes = [max / 4, max / 2, max];
    for (size, letter) in sizes.into_iter().zip(['C', 'D', 'E']) {
        let (rate, hwm) = rt.block_on(run(size, letter));
        println!(
            "  {size:>7} sales: {rate:>9.0} sales/s   peak RSS so far {:>6.1} MiB",
            hwm as f64 / 1024.0
        );
    }
}
