//! Drives the real `mask-demo` in a detached tmux session: start, send keys, read the
//! screen, read the demo's state file; quitting (or dropping) ends the session. Used by the
//! end-to-end test and by the insert → on-screen benchmark.
#![allow(dead_code)] // shared with the benchmark; each user needs a different part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the screen is polled.
const POLL: Duration = Duration::from_millis(5);

/// The binaries the demo runs, side by side.
const DEMO_BINS: [&str; 3] = ["mask-demo", "mask-agent", "mask-server-stub"];

/// Cargo's target directory (`CARGO_TARGET_DIR`, else the workspace's `target`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// The directory holding mask-demo, mask-agent and mask-server-stub: of the test's own
/// build dir, `target/release` (what `cargo build --release --workspace` made, as the acceptance
/// check runs it) and `target/debug`, the complete one whose oldest binary is the newest (so a
/// stale build is not picked over a fresh one).
pub fn bin_dir() -> Option<PathBuf> {
    let own = option_env!("CARGO_BIN_EXE_mask-demo").map(PathBuf::from);
    let target = target_dir();
    let candidates = own
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .into_iter()
        .chain([target.join("release"), target.join("debug")]);
    let oldest = |d: &Path| {
        DEMO_BINS
            .iter()
            .map(|b| std::fs::metadata(d.join(b)).and_then(|m| m.modified()).ok())
            .collect::<Option<Vec<_>>>()
            .and_then(|times| times.into_iter().min())
    };
    candidates
        .filter_map(|d| oldest(&d).map(|t| (t, d)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, d)| d)
}

/// The release build dir (`target/release`), when it holds all three binaries: what the
/// benchmark measures (a debug build there would time unoptimised code).
pub fn release_bin_dir() -> Option<PathBuf> {
    let dir = target_dir().join("release");
    DEMO_BINS
        .iter()
        .all(|b| dir.join(b).is_file())
        .then_some(dir)
}

/// A running demo in tmux.
pub struct DemoSession {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub state: serde_json::Value,
    ended: bool,
}

impl DemoSession {
    /// Starts `mask-demo` (plus `args`) in a `width`×`height` tmux session and waits
    /// until the demo has written its state file.
    pub fn start(bin_dir: &Path, args: &[&str], width: u16, height: u16) -> DemoSession {
        let dir = tempfile::tempdir().unwrap();
        let state_file = dir.path().join("state.json");
        let trace = dir.path().join("trace.txt");
        static SESSIONS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("mask-demo-{}-{n}", std::process::id());
        // zh-TW unless a test passes --lang: the caller's LANG must not pick the language.
        let mut cmd = format!(
            "MASK_LANG=zh-TW MASK_TERMINAL_TRACE={} {} --state-file {}",
            trace.display(),
            bin_dir.join("mask-demo").display(),
            state_file.display()
        );
        for a in args {
            cmd.push(' ');
            cmd.push_str(a);
        }
        // Keep the pane after exit so a failed start can be read.
        cmd.push_str(&format!(" 2>{}", dir.path().join("stderr.txt").display()));
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(cmd)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        let mut session = DemoSession {
            name,
            dir,
            state: serde_json::Value::Null,
            ended: false,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !state_file.exists() {
            assert!(
                Instant::now() < deadline && session.alive(),
                "demo did not start: {}",
                std::fs::read_to_string(session.dir.path().join("stderr.txt")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        session.state =
            serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
        session
    }

    /// A string field of the demo state.
    pub fn state_str(&self, key: &str) -> String {
        self.state[key].as_str().unwrap_or_default().to_owned()
    }

    /// The timing trace file.
    pub fn trace(&self) -> PathBuf {
        self.dir.path().join("trace.txt")
    }

    /// Closes the terminal the demo runs in, as a pharmacist closing the window would (the demo
    /// gets SIGHUP).
    pub fn close_terminal(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
        self.ended = true;
    }

    /// Whether the tmux session still exists.
    pub fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.name])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Sends tmux key names (`Enter`, `Escape`, `BSpace`, `Tab`) or literal text.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            let named = matches!(*k, "Enter" | "Escape" | "BSpace" | "Tab" | "Up" | "Down");
            let mut cmd = Command::new("tmux");
            cmd.args(["send-keys", "-t", &self.name]);
            if !named {
                cmd.arg("-l");
            }
            assert!(cmd.arg(k).status().unwrap().success(), "send-keys {k}");
        }
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `pred` holds; panics with the screen after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Polls until the screen contains `text`; returns the instant it was seen (unix ns).
    pub fn wait_text(&self, text: &str, timeout: Duration) -> u128 {
        self.wait_for(text, timeout, |s| s.contains(text));
        now_ns()
    }

    /// Presses `q` and waits for the demo to end; returns how long it took.
    pub fn quit(&mut self) -> Duration {
        let start = Instant::now();
        self.keys(&["q"]);
        let deadline = start + Duration::from_secs(30);
        while self.alive() {
            assert!(Instant::now() < deadline, "demo still running 30 s after q");
            std::thread::sleep(Duration::from_millis(20));
        }
        self.ended = true;
        start.elapsed()
    }
}

impl Drop for DemoSession {
    fn drop(&mut self) {
        if !self.ended {
            self.close_terminal();
        }
    }
}

/// Wall-clock now in unix nanoseconds (the demo's trace uses the same clock).
pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Lines `<what> <n> <ns>` of the trace file.
pub fn trace_lines(path: &Path, what: &str) -> Vec<(u64, u128)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next()? == what).then_some(())?;
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .collect()
}

/// True when a process with this pid exists (and is not a zombie).
pub fn process_alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2).is_none_or(|st| st != "Z"))
        .unwrap_or(false)
}
