//! Benchmark: card inserted → buyer shown on screen, in the real demo running in tmux.
//!
//! For each of N insertions (env `MASK_BENCH_INSERTS`, default 50) the bench presses `c` in the
//! demo (cards alternate between two adults so every insertion changes the name on screen) and
//! measures, from the moment the virtual card connected to vpcd (the demo's trace):
//! - **screen**: until `tmux capture-pane` shows the new buyer (the full stack: pcscd's presence
//!   polling, the agent's read and eligibility check against the server, the protocol, drawing,
//!   tmux);
//! - **baseline**: until an `nhi_card::Watcher` running in this process — the card library alone,
//!   no agent, no UI — reports the identity of the same insertion;
//! - **UI**: the agent's buyer event arriving in the UI → that frame written (the UI's own part).
//!
//! Run: `cargo bench -p mask-demo --bench insert_to_screen` (pcscd + vpcd + tmux, and the
//! workspace built so mask-agent and mask-server-stub sit next to mask-demo).
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/tmux.rs"]
mod tmux;

use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nhi_card::{CardEvent, Watcher, WatcherConfig};
use tmux::{DemoSession, release_bin_dir, trace_lines};

fn ms(ns: u128) -> f64 {
    ns as f64 / 1e6
}

fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.9), v[v.len() - 1])
}

fn main() {
    let Some(_lock) = nhi_fixtures::pcsc_gate(nhi_fixtures::VPCD_PORT, "insert_to_screen") else {
        return;
    };
    let Some(bins) = release_bin_dir() else {
        eprintln!("build the workspace first: cargo build --release --workspace");
        return;
    };
    let n: usize = std::env::var("MASK_BENCH_INSERTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);

    // Baseline observer: the card library's watcher on the same reader, timestamps per identity.
    let (tx, rx) = mpsc::channel();
    let watcher = Watcher::spawn(
        WatcherConfig {
            reader_filter: Some(nhi_fixtures::VPCD_READER.to_owned()),
            ..WatcherConfig::default()
        },
        tx,
    )
    .unwrap();
    let (stamp_tx, stamps) = mpsc::channel::<u128>();
    let stamper = std::thread::spawn(move || {
        let mut others = Vec::new();
        for ev in rx {
            if let CardEvent::IdentityRead { .. } = ev {
                let ns = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let _ = stamp_tx.send(ns);
            } else if others.len() < 20 {
                others.push(format!("{ev:?}"));
            }
        }
        others
    });

    let mut demo = DemoSession::start(&bins, &["--cards", "adult,adult-3"], 100, 30);
    demo.wait_for("waiting", Duration::from_secs(30), |s| {
        s.contains("請插入健保卡")
    });

    // The masked ID appears only once the card was read (the demo's insert notice names the
    // buyer at once, before any read, so the name alone would time nothing).
    let buyers = ["A12****789", "H12****317"];
    let mut seen = Vec::new();
    for i in 0..n {
        demo.keys(&["c"]);
        let t = demo.wait_text(buyers[i % 2], Duration::from_secs(10));
        seen.push(t);
        // Let the baseline watcher finish its own read before the next swap.
        std::thread::sleep(Duration::from_millis(50));
    }
    demo.quit();
    watcher.shutdown();
    let others = stamper.join().unwrap_or_default();
    let identities: Vec<u128> = stamps.try_iter().collect();
    if identities.is_empty() {
        eprintln!("the baseline watcher read no identity; its first other events:");
        for e in &others {
            eprintln!("  {e}");
        }
    }

    let inserted = trace_lines(&demo.trace(), "inserted");
    let events = trace_lines(&demo.trace(), "event");
    let drawn = trace_lines(&demo.trace(), "drawn");
    assert_eq!(inserted.len(), n, "every insertion traced");

    let mut screen = Vec::new();
    let mut baseline = Vec::new();
    let mut ui = Vec::new();
    for (i, (_, t_in)) in inserted.iter().enumerate() {
        screen.push(ms(seen[i] - t_in));
        if let Some(b) = identities.iter().find(|&&b| b > *t_in) {
            baseline.push(ms(b - t_in));
        }
        let next_in = inserted.get(i + 1).map_or(u128::MAX, |x| x.1);
        let ev = events.iter().find(|e| e.1 > *t_in && e.1 < next_in);
        let dr = drawn.iter().find(|d| d.1 > *t_in && d.1 < next_in);
        if let (Some(e), Some(d)) = (ev, dr) {
            ui.push(ms(d.1.saturating_sub(e.1)));
        }
    }
    let (s50, s90, smax) = stats(screen);
    let (b50, b90, bmax) = stats(baseline.clone());
    let (u50, u90, umax) = stats(ui.clone());
    println!("insert → screen, {n} insertions (ms): median {s50:.1}, p90 {s90:.1}, max {smax:.1}");
    println!(
        "baseline insert → identity (nhi_card::Watcher alone), {} (ms): median {b50:.1}, p90 {b90:.1}, max {bmax:.1}",
        baseline.len()
    );
    println!(
        "UI: agent event → frame written, {} (ms): median {u50:.3}, p90 {u90:.3}, max {umax:.3}",
        ui.len()
    );
    println!("ratio screen / baseline (medians): {:.2}", s50 / b50);
    println!(
        "added by agent + UI + tmux over the baseline (medians): {:.1} ms",
        s50 - b50
    );
}
