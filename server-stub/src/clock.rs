//! The server clock: real time, or real time shifted to start at `--as-of`.

use std::time::Instant;

use time::OffsetDateTime;

/// Wall clock that may start at a chosen instant and then runs on normally (demos and tests
/// exercise any 2020 rule on any day). Monotonic: built on [`Instant`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    started: Instant,
    start_at: OffsetDateTime,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self::starting_at(OffsetDateTime::now_utc())
    }

    /// A clock that reads `at` now and runs on from there.
    pub fn starting_at(at: OffsetDateTime) -> Self {
        Self {
            started: Instant::now(),
            start_at: at,
        }
    }

    /// Current server time (UTC).
    pub fn now(&self) -> OffsetDateTime {
        let elapsed = self.started.elapsed();
        let elapsed = time::Duration::try_from(elapsed).unwrap_or(time::Duration::MAX);
        self.start_at
            .checked_add(elapsed)
            .unwrap_or(self.start_at)
            .to_offset(time::UtcOffset::UTC)
    }
}
