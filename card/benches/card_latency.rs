//! Card insertion → identity latency over pcscd + vpcd: the nhi-card watcher beside a minimal C
//! program on libpcsclite (`benches/baseline.c`) doing the same APDUs, in the same run, with the
//! same virtual card and the same timing harness. Then the watcher's idle CPU over 10 s with a
//! reader and no card.
//!
//! `cargo bench -p nhi-card --bench card_latency` (needs pcscd with vsmartcard-vpcd, a C
//! compiler and libpcsclite-dev; `CARD_BENCH_INSERTS=N` changes the 300 inserts per side,
//! `CARD_BENCH_IDLE_SECS` the 10 s idle window).
//!
//! Inserts alternate between the two sides in blocks so that drift in pcscd's polling or in
//! machine load hits both equally. Each sample is timed from just before the virtual card
//! connects to vpcd until the identity arrives (watcher event / baseline's output line).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nhi_card::{CardEvent, Watcher, WatcherConfig};
use nhi_fixtures::{Profile, VPCD_PORT, VPCD_READER, VirtualCard, pcsc_gate};

const BLOCK: usize = 25;
const TIMEOUT: Duration = Duration::from_secs(10);

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Some(_lock) = pcsc_gate(VPCD_PORT, "card_latency benchmark") else {
        return;
    };
    let inserts = env_usize("CARD_BENCH_INSERTS", 300);
    let idle_secs = env_usize("CARD_BENCH_IDLE_SECS", 10);
    let profile = Profile::builtin("adult").unwrap();

    let mut rust = Side::new("nhi-card watcher");
    let mut c = Side::new("C libpcsclite baseline");
    let baseline_exe = build_baseline();
    let mut card = VirtualCard::removed(&profile, nhi_fixtures::PlayerConfig::port(VPCD_PORT));
    // Only one side watches the reader at a time (two readers of one card would contend for
    // it); each block starts its side afresh and warms it up with one unrecorded insert.
    while rust.samples.len() < inserts || c.samples.len() < inserts {
        let mut watcher = RustSide::start();
        watcher.insert_and_wait(&mut card);
        for _ in 0..BLOCK.min(inserts - rust.samples.len()) {
            rust.record(watcher.insert_and_wait(&mut card));
        }
        watcher.watcher.shutdown();
        let mut baseline = CSide::start(&baseline_exe);
        baseline.insert_and_wait(&mut card);
        for _ in 0..BLOCK.min(inserts - c.samples.len()) {
            c.record(baseline.insert_and_wait(&mut card));
        }
        drop(baseline);
        eprint!("\r{} / {inserts} inserts per side", rust.samples.len());
    }
    eprintln!();
    card.apdu_log().assert_read_only();
    let _ = std::fs::remove_file(&baseline_exe);

    println!("## card insertion -> identity, {inserts} inserts per side (pcscd + vpcd)");
    println!("| side | median | p99 | read after detection (median) |");
    println!("|---|---|---|---|");
    rust.print();
    c.print();
    let ratio_median = rust.percentile(50.0) / c.percentile(50.0);
    let ratio_p99 = rust.percentile(99.0) / c.percentile(99.0);
    println!("ratio (nhi-card / C): median {ratio_median:.3}, p99 {ratio_p99:.3} (target <= 1.2)");

    let mut watcher = RustSide::start();
    let idle = watcher.idle_cpu(Duration::from_secs(idle_secs as u64));
    println!(
        "watcher idle CPU over {idle_secs} s with a reader and no card: {:.4} % of a core \
         ({:.3} ms CPU; /proc/self/stat utime+stime {} ticks) (target < 0.1 %)",
        idle.percent, idle.cpu_ms, idle.ticks
    );
    watcher.watcher.shutdown();
}

/// Latency samples of one side, in milliseconds. `after_detection` is measured the same way on
/// both sides: from receiving the "card seen" notice (CardInserted event / "inserted" line) to
/// receiving the identity.
struct Side {
    name: &'static str,
    samples: Vec<f64>,
    after_detection: Vec<f64>,
}

impl Side {
    fn new(name: &'static str) -> Side {
        Side {
            name,
            samples: Vec::new(),
            after_detection: Vec::new(),
        }
    }

    fn record(&mut self, (total, after_detection): (Duration, Duration)) {
        self.samples.push(total.as_secs_f64() * 1e3);
        self.after_detection
            .push(after_detection.as_secs_f64() * 1e3);
    }

