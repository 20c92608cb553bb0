//! Wire types of the central quota API, and the rationing rules, shared by the server
//! (`mask-server-stub`) and the pharmacy agent (`mask-agent`).
//!
//! - [`policy`]: the versioned rules of 2020 as data ([`PolicySet::builtin`]) and the pure
//!   [`decide`] / [`check_sale`] functions both sides run (the agent offline, with its cached
//!   policy set and its own journal).
//! - request/response bodies of every `/v1` route ([`EligibilityRequest`], [`SaleBatch`], ...),
//!   and [`Problem`] (RFC 9457 with a stable [`ErrorCode`]).
//! - [`time_fmt`]: dates as `YYYY-MM-DD`, instants as RFC 3339, calendar in Asia/Taipei,
//!   instants to the millisecond storage keeps; [`Clock`]: the (shiftable, `--as-of`) clock
//!   of both binaries.
//! - the codes every side shares ([`BuyerKind`], [`SaleSource`], [`RefusalReason`],
//!   [`InventoryWarningCode`]): the agent ↔ screen protocol (`mask-protocol`) re-exports them.
//!   Refusal and warning codes a version does not know are kept as `Other(code)` and sent on
//!   unchanged; `as_str()` and `FromStr` are their storage form.
//!
//! No server dependencies: serde, time, uuid, thiserror, `nhi-id` (ID numbers, no PC/SC), and
//! utoipa behind `openapi`.
//!
//! Routes (all JSON; errors `application/problem+json`; `Authorization: Bearer <token>` where
//! marked 🔒): `POST /v1/eligibility` 🔒, `POST /v1/sales` 🔒, `POST /v1/stock` 🔒,
//! `GET /v1/inventory?date=YYYY-MM-DD` 🔒, `POST /v1/listing` 🔒, `POST /v1/note` 🔒,
//! `GET /v1/whoami` 🔒, `GET /v1/audit/sales?from=&to=` 🔒, `GET /v1/audit/eligibility?from=&to=` 🔒
//! and `GET /v1/reports/sales?from=&to=` 🔒 (audit tokens),
//! `GET /v1/policy`, `GET /v1/sites`, `GET /v1/health`, `GET /v1/openapi.json`, `GET /maskdata.csv`.
#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used)]

mod audit;
mod clock;
mod code;
mod eligibility;
mod health;
mod note;
pub mod policy;
mod problem;
pub mod reports;
mod sales;
mod sites;
mod stock;
pub mod time_fmt;

pub use audit::{AuditSale, AuditSales, EligibilityAsk, EligibilityAsks};
pub use clock::Clock;
pub use code::UnknownCode;
pub use eligibility::{Eligibility, EligibilityRequest, UnsyncedPurchase};
pub use health::Health;
pub use note::{
    NoteError, NoteRequest, NoteResult, PUBLIC_NOTE_MAX_CHARS, public_note, refused_in_note,
};
pub use policy::{Buyer, Purchase, SaleCheck, check_sale};
pub use policy::{
    BuyerKind, PolicyError, PolicySet, PolicyVersion, RefusalReason, SundayRule, WeekdayRule,
    decide,
};
pub use problem::{ErrorCode, PROBLEM_CONTENT_TYPE, Problem, ProblemItem};
pub use reports::{CountyReport, DayFigures, SalesReport, SiteReport, SlotSales};
pub use sales::{Sale, SaleBatch, SaleBatchResult, SaleFlag, SaleResult, SaleSource, SaleStatus};
pub use sites::{ListingRequest, ListingState, SiteStock, SitesSnapshot, WhoAmI};
pub use stock::{
    Inventory, InventoryWarning, InventoryWarningCode, StockIn, StockInResult, StockLevel,
};
pub use time_fmt::{TAIPEI, iso_date, rfc3339, taipei_date, to_millisecond};
