//! `POST /v1/sales`: sales in batches, idempotent by the client-made UUIDv7.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::code::closed_codes;
use crate::policy::{BuyerKind, RefusalReason};
use crate::time_fmt::{iso_date, rfc3339};

/// How the buyer was identified at the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SaleSource {
    /// NHI card read over PC/SC.
    Card,
    /// ID number typed by the pharmacist (card unreadable).
    Manual,
}

closed_codes!(SaleSource, "sale source", Card = "card", Manual = "manual");

/// One sale as recorded at the pharmacy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Sale {
    /// Client-made UUIDv7, created when the sale happened; the idempotency key.
    pub id: Uuid,
    /// Buyer's national ID number.
    #[cfg_attr(feature = "openapi", schema(example = "A123456789"))]
    pub id_no: String,
    /// Buyer's birth date when known.
    #[serde(
        default,
        with = "iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date, example = "1990-01-01"))]
    pub birth_date: Option<Date>,
    /// Adult or child masks sold.
    pub kind: BuyerKind,
    /// Masks sold (1..=100; a sale outside that is answered `rejected`, not refused whole, so
    /// the schema admits any u32).
    #[cfg_attr(feature = "openapi", schema(format = Int64, minimum = 0, maximum = 4294967295_u64))]
    pub quantity: u32,
    /// When it was sold (RFC 3339; must not be in the server's future nor too old).
    #[serde(with = "rfc3339")]
    pub sold_at: OffsetDateTime,
    /// Card or manual entry.
    pub source: SaleSource,
    /// Sold while the agent could not reach the server (checked against the cached policy).
    #[serde(default)]
    pub offline: bool,
}

/// Request body of `POST /v1/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleBatch {
    /// The site the sales belong to; when given it must be the token's own site (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// 1..=500 sales. Each sale gets its own result: one that cannot be a sale (bad ID
    /// checksum, quantity out of range) or that reuses an id with other content is answered
    /// `rejected` / `conflict` without holding back the others; late rule findings (over quota,
    /// wrong kind, odd times) are recorded with flags.
    pub sales: Vec<Sale>,
}

/// Outcome of one sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SaleStatus {
    /// Recorded, within the rules.
    Accepted,
    /// Recorded but it broke the quota (e.g. two pharmacies sold offline to one person):
    /// flagged for audit. The masks are handed over already; the record is kept. A sale that
    /// arrives late, dated before sales already held for that person, makes the server re-judge
    /// the person's window: the overrun is flagged on the sale that broke it, whichever arrived
    /// later, so a replay of an earlier sale may answer `overrun` where it first answered
    /// `accepted`.
    Overrun,
    /// Not recorded: this cannot be a sale at all (the ID number fails its checksum, the
    /// quantity is out of range, the id is not a UUIDv7). `problem` says why. The other sales
    /// of the batch are unaffected. The agent checks all of this before recording, so this
    /// needs a human.
    Rejected,
    /// Not recorded: this id was recorded before with different content. `problem` says so.
    Conflict,
}

impl SaleStatus {
    /// Whether the server holds the sale (it counts against the quota centrally).
    pub fn is_recorded(self) -> bool {
        matches!(self, Self::Accepted | Self::Overrun)
    }
}

/// Something about a recorded sale that the central audit should look at. The sale is
/// recorded and counts whatever its flags: the masks were handed over.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SaleFlag {
    /// `sold_in_future`: dated later than the server clock allows (the pharmacy PC's clock is
    /// ahead).
    SoldInFuture,
    /// `sold_long_ago`: older than the server's accepted sale age (a PC clock far behind, or a
    /// sale kept offline for weeks).
    SoldLongAgo,
    /// `before_rationing`: dated before name-based rationing began (a PC clock in 2019).
    BeforeRationing,
    /// `kind_mismatch`: adult/child masks that contradict the birth date.
    KindMismatch,
    /// `birth_date_in_future`: a typed birth date later than today.
    BirthDateInFuture,
    /// A flag this version does not know.
    #[serde(other)]
    Unknown,
}

impl SaleFlag {
    /// The stable wire code.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SoldInFuture => "sold_in_future",
            Self::SoldLongAgo => "sold_long_ago",
            Self::BeforeRationing => "before_rationing",
            Self::KindMismatch => "kind_mismatch",
            Self::BirthDateInFuture => "birth_date_in_future",
            Self::Unknown => "unknown",
        }
    }

    /// The flag of a stable wire code ([`SaleFlag::Unknown`] for codes of a newer peer).
    pub fn from_code(code: &str) -> Self {
        match code {
            "sold_in_future" => Self::SoldInFuture,
            "sold_long_ago" => Self::SoldLongAgo,
            "before_rationing" => Self::BeforeRationing,
            "kind_mismatch" => Self::KindMismatch,
            "birth_date_in_future" => Self::BirthDateInFuture,
            _ => Self::Unknown,
        }
    }
}

/// Result of one sale of a batch, in request order. A replay returns the original result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleResult {
    /// The sale's id.
    pub id: Uuid,
    /// `accepted` / `overrun` (recorded), `rejected` / `conflict` (not recorded; see `problem`).
    pub status: SaleStatus,
    /// For an overrun: the rule it broke.
    #[serde(default)]
    pub overrun_reason: Option<RefusalReason>,
    /// When the server first recorded it.
    #[serde(with = "rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// True when this id had been recorded before (nothing new was written).
    #[serde(default)]
    pub replayed: bool,
    /// Audit flags of a recorded sale (empty for most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<SaleFlag>,
    /// For `rejected` and `conflict`: what is wrong with this sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<crate::ProblemItem>,
}

/// Response body of `POST /v1/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleBatchResult {
    /// One result per sale, in request order.
    pub results: Vec<SaleResult>,
}
