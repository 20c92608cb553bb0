//! `GET /v1/audit/sales`: the central audit list of flagged sales (audit tokens only).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::policy::{BuyerKind, RefusalReason};
use crate::sales::{SaleFlag, SaleStatus};
use crate::time_fmt::rfc3339;

/// One recorded sale the audit should look at: overrun, or with any flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSale {
    /// The sale's id.
    pub id: Uuid,
    /// Site that sold it.
    pub site: String,
    /// Buyer's ID number, masked (`A12****789`).
    pub id_masked: String,
    /// Adult or child masks, as sold.
    pub kind: BuyerKind,
    /// Masks sold.
    pub quantity: u32,
    /// When it was sold (the pharmacy's clock).
    #[serde(with = "rfc3339")]
    pub sold_at: OffsetDateTime,
    /// When the server first recorded it.
    #[serde(with = "rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// `accepted` or `overrun`.
    pub status: SaleStatus,
    /// For an overrun: the rule it broke.
    pub overrun_reason: Option<RefusalReason>,
    /// Audit flags.
    pub flags: Vec<SaleFlag>,
    /// Sold while the agent could not reach the server.
    pub offline: bool,
}

/// Response body of `GET /v1/audit/sales` (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditSales {
    /// Flagged sales in (sold_at, id) order.
    pub sales: Vec<AuditSale>,
}

/// One eligibility question a pharmacy asked the server: who asked about whom, and when.
/// Personal data is never held in full: the ID number masked, the person as the server's keyed
/// buyer key (the same person always has the same key, so an auditor can follow one person
/// across pharmacies without the ID number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EligibilityAsk {
    /// When the server answered it (server clock).
    #[serde(with = "rfc3339")]
    pub asked_at: OffsetDateTime,
    /// Site of the token that asked.
    pub site: String,
    /// Short id of the token that asked (as `mask-server-stub token list` shows it).
    pub token_id: String,
    /// The ID number asked about, masked (`A12****789`).
    pub id_masked: String,
    /// The person's keyed buyer key (32 hex digits).
    pub person: String,
}

/// Response body of `GET /v1/audit/eligibility` (JSON): one page of asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EligibilityAsks {
    /// Asks in the order they were answered.
    pub asks: Vec<EligibilityAsk>,
    /// When more asks of the range follow: pass this as `after` to get the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}
