//! `POST /v1/sales`: sales in batches, idempotent by the client-made UUIDv7.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

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
    /// Masks sold (1..=100).
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
    /// 1..=500 sales. The batch is validated as a whole: one invalid sale (bad ID, bad time,
    /// id reused with other content) rejects the batch with a problem listing it, changing nothing.
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
    /// flagged for audit. The masks are handed over already; the record is kept.
    Overrun,
}

/// Result of one sale of a batch, in request order. A replay returns the original result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleResult {
    /// The sale's id.
    pub id: Uuid,
    /// Accepted or overrun.
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
}

/// Response body of `POST /v1/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SaleBatchResult {
    /// One result per sale, in request order.
    pub results: Vec<SaleResult>,
}
