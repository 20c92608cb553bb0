//! Serde helpers: calendar dates as `"YYYY-MM-DD"` and instants as RFC 3339.
//!
//! Written here because the `time` crate's default serde form of a `Date` is a tuple (no other
//! program reads it), and its `option` helpers reject the `null` that serde buffers for
//! internally tagged enums (every frame here is one); going through `Option<String>` accepts it.

use serde::{Deserialize, Deserializer, Serializer, de::Error as _};
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339};

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Serialises a date as `"YYYY-MM-DD"`.
pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    let text = date
        .format(DATE_FORMAT)
        .map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}

/// Deserialises a `"YYYY-MM-DD"` date.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let text = String::deserialize(deserializer)?;
    Date::parse(&text, DATE_FORMAT).map_err(D::Error::custom)
}

/// `Option<Date>` as `"YYYY-MM-DD"` or `null`.
pub mod option {
    use super::*;

    /// Serialises `Some(date)` as `"YYYY-MM-DD"`, `None` as `null`.
    pub fn serialize<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => super::serialize(date, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Deserialises `"YYYY-MM-DD"` or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| Date::parse(&text, DATE_FORMAT).map_err(D::Error::custom))
            .transpose()
    }
}

/// `Option<OffsetDateTime>` as an RFC 3339 string or `null`.
pub mod instant_option {
    use super::*;

    /// Serialises `Some(instant)` as RFC 3339, `None` as `null`.
    pub fn serialize<S: Serializer>(
        instant: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => {
                let text = instant
                    .format(&Rfc3339)
                    .map_err(serde::ser::Error::custom)?;
                serializer.serialize_str(&text)
            }
            None => serializer.serialize_none(),
        }
    }

    /// Deserialises an RFC 3339 string or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| OffsetDateTime::parse(&text, &Rfc3339).map_err(D::Error::custom))
            .transpose()
    }
}
