//! `GET /v1/reports/sales`: the agencies' sales report (audit tokens only). Sales per 3-hour
//! slot and per day, by county and by site, adult and child, with the stock on hand at the end
//! of each day.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::time_fmt::{iso_date, rfc3339};

/// Hours in one slot of the report.
pub const SLOT_HOURS: u8 = 3;
/// Slots in one day: slot `i` covers Asia/Taipei hours `3i` (inclusive) to `3i + 3` (exclusive).
pub const SLOTS_PER_DAY: usize = 8;

/// Masks sold in one 3-hour slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlotSales {
    /// First hour of the slot (Asia/Taipei): 0, 3, …, 21.
    pub from_hour: u8,
    /// Adult masks sold (overrun sales included: they were handed out).
    pub adult: u64,
    /// Child masks sold.
    pub child: u64,
}

/// One day of a county or a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayFigures {
    /// The day (Asia/Taipei), `YYYY-MM-DD`.
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub day: Date,
    /// Adult masks sold that day (the sum of the slots).
    pub sold_adult: u64,
    /// Child masks sold that day.
    pub sold_child: u64,
    /// Adult masks on hand at the end of the day: opening stock + received − damaged − sold up
    /// to then. Negative when more was recorded sold than was recorded received.
    pub remaining_adult: i64,
    /// Child masks on hand at the end of the day.
    pub remaining_child: i64,
    /// The eight 3-hour slots, in order (00–03 … 21–24).
    pub slots: Vec<SlotSales>,
}

/// A county's figures: every registered site of the county, day by day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountyReport {
    /// County or special municipality (`臺北市`); `其他` for a site whose address names none.
    pub county: String,
    /// Registered sites in the county.
    pub sites: u32,
    /// One entry per day of the range, in order.
    pub days: Vec<DayFigures>,
}

/// A site's figures, day by day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteReport {
    /// Site code.
    pub site: String,
    /// County of the site.
    pub county: String,
    /// District (鄉鎮市區) of the site.
    pub district: String,
    /// One entry per day of the range, in order.
    pub days: Vec<DayFigures>,
}

/// Response body of `GET /v1/reports/sales` (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SalesReport {
    /// First day of the range.
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub from: Date,
    /// Last day of the range (inclusive).
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub to: Date,
    /// When the report was made (server clock).
    #[serde(with = "rfc3339")]
    pub generated_at: OffsetDateTime,
    /// Every county of the registry, by name.
    pub counties: Vec<CountyReport>,
    /// Every site with a sale or a stock movement (received, damaged) in the range, by code.
    /// A site without either kept its stock unchanged over the range; it counts in its county.
    pub sites: Vec<SiteReport>,
}
