//! Simulated time against real time: the day's instants mapped onto the run at its speed.

use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use crate::plan::DAY_START;
use crate::stats::SLOT_MINUTES;

/// The part of the day being played, and when it started for real.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    /// First simulated instant played.
    pub from: OffsetDateTime,
    /// End of the played part.
    pub to: OffsetDateTime,
    /// Real instant of `from`.
    pub started: Instant,
    /// Simulated seconds per real second.
    pub speed: u32,
}

impl Timeline {
    /// The real instant of simulated `at` (instants before `from` map to the start).
    pub fn real(&self, at: OffsetDateTime) -> Instant {
        let ahead = (at - self.from).max(Duration::ZERO);
        let real = ahead / f64::from(self.speed.max(1));
        self.started + std::time::Duration::try_from(real).unwrap_or_default()
    }

    /// The simulated instant now.
    pub fn now(&self) -> OffsetDateTime {
        let real = Instant::now().saturating_duration_since(self.started);
        let sim = real.saturating_mul(self.speed.max(1));
        self.from + Duration::try_from(sim).unwrap_or(Duration::MAX)
    }

    /// Whether `at` is in the played part.
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        at >= self.from && at < self.to
    }

    /// Waits until simulated `at`.
    pub async fn sleep_until(&self, at: OffsetDateTime) {
        tokio::time::sleep_until(self.real(at)).await;
    }

    /// The chart slot (simulated 15 minutes from 08:00) of now; `None` outside the played part.
    pub fn slot(&self) -> Option<usize> {
        slot_of(self.now()).filter(|_| self.contains(self.now()))
    }
}

/// The slot of a simulated instant.
pub fn slot_of(at: OffsetDateTime) -> Option<usize> {
    let minutes = (at - DAY_START).whole_minutes();
    usize::try_from(minutes / SLOT_MINUTES)
        .ok()
        .filter(|_| minutes >= 0)
}

/// The start of slot `slot` as `HH:MM`.
pub fn slot_label(slot: usize) -> String {
    let at = DAY_START + Duration::minutes(slot as i64 * SLOT_MINUTES);
    format!("{:02}:{:02}", at.hour(), at.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn simulated_instants_map_onto_real_time_at_the_speed() {
        let started = Instant::now();
        let t = Timeline {
            from: DAY_START,
            to: DAY_START + Duration::hours(14),
            started,
            speed: 60,
        };
        assert_eq!(
            t.real(DAY_START + Duration::minutes(1)),
            started + std::time::Duration::from_secs(1)
        );
        assert_eq!(t.real(DAY_START - Duration::minutes(5)), started);
        assert_eq!(slot_of(datetime!(2020-02-06 08:14:59 +08:00)), Some(0));
        assert_eq!(slot_of(datetime!(2020-02-06 09:15 +08:00)), Some(5));
        assert_eq!(slot_of(datetime!(2020-02-06 07:59 +08:00)), None);
        assert_eq!(slot_label(5), "09:15");
    }
}
