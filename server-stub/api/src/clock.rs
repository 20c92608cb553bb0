//! The clock of the server and the agent: the system clock, or (for demos and tests, `--as-of`)
//! a clock that reads a chosen instant when it is made and runs on from there, so the 2020
//! rules can be exercised on any day. A replay (the launch-day benchmark) also runs it faster
//! than real time, so a 14-hour day plays in minutes.

use std::time::Instant;

use time::{OffsetDateTime, UtcOffset};

/// A wall clock; see [`Clock::system`] and [`Clock::starting_at`].
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// `None`: the system clock as it reads now.
    shifted: Option<Shifted>,
}

#[derive(Clone, Copy, Debug)]
struct Shifted {
    started: Instant,
    start_at: OffsetDateTime,
    /// Clock seconds per real second (1 unless replaying).
    speed: u32,
}

impl Clock {
    /// The system clock, read afresh each time (a corrected PC clock is seen at once: the agent
    /// measures its offset to the server's clock with it).
    pub fn system() -> Clock {
        Clock { shifted: None }
    }

    /// A clock reading `at` now and running on from there. Monotonic: it advances with
    /// [`Instant`], so changing the system clock does not move it.
    pub fn starting_at(at: OffsetDateTime) -> Clock {
        Clock {
            shifted: Some(Shifted {
                started: Instant::now(),
                start_at: at,
                speed: 1,
            }),
        }
    }

    /// A clock reading `at` now and running `speed` times faster than real time (a replay;
    /// `speed` 0 counts as 1). Monotonic like [`Clock::starting_at`].
    pub fn replaying(at: OffsetDateTime, speed: u32) -> Clock {
        Clock {
            shifted: Some(Shifted {
                started: Instant::now(),
                start_at: at,
                speed: speed.max(1),
            }),
        }
    }

    /// Clock seconds per real second: 1, or a replay's speed.
    pub fn speed(&self) -> u32 {
        self.shifted.map_or(1, |s| s.speed)
    }

    /// From a configured `--as-of`, else the system clock.
    pub fn from_as_of(as_of: Option<OffsetDateTime>) -> Clock {
        as_of.map_or_else(Clock::system, Clock::starting_at)
    }

    /// Now, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        let Some(Shifted {
            started,
            start_at,
            speed,
        }) = self.shifted
        else {
            return OffsetDateTime::now_utc();
        };
        let elapsed = started
            .elapsed()
            .checked_mul(speed)
            .and_then(|d| time::Duration::try_from(d).ok())
            .unwrap_or(time::Duration::MAX);
        start_at
            .checked_add(elapsed)
            .unwrap_or(start_at)
            .to_offset(UtcOffset::UTC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_shifted_clock_starts_at_its_instant_runs_on_and_never_goes_back() {
        let at = datetime!(2020-03-12 09:00 +8);
        let clock = Clock::from_as_of(Some(at));
        let first = clock.now();
        assert!(
            first >= at && first - at < time::Duration::seconds(5),
            "{first}"
        );
        assert_eq!(first.offset(), UtcOffset::UTC);
        let mut last = first;
        for _ in 0..1000 {
            let now = clock.now();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn a_replaying_clock_runs_its_speed_times_faster() {
        let at = datetime!(2020-02-06 08:00 +8);
        let clock = Clock::replaying(at, 600);
        assert_eq!(clock.speed(), 600);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let ran = clock.now() - at;
        // 100 ms of real time is 60 s on the clock (generous upper bound for a loaded machine).
        assert!(
            ran >= time::Duration::seconds(60) && ran < time::Duration::seconds(600),
            "{ran}"
        );
        assert_eq!(Clock::starting_at(at).speed(), 1);
        assert_eq!(Clock::replaying(at, 0).speed(), 1);
    }

    #[test]
    fn the_system_clock_reads_the_system_time() {
        let clock = Clock::from_as_of(None);
        let delta = clock.now() - OffsetDateTime::now_utc();
        assert!(delta.abs() < time::Duration::seconds(5), "{delta}");
    }
}
