//! Stock-in (`POST /v1/stock`) and the inventory view (`GET /v1/inventory?date=`).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::code::wire_codes;
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

wire_codes! {
    /// What a sales-cap or stock warning is about. A code from a newer peer is kept as
    /// [`Self::Other`].
    pub enum InventoryWarningCode {
        /// Sold today reached 90 % of the daily allocation.
        CapNear = "cap_near",
        /// Sold today reached the daily allocation.
        CapReached = "cap_reached",
        /// Fewer than 10 % of the daily allocation left in stock.
        StockLow = "stock_low",
        /// Nothing left in stock.
        OutOfStock = "out_of_stock",
    }
}

/// One kind of mask at one site on one day, as the warning rule reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    /// Masks of this kind sold that day.
    pub sold: u32,
    /// Masks on hand; `None` when nobody knows (an agent with neither an opening stock from
    /// the server nor a stock-in of its own): no stock warning is made up from a zero.
    pub remaining: Option<i64>,
    /// The daily per-site allocation (the sales cap); 0 when unknown.
    pub cap: u32,
}

impl StockLevel {
    /// The sales-cap and stock warnings of this level, cap first. The one home of the rule:
    /// the server's inventory and the agent's (the counter screen and the inventory view) both
    /// come from here, so they always agree.
    ///
    /// - cap: `cap_reached` once sold ≥ cap, else `cap_near` once sold ≥ 90 % of it;
    /// - stock (when known): `out_of_stock` at 0 or below, else `stock_low` below 10 % of the
    ///   cap.
    pub fn warnings(&self) -> Vec<InventoryWarningCode> {
        let cap = u64::from(self.cap);
        let sold = u64::from(self.sold);
        let mut out = Vec::new();
        if cap > 0 && sold >= cap {
            out.push(InventoryWarningCode::CapReached);
        } else if cap > 0 && sold * 10 >= cap * 9 {
            out.push(InventoryWarningCode::CapNear);
        }
        match self.remaining {
            Some(remaining) if remaining <= 0 => out.push(InventoryWarningCode::OutOfStock),
            Some(remaining) if i128::from(remaining) * 10 < i128::from(cap) => {
                out.push(InventoryWarningCode::StockLow);
            }
            _ => {}
        }
        out
    }
}

/// A sales-cap / stock warning for one kind of mask (also what the agent sends the counter
/// screen: `mask_protocol` re-exports it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use InventoryWarningCode::{CapNear, CapReached, OutOfStock, StockLow};

    fn level(sold: u32, remaining: Option<i64>, cap: u32) -> Vec<InventoryWarningCode> {
        StockLevel {
            sold,
            remaining,
            cap,
        }
        .warnings()
    }

    #[test]
    fn cap_warnings_start_at_ninety_percent_and_at_the_cap() {
        assert_eq!(level(179, Some(100), 200), vec![]);
        assert_eq!(level(180, Some(100), 200), vec![CapNear]);
        assert_eq!(level(200, Some(100), 200), vec![CapReached]);
        assert_eq!(level(250, Some(100), 200), vec![CapReached]);
        // No cap known: no cap warning, however much was sold.
        assert_eq!(level(1000, Some(100), 0), vec![]);
    }

    #[test]
    fn stock_warnings_below_ten_percent_of_the_cap_and_at_zero() {
        assert_eq!(level(0, Some(20), 200), vec![]);
        assert_eq!(level(0, Some(19), 200), vec![StockLow]);
        assert_eq!(level(0, Some(0), 200), vec![OutOfStock]);
        assert_eq!(level(0, Some(-3), 0), vec![OutOfStock]);
    }

    // Regression (issue #14): the agent and the server each had a copy of this rule and they
    // disagreed: the agent gave at most one warning per kind (a cap reached hid the empty
    // shelf) and warned about stock only on a day with a delivery. Both warnings apply at once.
    #[test]
    fn a_reached_cap_and_an_empty_shelf_are_both_warned() {
        assert_eq!(level(200, Some(0), 200), vec![CapReached, OutOfStock]);
        assert_eq!(level(185, Some(10), 200), vec![CapNear, StockLow]);
    }

    #[test]
    fn unknown_stock_gives_no_stock_warning() {
        assert_eq!(level(0, None, 200), vec![]);
        assert_eq!(level(200, None, 200), vec![CapReached]);
    }
}
