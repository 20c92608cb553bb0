//! Every conversion between the journal's columns and Rust values, written once.
//!
//! Instants are stored as UTC unix milliseconds (`INTEGER`) and days as `YYYY-MM-DD` text.
//! rusqlite's `time` feature stores an `OffsetDateTime` as RFC 3339-like text, not integer
//! milliseconds, so it cannot read or write the journals already in the field; the conversions
//! here stay by hand (days included, so a bad value is a [`JournalError::Corrupt`] naming the
//! column, as it always was, and not a bare SQLite error).
//!
//! Enums: [`SyncState`] is ours and implements `ToSql`/`FromSql`; `BuyerKind` and `SaleSource`
//! belong to `mask-api`, so (orphan rule) they are converted here through their stable codes.

use mask_api::{BuyerKind, SaleSource};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{JournalError, Result, SyncState};

/// A stored value that does not decode, carried through rusqlite's `FromSql` error and turned
/// back into [`JournalError::Corrupt`] (see `From<rusqlite::Error> for JournalError`).
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub(super) struct CorruptValue {
    pub(super) what: &'static str,
    pub(super) detail: String,
}

/// A [`JournalError::Corrupt`] for `what`.
pub(super) fn corrupt(what: &'static str, detail: impl ToString) -> JournalError {
    JournalError::Corrupt {
        what,
        detail: detail.to_string(),
    }
}

/// Unix milliseconds of an instant.
pub(super) fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The instant of stored unix milliseconds.
pub(super) fn from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| corrupt("timestamp", e))
}

/// `YYYY-MM-DD` of a day.
pub(super) fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The day of stored `YYYY-MM-DD` text.
pub(super) fn parse_iso(text: &str) -> Result<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, format).map_err(|e| corrupt("date", e))
}

/// A stored UUID.
pub(super) fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| corrupt("id", e))
}

/// The stored code of a buyer kind (mask-api's wire code).
pub(super) fn kind_code(kind: BuyerKind) -> &'static str {
    kind.as_str()
}

/// The buyer kind of a stored code.
pub(super) fn parse_kind(text: &str) -> Result<BuyerKind> {
    match text {
        "adult" => Ok(BuyerKind::Adult),
        "child" => Ok(BuyerKind::Child),
        other => Err(corrupt("sales.kind", other)),
    }
}

/// The stored code of a sale's source.
pub(super) fn source_code(source: SaleSource) -> &'static str {
    match source {
        SaleSource::Card => "card",
        SaleSource::Manual => "manual",
    }
}

/// The sale source of a stored code.
pub(super) fn parse_source(text: &str) -> Result<SaleSource> {
    match text {
        "card" => Ok(SaleSource::Card),
        "manual" => Ok(SaleSource::Manual),
        other => Err(corrupt("sales.source", other)),
    }
}

impl SyncState {
    /// The stored code (`sales.sync_state`).
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SyncState::Queued => "queued",
            SyncState::Accepted => "accepted",
            SyncState::Overrun => "overrun",
            SyncState::Rejected => "rejected",
        }
    }
}

impl ToSql for SyncState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SyncState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "queued" => Ok(SyncState::Queued),
            "accepted" => Ok(SyncState::Accepted),
            "overrun" => Ok(SyncState::Overrun),
            "rejected" => Ok(SyncState::Rejected),
            other => Err(FromSqlError::Other(Box::new(CorruptValue {
                what: "sales.sync_state",
                detail: other.into(),
            }))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_sync_state_round_trips_and_an_unknown_one_is_corrupt() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for state in [
            SyncState::Queued,
            SyncState::Accepted,
            SyncState::Overrun,
            SyncState::Rejected,
        ] {
            let back: SyncState = conn.query_row("SELECT ?1", [state], |r| r.get(0)).unwrap();
            assert_eq!(back, state);
        }
        let error: JournalError = conn
            .query_row("SELECT 'lost'", [], |r| r.get::<_, SyncState>(0))
            .unwrap_err()
            .into();
        assert!(
            matches!(error, JournalError::Corrupt { what: "sales.sync_state", ref detail } if detail == "lost"),
            "{error}"
        );
    }
}
