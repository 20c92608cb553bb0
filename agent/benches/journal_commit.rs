//! Durable sale commit: `Journal::record_sale` (what `Sell` does before answering) beside a raw
//! rusqlite INSERT of the same row shape with the same pragmas (WAL, synchronous=FULL), in the
//! same run, on the same file system, interleaved in rounds so disk drift hits both alike.
//!
//! `cargo bench -p mask-agent --bench journal_commit [-- --sales N] [--dir DIR]`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mask_agent::{JOURNAL_PRAGMAS, Journal, NewSale};
use mask_api::{BuyerKind, SaleSource};
use rusqlite::{Connection, params};
use time::OffsetDateTime;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

struct Stats {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    let total: Duration = samples.iter().sum();
    samples.sort();
    Stats {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        per_sec: samples.len() as f64 / total.as_secs_f64(),
    }
}

fn id_no(i: usize) -> String {
    // Valid format is not needed by either path; the agent validated it before.
    format!("B1{:08}", i % 100_000_000)
}

/// The baseline: one INSERT per transaction into a table of the same shape, same pragmas.
fn raw_insert(conn: &mut Connection, i: usize) {
    let tx = conn.transaction().unwrap();
    tx.prepare_cached(
        "INSERT INTO sales (id, id_no, id_masked, birth_date, kind, quantity, sold_at_ms, sold_day, source, offline) \
         VALUES (?1, ?2, ?3, NULL, 'adult', 1, ?4, '2020-03-12', 'card', 0)",
    )
    .unwrap()
    .execute(params![uuid::Uuid::now_v7().to_string(), id_no(i), "B10****000", 1_583_978_400_000_i64 + i as i64])
    .unwrap();
    tx.commit().unwrap();
}

fn raw_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(JOURNAL_PRAGMAS).unwrap();
    conn.execute_batch(
        "CREATE TABLE sales (id TEXT PRIMARY KEY NOT NULL, id_no TEXT, id_masked TEXT NOT NULL, birth_date TEXT, \
         kind TEXT NOT NULL, quantity INTEGER NOT NULL, sold_at_ms INTEGER NOT NULL, sold_day TEXT NOT NULL, \
         source TEXT NOT NULL, offline INTEGER NOT NULL) STRICT;",
    )
    .unwrap();
    conn
}

fn main() {
    let sales: usize = arg("--sales").and_then(|s| s.parse().ok()).unwrap_or(2000);
    let base: PathBuf = arg("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).unwrap();
    let mut journal = Journal::open(&dir.path().join("journal.sqlite3")).unwrap();
    let mut raw = raw_db(&dir.path().join("raw.sqlite3"));
    let now = OffsetDateTime::now_utc();

    let (mut ours, mut theirs) = (Vec::with_capacity(sales), Vec::with_capacity(sales));
    let round = 100;
    let mut done = 0;
    while done < sales {
        for i in done..(done + round).min(sales) {
            let started = Instant::now();
            raw_insert(&mut raw, i);
            theirs.push(started.elapsed());
        }
        for i in done..(done + round).min(sales) {
            let started = Instant::now();
            let sale = NewSale {
                id: uuid::Uuid::now_v7(),
                id_no: id_no(i),
                birth_date: None,
                kind: BuyerKind::Adult,
                quantity: 1,
                sold_at: NewSale::truncate_time(now),
                source: SaleSource::Card,
                offline: false,
                pc_sold_at: None,
            };
            journal.record_sale(&sale).unwrap();
            ours.push(started.elapsed());
        }
        done += round;
    }
    let (ours, theirs) = (stats(ours), stats(theirs));
    println!(
        "durable sale commit, {sales} sales each, dir {}",
        base.display()
    );
    println!(
        "  journal.record_sale  p50 {:>8.3} ms  p99 {:>8.3} ms  {:>8.0} sales/s",
        ours.p50.as_secs_f64() * 1e3,
        ours.p99.as_secs_f64() * 1e3,
        ours.per_sec
    );
    println!(
        "  raw rusqlite insert  p50 {:>8.3} ms  p99 {:>8.3} ms  {:>8.0} sales/s",
        theirs.p50.as_secs_f64() * 1e3,
        theirs.p99.as_secs_f64() * 1e3,
        theirs.per_sec
    );
    println!(
        "  ratio (ours/raw)     p50 {:.2}  p99 {:.2}  throughput {:.2}  (target <= 1.3)",
        ours.p50.as_secs_f64() / theirs.p50.as_secs_f64(),
        ours.p99.as_secs_f64() / theirs.p99.as_secs_f64(),
        theirs.per_sec / ours.per_sec
    );
}
