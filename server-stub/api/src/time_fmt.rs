//! Time conventions shared by both sides of the wire.
//!
//! Instants travel as RFC 3339 strings and are stored in UTC; calendar questions (weekday,
//! window, age) are decided in Asia/Taipei, which has been a fixed +08:00 offset since 1979, so
//! no time-zone database is needed.

use time::{Date, OffsetDateTime, UtcOffset, macros::offset};

/// Asia/Taipei (fixed +08:00).
pub const TAIPEI: UtcOffset = offset!(+8);

/// The calendar date of an instant in Asia/Taipei.
pub fn taipei_date(at: OffsetDateTime) -> Date {
    at.to_offset(TAIPEI).date()
}

/// `at` in UTC, truncated to whole milliseconds: what both sides store (so the value a receipt
/// shows is the very value read back and sent to the server).
pub fn to_millisecond(at: OffsetDateTime) -> OffsetDateTime {
    let utc = at.checked_to_offset(UtcOffset::UTC).unwrap_or(at);
    utc.replace_millisecond(utc.millisecond()).unwrap_or(utc)
}

mod generated {
    #![allow(missing_docs)]
    time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");
    time::serde::format_description!(pub hh_mm, Time, "[hour]:[minute]");
}

/// Serde helpers for a [`Date`] as `YYYY-MM-DD` (use `#[serde(with = "mask_api::iso_date")]`, or
/// `mask_api::iso_date::option` for `Option<Date>`).
pub use generated::iso_date;

/// Serde helpers for a clock time of day as `HH:MM` (the policy's opening hours).
pub use generated::hh_mm;

/// Serde helpers for an instant as RFC 3339 (`time::serde::rfc3339`, re-exported for callers).
pub use time::serde::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn instants_are_cut_to_the_millisecond_in_utc() {
        let at = datetime!(2020-03-12 09:00:01.123_456_789 +8);
        let cut = to_millisecond(at);
        assert_eq!(cut, datetime!(2020-03-12 09:00:01.123 +8));
        assert_eq!(cut.offset(), UtcOffset::UTC);
        let whole = datetime!(2020-03-12 01:00:00.5 UTC);
        assert_eq!(to_millisecond(whole), whole);
    }
}
