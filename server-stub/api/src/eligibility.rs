//! `POST /v1/eligibility`: may this person buy now, and how many?

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::policy::{BuyerKind, RefusalReason};
use crate::time_fmt::{iso_date, rfc3339};

/// Request body of `POST /v1/eligibility`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EligibilityRequest {
    /// National ID number (validated: format and checksum, DOMAIN.md §4).
    #[cfg_attr(feature = "openapi", schema(example = "A123456789"))]
    pub id_no: String,
    /// Birth date when known (from the card, or typed); without it the buyer counts as adult.
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date, example = "1990-01-01"))]
    pub birth_date: Option<Date>,
    /// This pharmacy's sales of this buyer that the server may not hold yet (queued in the
    /// agent's outbox). The server decides over the union of its history and these,
    /// deduplicated by sale id, so the two histories are added, never compared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsynced: Vec<UnsyncedPurchase>,
}

/// A sale the agent recorded and has not had acknowledged yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UnsyncedPurchase {
    /// The sale's UUIDv7 (the same id the sale will carry to `/v1/sales`).
    pub id: Uuid,
    /// When it was sold.
    #[serde(with = "rfc3339")]
    pub sold_at: OffsetDateTime,
    /// Masks sold.
    pub quantity: u32,
}

/// The answer: kind, quantity still allowed now, and when refused the reason and next day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Eligibility {
    /// Adult or child (from the birth date; unknown → adult).
    pub kind: BuyerKind,
    /// Masks that may be sold now (0 when refused).
    pub allowed: u32,
    /// When refused: first day (Asia/Taipei) a sale is allowed again, if any within two months.
    #[serde(with = "iso_date::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date, example = "2020-03-12"))]
    pub next_date: Option<Date>,
    /// When refused: why, as a stable code (`window`, `closed`, `weekday`, `hours`, ...).
    pub reason: Option<RefusalReason>,
}

impl Eligibility {
    /// Whether at least one mask may be sold now.
    pub fn is_allowed(&self) -> bool {
        self.reason.is_none() && self.allowed > 0
    }
}
