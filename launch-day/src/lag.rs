//! How late each side's async runtime runs a task that asked to wake: a task sleeping 10 ms at
//! a time records how much later than asked it ran again. Every request waits about as long
//! on a side that is behind, so the two figures tell whose tail a p99 is: the load
//! generator's (6,500 agents and the public in one process, which no real pharmacy shares) or
//! the server's.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the probe asks to wake.
pub const EVERY: Duration = Duration::from_millis(10);

/// One side's figures, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LagFigures {
    /// Median lateness.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// Wake-ups measured.
    pub samples: u64,
}

/// Lateness seen so far, shared by the probe and whoever reads it.
#[derive(Clone)]
pub struct Lag {
    seen: Arc<Mutex<Histogram<u64>>>,
}

impl Default for Lag {
    fn default() -> Self {
        // Microseconds, three significant digits, up to a minute.
        let histogram = Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds");
        Lag {
            seen: Arc::new(Mutex::new(histogram)),
        }
    }
}

impl Lag {
    fn lock(&self) -> MutexGuard<'_, Histogram<u64>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one wake-up `late` after it was due.
    pub fn record(&self, late: Duration) {
        let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        self.lock().saturating_record(micros.max(1));
    }

    /// The figures so far, and forgets them (the next call covers what came after).
    pub fn take(&self) -> LagFigures {
        let mut seen = self.lock();
        let ms = |micros: u64| micros as f64 / 1000.0;
        let figures = LagFigures {
            p50_ms: ms(seen.value_at_quantile(0.5)),
            p99_ms: ms(seen.value_at_quantile(0.99)),
            max_ms: ms(seen.max()),
            samples: seen.len(),
        };
        seen.reset();
        figures
    }
}

/// Wakes every [`EVERY`] until `stop`, recording into `lag` how late each wake-up came.
pub async fn probe(lag: Lag, stop: CancellationToken) {
    let mut due = Instant::now() + EVERY;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let now = Instant::now();
        lag.record(now.saturating_duration_since(due));
        due = now + EVERY;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn take_reports_and_forgets() {
        let lag = Lag::default();
        for ms in [1, 2, 3, 100] {
            lag.record(Duration::from_millis(ms));
        }
        let figures = lag.take();
        assert_eq!(figures.samples, 4);
        assert!((1.9..2.1).contains(&figures.p50_ms), "{figures:?}");
        assert!((99.0..101.0).contains(&figures.max_ms), "{figures:?}");
        assert_eq!(lag.take().samples, 0);
    }

    #[tokio::test]
    async fn a_blocked_runtime_shows_as_lag() {
        let lag = Lag::default();
        let stop = CancellationToken::new();
        let probe = tokio::spawn(probe(lag.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The test's runtime has one thread: blocking it holds the probe back too.
        std::thread::sleep(Duration::from_millis(120));
        tokio::time::sleep(Duration::from_millis(30)).await;
        stop.cancel();
        probe.await.unwrap();
        let figures = lag.take();
        assert!(figures.samples >= 3, "{figures:?}");
        assert!(figures.max_ms >= 90.0, "{figures:?}");
    }
}
