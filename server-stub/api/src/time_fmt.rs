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
