//! Stock-in (`POST /v1/stock`) and the inventory view (`GET /v1/inventory?date=`).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::policy::BuyerKind;
use crate::time_fmt::{iso_date, rfc3339};

/// One delivery (or correction) as entered at the pharmacy, idempotent by `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StockIn {
    /// Client-made UUIDv7; a replay returns the original result.
    pub id: Uuid,
    /// The site; when given it must be the token's own site (else 403).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Adult masks received.
    pub received_adult: u32,
    /// Child masks received.
    pub received_child: u32,
    /// Adult masks damaged (subtracted from stock).
    #[serde(default)]
    pub damaged_adult: u32,
    /// Child masks damaged.
    #[serde(default)]
    pub damaged_child: u32,
    /// When it was entered (RFC 3339); its Asia/Taipei date is the inventory day.
    #[serde(with = "rfc3339")]
    pub recorded_at: OffsetDateTime,
}

/// Response of `POST /v1/stock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockInResult {
    /// The stock-in's id.
    pub id: Uuid,
    /// True when this id had been recorded before (nothing new was written).
    pub replayed: bool,
    /// The inventory of that day after the stock-in.
    pub inventory: Inventory,
}

/// What a sales-cap warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InventoryWarningCode {
    /// Sold today reached 90 % of the daily allocation.
    CapNear,
    /// Sold today reached the daily allocation.
    CapReached,
    /// Fewer than 10 % of the daily allocation left in stock.
    StockLow,
    /// Nothing left in stock.
    OutOfStock,
    /// A code this version does not know.
    #[serde(other)]
    Unknown,
}

/// A sales-cap / stock warning for one kind of mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InventoryWarning {
    /// Adult or child masks.
    pub kind: BuyerKind,
    /// What is wrong.
    pub code: InventoryWarningCode,
}

/// Inventory of one site on one day (進銷存).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inventory {
    /// Site code.
    pub site: String,
    /// The day (Asia/Taipei).
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date, example = "2020-03-12"))]
    pub date: Date,
    /// Adult masks received that day.
    pub received_adult: u32,
    /// Child masks received that day.
    pub received_child: u32,
    /// Adult masks sold that day.
    pub sold_adult: u32,
    /// Child masks sold that day.
    pub sold_child: u32,
    /// Adult masks damaged that day.
    pub damaged_adult: u32,
    /// Child masks damaged that day.
    pub damaged_child: u32,
    /// Adult masks on hand at the end of that day (all days up to it; never below 0).
    pub remaining_adult: i64,
    /// Child masks on hand at the end of that day.
    pub remaining_child: i64,
    /// Adult masks on hand at the start of that day (the opening stock the agent starts from).
    #[serde(default)]
    pub opening_adult: i64,
    /// Child masks on hand at the start of that day.
    #[serde(default)]
    pub opening_child: i64,
    /// Daily per-site allocation of adult masks (the sales cap).
    pub cap_adult: u32,
    /// Daily per-site allocation of child masks.
    pub cap_child: u32,
    /// Sales-cap and stock warnings.
    pub warnings: Vec<InventoryWarning>,
}