    fn percentile(&self, p: f64) -> f64 {
        percentile(&self.samples, p)
    }

    fn print(&self) {
        println!(
            "| {} | {:.1} ms | {:.1} ms | {:.3} ms |",
            self.name,
            self.percentile(50.0),
            self.percentile(99.0),
            percentile(&self.after_detection, 50.0)
        );
    }
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Takes the card out and waits until pcscd has seen it go, so the next insert is new.
fn remove(card: &mut VirtualCard) {
    card.remove();
    let context = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(VPCD_READER).unwrap();
    let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    loop {
        context.get_status_change(TIMEOUT, &mut states).unwrap();
        if states[0].event_state().contains(pcsc::State::EMPTY) {
            return;
        }
        states[0].sync_current_state();
    }
}

struct RustSide {
    watcher: Watcher,
    events: Receiver<CardEvent>,
}

impl RustSide {
    fn start() -> RustSide {
        let (tx, events) = mpsc::channel();
        let config = WatcherConfig {
            reader_filter: Some(VPCD_READER.to_owned()),
            ..WatcherConfig::default()
        };
        let watcher = Watcher::spawn(config, tx).unwrap();
        loop {
            if let CardEvent::ReaderAdded { .. } = events.recv_timeout(TIMEOUT).unwrap() {
                break;
            }
        }
        RustSide { watcher, events }
    }

    /// (insert → IdentityRead, CardInserted → IdentityRead)
    fn insert_and_wait(&mut self, card: &mut VirtualCard) -> (Duration, Duration) {
        let start = Instant::now();
        card.reinsert().unwrap();
        let mut detected = start;
        let done = loop {
            match self.events.recv_timeout(TIMEOUT).unwrap() {
                CardEvent::CardInserted { .. } => detected = Instant::now(),
                CardEvent::IdentityRead { .. } => break Instant::now(),
                CardEvent::CardRemoved { .. } => {}
                other => panic!("unexpected event {other:?}"),
            }
        };
        remove(card);
        // The removal event, so it is not mistaken for the next round's.
        loop {
            if let CardEvent::CardRemoved { .. } = self.events.recv_timeout(TIMEOUT).unwrap() {
                break;
            }
        }
        (done - start, done - detected)
    }

    fn idle_cpu(&mut self, window: Duration) -> Idle {
        // Nothing but the watcher's threads run during the window: this thread sleeps.
        let (cpu0, ticks0) = (process_cpu_ns(), process_ticks());
        std::thread::sleep(window);
        let (cpu1, ticks1) = (process_cpu_ns(), process_ticks());
        assert!(self.events.try_recv().is_err(), "no events while idle");
        let cpu_ms = (cpu1 - cpu0) as f64 / 1e6;
        Idle {
            cpu_ms,
            percent: cpu_ms / window.as_secs_f64() / 10.0,
            ticks: ticks1 - ticks0,
        }
    }
}

struct Idle {
    cpu_ms: f64,
    percent: f64,
    ticks: u64,
}

/// CPU time of every thread of this process in ns, from /proc/self/task/*/schedstat (ns
/// resolution, unlike the 10 ms ticks of /proc/self/stat).
fn process_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// utime + stime of the process in clock ticks, from /proc/self/stat.
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

struct CSide {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: BufReader<ChildStdout>,
}

impl CSide {
    fn start(exe: &std::path::Path) -> CSide {
        let mut child = Command::new(exe)
            .arg(VPCD_READER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap());
        CSide {
            child,
            stdin,
            lines,
        }
    }

    fn insert_and_wait(&mut self, card: &mut VirtualCard) -> (Duration, Duration) {
        let start = Instant::now();
        card.reinsert().unwrap();
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        assert_eq!(line, "inserted\n");
        let detected = Instant::now();
        line.clear();
        self.lines.read_line(&mut line).unwrap();
        let done = Instant::now();
        assert!(line.starts_with("read "), "baseline failed: {line:?}");
        remove(card);
        (done - start, done - detected)
    }
}

impl Drop for CSide {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compiles baseline.c with the system C compiler against libpcsclite.
fn build_baseline() -> PathBuf {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baseline.c");
    let out = std::env::temp_dir().join(format!("nhi-card-baseline-{}", std::process::id()));
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libpcsclite"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|_| "-I/usr/include/PCSC -lpcsclite".to_owned());
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(src)
        .args(flags.split_whitespace())
        .status()
        .unwrap();
    assert!(status.success(), "cc baseline.c failed");
    out
}
