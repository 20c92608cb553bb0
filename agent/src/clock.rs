//! The agent's clock: the system clock, or (for demos and tests) a clock that starts at a given
//! instant and runs on, so the 2020 rules can be exercised on any day (the server stub has the
//! same `--as-of`).

use time::{Duration, OffsetDateTime};

/// A clock that never goes backwards relative to the system clock's pace.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            offset: Duration::ZERO,
        }
    }

    /// A clock reading `start` now and running on from there.
    pub fn starting_at(start: OffsetDateTime) -> Clock {
        Clock {
            offset: start - OffsetDateTime::now_utc(),
        }
    }

    /// From the configured `as_of`, else the system clock.
    pub fn from_as_of(as_of: Option<OffsetDateTime>) -> Clock {
        as_of.map_or_else(Clock::system, Clock::starting_at)
    }

    /// Now, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset
    }
}
