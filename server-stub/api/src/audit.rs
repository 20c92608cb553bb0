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
